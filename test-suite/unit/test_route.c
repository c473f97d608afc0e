/*
 * test_route.c - unit tests of the router chain with a pre-filled DNS
 * cache: routing is a pure function of (address, configuration, cache),
 * so no DNS server is involved. Case table: address -> state, router,
 * hosts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/net/dns.h"
#include "route/route.h"
#include "test-suite/unit/tap.h"

static const char config[] =
    "main { primary_hostname = \"mail.example.org\",\n"
    "       local_domains = { \"example.org\" } }\n"
    "router \"smarthost\" { driver = \"manualroute\",\n"
    "  domains = \"relay.test\", route_list = { \"* [192.0.2.99]:2525\" },\n"
    "  transport = \"smtp\" }\n"
    "router \"dnslookup\" { driver = \"dnslookup\",\n"
    "  domains = \"! +local_domains\", transport = \"smtp\",\n"
    "  ignore_target_hosts = \"0.0.0.0\", no_more = true }\n"
    "router \"aliases\" { driver = \"redirect\", data = function(a)\n"
    "  if a.local_part == \"team\" then return \"x@two.test, y@one.test\" end\n"
    "  end }\n"
    "transport \"smtp\" { driver = \"smtp\" }\n";

struct rr_spec { const char *data; int pref; };

static void put(struct dns_cache *c, int type, const char *name,
                enum dns_status st, const struct rr_spec *rr, size_t n)
{
    struct dns_rr v[4];
    struct dns_answer a = { st, type, n, v, dns_status_name(st) };

    for (size_t i = 0; i < n; i++)
        v[i] = (struct dns_rr){ (char *)rr[i].data, rr[i].pref, 0 };
    dns_cache_put(c, type, name, &a);
}

static void fill(struct dns_cache *c)
{
    static const struct rr_spec two_mx[] = { { "mx2.two.test", 20 },
                                             { "mx1.two.test", 10 } };
    static const struct rr_spec a1[] = { { "198.51.100.1", 0 } };
    static const struct rr_spec a2[] = { { "198.51.100.2", 0 } };
    static const struct rr_spec a3[] = { { "198.51.100.3", 0 } };
    static const struct rr_spec null_mx[] = { { "", 0 } };
    static const struct rr_spec self_mx[] = { { "me.self.test", 10 } };
    static const struct rr_spec lo[] = { { "127.0.0.1", 0 } };
    static const struct rr_spec zero[] = { { "0.0.0.0", 0 } };

    put(c, DNS_T_MX, "two.test", DNS_OK, two_mx, 2);
    put(c, DNS_T_A, "mx1.two.test", DNS_OK, a1, 1);
    put(c, DNS_T_AAAA, "mx1.two.test", DNS_NODATA, NULL, 0);
    put(c, DNS_T_A, "mx2.two.test", DNS_OK, a2, 1);
    put(c, DNS_T_AAAA, "mx2.two.test", DNS_NODATA, NULL, 0);
    put(c, DNS_T_MX, "one.test", DNS_NODATA, NULL, 0);
    put(c, DNS_T_A, "one.test", DNS_OK, a3, 1);
    put(c, DNS_T_AAAA, "one.test", DNS_NODATA, NULL, 0);
    put(c, DNS_T_MX, "gone.test", DNS_NXDOMAIN, NULL, 0);
    put(c, DNS_T_MX, "broken.test", DNS_TEMPFAIL, NULL, 0);
    put(c, DNS_T_MX, "null.test", DNS_OK, null_mx, 1);
    put(c, DNS_T_MX, "self.test", DNS_OK, self_mx, 1);
    put(c, DNS_T_A, "me.self.test", DNS_OK, lo, 1);
    put(c, DNS_T_AAAA, "me.self.test", DNS_NODATA, NULL, 0);
    put(c, DNS_T_MX, "zero.test", DNS_NODATA, NULL, 0);
    put(c, DNS_T_A, "zero.test", DNS_OK, zero, 1);
    put(c, DNS_T_AAAA, "zero.test", DNS_NODATA, NULL, 0);
}

struct rcase {
    const char *addr;
    enum raddr_state state;
    const char *router;
    const char *hosts;      /* "name ip mx port; ..." of the first leaf */
    const char *message;    /* substring, for failures */
};

