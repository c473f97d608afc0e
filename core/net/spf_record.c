/*
 * spf_record.c - the SPF record parser (RFC 7208 sections 4.5, 4.6, 5, 6,
 *                12 ABNF).
 *
 * PURPOSE: spf_record_parse reads a whole "v=spf1 ..." record into terms
 * before anything is evaluated: any syntax error anywhere is a permerror
 * for the record (4.6), as are a repeated redirect= or exp=. Unknown
 * modifiers are checked for syntax and ignored (6).
 * SECURITY: the record is DNS data: its length and number of terms are
 * bounded, every byte outside 0x21-0x7e in a term is an error, numbers
 * are range-checked before use.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/xalloc.h"
#include "core/net/spf_impl.h"

/* spf_record_is_spf1 - see spf_impl.h */
int spf_record_is_spf1(const char *s, size_t n)
{
    return n >= 6 && strncasecmp(s, "v=spf1", 6) == 0
           && (n == 6 || s[6] == ' ');
}

/* bytes of s[0..n) before the first of stop (a bounded strcspn) */
static size_t span_to(const char *s, size_t n, const char *stop)
{
    size_t k = 0;

    while (k < n && strchr(stop, s[k]) == NULL)
        k++;
    return k;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* "/" then 0..max without a leading zero; -1 if not that */
static int cidr_len(const char *s, size_t n, int max)
{
    int v = 0;

    if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* a toplabel (ABNF): alphanumerics and '-', not all digits unless it
 * has an inner '-', never starting or ending with '-' */
static int toplabel_ok(const char *s, size_t n)
{
    int alpha = 0, dash = 0;

    if (n == 0 || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-')
            return 0;
        alpha |= isalpha((unsigned char)s[i]) != 0;
        dash |= s[i] == '-';
    }
    return alpha || dash;
}

/* domain-spec = macro-string domain-end */
static int domain_spec_ok(const char *s, size_t n)
{
    int ends_macro = 0;
    size_t end = n, dot;

    if (n == 0 || spf_macro_check(s, n, 0, &ends_macro) != 0)
        return 0;
    if (ends_macro)
        return 1;
    if (s[end - 1] == '.')
        end--;
    for (dot = end; dot > 0 && s[dot - 1] != '.'; dot--)
        ;
    return dot > 0 && toplabel_ok(s + dot, end - dot);
}

static char *dup_spec(const char *s, size_t n)
{
    return xstrndup(s, n);
}

/* a/mx: [":" domain-spec] [ip4-cidr] ["/" ip6-cidr] after the name */
static int parse_dual(struct spf_term *t, const char *s, size_t n)
{
    const char *dd = NULL;

    for (size_t i = 0; i + 1 < n; i++)          /* the last "//" */
        if (s[i] == '/' && s[i + 1] == '/')
            dd = s + i;
    if (dd != NULL && all_digits(dd + 2, (size_t)(s + n - dd - 2))) {
        if ((t->cidr6 = cidr_len(dd + 2, (size_t)(s + n - dd - 2), 128)) < 0)
            return -1;
        n = (size_t)(dd - s);
    }
    const char *sl = memrchr(s, '/', n);
    if (sl != NULL && all_digits(sl + 1, (size_t)(s + n - sl - 1))) {
        if ((t->cidr4 = cidr_len(sl + 1, (size_t)(s + n - sl - 1), 32)) < 0)
            return -1;
        n = (size_t)(sl - s);
    }
    if (n == 0)
        return 0;
    if (s[0] != ':' || !domain_spec_ok(s + 1, n - 1))
        return -1;
    t->spec = dup_spec(s + 1, n - 1);
    return 0;
}

static int parse_ip(struct spf_term *t, const char *s, size_t n, int v6)
{
    char buf[64];
    const char *sl;
    size_t an;

    if (n < 2 || s[0] != ':')
        return -1;
    s++, n--;
    sl = memchr(s, '/', n);
    an = sl ? (size_t)(sl - s) : n;
    if (an == 0 || an >= sizeof(buf))
        return -1;
    memcpy(buf, s, an);
    buf[an] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, t->net) != 1)
        return -1;
    if (sl != NULL) {
        int len = cidr_len(sl + 1, n - an - 1, v6 ? 128 : 32);
        if (len < 0)
            return -1;
        *(v6 ? &t->cidr6 : &t->cidr4) = len;
    }
    return 0;
}

static const struct { const char *name; enum spf_mech m; } mechs[] = {
    { "all", SPF_M_ALL }, { "include", SPF_M_INCLUDE }, { "a", SPF_M_A },
    { "mx", SPF_M_MX }, { "ptr", SPF_M_PTR }, { "ip4", SPF_M_IP4 },
    { "ip6", SPF_M_IP6 }, { "exists", SPF_M_EXISTS },
};

