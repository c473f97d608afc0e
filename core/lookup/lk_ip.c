/*
 * lk_ip.c - IP address tables: Exim's iplsearch and Postfix's cidr.
 *
 * PURPOSE:   load a table of networks in file order and return the value
 *            of the first network holding the lookup address.
 *            iplsearch: lsearch syntax, key "a.b.c.d", "a.b.c.d/n" or a
 *            quoted IPv6 address or network, host bits masked off (Exim).
 *            cidr: "net/len value" or "addr value", IPv6 optionally in
 *            [], host bits must be zero (Postfix refuses them too).
 *            Postfix's "if/endif" blocks and "!" negation are not
 *            supported: such lines are reported as malformed.
 * INTERFACE: lk_iplsearch_backend, lk_cidr_backend (lk_impl.h).
 * ERRORS:    a malformed line fails the load ("FILE:LINE: reason") so the
 *            lookup defers; a lookup key that is no IP address is simply
 *            not found. IPv4 keys never match IPv6 networks or vice versa.
 * SECURITY:  lookup keys come from the network: length-checked and parsed
 *            only by inet_pton.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/errbuf.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/lookup/lk_impl.h"

struct lk_net {
    unsigned char addr[16];     /* network, host bits zero */
    unsigned alen;              /* 4 or 16 */
    unsigned prefix;            /* 0..alen*8 */
    const char *val;            /* in the table's pool, NUL-terminated */
    size_t vlen;
};

struct ip_table {
    struct lk_net *nets;        /* in file order */
    size_t n, cap;
    struct pool *pool;
    int strict;                 /* cidr: refuse host bits */
    struct strbuf key, val;     /* scratch while loading */
};

/* Parse an address; returns its length in bytes (4, 16) or 0. */
static unsigned ip_parse(const char *s, size_t len, unsigned char out[16])
{
    char buf[64];

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, buf, out) == 1)
        return 16;
    return 0;
}

static int prefix_parse(const char *s, size_t len, unsigned max,
                        unsigned *out)
{
    unsigned v = 0;

    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Zero the host bits; returns nonzero if any was set. */
static int mask_host_bits(struct lk_net *n)
{
    int had = 0;

    for (unsigned i = 0; i < n->alen; i++) {
        unsigned keep = n->prefix >= (i + 1) * 8 ? 8
                        : n->prefix > i * 8 ? n->prefix - i * 8 : 0;
        unsigned char m = (unsigned char)(0xff00u >> keep);

        had |= (n->addr[i] & (unsigned char)~m) != 0;
        n->addr[i] &= m;
    }
    return had;
}

/* "addr", "addr/len", with [] around addr when brackets is set. */
static int net_parse(const char *s, size_t len, int brackets,
                     struct lk_net *n)
{
    const char *slash = memchr(s, '/', len), *a = s;
    size_t alen = slash != NULL ? (size_t)(slash - s) : len;

    if (brackets && alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
        a++;
        alen -= 2;
    }
    n->alen = ip_parse(a, alen, n->addr);
    if (n->alen == 0)
        return -1;
    n->prefix = n->alen * 8;
    if (slash != NULL
        && prefix_parse(slash + 1, (size_t)(s + len - slash - 1),
                        n->alen * 8, &n->prefix) < 0)
        return -1;
    return 0;
}

static void table_push(struct ip_table *t, struct lk_net *n,
                       const char *val, size_t vlen)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->nets = xreallocarray(t->nets, t->cap, sizeof(*t->nets));
    }
    n->val = pool_strndup(t->pool, val, vlen);
    n->vlen = vlen;
    t->nets[t->n++] = *n;
}

/* Unquoted "2001:db8::1 value" splits at the first ':'; say why it fails. */
static const char *ipv6_hint(const char *entry, size_t len, size_t keylen)
{
    if (entry[0] != '"' && keylen < 5 && keylen < len
        && entry[keylen] == ':')
        return " (IPv6 keys must be quoted)";
    return "";
}

static int iplsearch_add(void *arg, const char *entry, size_t len,
                         struct errbuf *eb)
{
    struct ip_table *t = arg;
    struct lk_net n;
    int rc = lsearch_parse_line(entry, len, &t->key, &t->val, eb);

