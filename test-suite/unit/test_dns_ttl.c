/*
 * test_dns_ttl.c - how long the resolver may remember a reply
 * (core/net/dns_ttl.c): the smallest answer TTL, a negative reply's SOA
 * negative TTL (RFC 2308), RFC 2181's top-bit rule, and hostile replies
 * (truncated, bad labels, an SOA whose rdata does not add up) that must
 * give no TTL at all. Then the memo (dns_memo.c): entries expire, names
 * are matched without case, and the table stays within its bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/net/dns_impl.h"
#include "test-suite/unit/tap.h"

struct msg {
    unsigned char b[512];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put16(struct msg *m, unsigned v)
{
    unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
    put(m, b, 2);
}

static void put32(struct msg *m, unsigned long v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };
    put(m, b, 4);
}

/* header and the question "a.test" */
static void start(struct msg *m, unsigned an, unsigned ns)
{
    m->n = 0;
    put16(m, 1); put16(m, 0x8180); put16(m, 1); put16(m, an);
    put16(m, ns); put16(m, 0);
    put(m, "\1a\4test\0", 8);
    put16(m, 1); put16(m, 1);
}

static void a_rr(struct msg *m, unsigned long ttl)
{
    put(m, "\xc0\x0c", 2);
    put16(m, 1); put16(m, 1); put32(m, ttl); put16(m, 4);
    put(m, "\x7f\0\0\2", 4);
}

static void soa_rr(struct msg *m, unsigned long ttl, unsigned long minimum,
                   int rdlen_extra)
{
    put(m, "\4test\0", 6);
    put16(m, 6); put16(m, 1); put32(m, ttl);
    put16(m, (unsigned)(5 + 5 + 20 + rdlen_extra));
    put(m, "\2ns\xc0\x0e", 5);        /* mname ns.test (0x0e: "test") */
    put(m, "\2hm\xc0\x0e", 5);        /* rname hm.test */
    put32(m, 1); put32(m, 3600); put32(m, 600); put32(m, 86400);
    put32(m, minimum);
}

static void ttl_cases(void)
{
    struct msg m;
    uint32_t t = 7;

    start(&m, 2, 0); a_rr(&m, 300); a_rr(&m, 60);
    int rc = dns_wire_ttl(m.b, m.n, &t);
    ok(rc == 0 && t == 60, "answers: the smallest TTL (%u)", t);
    start(&m, 1, 0); a_rr(&m, 0x80000005UL);
    ok(dns_wire_ttl(m.b, m.n, &t) == 0 && t == 0,
       "a TTL with the top bit set counts as 0 (RFC 2181)");
    start(&m, 0, 1); soa_rr(&m, 900, 300, 0);
    rc = dns_wire_ttl(m.b, m.n, &t);
    ok(rc == 0 && t == 300,
       "NXDOMAIN/NODATA: the SOA's MINIMUM when smaller (%u)", t);
    start(&m, 0, 1); soa_rr(&m, 120, 300, 0);
    rc = dns_wire_ttl(m.b, m.n, &t);
    ok(rc == 0 && t == 120,
       "NXDOMAIN/NODATA: the SOA record's TTL when smaller (%u)", t);
    start(&m, 0, 0);
    ok(dns_wire_ttl(m.b, m.n, &t) != 0,
       "a negative reply without an SOA has no TTL (never remembered)");
    start(&m, 2, 0); a_rr(&m, 300); a_rr(&m, 60);
    ok(dns_wire_ttl(m.b, m.n - 3, &t) != 0, "a truncated record: no TTL");
    ok(dns_wire_ttl(m.b, 11, &t) != 0, "a truncated header: no TTL");
    start(&m, 1, 0); a_rr(&m, 300);
    m.b[12] = 0x80;                     /* a label type that does not exist */
    ok(dns_wire_ttl(m.b, m.n, &t) != 0, "a bad label in the question");
    start(&m, 0, 1); soa_rr(&m, 900, 300, 3);
    put(&m, "xyz", 3);
    ok(dns_wire_ttl(m.b, m.n, &t) != 0,
       "an SOA whose rdata length does not match its fields: no TTL");
    start(&m, 5, 0); a_rr(&m, 300);
    ok(dns_wire_ttl(m.b, m.n, &t) != 0,
       "more answers announced than there are: no TTL");
}

static void memo_cases(void)
{
    struct dns_memo *m = dns_memo_new(3);
    struct dns_rr rr = { (char *)"127.0.0.2", 9, 0 };
    struct dns_answer a = { DNS_OK, DNS_T_A, 1, &rr, "ok" };
    const struct dns_answer *g;
    char name[32];

    dns_memo_put(m, DNS_T_A, "Two.Bl.Test", &a, 1000, 2000);
    g = dns_memo_get(m, DNS_T_A, "two.bl.test", 1500);
    ok(g != NULL && g->n == 1 && strcmp(g->rr[0].data, "127.0.0.2") == 0,
       "memo: a kept answer, found whatever the case of the name");
    ok(dns_memo_get(m, DNS_T_TXT, "two.bl.test", 1500) == NULL,
       "memo: another type is another entry");
    ok(dns_memo_get(m, DNS_T_A, "two.bl.test", 2000) == NULL,
       "memo: gone when its TTL has run out");
    ok(dns_memo_get(m, DNS_T_A, "two.bl.test", 1500) == NULL,
       "memo: an expired entry is dropped");
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "n%d.test", i);
        dns_memo_put(m, DNS_T_A, name, &a, 1000, 1000000);
    }
    int kept = 0;
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "n%d.test", i);
        kept += dns_memo_get(m, DNS_T_A, name, 1001) != NULL;
    }
    ok(kept >= 1 && kept <= 3, "memo: 50 names kept within its bound of 3 "
       "(%d kept)", kept);
    ok(dns_memo_get(m, DNS_T_A, "n49.test", 1001) != NULL,
       "memo: the newest answer is kept");
    dns_memo_free(m);
}

int main(void)
{
    ttl_cases();
    memo_cases();
    return done_testing();
}
