/*
 * address.c - RFC 5321/5322 mailbox parsing and formatting.
 *
 * PURPOSE:   turn "local@domain" or "<local@domain>" from SMTP commands,
 *            headers and configuration into an unquoted local part and a
 *            lowercased domain (struct addr_parsed), and quote them again.
 * INTERFACE: addr_parse, addr_format, addr_quote_local, addr_is_dot_atom,
 *            addr_domain_valid (contracts in address.h).
 * ERRORS:    addr_parse returns -1 with a static English reason in *err and
 *            a zeroed *out; the other functions cannot fail (strbuf growth
 *            failure is fatal()).
 * SECURITY:  the input is hostile wire data taken as (ptr, len). NUL and
 *            control octets are refused before anything else; every length
 *            is checked against the RFC limits before a copy into the fixed
 *            buffers of struct addr_parsed; octets >= 0x80 pass only with
 *            ADDR_UTF8 and only as well-formed UTF-8. Percent hacks and bang
 *            paths parse (flags only): routing refuses them.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "core/base/utf8.h"
#include "core/base/strbuf.h"

#include "core/mail/address.h"

#define IS_BLANK(c) ((c) == ' ' || (c) == '\t')

/* fail - store a reason, return -1 */
static int fail(const char **err, const char *reason)
{
    *err = reason;
    return -1;
}

/* is_atext - RFC 5322 atext, ASCII part */
static int is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}


/* utf8_char - length of a non-ASCII UTF-8 character at s[i], 0 if there
 * is none or UTF-8 is not allowed */
static size_t utf8_char(const char *s, size_t len, size_t i, unsigned opts)
{
    const unsigned char *p = (const unsigned char *)s + i;

    if (!(opts & ADDR_UTF8) || p[0] < 0x80)
        return 0;
    return utf8_seq(p, len - i);
}

/* check_octets - refuse control octets and unwanted or malformed non-ASCII;
 * 1 if non-ASCII octets were seen, 0 if not, -1 on error */
static int check_octets(const char *s, size_t len, unsigned opts,
                        const char **err)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    int seen = 0;

    while (i < len) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return fail(err, "control character in address");
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (!(opts & ADDR_UTF8))
            return fail(err, "non-ASCII character in address");
        if ((n = utf8_seq(p + i, len - i)) == 0)
            return fail(err, "malformed UTF-8 in address");
        i += n;
        seen = 1;
    }
    return seen;
}

/* stop_reason - why the octet at p[0] cannot continue the address */
static const char *stop_reason(const char *p, size_t n, const char *bad)
{
    size_t i = 0;

    while (i < n && IS_BLANK(p[i]))
        i++;
    if (i == n)
        return bad;
    switch (p[i]) {
    case '(': case ')':
        return "comments are not accepted";
    case '<': case '>':
        return i == 0 ? "unbalanced angle brackets" : bad;
    case '@':
        return i == 0 ? "too many @ signs" : bad;
    default:
        return bad;
    }
}

/* scan_quoted - index just past the quoted string that opens at s[0],
 * 0 with *err if it is unterminated or holds a bad quoted-pair */
static size_t scan_quoted(const char *s, size_t len, const char **err)
{
    size_t i;

    for (i = 1; i < len; i++) {
        if (s[i] == '"')
            return i + 1;
        if (s[i] != '\\')
            continue;   /* qtext: check_octets refused the rest already */
        if (++i == len)
            break;
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            *err = "invalid quoted-pair in local part";
            return 0;
        }
    }
    *err = "unterminated quoted string";
    return 0;
}

/* scan_atoms - length of the run of atext, dots and (with ADDR_UTF8)
 * UTF-8 characters at the start of s */
static size_t scan_atoms(const char *s, size_t len, unsigned opts)
{
    size_t i = 0, n;

    while (i < len) {
        if (is_atext((unsigned char)s[i]) || s[i] == '.')
            i++;
        else if ((n = utf8_char(s, len, i, opts)) > 0)
            i += n;
        else
            break;
    }
    return i;
}

