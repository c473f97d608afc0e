/*
 * test_dns.c - the resolver and the answer cache (core/net/dns.c) against the
 *              test zone (test-suite/zones/test.zone.conf).
 *
 * PURPOSE: status mapping, record parsing, hostile answers (from a fake
 *          server in this process), timeouts, the cache's one query per
 *          name, and freeing with queries in flight (run under ASan).
 * NEEDS:   TERN_TEST_DNS=127.0.0.1:PORT of the dnsmasq started by
 *          test-suite/unit/run_dns_tests.sh; without it the whole file is
 *          skipped.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/net/dns.h"
#include "test-suite/unit/tap.h"

static struct ev *ev;
static struct dns_ctx *dc;

/* ---- helpers ------------------------------------------------------------ */

struct result {
    int done;
    enum dns_status st;
    char why[64];
    char recs[1024];        /* "pref name" or data, sorted, comma-joined */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* canon - the records of ans as one sorted string */
static void canon(const struct dns_answer *ans, char *out, size_t size)
{
    char *items[64], buf[64][300];
    size_t n = ans->n < 64 ? ans->n : 64, len = 0;

    for (size_t i = 0; i < n; i++) {
        if (ans->type == DNS_T_MX)
            snprintf(buf[i], sizeof(buf[i]), "%d %s", ans->rr[i].pref,
                     ans->rr[i].data);
        else
            snprintf(buf[i], sizeof(buf[i]), "%s", ans->rr[i].data);
        items[i] = buf[i];
    }
    qsort(items, n, sizeof(items[0]), cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? "," : "",
                                items[i]);
}

static void result_cb(const struct dns_answer *ans, void *arg)
{
    struct result *r = arg;

    r->done++;
    r->st = ans->status;
    snprintf(r->why, sizeof(r->why), "%s", ans->why ? ans->why : "(null)");
    canon(ans, r->recs, sizeof(r->recs));
}

/* spin - run the loop until *flag >= want or ms pass */
static void spin(const int *flag, int want, int ms)
{
    uint64_t end = ev_now_ms(ev) + (uint64_t)ms;

    while (*flag < want && ev_now_ms(ev) < end)
        ev_run_once(ev, 50);
}

static void spin_ms(int ms)
{
    int never = 0;

    spin(&never, 1, ms);
}

/* query - one dns_query through the loop; checks the callback was async */
static void query(struct dns_ctx *d, int type, const char *name,
                  struct result *r)
{
    memset(r, 0, sizeof(*r));
    dns_query(d, type, name, result_cb, r);
    if (r->done != 0)
        ok(0, "callback ran inside dns_query for %s", name);
    spin(&r->done, 1, 5000);
}

struct qcase {
    int type;
    const char *name;
    enum dns_status st;
    const char *why;        /* NULL: not checked */
    const char *recs;
};

static void run_cases(struct dns_ctx *d, const struct qcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct result r;
        query(d, c[i].type, c[i].name, &r);
        ok(r.done == 1 && r.st == c[i].st
           && (c[i].why == NULL || strcmp(r.why, c[i].why) == 0)
           && strcmp(r.recs, c[i].recs) == 0,
           "%s %.40s: %s%s%s %s", dns_type_name(c[i].type) ?
           dns_type_name(c[i].type) : "type?", c[i].name,
           dns_status_name(c[i].st), c[i].why ? " " : "",
           c[i].why ? c[i].why : "", c[i].recs);
        if (r.done != 1 || r.st != c[i].st || strcmp(r.recs, c[i].recs) != 0
            || (c[i].why != NULL && strcmp(r.why, c[i].why) != 0))
            printf("#   got done=%d %s \"%s\" [%s]\n", r.done,
                   dns_status_name(r.st), r.why, r.recs);
    }
}

/* ---- the zone ------------------------------------------------------------ */

