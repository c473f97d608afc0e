/*
 * dnslookup.c - the dnslookup router: route a remote domain by its MX
 *               records, or by its A/AAAA records when it has no MX.
 *
 * PURPOSE: MX hosts sorted by preference, equal preferences shuffled;
 * hosts whose addresses match ignore_target_hosts dropped; when an MX host
 * is this host, it and every host of equal or lower priority are dropped,
 * and if nothing better is left the generic "self" option decides (Exim's
 * "MX points to me"). A null MX (RFC 7505) fails the address.
 * Options: ignore_target_hosts (host list), pass_on_timeout.
 *
 * Verdicts:
 *   ACCEPT   hosts found (res->hosts in order, MX= set for MX hosts)
 *   DECLINE  domain literal; the domain does not exist; every host address
 *            was ignored
 *   FAIL     null MX; every MX host name is nonexistent; self = fail
 *   DEFER    a DNS lookup failed temporarily (SERVFAIL, timeout) unless
 *            pass_on_timeout; self = freeze/defer
 *   PASS     self = pass; a DNS timeout with pass_on_timeout
 *   REDIRECT self = reroute:DOMAIN
 *   NEED_DNS MX, A or AAAA answers missing from the cache
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/net/dns.h"
#include "core/conf/mlist.h"
#include "core/net/netaddr.h"
#include "routers/router.h"

struct dnslookup_opts {
    struct mlist *ignore_target_hosts;
    int pass_on_timeout;
};

#define O(n) offsetof(struct dnslookup_opts, n)

static const struct opt_spec dnslookup_opts[] = {
    { "ignore_target_hosts", OPT_MLIST, O(ignore_target_hosts), NULL,
      ML_HOST, NULL },
    { "pass_on_timeout", OPT_BOOL, O(pass_on_timeout), "false", 0, NULL },
    OPT_END
};

static int cmp_pref(const void *x, const void *y)
{
    const struct rt_host_spec *a = x, *b = y;

    return a->mx - b->mx;
}

/* MX records to host specs: by preference, equal ones in random order. */
static struct rt_host_spec *mx_specs(struct pool *p,
                                     const struct dns_answer *ans)
{
    struct rt_host_spec *s = pool_zalloc(p, (ans->n + 1) * sizeof(*s));

    for (size_t i = 0; i < ans->n; i++)
        s[i] = (struct rt_host_spec){ ans->rr[i].data, ans->rr[i].pref, 0 };
    for (size_t i = ans->n; i > 1; i--) {           /* Fisher-Yates */
        size_t k = rt_random() % i;
        struct rt_host_spec t = s[i - 1];
        s[i - 1] = s[k];
        s[k] = t;
    }
    /* a stable sort keeps the shuffled order among equal preferences */
    for (size_t i = 1; i < ans->n; i++)
        for (size_t k = i; k > 0 && cmp_pref(&s[k - 1], &s[k]) > 0; k--) {
            struct rt_host_spec t = s[k];
            s[k] = s[k - 1];
            s[k - 1] = t;
        }
    return s;
}

static enum route_verdict dns_trouble(struct dnslookup_opts *o,
                                      struct route_req *req,
                                      struct route_res *res,
                                      const char *detail)
{
    if (o->pass_on_timeout)
        return RV_PASS;
    res->message = pool_printf(req->pool, "host lookup did not complete "
                               "(%s)", detail);
    return RV_DEFER;
}

static enum route_verdict route_hosts(struct router *r, struct route_req *req,
                                      struct route_res *res,
                                      const struct rt_host_spec *specs,
                                      size_t n, int implicit)
{
    struct dnslookup_opts *o = r->priv;
    size_t missing = 0;
    const char *msg = NULL;

    switch (rt_resolve_hosts(req, res, specs, n, o->ignore_target_hosts,
                             &missing, &msg)) {
    case RTH_NEED_DNS:
        return RV_NEED_DNS;
    case RTH_DEFER:
        return dns_trouble(o, req, res, msg);
    case RTH_NONE:
        if (missing == n && !implicit) {
            res->message = "all relevant MX records point to non-existent "
                           "hosts";
            return RV_FAIL;
        }
        return RV_DECLINE;
    case RTH_OK:
        break;
    }
    return rt_check_self(r, req, res, implicit
                         ? "remote host address is the local host"
                         : "lowest numbered MX record points to local host");
}

static enum route_verdict dnslookup_route(struct router *r,
                                          struct route_req *req,
                                          struct route_res *res)
{
    const char *domain = req->addr->domain;
    const struct dns_answer *mx;

    if (domain[0] == '[' || req->dns == NULL)
        return RV_DECLINE;
    mx = dns_cache_get(req->dns, DNS_T_MX, domain);
    if (mx == NULL) {
        rt_want(res, DNS_T_MX, domain);
        return RV_NEED_DNS;
    }
    switch (mx->status) {
    case DNS_TEMPFAIL:
        return dns_trouble(r->priv, req, res, mx->why ? mx->why : "error");
    case DNS_NXDOMAIN:
        return RV_DECLINE;
    case DNS_NODATA: {
        struct rt_host_spec self = { domain, -1, 0 };
        return route_hosts(r, req, res, &self, 1, 1);
    }
    case DNS_OK:
        break;
    }
    if (mx->n == 1 && mx->rr[0].data[0] == '\0') {
        res->message = "an MX record indicated no SMTP service (null MX)";
        return RV_FAIL;
    }
    return route_hosts(r, req, res, mx_specs(req->pool, mx), mx->n, 0);
}

const struct router_driver rt_dnslookup = {
    .name = "dnslookup",
    .opts = dnslookup_opts,
    .opts_size = sizeof(struct dnslookup_opts),
    .needs_transport = 1,
    .check = NULL,
    .route = dnslookup_route,
};
