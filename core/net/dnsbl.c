/*
 * dnsbl.c - DNS list items (Exim's dnslists syntax): parse an item, build
 *           the name to ask, test the A records of an answer.
 *
 * PURPOSE: the ACL condition (acl/acl_dnslists.c) and Lua share this; it
 * knows no ACL or DNS library types, only text and addresses.
 * INTERFACE: see dnsbl.h.
 * SECURITY: the key may be client data ($sender_address_domain): only
 * letters, digits, '-', '_' and '.' make a name, labels 1-63 bytes, the
 * whole at most 253. Answers outside 127.0.0.0/8 are counted, never used.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/base/errbuf.h"
#include "core/net/dnsbl.h"

/* A DNS name of letters, digits, '-', '_' and '.' with labels of 1-63
 * bytes; a final '.' is allowed and not counted. */
static int valid_name(const char *s, size_t n)
{
    size_t label = 0;

    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0;
}

static size_t trimmed(const char *s, size_t n, const char **start)
{
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *start = s;
    return n;
}

/* "127.0.0.2,127.0.0.3" into it->vals */
static int parse_values(const char *s, size_t n, struct dnsbl_item *it,
                        struct errbuf *eb)
{
    size_t i = 0;

    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        const char *v;
        size_t len = trimmed(s + i, j - i, &v);
        char ip[16];
        struct in_addr a;
        if (len == 0 || len >= sizeof(ip))
            return errbuf_set(eb, "bad value \"%.*s\" (an IPv4 address "
                              "like 127.0.0.2)", (int)len, v), -1;
        memcpy(ip, v, len);
        ip[len] = '\0';
        if (inet_pton(AF_INET, ip, &a) != 1)
            return errbuf_set(eb, "bad value \"%s\" (an IPv4 address like "
                              "127.0.0.2)", ip), -1;
        if (it->nvals == DNSBL_MAXVALS)
            return errbuf_set(eb, "more than %d values", DNSBL_MAXVALS), -1;
        it->vals[it->nvals++] = ntohl(a.s_addr);
        i = j + 1;
    }
    return 0;
}

/* The part after the zone: [!](=|==|&)values */
static int parse_match(const char *s, size_t n, struct dnsbl_item *it,
                       struct errbuf *eb)
{
    size_t skip = 1;

    if (n > 0 && s[0] == '!') {
        it->negate = 1;
        s++, n--;
    }
    if (n >= 2 && s[0] == '=' && s[1] == '=')
        it->how = DNSBL_ALL, skip = 2;
    else if (n >= 1 && s[0] == '=')
        it->how = DNSBL_ANY;
    else if (n >= 1 && s[0] == '&')
        it->how = DNSBL_MASK;
    else
        return errbuf_set(eb, "expected =, ==, &, !=, !== or !& after the "
                          "list's domain"), -1;
    return parse_values(s + skip, n - skip, it, eb);
}

/* A list's domain into dst (DNSBL_NAME_MAX bytes), without a final dot */
static int set_zone(char *dst, const char *z, size_t zn, struct errbuf *eb)
{
    zn = trimmed(z, zn, &z);
    if (zn >= DNSBL_NAME_MAX || !valid_name(z, zn))
        return errbuf_set(eb, "DNS list \"%.*s\": not a domain name",
                          (int)(zn > 80 ? 80 : zn), z), -1;
    memcpy(dst, z, zn);
    dst[zn] = '\0';
    if (dst[zn - 1] == '.')
        dst[zn - 1] = '\0';
    return 0;
}