/* dots_reason - NULL if the dots of s[0..n) fit a dot-atom (n > 0) */
static const char *dots_reason(const char *s, size_t n)
{
    if (s[0] == '.')
        return "local part begins with a dot";
    if (s[n - 1] == '.')
        return "local part ends with a dot";
    if (memmem(s, n, "..", 2) != NULL)
        return "consecutive dots in local part";
    return NULL;
}

/* unquote - copy the quoted string s[0..n) without quotes and escapes;
 * dst has room for n - 1 octets */
static void unquote(const char *s, size_t n, char *dst)
{
    size_t i, j = 0;

    for (i = 1; i + 1 < n; i++) {
        if (s[i] == '\\')
            i++;
        dst[j++] = s[i];
    }
    dst[j] = '\0';
}

/* local_flags - AF_* flags the unquoted local part earns */
static unsigned local_flags(const char *lp)
{
    unsigned flags = 0;

    for (; *lp != '\0'; lp++) {
        if (*lp == '@')
            flags |= AF_AT_IN_LOCAL;
        else if (*lp == '%')
            flags |= AF_PERCENT;
        else if (*lp == '!')
            flags |= AF_BANG;
    }
    return flags;
}

/* local_end - length of the local part as written at the start of s;
 * 0 with *err if it is malformed */
static size_t local_end(const char *s, size_t len, unsigned opts,
                        const char **err)
{
    size_t n;
    int quoted = s[0] == '"';

    if (quoted) {
        if ((n = scan_quoted(s, len, err)) == 0)
            return 0;
    } else if ((n = scan_atoms(s, len, opts)) == 0) {
        *err = stop_reason(s, len, "invalid character in local part");
        return 0;
    }
    if (n < len && s[n] != '@') {
        *err = stop_reason(s + n, len - n, quoted
                           ? "invalid character after quoted string"
                           : "invalid character in local part");
        return 0;
    }
    return n;
}

/* parse_local - fill out->local_part from the start of s; the local part
 * as written is *end octets long */
static int parse_local(const char *s, size_t len, unsigned opts,
                       struct addr_parsed *out, size_t *end,
                       const char **err)
{
    const char *why;
    size_t n;

    if ((n = local_end(s, len, opts, err)) == 0)
        return -1;
    if (n > ADDR_LOCAL_MAX)
        return fail(err, "local part too long");
    if (s[0] == '"') {
        unquote(s, n, out->local_part);
        out->flags |= AF_QUOTED;
    } else {
        if ((why = dots_reason(s, n)) != NULL)
            return fail(err, why);
        memcpy(out->local_part, s, n);
        out->local_part[n] = '\0';
    }
    if (out->local_part[0] == '\0')
        return fail(err, "empty local part");
    out->flags |= local_flags(out->local_part);
    *end = n;
    return 0;
}

