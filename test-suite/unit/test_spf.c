/*
 * test_spf.c - unit tests of the SPF evaluator's parts (core/net/spf*.c):
 * the macro examples of RFC 7208 section 7.4, record syntax (dual CIDR,
 * repeated modifiers, bounds on length and terms, bytes that are not
 * allowed), and the evaluation's life cycle: the result always comes from
 * the loop (never inside spf_start), a cancelled evaluation never calls
 * back whether its DNS query is still waiting or not yet sent, and it is
 * freed once its late answer arrives (dns stats: nothing in flight). The
 * conformance suite (test-suite/py/test_spf_suite.py) covers the rest.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/net/dns.h"
#include "core/net/spf.h"
#include "core/net/spf_impl.h"
#include "test-suite/unit/tap.h"

static const struct { const char *in, *want; int v6; } macro_cases[] = {
    { "%{s}", "strong-bad@email.example.com", 0 },
    { "%{o}", "email.example.com", 0 },
    { "%{d}", "email.example.com", 0 },
    { "%{d4}", "email.example.com", 0 },
    { "%{d3}", "email.example.com", 0 },
    { "%{d2}", "example.com", 0 },
    { "%{d1}", "com", 0 },
    { "%{dr}", "com.example.email", 0 },
    { "%{d2r}", "example.email", 0 },
    { "%{l}", "strong-bad", 0 },
    { "%{l-}", "strong.bad", 0 },
    { "%{lr}", "strong-bad", 0 },
    { "%{lr-}", "bad.strong", 0 },
    { "%{l1r-}", "strong", 0 },
    { "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com", 0 },
    { "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com", 0 },
    { "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
      "bad.strong.lp.3.2.0.192.in-addr._spf.example.com", 0 },
    { "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
      "3.2.0.192.in-addr.strong.lp._spf.example.com", 0 },
    { "%{d2}.trusted-domains.example.net",
      "example.com.trusted-domains.example.net", 0 },
    { "%{ir}.%{v}._spf.%{d2}", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
      ".0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com", 1 },
    { "%%%_%-", "% %20", 0 },
    { "%{S}", "strong-bad%40email.example.com", 0 },
};

static void test_macros(void)
{
    static const unsigned char ip4[4] = { 192, 0, 2, 3 };
    static const unsigned char ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
                                           0, 0, 0, 0, 0, 0, 0, 0xcb, 0x01 };
    struct spf_macro_ctx c = { .s = "strong-bad@email.example.com",
                               .l = "strong-bad", .o = "email.example.com",
                               .d = "email.example.com", .h = "h.example",
                               .p = "unknown", .r = "mx.example" };
    char out[512];

    for (size_t i = 0; i < sizeof(macro_cases) / sizeof(macro_cases[0]);
         i++) {
        c.v6 = macro_cases[i].v6;
        c.ip = c.v6 ? ip6 : ip4;
        int n = spf_macro_expand(macro_cases[i].in,
                                 strlen(macro_cases[i].in), &c, 0, out,
                                 sizeof(out));
        char name[160];
        snprintf(name, sizeof(name), "RFC 7208 7.4: %s -> %s",
                 macro_cases[i].in, macro_cases[i].want);
        is_str(n >= 0 ? out : "(error)", macro_cases[i].want, name);
    }
    ok(spf_macro_expand("%{d0}", 5, &c, 0, out, sizeof(out)) == -1,
       "a zero digit transformer is a syntax error");
    ok(spf_macro_expand("%{c}", 4, &c, 0, out, sizeof(out)) == -1
       && spf_macro_expand("%{c}", 4, &c, 1, out, sizeof(out)) > 0,
       "%%{c} only in explanations");
    ok(spf_macro_expand("%{s}", 4, &c, 0, out, 10) == -2,
       "a result longer than the buffer is an error, never cut");
}

static int parses(const char *rec, struct spf_record *r)
{
    char why[160];

    return spf_record_parse(rec, strlen(rec), r, why, sizeof(why)) == 0;
}

static void test_records(void)
{
    struct spf_record r;
    char big[SPF_MAX_RECORD + 16], *p = big;

    ok(parses("v=spf1 a:example.com/24//64 mx//120 -all", &r) && r.n == 3
       && r.t[0].cidr4 == 24 && r.t[0].cidr6 == 64 && r.t[1].cidr4 == 32
       && r.t[1].cidr6 == 120 && r.t[2].qual == '-',
       "dual CIDR lengths: a:example.com/24//64, mx//120");
    spf_record_free(&r);
    ok(!parses("v=spf1 redirect=a.example redirect=b.example", &r),
       "a repeated redirect= is a permerror");
    ok(parses("v=spf1 moo.cow-far_out=man:dog/cat ?all", &r) && r.n == 1,
       "an unknown modifier is ignored");
    spf_record_free(&r);
    ok(!parses("v=spf1 ip4:192.0.2.0/33", &r)
       && !parses("v=spf1 a/024", &r),
       "prefix lengths beyond 32 or with a leading zero are refused");
    ok(!parses("v=spf1 a:foo.example.com\x0d -all", &r),
       "a control byte inside a term is a syntax error");
    ok(!parses("v=spf1x -all", &r) && parses("V=SPF1", &r),
       "version: v=spf1 then a space or the end, any case");
    spf_record_free(&r);
    p += snprintf(big, sizeof(big), "v=spf1");
    for (int i = 0; i < SPF_MAX_TERMS + 1; i++)
        p += snprintf(p, sizeof(big) - (size_t)(p - big), " ?all");
    ok(!parses(big, &r), "more than %d terms are refused", SPF_MAX_TERMS);
    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "v=spf1 a:", 9);
    big[sizeof(big) - 1] = '\0';
    ok(!parses(big, &r), "a record over %d bytes is refused",
       SPF_MAX_RECORD);
}

/* ---- life cycle ---- */