/* dnsbl_parse - see dnsbl.h */
int dnsbl_parse(const char *text, struct dnsbl_item *out, struct errbuf *eb)
{
    const char *s, *end, *slash, *z;
    size_t n = trimmed(text, strlen(text), &s), zn;

    memset(out, 0, sizeof(*out));
    end = s + n;
    slash = memchr(s, '/', n);
    if (slash != NULL) {
        const char *k;
        size_t kn = trimmed(slash + 1, (size_t)(end - slash - 1), &k);
        if (kn == 0 || kn >= sizeof(out->key))
            return errbuf_set(eb, "DNS list \"%.*s\": %s key after '/'",
                              (int)n, s, kn ? "too long a" : "empty"), -1;
        memcpy(out->key, k, kn);
        end = slash;
    }
    zn = strcspn(s, "=&!");
    if (zn > (size_t)(end - s))
        zn = (size_t)(end - s);
    zn = trimmed(s, zn, &z);
    const char *comma = memchr(z, ',', zn);
    if (comma == NULL ? set_zone(out->zone, z, zn, eb) != 0
        : set_zone(out->zone, z, (size_t)(comma - z), eb) != 0
          || set_zone(out->merged, comma + 1, zn - (size_t)(comma + 1 - z),
                      eb) != 0)
        return -1;
    n = trimmed(z + zn, (size_t)(end - z - zn), &s);
    if (n > 0 && parse_match(s, n, out, eb) != 0) {
        errbuf_prefix(eb, "DNS list \"%s\": ", out->zone);
        return -1;
    }
    return 0;
}

/* dnsbl_option - see dnsbl.h */
int dnsbl_option(const char *text)
{
    const char *s;
    size_t n = trimmed(text, strlen(text), &s);

    if (n == 16 && strncmp(s, "+include_unknown", n) == 0)
        return DNSBL_INCLUDE;
    if (n == 16 && strncmp(s, "+exclude_unknown", n) == 0)
        return DNSBL_EXCLUDE;
    if (n == 14 && strncmp(s, "+defer_unknown", n) == 0)
        return DNSBL_DEFER;
    return -1;
}

static int is_v4_mapped(const unsigned char *b)
{
    static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                              0xff, 0xff };

    return memcmp(b, prefix, sizeof(prefix)) == 0;
}

/* dnsbl_query_name - see dnsbl.h */
int dnsbl_query_name(const char *key, const char *zone, char *out,
                     size_t size)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    char name[80], *p = name;
    size_t kn = strlen(key);

    if (inet_pton(AF_INET, key, b) == 1) {
        snprintf(name, sizeof(name), "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
        key = name;
    } else if (inet_pton(AF_INET6, key, b) == 1 && is_v4_mapped(b)) {
        snprintf(name, sizeof(name), "%u.%u.%u.%u", b[15], b[14], b[13],
                 b[12]);                /* ::ffff:a.b.c.d is an IPv4 client */
        key = name;
    } else if (inet_pton(AF_INET6, key, b) == 1) {
        for (int i = 15; i >= 0; i--) {
            *p++ = hex[b[i] & 15], *p++ = '.';
            *p++ = hex[b[i] >> 4], *p++ = '.';
        }
        p[-1] = '\0';
        key = name;
    } else if (!valid_name(key, kn)) {
        return -1;
    } else if (key[kn - 1] == '.') {
        return snprintf(out, size, "%.*s%s", (int)kn, key, zone) < (int)size
               && strlen(out) <= 253 ? 0 : -1;
    }
    return snprintf(out, size, "%s.%s", key, zone) < (int)size
           && strlen(out) <= 253 ? 0 : -1;
}

static int in_values(const struct dnsbl_item *it, uint32_t a)
{
    for (size_t i = 0; i < it->nvals; i++)
        if (it->how == DNSBL_MASK ? (a & it->vals[i]) == it->vals[i]
                                  : a == it->vals[i])
            return 1;
    return 0;
}

/* dnsbl_listed - see dnsbl.h. As Exim: =/& hold when some record
 * matches, == when every one does; the negated forms hold when the key is
 * listed and the plain form does not hold. */
int dnsbl_listed(const struct dnsbl_item *it, const char *const *addrs,
                 size_t n, size_t *ignored)
{
    size_t used = 0, hits = 0;

    *ignored = 0;
    for (size_t i = 0; i < n; i++) {
        struct in_addr a;
        uint32_t v;
        if (inet_pton(AF_INET, addrs[i], &a) != 1
            || ((v = ntohl(a.s_addr)) >> 24) != 127) {
            (*ignored)++;
            continue;
        }
        used++;
        hits += (size_t)in_values(it, v);
    }
    if (used == 0)
        return 0;
    if (it->how == DNSBL_LISTED)
        return 1;
    int yes = it->how == DNSBL_ALL ? hits == used : hits > 0;
    return it->negate ? !yes : yes;
}