static const struct rcase cases[] = {
    { "u@two.test", RA_ACCEPTED, "dnslookup",
      "mx1.two.test 198.51.100.1 10 0; mx2.two.test 198.51.100.2 20 0", NULL },
    { "u@one.test", RA_ACCEPTED, "dnslookup", "one.test 198.51.100.3 -1 0",
      NULL },
    { "u@relay.test", RA_ACCEPTED, "smarthost", "192.0.2.99 192.0.2.99 -1 2525",
      NULL },
    { "u@gone.test", RA_FAILED, "", "", "Unrouteable address" },
    { "u@broken.test", RA_DEFERRED, "dnslookup", "",
      "host lookup did not complete" },
    { "u@null.test", RA_FAILED, "dnslookup", "", "no SMTP service" },
    { "u@self.test", RA_DEFERRED, "dnslookup", "",
      "lowest numbered MX record points to local host" },
    { "u@zero.test", RA_FAILED, "", "", "Unrouteable address" },
    { "team@example.org", RA_ACCEPTED, "dnslookup",
      "mx1.two.test 198.51.100.1 10 0; mx2.two.test 198.51.100.2 20 0", NULL },
    { "bad@@example.org", RA_FAILED, "", "", "malformed address" },
};

struct first_leaf {
    struct raddr *a;
    int count;
};

static void take_first(struct raddr *a, void *arg)
{
    struct first_leaf *f = arg;

    if (f->count++ == 0)
        f->a = a;
}

static void hosts_text(const struct raddr *a, struct strbuf *sb)
{
    for (size_t i = 0; i < a->nhosts; i++)
        sb_printf(sb, "%s%s %s %d %d", i ? "; " : "", a->hosts[i].name,
                  a->hosts[i].ip, a->hosts[i].mx, a->hosts[i].port);
}

static void done_cb(struct route_top *top, void *arg)
{
    (void)top;
    *(int *)arg = 1;
}

static void run_case(struct conf *c, struct dns_cache *cache,
                     const struct rcase *t)
{
    struct route_run *rr = route_run_new(c, cache, "", "", 0);
    int done = 0;
    struct route_top *top = route_add(rr, t->addr, done_cb, &done);
    struct first_leaf f = { NULL, 0 };
    struct strbuf sb;

    route_step(rr);
    ok(done, "%s: routed without waiting for DNS", t->addr);
    route_walk(top, take_first, &f);
    sb_init(&sb);
    if (f.a != NULL)
        hosts_text(f.a, &sb);
    ok(f.a != NULL && f.a->state == t->state, "%s: state %d", t->addr,
       t->state);
    is_str(f.a && f.a->router ? f.a->router->name : "", t->router, "router");
    is_str(sb_str(&sb), t->hosts, "hosts");
    if (t->message != NULL && !ok(f.a && f.a->message
                                  && strstr(f.a->message, t->message),
                                  "%s: message has \"%s\"", t->addr,
                                  t->message))
        printf("#   message: %s\n", f.a && f.a->message ? f.a->message : "");
    sb_free(&sb);
    route_top_release(top);
    route_run_free(rr);
}

int main(void)
{
    char dir[64], path[128], cmd[160];
    struct errbuf eb;
    struct conf *c;
    struct dns_cache *cache;
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/test_route.%d", (int)getpid());
    snprintf(path, sizeof(path), "%s/router", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(path, 0700) != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/router/00.lua", dir);
    if ((f = fopen(path, "w")) == NULL || fputs(config, f) < 0
        || fclose(f) != 0)
        return 1;
    c = conf_load(dir, &eb);
    if (!ok(c != NULL, "configuration loads"))
        printf("# %s\n", eb.msg);
    if (c != NULL) {
        cache = dns_cache_new(NULL);
        fill(cache);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            run_case(c, cache, &cases[i]);
        ok(dns_cache_inflight(cache) == 0, "no query was needed");
        dns_cache_free(cache);
        conf_free(c);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return done_testing();
}
