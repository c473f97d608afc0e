/*
 * dns_ttl.c - how long a DNS reply may be remembered: the smallest TTL of
 *             its answer records, or for a negative reply (NXDOMAIN,
 *             NODATA) the SOA's negative TTL (RFC 2308: the smaller of
 *             the SOA record's TTL and its MINIMUM field).
 *
 * PURPOSE: the resolver's answer memo (dns_memo.c) keeps replies no
 * longer than their owners allow. The reply is hostile: every length is
 * checked against the buffer, names are only skipped (labels or one
 * compression pointer), and a reply that cannot be walked has no TTL, so
 * it is never remembered.
 * INTERFACE: dns_wire_ttl (dns_impl.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/net/dns_impl.h"

#define HDR_LEN 12
#define MAX_LABELS 128
#define T_SOA 6

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
           | p[3];
}

/* RFC 2181 §8: a TTL with the top bit set counts as 0 */
static uint32_t ttl_value(const unsigned char *p)
{
    uint32_t v = get32(p);

    return v & 0x80000000u ? 0 : v;
}

/* skip the name at *pos; -1 if it runs off the end or is malformed */
static int skip_name(const unsigned char *b, size_t len, size_t *pos)
{
    for (int i = 0; i < MAX_LABELS; i++) {
        if (*pos >= len)
            return -1;
        unsigned c = b[*pos];
        if (c == 0) {
            (*pos)++;
            return 0;
        }
        if ((c & 0xC0) == 0xC0) {
            if (*pos + 2 > len)
                return -1;
            *pos += 2;
            return 0;
        }
        if (c & 0xC0)
            return -1;
        *pos += 1 + c;
    }
    return -1;
}

/* one record at *pos: its type, TTL and rdata offset/length */
static int next_rr(const unsigned char *b, size_t len, size_t *pos,
                   unsigned *type, uint32_t *ttl, size_t *rdata,
                   size_t *rdlen)
{
    if (skip_name(b, len, pos) != 0 || *pos + 10 > len)
        return -1;
    *type = (unsigned)b[*pos] << 8 | b[*pos + 1];
    *ttl = ttl_value(b + *pos + 4);
    *rdlen = (size_t)b[*pos + 8] << 8 | b[*pos + 9];
    *rdata = *pos + 10;
    if (*rdata + *rdlen > len)
        return -1;
    *pos = *rdata + *rdlen;
    return 0;
}

/* the negative TTL of an SOA record's rdata: min(ttl, MINIMUM) */
static int soa_ttl(const unsigned char *b, size_t rdata, size_t rdlen,
                   uint32_t ttl, uint32_t *out)
{
    size_t end = rdata + rdlen, pos = rdata;

    if (skip_name(b, end, &pos) != 0 || skip_name(b, end, &pos) != 0
        || pos + 20 != end)
        return -1;
    uint32_t minimum = ttl_value(b + pos + 16);
    *out = minimum < ttl ? minimum : ttl;
    return 0;
}

/* dns_wire_ttl - see dns_impl.h */
int dns_wire_ttl(const unsigned char *b, size_t len, uint32_t *ttl)
{
    unsigned qd, an, ns, type;
    size_t pos = HDR_LEN, rdata, rdlen;
    uint32_t t, best = UINT32_MAX;

    if (b == NULL || len < HDR_LEN)
        return -1;
    qd = (unsigned)b[4] << 8 | b[5];
    an = (unsigned)b[6] << 8 | b[7];
    ns = (unsigned)b[8] << 8 | b[9];
    for (unsigned i = 0; i < qd; i++)
        if (skip_name(b, len, &pos) != 0 || (pos += 4) > len)
            return -1;
    for (unsigned i = 0; i < an; i++) {
        if (next_rr(b, len, &pos, &type, &t, &rdata, &rdlen) != 0)
            return -1;
        best = t < best ? t : best;
    }
    for (unsigned i = 0; an == 0 && i < ns; i++) {
        if (next_rr(b, len, &pos, &type, &t, &rdata, &rdlen) != 0)
            return -1;
        if (type == T_SOA && soa_ttl(b, rdata, rdlen, t, &t) == 0)
            best = t < best ? t : best;
    }
    if (best == UINT32_MAX)
        return -1;
    *ttl = best;
    return 0;
}
