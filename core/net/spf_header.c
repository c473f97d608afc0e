/*
 * spf_header.c - SPF results as words and as header text: the result
 *                names, the comment of $spf_header_comment and the
 *                Received-SPF field of RFC 7208 section 9.1; and the
 *                check of a record given in the configuration.
 *
 * SECURITY: the sender, HELO name and problem text come from the client
 * or from DNS; they go into a header, so a value that is not a plain
 * dot-atom is quoted, and one with a byte that cannot be quoted safely
 * (controls, '"', '\', non-ASCII) is left out.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/base/errbuf.h"
#include "core/net/spf.h"
#include "core/net/spf_impl.h"

static const char *const names[] = {
    "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"
};

/* spf_check_record - see spf.h */
int spf_check_record(const char *text, struct errbuf *eb)
{
    struct spf_record r;
    char why[160];

    if (text == NULL || spf_record_parse(text, strlen(text), &r, why,
                                         sizeof(why)) != 0) {
        errbuf_set(eb, "\"%s\" is not an SPF record: %s", text ? text : "",
                   text ? why : "unset");
        return -1;
    }
    spf_record_free(&r);
    return 0;
}

/* spf_check_explanation - see spf.h */
int spf_check_explanation(const char *text, struct errbuf *eb)
{
    if (text != NULL && spf_macro_check(text, strlen(text), 1, NULL) == 0)
        return 0;
    errbuf_set(eb, "\"%s\" is not an SPF macro string", text ? text : "");
    return -1;
}

/* spf_result_name - see spf.h */
const char *spf_result_name(enum spf_result r)
{
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

/* spf_result_parse - see spf.h */
int spf_result_parse(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], s, n) == 0)
            return (int)i;
    return -1;
}

/* printable ASCII without quotes or backslashes, or NULL */
static const char *safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\' || *p == '('
            || *p == ')')
            return NULL;
    return s;
}

/* spf_header_comment - see spf.h */
size_t spf_header_comment(const struct spf_outcome *o, const char *receiver,
                          const char *ip, char *out, size_t size)
{
    const char *d = safe(o->domain) ? o->domain : "(unsafe)";
    const char *why = o->problem && safe(o->problem) ? o->problem
                                                     : "unknown error";
    int n;

    switch (o->result) {
    case SPF_PASS: n = snprintf(out, size, "%s: domain of %s designates %s "
                                "as permitted sender", receiver, d, ip);
        break;
    case SPF_FAIL: n = snprintf(out, size, "%s: domain of %s does not "
                                "designate %s as permitted sender", receiver,
                                d, ip);
        break;
    case SPF_SOFTFAIL: n = snprintf(out, size, "%s: transitioning domain of "
                                    "%s does not designate %s as permitted "
                                    "sender", receiver, d, ip);
        break;
    case SPF_NEUTRAL: n = snprintf(out, size, "%s: %s is neither permitted "
                                   "nor denied by domain of %s", receiver,
                                   ip, d);
        break;
    case SPF_NONE: n = snprintf(out, size, "%s: domain of %s does not "
                                "provide an SPF record", receiver, d);
        break;
    default: n = snprintf(out, size, "%s: error in processing during lookup "
                          "of %s: %s", receiver, d, why);
    }
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size ? size - 1 : 0;
}

/* a key=value pair: dot-atom text as is, else quoted, unsafe left out */
static void kv(char *out, size_t size, size_t *len, const char *key,
               const char *v)
{
    int n, atom;

    if (v == NULL || safe(v) == NULL || *len >= size)
        return;
    atom = v[0] != '\0' && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                  "KLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|"
                                  "}~.@:") == strlen(v);
    n = snprintf(out + *len, size - *len, atom ? " %s=%s;" : " %s=\"%s\";",
                 key, v);
    if (n > 0)
        *len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

/* spf_received - see spf.h */
size_t spf_received(const struct spf_outcome *o, const char *receiver,
                    const char *ip, const char *helo, char *out, size_t size)
{
    char comment[600];
    size_t len;
    int n;

    if (size == 0)
        return 0;
    spf_header_comment(o, receiver, ip, comment, sizeof(comment));
    n = snprintf(out, size, "Received-SPF: %s (%s)",
                 spf_result_name(o->result), comment);
    len = n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
    kv(out, size, &len, "client-ip", ip);
    kv(out, size, &len, "envelope-from", o->checked);
    kv(out, size, &len, "helo", helo && *helo ? helo : NULL);
    kv(out, size, &len, "receiver", receiver);
    kv(out, size, &len, "identity", o->identity);
    kv(out, size, &len, "mechanism", o->result != SPF_NONE
                                     && o->result <= SPF_SOFTFAIL
                                     ? o->mechanism : NULL);
    kv(out, size, &len, "problem", o->problem);
    if (len > 0 && out[len - 1] == ';')
        out[--len] = '\0';
    return len;
}
