/*
 * spf_macro.c - SPF macro strings (RFC 7208 section 7): syntax check and
 *               expansion into a bounded buffer.
 *
 * %{letter digits r delimiters} splits the letter's value at the
 * delimiters (default "."), optionally reverses the parts, keeps the
 * rightmost <digits> of them and joins them with "."; an upper-case
 * letter URL-escapes the result. %% %_ %- are "%", " " and "%20".
 * SECURITY: the values (sender, HELO, PTR names) come from the client or
 * from DNS; nothing is written past size - 1, and a result that would
 * not fit is an error (-2), never a silent cut.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/net/spf_impl.h"

#define DELIMS ".-+,/_="
#define MAX_PARTS 128

struct out {
    char *p;
    size_t n, size;
    int over;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->over || n >= o->size - o->n) {
        o->over = 1;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static int is_letter(char c, int exp)
{
    c = (char)tolower((unsigned char)c);
    return c != '\0' && (strchr("slodiphv", c) != NULL
           || (exp && strchr("crt", c) != NULL));
}

/* Parse "%{...}" at s (s[0] == '%', s[1] == '{'); returns its length or
 * -1. Fills letter, digits (0: none), reverse, delims. */
static int parse_expand(const char *s, size_t n, int exp, char *letter,
                        unsigned *digits, int *reverse, char *delims)
{
    size_t i = 2, nd = 0;

    if (i >= n || !is_letter(s[i], exp))
        return -1;
    *letter = s[i++];
    *digits = 0;
    *reverse = 0;
    if (i < n && isdigit((unsigned char)s[i])) {
        unsigned v = 0;
        for (; i < n && isdigit((unsigned char)s[i]); i++)
            v = v > 1000 ? v : v * 10 + (unsigned)(s[i] - '0');
        if (v == 0)
            return -1;                  /* "the value MUST be nonzero" */
        *digits = v;
    }
    if (i < n && (s[i] == 'r' || s[i] == 'R')) {
        *reverse = 1;
        i++;
    }
    for (; i < n && s[i] != '}'; i++) {
        if (strchr(DELIMS, s[i]) == NULL || s[i] == '\0')
            return -1;
        if (nd < 7 && memchr(delims, s[i], nd) == NULL)
            delims[nd++] = s[i];
    }
    delims[nd] = '\0';
    return i < n ? (int)i + 1 : -1;
}

/* spf_macro_check - see spf_impl.h */
int spf_macro_check(const char *s, size_t n, int exp, int *ends_macro)
{
    char letter, delims[8];
    unsigned digits;
    int rev, last = 0;

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        last = 0;
        if (c == '%') {
            if (i + 1 < n && strchr("%_-", s[i + 1]) != NULL && s[i + 1]) {
                i += 2;
            } else if (i + 1 < n && s[i + 1] == '{') {
                int k = parse_expand(s + i, n - i, exp, &letter, &digits,
                                     &rev, delims);
                if (k < 0)
                    return -1;
                i += (size_t)k;
            } else {
                return -1;
            }
            last = 1;
            continue;
        }
        if (!((c >= 0x21 && c <= 0x7e) || (exp && c == ' ')))
            return -1;
        i++;
    }
    if (ends_macro != NULL)
        *ends_macro = last;
    return 0;
}

/* the value of a letter, into buf when it must be computed */
static const char *letter_value(char letter, const struct spf_macro_ctx *c,
                                char *buf, size_t size)
{
    switch (tolower((unsigned char)letter)) {
    case 's': return c->s;
    case 'l': return c->l;
    case 'o': return c->o;
    case 'd': return c->d;
    case 'h': return c->h;
    case 'p': return c->p;
    case 'r': return c->r;
    case 'v': return c->v6 ? "ip6" : "in-addr";
    case 't': snprintf(buf, size, "%lu", c->t); return buf;
    case 'c':
        return inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->ip, buf,
                         (socklen_t)size) ? buf : "";
    default:                        /* 'i' */
        if (!c->v6) {
            snprintf(buf, size, "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2],
                     c->ip[3]);
            return buf;
        }
        for (int k = 0; k < 32; k++) {
            unsigned nib = (unsigned)(k % 2 ? c->ip[k / 2] & 15
                                            : c->ip[k / 2] >> 4);
            buf[2 * k] = "0123456789abcdef"[nib];
            buf[2 * k + 1] = k == 31 ? '\0' : '.';
        }
        return buf;
    }
}

static void put_escaped(struct out *o, const char *s, size_t n, int url)
{
    char hex[4];

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!url || isalnum(ch) || strchr("-._~", ch) != NULL) {
            put(o, s + i, 1);
            continue;
        }
        snprintf(hex, sizeof(hex), "%%%02X", ch);
        put(o, hex, 3);
    }
}

/* split value at delims, transform and append */
static void put_transformed(struct out *o, const char *v, unsigned digits,
                            int rev, const char *delims, int url)
{
    const char *start[MAX_PARTS];
    size_t len[MAX_PARTS], np = 0, first;

    for (const char *p = v;; ) {
        size_t k = strcspn(p, *delims ? delims : ".");
        if (np == MAX_PARTS) {
            o->over = 1;
            return;
        }
        start[np] = p;
        len[np++] = k;
        if (p[k] == '\0')
            break;
        p += k + 1;
    }
    first = digits > 0 && digits < np ? np - digits : 0;
    for (size_t i = first; i < np; i++) {
        size_t j = rev ? np - 1 - i : i;
        if (i > first)
            put(o, ".", 1);
        put_escaped(o, start[j], len[j], url);
    }
}

/* spf_macro_expand - see spf_impl.h */
int spf_macro_expand(const char *s, size_t n, const struct spf_macro_ctx *c,
                     int exp, char *out, size_t size)
{
    struct out o = { out, 0, size, size == 0 };
    char letter, delims[8], buf[80];
    unsigned digits;
    int rev;

    if (spf_macro_check(s, n, exp, NULL) != 0)
        return -1;
    if (size > 0)
        out[0] = '\0';
    for (size_t i = 0; i < n && !o.over;) {
        if (s[i] != '%') {
            put(&o, s + i++, 1);
            continue;
        }
        char nx = s[i + 1];
        if (nx != '{') {
            put(&o, nx == '%' ? "%" : nx == '_' ? " " : "%20",
                nx == '-' ? 3 : 1);
            i += 2;
            continue;
        }
        i += (size_t)parse_expand(s + i, n - i, exp, &letter, &digits, &rev,
                                  delims);
        const char *v = letter_value(letter, c, buf, sizeof(buf));
        put_transformed(&o, v ? v : "", digits, rev, delims,
                        isupper((unsigned char)letter));
    }
    return o.over ? -2 : (int)o.n;
}

/* spf_macro_uses_p - see spf_impl.h */
int spf_macro_uses_p(const char *s)
{
    for (const char *p = s; p != NULL && (p = strchr(p, '%')) != NULL;) {
        if (p[1] == '{' && (p[2] == 'p' || p[2] == 'P'))
            return 1;
        p += p[1] ? 2 : 1;
    }
    return 0;
}

/* spf_domain_trim - see spf_impl.h */
const char *spf_domain_trim(const char *d)
{
    while (strlen(d) > 253) {
        const char *dot = strchr(d, '.');
        if (dot == NULL)
            break;
        d = dot + 1;
    }
    return d;
}