/* label_end - index of the end of the domain label starting at d[i] */
static size_t label_end(const char *d, size_t len, size_t i, unsigned opts)
{
    size_t n;

    while (i < len) {
        unsigned char c = (unsigned char)d[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-')
            i++;
        else if ((n = utf8_char(d, len, i, opts)) > 0)
            i += n;
        else
            break;
    }
    return i;
}

/* label_check - RFC 1035 label rules for l[0..n) */
static int label_check(const char *l, size_t n, const char **err)
{
    if (n == 0)
        return fail(err, "empty label in domain");
    if (n > 63)
        return fail(err, "domain label too long");
    if (l[0] == '-' || l[n - 1] == '-')
        return fail(err, "domain label begins or ends with a hyphen");
    return 0;
}

/* domain_stop - why d[0] cannot continue a domain name */
static const char *domain_stop(const char *d, size_t n)
{
    return stop_reason(d, n, IS_BLANK(d[0]) ? "trailing garbage after domain"
                                            : "invalid character in domain");
}

/* domain_check - host name syntax of d[0..len); 0 or -1 with *err.
 * XXX UTF-8 labels are limited to 63 octets as written, not as A-labels. */
static int domain_check(const char *d, size_t len, unsigned opts,
                        const char **err)
{
    size_t i = 0, start;

    if (len == 0)
        return fail(err, "missing domain");
    for (;;) {
        start = i;
        i = label_end(d, len, i, opts);
        if (i < len && d[i] != '.')
            return fail(err, domain_stop(d + i, len - i));
        if (label_check(d + start, i - start, err) < 0)
            return -1;
        if (i == len)
            break;
        if (++i == len)
            return fail(err, "trailing dot in domain");
    }
    if (len > ADDR_DOMAIN_MAX)
        return fail(err, "domain too long");
    return 0;
}

/* literal_ip - validate v[0..n) as an address of family af and store the
 * canonical "[<prefix><address>]" in out->domain */
static int literal_ip(int af, const char *v, size_t n, const char *prefix,
                      struct addr_parsed *out, const char **err)
{
    char buf[64], text[INET6_ADDRSTRLEN];
    unsigned char bin[16];

    if (n == 0 || n >= sizeof buf)
        goto fail;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (inet_pton(af, buf, bin) != 1
        || inet_ntop(af, bin, text, sizeof text) == NULL
        || bsnprintf(out->domain, sizeof out->domain, "[%s%s]",
                     prefix, text) < 0)
        goto fail;
    return 0;
fail:
    return fail(err, af == AF_INET ? "invalid IPv4 address literal"
                                   : "invalid IPv6 address literal");
}

/* parse_literal - "[192.0.2.1]" or "[IPv6:...]" in d[0..len), d[0] == '[' */
static int parse_literal(const char *d, size_t len, struct addr_parsed *out,
                         const char **err)
{
    const char *close = memchr(d, ']', len), *in = d + 1, *colon;
    size_t n;

    if (close == NULL)
        return fail(err, "unterminated domain literal");
    if (close != d + len - 1)
        return fail(err, stop_reason(close + 1, (size_t)(d + len - close - 1),
                                     "trailing garbage after domain literal"));
    n = (size_t)(close - in);
    out->flags |= AF_DOMAIN_LITERAL;
    if ((colon = memchr(in, ':', n)) == NULL)
        return literal_ip(AF_INET, in, n, "", out, err);
    if (colon - in == 4 && strncasecmp(in, "IPv6", 4) == 0)
        return literal_ip(AF_INET6, colon + 1, n - 5, "IPv6:", out, err);
    return fail(err, "unsupported address literal type");
}

/* parse_domain - fill out->domain from d[0..len), lowercased (ASCII) */
static int parse_domain(const char *d, size_t len, unsigned opts,
                        struct addr_parsed *out, const char **err)
{
    size_t i;

    if (len > 0 && d[0] == '[')
        return parse_literal(d, len, out, err);
    if (domain_check(d, len, opts, err) < 0)
        return -1;
    for (i = 0; i < len; i++) {
        char c = d[i];

        out->domain[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out->domain[len] = '\0';
    return 0;
}

/* strip_angles - remove "<" ">" around s[0..len) if present */
static int strip_angles(const char **s, size_t *len, const char **err)
{
    const char *p = *s, *ignored;
    size_t i, end;

    if (*len == 0 || p[0] != '<')
        return 0;
    for (i = 1; i < *len && p[i] != '>'; i++) {
        /* a '>' inside a quoted string is text; a broken quoted string is
         * reported later by parse_local */
        if (p[i] == '"' && (end = scan_quoted(p + i, *len - i, &ignored)) > 0)
            i += end - 1;
    }
    if (i == *len)
        return fail(err, "unbalanced angle brackets");
    if (i + 1 < *len)
        return fail(err, stop_reason(p + i + 1, *len - i - 1,
                                     "trailing garbage after address"));
    *s = p + 1;
    *len = i - 1;
    return 0;
}

/* parse_special - the empty address and the bare local part */
static int parse_special(unsigned opts, unsigned flag,
                         struct addr_parsed *out, const char **err)
{
    if (flag == AF_NULL && !(opts & ADDR_ALLOW_NULL))
        return fail(err, "empty address");
    if (flag == AF_UNQUALIFIED && !(opts & ADDR_ALLOW_UNQUALIFIED))
        return fail(err, "missing domain");
    out->flags |= flag;
    return 0;
}

/* parse_addr - addr_parse without the cleanup of *out on error */
static int parse_addr(const char *s, size_t len, unsigned opts,
                      struct addr_parsed *out, const char **err)
{
    size_t n = 0;
    int utf8;

    if (memchr(s, '\0', len) != NULL)
        return fail(err, "NUL character in address");
    while (len > 0 && IS_BLANK(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && IS_BLANK(s[len - 1]))
        len--;
    if ((utf8 = check_octets(s, len, opts, err)) < 0
        || strip_angles(&s, &len, err) < 0)
        return -1;
    out->flags = utf8 ? AF_UTF8 : 0;
    if (len == 0)
        return parse_special(opts, AF_NULL, out, err);
    if (s[0] == '@')
        return fail(err, memchr(s, ':', len) ? "source routes are not accepted"
                                             : "empty local part");
    if (parse_local(s, len, opts, out, &n, err) < 0)
        return -1;
    if (n == len)
        return parse_special(opts, AF_UNQUALIFIED, out, err);
    if (parse_domain(s + n + 1, len - n - 1, opts, out, err) < 0)
        return -1;
    if (len > ADDR_TOTAL_MAX)
        return fail(err, "address too long");
    return 0;
}

/* addr_parse - parse s[0..len) as "local@domain" or "<local@domain>" */
int addr_parse(const char *s, size_t len, unsigned opts,
               struct addr_parsed *out, const char **err)
{
    const char *dummy;

    if (err == NULL)
        err = &dummy;
    memset(out, 0, sizeof *out);
    if (s == NULL) {
        s = "";
        len = 0;
    }
    if (parse_addr(s, len, opts, out, err) == 0)
        return 0;
    memset(out, 0, sizeof *out);
    return -1;
}

/* addr_is_dot_atom - nonzero if s[0..len) is an RFC 5322 dot-atom; UTF-8
 * characters count as atext (RFC 6531) */
int addr_is_dot_atom(const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return 0;
    return scan_atoms(s, len, ADDR_UTF8) == len && dots_reason(s, len) == NULL;
}

/* addr_quote_local - append lp, as a quoted-string unless it is a dot-atom */
void addr_quote_local(const char *lp, struct strbuf *out)
{
    size_t n = strlen(lp);

    if (addr_is_dot_atom(lp, n)) {
        sb_append(out, lp, n);
        return;
    }
    sb_putc(out, '"');
    for (; *lp != '\0'; lp++) {
        if (*lp == '"' || *lp == '\\')
            sb_putc(out, '\\');
        sb_putc(out, *lp);
    }
    sb_putc(out, '"');
}

/* addr_format - append "local@domain", just the local part when domain is
 * NULL or "", and nothing for the null address (both empty) */
void addr_format(const char *lp, const char *domain, struct strbuf *out)
{
    int has_domain = domain != NULL && domain[0] != '\0';

    if (lp[0] == '\0' && !has_domain)
        return;
    addr_quote_local(lp, out);
    if (has_domain) {
        sb_putc(out, '@');
        sb_puts(out, domain);
    }
}

/* addr_domain_valid - nonzero if d[0..len) is a syntactically valid host
 * name (ADDR_UTF8 in opts admits well-formed UTF-8 labels) */
int addr_domain_valid(const char *d, size_t len, unsigned opts)
{
    const char *err;

    if (d == NULL || memchr(d, '\0', len) != NULL)
        return 0;
    return domain_check(d, len, opts, &err) == 0;
}