static void test_zone(void)
{
    static const struct qcase cases[] = {
        { DNS_T_MX, "mx-pref.test", DNS_OK, "OK",
          "10 mx1.mx-pref.test,20 mx2.mx-pref.test,30 mx3.mx-pref.test" },
        { DNS_T_MX, "MX-Pref.TEST.", DNS_OK, NULL,
          "10 mx1.mx-pref.test,20 mx2.mx-pref.test,30 mx3.mx-pref.test" },
        { DNS_T_MX, "mx-equal.test", DNS_OK, NULL,
          "10 a.mx-equal.test,10 b.mx-equal.test,20 c.mx-equal.test" },
        { DNS_T_A, "mx2.mx-pref.test", DNS_OK, NULL, "192.0.2.12" },
        { DNS_T_A, "a-only.test", DNS_OK, NULL, "192.0.2.31" },
        { DNS_T_MX, "a-only.test", DNS_NODATA, "NODATA", "" },
        { DNS_T_AAAA, "a-only.test", DNS_NODATA, NULL, "" },
        { DNS_T_AAAA, "aaaa-only.test", DNS_OK, NULL, "2001:db8::41" },
        { DNS_T_A, "aaaa-only.test", DNS_NODATA, NULL, "" },
        { DNS_T_A, "dual.test", DNS_OK, NULL, "192.0.2.51" },
        { DNS_T_AAAA, "dual.test", DNS_OK, NULL, "2001:db8::51" },
        { DNS_T_MX, "multi-a.test", DNS_OK, NULL, "5 mx.multi-a.test" },
        { DNS_T_A, "mx.multi-a.test", DNS_OK, NULL, "192.0.2.61,192.0.2.62" },
        { DNS_T_MX, "self-backup.test", DNS_OK, NULL,
          "10 mx.self-backup.test,20 backup.self-backup.test" },
        { DNS_T_A, "mx.self-mx.test", DNS_OK, NULL, "127.0.0.1" },
        { DNS_T_MX, "self-secondary.test", DNS_OK, NULL,
          "10 local.self-secondary.test,5 primary.self-secondary.test" },
        { DNS_T_A, "nope.test", DNS_NXDOMAIN, "NXDOMAIN", "" },
        { DNS_T_MX, "nope.test", DNS_NXDOMAIN, NULL, "" },
        { DNS_T_MX, "mx-nxhost.test", DNS_OK, NULL,
          "10 gone.mx-nxhost.test" },
        { DNS_T_A, "gone.mx-nxhost.test", DNS_NXDOMAIN, NULL, "" },
        { DNS_T_A, "servfail.test", DNS_TEMPFAIL, "REFUSED", "" },
        { DNS_T_MX, "x.servfail.test", DNS_TEMPFAIL, "REFUSED", "" },
        { DNS_T_MX, "null-mx.test", DNS_OK, NULL, "0 " },
        { DNS_T_A, "mx.ignored.test", DNS_OK, NULL, "0.0.0.0" },
        { DNS_T_TXT, "txt.test", DNS_OK, NULL, "v=spf1 -all" },
        { DNS_T_A, "smarthost.test", DNS_OK, NULL, "127.0.0.1" },
        { DNS_T_PTR, "192.0.2.11", DNS_OK, NULL, "mx1.mx-pref.test" },
        { DNS_T_PTR, "2001:db8::41", DNS_OK, NULL, "aaaa-only.test" },
        { DNS_T_PTR, "127.0.0.1", DNS_OK, NULL, "localhost" },
        { DNS_T_PTR, "192.0.2.99", DNS_NXDOMAIN, NULL, "" },
        { DNS_T_PTR, "not-an-address", DNS_TEMPFAIL, "bad address", "" },
        { 99, "a-only.test", DNS_TEMPFAIL, "unsupported type", "" },
        { DNS_T_A, "a..b.test", DNS_TEMPFAIL, "bad name", "" },
    };

    run_cases(dc, cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- a fake server for answers dnsmasq will not give ------------------- */

struct fake_rr {
    int type;
    int pref;
    const char *data;       /* a name; for TXT strings split at '|' */
};

struct fake_rule {
    const char *qname;
    int rcode;
    struct fake_rr rr[6];
};

#define L63(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
                c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define LONG_NAME L63("a") "." L63("b") "." L63("c") "." L63("d") "." L63("e")

static const struct fake_rule fake_rules[] = {
    { "hostile.test", 0, { { DNS_T_MX, 10, "MX1.Hostile.TEST" },
                           { DNS_T_MX, 20, "bad$name.hostile.test" },
                           { DNS_T_MX, 30, "sp ace.hostile.test" },
                           { DNS_T_MX, 40, "x/y.hostile.test" },
                           { DNS_T_MX, 50, "ok_name-1.hostile.test" } } },
    { "allbad.test", 0, { { DNS_T_MX, 10, "semi;colon.test" } } },
    { "long.test", 0, { { DNS_T_MX, 10, LONG_NAME },   /* 319 bytes */
                        { DNS_T_MX, 20, "fine.test" } } },
    { "txtmulti.test", 0, { { DNS_T_TXT, 0, "v=spf1 |-all" },
                            { DNS_T_TXT, 0, "second" } } },
    { "servfail.fake", 2, { { 0, 0, NULL } } },
    { "refused.fake", 5, { { 0, 0, NULL } } },
    { "200.2.0.192.in-addr.arpa", 0, { { DNS_T_PTR, 0, "evil$host.test" },
                                      { DNS_T_PTR, 0, "Good.Test." } } },
};

static size_t put_name(unsigned char *p, const char *name)
{
    size_t len = 0;

    while (*name != '\0') {
        size_t l = strcspn(name, ".");
        p[len++] = (unsigned char)l;
        memcpy(p + len, name, l);
        len += l;
        name += l + (name[l] == '.');
    }
    p[len++] = 0;
    return len;
}

static size_t put_rdata(unsigned char *p, const struct fake_rr *rr)
{
    size_t len = 0;

    if (rr->type == DNS_T_MX) {
        p[0] = (unsigned char)(rr->pref >> 8);
        p[1] = (unsigned char)rr->pref;
        return 2 + put_name(p + 2, rr->data);
    }
    if (rr->type == DNS_T_PTR)
        return put_name(p, rr->data);
    for (const char *s = rr->data; *s != '\0';) {     /* TXT */
        size_t l = strcspn(s, "|");
        p[len++] = (unsigned char)l;
        memcpy(p + len, s, l);
        len += l;
        s += l + (s[l] == '|');
    }
    return len;
}

/* fake_reply - answer from the rule for qname; qend ends the question */
static size_t fake_reply(unsigned char *pkt, size_t qend, const char *qname)
{
    const struct fake_rule *rule = NULL;
    size_t len = qend, an = 0;

    for (size_t i = 0; i < sizeof(fake_rules) / sizeof(fake_rules[0]); i++)
        if (strcasecmp(fake_rules[i].qname, qname) == 0)
            rule = &fake_rules[i];
    pkt[2] = 0x81;
    pkt[3] = (unsigned char)(0x80 | (rule ? rule->rcode : 3));
    for (size_t i = 0; rule != NULL && i < 6 && rule->rr[i].data; i++) {
        const struct fake_rr *rr = &rule->rr[i];
        unsigned char *p = pkt + len;
        size_t rdlen = put_rdata(p + 12, rr);
        static const unsigned char fixed[] = { 0xc0, 0x0c, 0, 0, 0, 1,
                                               0, 0, 0, 60, 0, 0 };
        memcpy(p, fixed, sizeof(fixed));
        p[3] = (unsigned char)rr->type;
        p[10] = (unsigned char)(rdlen >> 8);
        p[11] = (unsigned char)rdlen;
        len += 12 + rdlen;
        an++;
    }
    memset(pkt + 6, 0, 6);
    pkt[7] = (unsigned char)an;
    return len;
}

static void fake_cb(int fd, unsigned events, void *arg)
{
    unsigned char pkt[1500];
    char qname[256];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    ssize_t n = recvfrom(fd, pkt, 512, 0, (struct sockaddr *)&from, &flen);
    size_t off = 12, q = 0;

    (void)events;
    (void)arg;
    if (n < 17)
        return;
    while (off < (size_t)n && pkt[off] != 0 && q + pkt[off] + 1 < 256) {
        if (q > 0)
            qname[q++] = '.';
        memcpy(qname + q, pkt + off + 1, pkt[off]);
        q += pkt[off];
        off += pkt[off] + 1U;
    }
    qname[q] = '\0';
    n = (ssize_t)fake_reply(pkt, off + 5, qname);
    (void)!sendto(fd, pkt, (size_t)n, 0, (struct sockaddr *)&from, flen);
}

/* udp_socket - bound to 127.0.0.1 on a free port; *port gets it */
static int udp_socket(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        abort();
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_hostile(void)
{
    static const struct qcase cases[] = {
        { DNS_T_MX, "hostile.test", DNS_OK, NULL,
          "10 mx1.hostile.test,50 ok_name-1.hostile.test" },
        { DNS_T_MX, "allbad.test", DNS_TEMPFAIL, "bad name in answer", "" },
        { DNS_T_MX, "long.test", DNS_OK, NULL, "20 fine.test" },
        { DNS_T_TXT, "txtmulti.test", DNS_OK, NULL, "second,v=spf1 -all" },
        { DNS_T_A, "servfail.fake", DNS_TEMPFAIL, "SERVFAIL", "" },
        { DNS_T_A, "refused.fake", DNS_TEMPFAIL, "REFUSED", "" },
        { DNS_T_A, "unknown.fake", DNS_NXDOMAIN, NULL, "" },
        { DNS_T_PTR, "192.0.2.200", DNS_TEMPFAIL, "bad response", "" },
    };
    struct errbuf eb;
    struct dns_ctx *fake;
    char servers[64];
    int port, fd = udp_socket(&port);

    snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
    ev_io_set(ev, fd, EV_READ, fake_cb, NULL);
    fake = dns_new(ev, servers, 2000, 1, &eb);
    ok(fake != NULL, "resolver on the fake server");
    run_cases(fake, cases, sizeof(cases) / sizeof(cases[0]));
    dns_free(fake);
    ev_io_del(ev, fd);
    close(fd);
}

static void test_timeout(void)
{
    struct errbuf eb;
    struct dns_ctx *d;
    struct result r;
    char servers[64];
    int port, fd = udp_socket(&port);     /* bound, never read */
    unsigned timers = ev_timer_count(ev), fds = ev_io_count(ev);
    uint64_t t0;

    snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
    d = dns_new(ev, servers, 200, 1, &eb);
    t0 = ev_now_ms(ev);
    query(d, DNS_T_A, "a-only.test", &r);
    ok(r.done == 1 && r.st == DNS_TEMPFAIL && strcmp(r.why, "timeout") == 0,
       "silent server: TEMPFAIL timeout (%s %s)", dns_status_name(r.st),
       r.why);
    ok(ev_now_ms(ev) - t0 < 2000, "timed out in %llu ms",
       (unsigned long long)(ev_now_ms(ev) - t0));
    dns_free(d);
    is_int(ev_timer_count(ev), timers, "no timer left after dns_free");
    is_int(ev_io_count(ev), fds, "no fd left after dns_free");
    close(fd);

    /* the port is closed now: ICMP port unreachable, no waiting */
    d = dns_new(ev, servers, 5000, 2, &eb);
    t0 = ev_now_ms(ev);
    query(d, DNS_T_A, "a-only.test", &r);
    ok(r.done == 1 && r.st == DNS_TEMPFAIL
       && strcmp(r.why, "connection refused") == 0, "closed port: TEMPFAIL "
       "(%s) in %llu ms", r.why, (unsigned long long)(ev_now_ms(ev) - t0));
    dns_free(d);
}

/* ---- setup errors and names ----------------------------------------------- */

static void test_servers(void)
{
    static const struct { const char *servers; int good; } cases[] = {
        { "127.0.0.1:5353, [::1]:53", 1 }, { " 127.0.0.1 ", 1 },
        { "[::1]", 1 }, { "::1", 1 }, { "127.0.0.1:53,", 1 },
        { "foo", 0 }, { "127.0.0.1:99999", 0 }, { "127.0.0.1:abc", 0 },
        { ", ,", 0 }, { "300.1.1.1", 0 }, { "127.0.0.1:", 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct errbuf eb;
        struct dns_ctx *d;
        errbuf_clear(&eb);
        d = dns_new(ev, cases[i].servers, 0, 0, &eb);
        ok((d != NULL) == cases[i].good && (cases[i].good
           || strstr(eb.msg, "bad dns_servers value") != NULL),
           "servers \"%s\": %s", cases[i].servers,
           cases[i].good ? "accepted" : eb.msg);
        dns_free(d);
    }
}

static void test_names(void)
{
    static const struct { const char *s; int type; } types[] = {
        { "a", DNS_T_A }, { "AAAA", DNS_T_AAAA }, { "Mx", DNS_T_MX },
        { "txt", DNS_T_TXT }, { "ptr", DNS_T_PTR }, { "srv", -1 },
        { "", -1 },
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        is_int(dns_type_parse(types[i].s), types[i].type, types[i].s);
    is_str(dns_type_name(DNS_T_MX), "mx", "type name mx");
    ok(dns_type_name(99) == NULL, "type name of 99 is NULL");
    is_str(dns_status_name(DNS_NXDOMAIN), "NXDOMAIN", "status name");
    is_str(dns_status_name(DNS_TEMPFAIL), "TEMPFAIL", "status name");
}

/* ---- the cache ------------------------------------------------------------ */

static int calls[256];
static int total_calls;

static void count_cb(void *arg)
{
    calls[(intptr_t)arg]++;
    total_calls++;
}

static void reset_calls(void)
{
    memset(calls, 0, sizeof(calls));
    total_calls = 0;
}

static void test_cache_concurrent(void)
{
    struct dns_cache *c = dns_cache_new(dc);
    struct dns_stats s0, s1;
    const struct dns_answer *a;
    char name[64];
    int each = 1;

    reset_calls();
    dns_get_stats(dc, &s0);
    for (int i = 0; i < 200; i++) {
        /* the second hundred spell the same names differently */
        snprintf(name, sizeof(name), i < 100 ? "h%d.test" : "H%d.TEST.",
                 i % 100);
        dns_cache_want(c, DNS_T_A, name, count_cb, (void *)(intptr_t)i);
    }
    dns_get_stats(dc, &s1);
    is_int(total_calls, 0, "200 wants: no callback inside want()");
    is_int((long long)dns_cache_inflight(c), 100, "100 queries in flight");
    is_int((long long)(s1.started - s0.started), 100,
           "exactly one wire query per distinct name");
    ok(dns_cache_get(c, DNS_T_A, "h7.test") == NULL, "get while in flight");
    spin(&total_calls, 200, 10000);
    for (int i = 0; i < 200; i++)
        if (calls[i] != 1)
            each = 0;
    ok(each && total_calls == 200, "every waiter called exactly once (%d)",
       total_calls);
    is_int((long long)dns_cache_inflight(c), 0, "nothing in flight");
    dns_get_stats(dc, &s1);
    is_int((long long)(s1.started - s0.started), 100, "still 100 queries");
    a = dns_cache_get(c, DNS_T_A, "H42.Test.");
    ok(a != NULL && a->status == DNS_NXDOMAIN, "cached NXDOMAIN for h42");
    dns_cache_free(c);
}

static void test_cache_hits(void)
{
    struct dns_cache *c = dns_cache_new(dc);
    struct dns_stats s0, s1;
    const struct dns_answer *a;
    char recs[1024];

    reset_calls();
    dns_cache_want(c, DNS_T_MX, "mx-pref.test", count_cb, (void *)0);
    spin(&total_calls, 1, 5000);
    a = dns_cache_get(c, DNS_T_MX, "mx-pref.test");
    if (a != NULL)
        canon(a, recs, sizeof(recs));
    ok(a != NULL && a->status == DNS_OK && a->type == DNS_T_MX
       && strcmp(recs, "10 mx1.mx-pref.test,20 mx2.mx-pref.test,"
                 "30 mx3.mx-pref.test") == 0, "MX cached with preferences");
    dns_get_stats(dc, &s0);
    dns_cache_want(c, DNS_T_MX, "MX-PREF.test", count_cb, (void *)1);
    dns_cache_want(c, DNS_T_MX, "mx-pref.test.", count_cb, (void *)2);
    is_int(total_calls, 1, "hit: no callback inside want()");
    is_int((long long)dns_cache_inflight(c), 0, "hit: nothing in flight");
    ev_run_once(ev, 0);
    ok(calls[1] == 1 && calls[2] == 1, "hits called back on the next round");
    dns_get_stats(dc, &s1);
    is_int((long long)(s1.started - s0.started), 0, "hits sent no query");
    ok(dns_cache_get(c, DNS_T_A, "mx-pref.test") == NULL,
       "other type of the same name: miss");
    dns_cache_free(c);
}

static int must_not_calls;

static void must_not_cb(void *arg)
{
    (void)arg;
    must_not_calls++;
    ok(0, "a dropped waiter was called");
}

static void free_cache_cb(void *arg)
{
    total_calls++;
    dns_cache_free(arg);
}

static void test_cache_free_inflight(void)
{
    struct dns_cache *c = dns_cache_new(dc);
    struct dns_stats st;
    char name[64];

    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "f%d.test", i);
        dns_cache_want(c, DNS_T_A, name, must_not_cb, NULL);
    }
    dns_cache_want(c, DNS_T_MX, "mx-pref.test", must_not_cb, NULL);
    dns_cache_free(c);
    dns_get_stats(dc, &st);
    for (int i = 0; i < 100 && st.inflight > 0; i++) {
        ev_run_once(ev, 50);
        dns_get_stats(dc, &st);
    }
    is_int((long long)st.inflight, 0, "cache freed in flight: answers "
           "arrive and are dropped");

    reset_calls();
    c = dns_cache_new(dc);
    dns_cache_want(c, DNS_T_A, "a-only.test", free_cache_cb, c);
    dns_cache_want(c, DNS_T_A, "a-only.test", must_not_cb, NULL);
    dns_cache_want(c, DNS_T_A, "dual.test", must_not_cb, NULL);
    spin(&total_calls, 1, 5000);
    spin_ms(200);
    is_int(total_calls, 1, "waiter freed the cache: later waiters dropped");
}

static void test_cache_prefill(void)
{
    struct dns_cache *c = dns_cache_new(NULL);
    const struct dns_answer *a;
    struct dns_rr rr[2] = { { "mx1.example.org", 10, 0 },
                            { "mx2.example.org", 20, 0 } };
    struct dns_answer in = { DNS_OK, DNS_T_MX, 2, rr, "OK" };
    char why[] = "custom why";

    reset_calls();
    dns_cache_put(c, DNS_T_MX, "Example.ORG.", &in);
    rr[0].data = "changed";
    a = dns_cache_get(c, DNS_T_MX, "example.org");
    ok(a != NULL && a->n == 2 && strcmp(a->rr[0].data, "mx1.example.org") == 0
       && a->rr[1].pref == 20 && a->rr != rr, "put stores a deep copy under "
       "the normalized name");
    in.status = DNS_TEMPFAIL;
    in.n = 0;
    in.why = why;
    dns_cache_put(c, DNS_T_A, "t.example", &in);
    why[0] = 'X';
    a = dns_cache_get(c, DNS_T_A, "t.example");
    ok(a != NULL && strcmp(a->why, "custom why") == 0, "why is copied too");
    dns_cache_want(c, DNS_T_MX, "nowhere.example", count_cb, (void *)0);
    is_int(total_calls, 1, "no resolver, no loop: called at once");
    dns_cache_free(c);
}

static void test_cache_no_resolver_loop(void)
{
    struct dns_cache *c = dns_cache_new(NULL);
    const struct dns_answer *a;
    unsigned timers;
    int dropped;

    reset_calls();
    dns_cache_set_ev(c, ev);
    dns_cache_want(c, DNS_T_MX, "nowhere.example", count_cb, (void *)0);
    is_int(total_calls, 0, "no resolver, with a loop: not at once");
    is_int((long long)dns_cache_inflight(c), 0, "nothing in flight");
    a = dns_cache_get(c, DNS_T_MX, "nowhere.example");
    ok(a != NULL && a->status == DNS_TEMPFAIL
       && strcmp(a->why, "no resolver") == 0, "TEMPFAIL \"no resolver\"");
    spin(&total_calls, 1, 1000);
    is_int(total_calls, 1, "called back from the loop");
    timers = ev_timer_count(ev);
    dropped = must_not_calls;
    dns_cache_want(c, DNS_T_MX, "pending.example", must_not_cb, NULL);
    is_int(ev_timer_count(ev), timers + 1, "a callback pending on the loop");
    dns_cache_free(c);
    is_int(ev_timer_count(ev), timers, "cache freed: its timer is cancelled");
    spin_ms(50);
    is_int(must_not_calls, dropped, "and the pending callback is never called");
}

/* a put while the query is in flight answers the waiters; the late wire
 * answer is dropped */
static void test_cache_put_inflight(void)
{
    struct dns_cache *c = dns_cache_new(dc);
    struct dns_rr rr = { "192.0.2.1", 0, 0 };
    struct dns_answer in = { DNS_OK, DNS_T_A, 1, &rr, "OK" };
    const struct dns_answer *a;
    struct dns_stats st;

    reset_calls();
    dns_cache_want(c, DNS_T_A, "a-only.test", count_cb, (void *)0);
    dns_cache_put(c, DNS_T_A, "a-only.test", &in);
    is_int((long long)dns_cache_inflight(c), 0, "put ends the wait");
    is_int(total_calls, 0, "put does not call back inside");
    spin(&total_calls, 1, 1000);
    is_int(total_calls, 1, "waiter called with the put answer");
    dns_get_stats(dc, &st);
    for (int i = 0; i < 100 && st.inflight > 0; i++) {
        ev_run_once(ev, 50);
        dns_get_stats(dc, &st);
    }
    a = dns_cache_get(c, DNS_T_A, "a-only.test");
    ok(a != NULL && a->n == 1 && strcmp(a->rr[0].data, "192.0.2.1") == 0
       && total_calls == 1, "late wire answer dropped");
    dns_cache_free(c);
}

/* ---- freeing the resolver with work in flight -------------------------- */

static struct dns_ctx *victim_dc;

static void free_dc_cb(const struct dns_answer *ans, void *arg)
{
    (void)ans;
    (*(int *)arg)++;
    dns_free(victim_dc);
    victim_dc = NULL;
}

static void test_dns_free_inflight(const char *servers)
{
    struct errbuf eb;
    struct result r[5];
    struct dns_cache *c;
    const struct dns_answer *a;
    unsigned timers = ev_timer_count(ev), fds = ev_io_count(ev);
    int n = 0;

    victim_dc = dns_new(ev, servers, 0, 0, &eb);
    for (int i = 0; i < 5; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        dns_query(victim_dc, DNS_T_MX, "mx-pref.test", result_cb, &r[i]);
    }
    dns_query(victim_dc, DNS_T_PTR, "bad", result_cb, &r[0]);   /* queued */
    dns_free(victim_dc);
    spin_ms(300);
    for (int i = 0; i < 5; i++)
        n += r[i].done;
    is_int(n, 0, "dns_free in flight: no callback");
    ok(ev_timer_count(ev) == timers && ev_io_count(ev) == fds,
       "dns_free leaves no timer or fd on the loop");

    victim_dc = dns_new(ev, servers, 0, 0, &eb);
    c = dns_cache_new(victim_dc);
    dns_cache_want(c, DNS_T_A, "a-only.test", must_not_cb, NULL);
    dns_free(victim_dc);
    is_int((long long)dns_cache_inflight(c), 0, "resolver freed under a cache");
    a = dns_cache_get(c, DNS_T_A, "a-only.test");
    ok(a != NULL && a->status == DNS_TEMPFAIL
       && strcmp(a->why, "resolver closed") == 0, "TEMPFAIL resolver closed");
    spin_ms(100);
    dns_cache_free(c);

    n = 0;
    victim_dc = dns_new(ev, servers, 0, 0, &eb);
    for (int i = 0; i < 3; i++)
        dns_query(victim_dc, DNS_T_PTR, "bad", free_dc_cb, &n);
    spin_ms(100);
    is_int(n, 1, "callback freed the resolver: the rest dropped");
}

int main(void)
{
    const char *servers = getenv("TERN_TEST_DNS");
    struct errbuf eb;

    if (servers == NULL || servers[0] == '\0') {
        printf("1..0 # SKIP TERN_TEST_DNS not set\n");
        return 0;
    }
    ev = ev_new();
    dc = dns_new(ev, servers, 2000, 2, &eb);
    if (!ok(dc != NULL, "resolver on %s", servers)) {
        printf("# %s\n", eb.msg);
        return done_testing();
    }
    test_names();
    test_servers();
    test_zone();
    test_hostile();
    test_timeout();
    test_cache_concurrent();
    test_cache_hits();
    test_cache_free_inflight();
    test_cache_prefill();
    test_cache_no_resolver_loop();
    test_cache_put_inflight();
    test_dns_free_inflight(servers);
    dns_free(dc);
    ev_free(ev);
    return done_testing();
}