    if (rc <= 0)
        return rc;
    if (net_parse(t->key.data, t->key.len, 0, &n) < 0) {
        errbuf_set(eb, "invalid IP address or network \"%s\"%s",
                   t->key.data, ipv6_hint(entry, len, t->key.len));
        return -1;
    }
    mask_host_bits(&n);
    table_push(t, &n, t->val.data, t->val.len);
    return 0;
}

static int cidr_add(void *arg, const char *entry, size_t len,
                    struct errbuf *eb)
{
    struct ip_table *t = arg;
    const char *p = entry, *end = entry + len, *v;
    struct lk_net n;

    while (p < end && !lk_blank((unsigned char)*p))
        p++;
    for (v = p; v < end && lk_blank((unsigned char)*v); v++)
        ;
    if (memchr(entry, '\0', len) != NULL) {
        errbuf_set(eb, "NUL byte in entry");
        return -1;
    }
    if (net_parse(entry, (size_t)(p - entry), 1, &n) < 0) {
        errbuf_set(eb, "invalid address or network \"%.*s\"",
                   (int)(p - entry), entry);
        return -1;
    }
    if (v == end) {
        errbuf_set(eb, "no result after \"%.*s\"", (int)(p - entry), entry);
        return -1;
    }
    if (mask_host_bits(&n)) {
        errbuf_set(eb, "non-null host address bits in \"%.*s\"",
                   (int)(p - entry), entry);
        return -1;
    }
    table_push(t, &n, v, (size_t)(end - v));
    return 0;
}

static void ip_release(void *data)
{
    struct ip_table *t = data;

    if (t == NULL)
        return;
    free(t->nets);
    pool_free(t->pool);
    free(t);
}

static int ip_load(int fd, const char *path, void **data, lk_entry_cb add,
                   struct errbuf *eb)
{
    struct ip_table *t = xcalloc(1, sizeof(*t));
    int rc;

    t->pool = pool_new();
    sb_init(&t->key);
    sb_init(&t->val);
    rc = lk_load_text(fd, path, add, t, eb);
    sb_free(&t->key);
    sb_free(&t->val);
    if (rc < 0) {
        ip_release(t);
        return -1;
    }
    *data = t;
    return 0;
}

static int iplsearch_load(int fd, const char *path, void **data,
                          struct errbuf *eb)
{
    return ip_load(fd, path, data, iplsearch_add, eb);
}

static int cidr_load(int fd, const char *path, void **data,
                     struct errbuf *eb)
{
    return ip_load(fd, path, data, cidr_add, eb);
}

static int net_match(const struct lk_net *n, const unsigned char *a,
                     unsigned alen)
{
    unsigned full = n->prefix / 8, rem = n->prefix % 8;

    if (n->alen != alen || memcmp(n->addr, a, full) != 0)
        return 0;
    return rem == 0
           || ((n->addr[full] ^ a[full]) & (0xff00u >> rem) & 0xff) == 0;
}

static enum lk_result ip_find(void *data, const char *key, size_t klen,
                              struct strbuf *value, struct errbuf *eb)
{
    struct ip_table *t = data;
    unsigned char a[16];
    unsigned alen = ip_parse(key, klen, a);

    (void)eb;
    if (alen == 0)
        return LK_NOTFOUND;             /* not an address: no match */
    for (size_t i = 0; i < t->n; i++) {
        if (net_match(&t->nets[i], a, alen)) {
            sb_reset(value);
            sb_append(value, t->nets[i].val, t->nets[i].vlen);
            return LK_FOUND;
        }
    }
    return LK_NOTFOUND;
}

const struct lk_backend lk_iplsearch_backend = {
    .name = "iplsearch", .caseless = 0, .star_ok = 0,
    .load = iplsearch_load, .release = ip_release, .find = ip_find,
};

const struct lk_backend lk_cidr_backend = {
    .name = "cidr", .caseless = 0, .star_ok = 0,
    .load = cidr_load, .release = ip_release, .find = ip_find,
};