/* the mechanism's argument part (after its name) */
static int parse_args(struct spf_term *t, const char *s, size_t n)
{
    switch (t->mech) {
    case SPF_M_ALL:
        return n == 0 ? 0 : -1;
    case SPF_M_A: case SPF_M_MX:
        return parse_dual(t, s, n);
    case SPF_M_IP4: case SPF_M_IP6:
        return parse_ip(t, s, n, t->mech == SPF_M_IP6);
    case SPF_M_PTR:
        if (n == 0)
            return 0;
        /* fall through */
    default:                            /* include, exists, ptr:spec */
        if (n < 2 || s[0] != ':' || !domain_spec_ok(s + 1, n - 1))
            return -1;
        t->spec = dup_spec(s + 1, n - 1);
        return 0;
    }
}

static int parse_directive(struct spf_term *t, const char *s, size_t n)
{
    size_t k;

    t->qual = '+';
    if (n > 0 && strchr("+-~?", s[0]) != NULL) {
        t->qual = s[0];
        s++, n--;
    }
    k = span_to(s, n, ":/");
    t->cidr4 = 32;
    t->cidr6 = 128;
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (strlen(mechs[i].name) == k
            && strncasecmp(mechs[i].name, s, k) == 0) {
            t->mech = mechs[i].m;
            return parse_args(t, s + k, n - k);
        }
    return -1;
}

/* name "=" macro-string; 1 if the term is a modifier, 0 if not, -1 bad */
static int parse_modifier(struct spf_record *r, const char *s, size_t n,
                          char *why, size_t wsize)
{
    size_t k = 0;

    if (n == 0 || !isalpha((unsigned char)s[0]))
        return 0;
    while (k < n && (isalnum((unsigned char)s[k]) || strchr("-_.", s[k])))
        k++;
    if (k == n || s[k] != '=')
        return 0;
    const char *v = s + k + 1;
    size_t vn = n - k - 1;
    char **slot = k == 8 && strncasecmp(s, "redirect", 8) == 0 ? &r->redirect
                : k == 3 && strncasecmp(s, "exp", 3) == 0 ? &r->exp : NULL;
    if (slot == NULL)
        return spf_macro_check(v, vn, 1, NULL) == 0 ? 1
               : (snprintf(why, wsize, "bad modifier \"%.*s\"", (int)n, s),
                  -1);
    if (*slot != NULL || !domain_spec_ok(v, vn)) {
        snprintf(why, wsize, *slot ? "repeated modifier \"%.*s\""
                 : "bad modifier \"%.*s\"", (int)(*slot ? k : n), s);
        return -1;
    }
    *slot = dup_spec(v, vn);
    return 1;
}

static int parse_term(struct spf_record *r, const char *s, size_t n,
                      char *why, size_t wsize)
{
    int m;

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
            snprintf(why, wsize, "invalid character in record");
            return -1;
        }
    if ((m = parse_modifier(r, s, n, why, wsize)) != 0)
        return m < 0 ? -1 : 0;
    if (r->n == SPF_MAX_TERMS) {
        snprintf(why, wsize, "more than %d terms", SPF_MAX_TERMS);
        return -1;
    }
    struct spf_term *t = &r->t[r->n];
    memset(t, 0, sizeof(*t));
    if (parse_directive(t, s, n) != 0) {
        free(t->spec);
        snprintf(why, wsize, "bad term \"%.*s\"", n > 80 ? 80 : (int)n, s);
        return -1;
    }
    t->text = xstrndup(s, n);
    r->n++;
    return 0;
}

/* spf_record_parse - see spf_impl.h */
int spf_record_parse(const char *s, size_t n, struct spf_record *r,
                     char *why, size_t wsize)
{
    memset(r, 0, sizeof(*r));
    if (!spf_record_is_spf1(s, n)) {
        snprintf(why, wsize, "not an SPF record");
        return -1;
    }
    if (n > SPF_MAX_RECORD) {
        snprintf(why, wsize, "record longer than %d bytes", SPF_MAX_RECORD);
        return -1;
    }
    r->t = xcalloc(SPF_MAX_TERMS, sizeof(*r->t));
    for (size_t i = 6; i < n;) {
        size_t k;
        if (s[i] == ' ') {
            i++;
            continue;
        }
        for (k = i; k < n && s[k] != ' '; k++)
            ;
        if (parse_term(r, s + i, k - i, why, wsize) != 0) {
            spf_record_free(r);
            return -1;
        }
        i = k;
    }
    return 0;
}

/* spf_record_free - see spf_impl.h */
void spf_record_free(struct spf_record *r)
{
    for (size_t i = 0; r->t != NULL && i < r->n; i++) {
        free(r->t[i].spec);
        free(r->t[i].text);
    }
    free(r->t);
    free(r->redirect);
    free(r->exp);
    memset(r, 0, sizeof(*r));
}