static int calls;
static enum spf_result last;

static void count_cb(const struct spf_outcome *o, void *arg)
{
    (void)arg;
    calls++;
    last = o->result;
}

static void run_ms(struct ev *ev, int ms)
{
    uint64_t end = ev_now_ms(ev) + (uint64_t)ms;

    while (ev_now_ms(ev) < end)
        ev_run_once(ev, 20);
}

/* a UDP socket on 127.0.0.1 that never answers: "127.0.0.1:PORT" */
static int silent_server(char *addr, size_t size)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    snprintf(addr, size, "127.0.0.1:%u", ntohs(sa.sin_port));
    return fd;
}

static void test_lifecycle(void)
{
    struct spf_request rq = { .ip = "192.0.2.1", .sender = "a@b.example",
                              .helo = "h.example", .receiver = "mx" };
    struct ev *ev = ev_new();
    struct errbuf eb;
    struct dns_stats st;
    char addr[64];
    int fd = silent_server(addr, sizeof(addr));
    struct dns_ctx *dc = fd >= 0 ? dns_new(ev, addr, 200, 1, &eb) : NULL;

    ok(dc != NULL, "a resolver on a silent server");
    calls = 0;
    spf_start(ev, NULL, &rq, count_cb, NULL);
    ok(calls == 0, "no resolver: nothing is called inside spf_start");
    run_ms(ev, 50);
    ok(calls == 1 && last == SPF_TEMPERROR,
       "no resolver: temperror, from the loop");
    calls = 0;
    spf_cancel(spf_start(ev, dc, &rq, count_cb, NULL));
    run_ms(ev, 50);
    ok(calls == 0, "cancelled before its first query: never called");
    struct spf_eval *e = spf_start(ev, dc, &rq, count_cb, NULL);
    run_ms(ev, 50);
    dns_get_stats(dc, &st);
    ok(st.inflight == 1, "the TXT query waits on the silent server");
    spf_cancel(e);
    run_ms(ev, 500);
    dns_get_stats(dc, &st);
    ok(calls == 0 && st.inflight == 0,
       "cancelled while waiting: its late answer arrives, nothing is "
       "called (ASan: nothing freed is touched, nothing leaks)");
    spf_start(ev, dc, &rq, count_cb, NULL);
    run_ms(ev, 500);
    ok(calls == 1 && last == SPF_TEMPERROR,
       "not cancelled: the timeout is a temperror");
    dns_free(dc);
    ev_free(ev);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    test_macros();
    test_records();
    test_lifecycle();
    return done_testing();
}
