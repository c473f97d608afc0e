/*
 * rt_common.c - helpers shared by router drivers: resolving host names
 *               through the routing run's DNS cache, expanding option
 *               values, parsing host[:port] items and qualifying addresses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mail/address.h"
#include "core/net/dns.h"
#include "core/conf/mlist.h"
#include "core/net/netaddr.h"
#include "lua/lcall.h"
#include "routers/router.h"

/* rt_want - add (type, name) to res->wanted once */
void rt_want(struct route_res *res, int type, const char *name)
{
    for (size_t i = 0; i < res->nwanted; i++)
        if (res->wanted[i].type == type
            && strcmp(res->wanted[i].name, name) == 0)
            return;
    if (res->nwanted < ROUTE_MAX_WANTED) {
        res->wanted[res->nwanted].type = type;
        res->wanted[res->nwanted].name = name;
        res->nwanted++;
    }
}

/* rt_expand - value of an xval for this address */
int rt_expand(struct route_req *req, struct route_res *res,
              const struct xval *x, const char **out, const char **err)
{
    struct errbuf eb;
    int rc;

    (void)res;
    *out = NULL;
    if (x->fn >= 0) {
        rc = lcall_value(req->conf->lua, x->fn, req->vars, req->pool, out,
                         &eb);
        if (rc == LC_ERROR)
            *err = pool_strdup(req->pool, eb.msg);
        return rc;
    }
    if (x->str == NULL)
        return LC_OK;
    if (expand_string(x->str, req->vars, req->pool, out, &eb) != 0) {
        *err = pool_strdup(req->pool, eb.msg);
        return LC_ERROR;
    }
    return LC_OK;
}

static int is_ip(const char *s)
{
    struct netaddr a;

    return netaddr_parse(s, strlen(s), &a) == 0 && strchr(s, '/') == NULL;
}

static int parse_port(const char *s, int *port)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* rt_parse_hostport - "name", "name:port", "name::port", "ip", "[ip]",
 * "[ip]:port" */
int rt_parse_hostport(struct pool *p, const char *text,
                      struct rt_host_spec *out)
{
    const char *colon;

    out->mx = -1;
    out->port = 0;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL)
            return -1;
        out->name = pool_strndup(p, text + 1, (size_t)(close - text - 1));
        if (!is_ip(out->name))
            return -1;
        return close[1] == '\0' ? 0 : close[1] == ':'
               ? parse_port(close + 2, &out->port) : -1;
    }
    if (is_ip(text)) {                   /* includes bare IPv6 */
        out->name = pool_strdup(p, text);
        return 0;
    }
    colon = strchr(text, ':');
    out->name = colon ? pool_strndup(p, text, (size_t)(colon - text))
                      : pool_strdup(p, text);
    if (!addr_domain_valid(out->name, strlen(out->name), 0))
        return -1;
    if (colon != NULL && colon[1] == ':')   /* Exim's "name::port" */
        colon++;
    return colon ? parse_port(colon + 1, &out->port) : 0;
}

/* Is there an '@' outside a quoted local part? */
static int has_domain(const char *s)
{
    int quoted = 0;

    for (; *s; s++) {
        if (*s == '\\' && quoted && s[1] != '\0')
            s++;
        else if (*s == '"')
            quoted = !quoted;
        else if (*s == '@' && !quoted)
            return 1;
    }
    return 0;
}

/* rt_qualify - "user" -> "user@domain"; a qualified item is unchanged */
const char *rt_qualify(struct pool *p, const char *item, const char *domain)
{
    return has_domain(item) ? item : pool_printf(p, "%s@%s", item, domain);
}

struct host_acc {
    struct route_req *req;
    struct route_res *res;
    const struct mlist *ignore;
    size_t cap;
    size_t ignored;
};

static void push_host(struct host_acc *h, const struct rt_host_spec *s,
                      const char *ip)
{
    struct match_ctx mc = { .conf = h->req->conf };
    struct route_res *res = h->res;

    if (h->ignore != NULL && mlist_match(h->ignore, ip, &mc) == MATCH_YES) {
        h->ignored++;
        return;
    }
    if (res->nhosts == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        struct route_host *v = pool_alloc(h->req->pool, cap * sizeof(*v));
        if (res->nhosts)
            memcpy(v, res->hosts, res->nhosts * sizeof(*v));
        res->hosts = v;
        h->cap = cap;
    }
    res->hosts[res->nhosts++] = (struct route_host){ s->name, ip, s->mx,
                                                     s->port };
}

/* Addresses of one host from the cache; -1 tempfail, 0 none, 1 some. */
static int host_addrs(struct host_acc *h, const struct rt_host_spec *s,
                      const char **msg)
{
    static const int types[2] = { DNS_T_AAAA, DNS_T_A };
    int found = 0, tempfail = 0;

    for (int t = 0; t < 2; t++) {
        const struct dns_answer *a = dns_cache_get(h->req->dns, types[t],
                                                   s->name);
        if (a->status == DNS_TEMPFAIL)
            tempfail = 1;
        for (size_t i = 0; a->status == DNS_OK && i < a->n; i++, found = 1)
            push_host(h, s, a->rr[i].data);
    }
    if (found)
        return 1;
    if (tempfail) {
        *msg = pool_printf(h->req->pool, "host lookup for %s did not "
                           "complete", s->name);
        return -1;
    }
    return 0;
}

/* rt_resolve_hosts - expand specs into one route_host per address */
enum rt_hosts_result rt_resolve_hosts(struct route_req *req,
                                      struct route_res *res,
                                      const struct rt_host_spec *specs,
                                      size_t n, const struct mlist *ignore,
                                      size_t *missing, const char **msg)
{
    struct host_acc h = { req, res, ignore, 0, 0 };

    for (size_t i = 0; i < n; i++) {
        if (is_ip(specs[i].name) || req->dns == NULL)
            continue;
        if (dns_cache_get(req->dns, DNS_T_AAAA, specs[i].name) == NULL)
            rt_want(res, DNS_T_AAAA, specs[i].name);
        if (dns_cache_get(req->dns, DNS_T_A, specs[i].name) == NULL)
            rt_want(res, DNS_T_A, specs[i].name);
    }
    if (res->nwanted > 0)
        return RTH_NEED_DNS;
    *missing = 0;
    res->nhosts = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = 1;
        if (is_ip(specs[i].name))
            push_host(&h, &specs[i], specs[i].name);
        else if (req->dns == NULL)
            rc = (*msg = "no DNS resolver", -1);
        else
            rc = host_addrs(&h, &specs[i], msg);
        if (rc < 0)
            return RTH_DEFER;
        if (rc == 0 && (*missing)++ == 0)
            *msg = specs[i].name;       /* the first host not found */
    }
    return res->nhosts > 0 ? RTH_OK : RTH_NONE;
}

/* rt_random - splitmix64, seeded once per process from the clock and pid
 * (processes started in the same second must not shuffle alike) */
unsigned rt_random(void)
{
    static uint64_t state;
    struct timespec ts;
    uint64_t z;

    if (state == 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        state = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec
                ^ ((uint64_t)getpid() << 16);
    }
    z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (unsigned)((z ^ (z >> 31)) >> 32);
}

static int host_is_self(struct route_req *req, const struct route_host *h)
{
    struct match_ctx mc = { .conf = req->conf };

    if (h->ip != NULL && netaddr_is_local(h->ip))
        return 1;
    return req->conf->main.hosts_treat_as_local != NULL
           && mlist_match(req->conf->main.hosts_treat_as_local, h->name, &mc)
              == MATCH_YES;
}

/* What the generic "self" option says when the best host is this host. */
static enum route_verdict apply_self(struct router *r, struct route_req *req,
                                     struct route_res *res, const char *why)
{
    const char *self = r->self ? r->self : "freeze";

    if (strcmp(self, "pass") == 0)
        return RV_PASS;
    if (strcmp(self, "send") == 0)
        return RV_ACCEPT;
    if (strncmp(self, "reroute:", 8) == 0) {
        res->children = pool_zalloc(req->pool, sizeof(*res->children));
        res->children[0].kind = CHILD_ADDRESS;
        res->children[0].text = pool_printf(req->pool, "%.*s@%s",
            (int)(strrchr(req->addr->address, '@') - req->addr->address),
            req->addr->address, self + 8);
        res->nchildren = 1;
        return RV_REDIRECT;
    }
    res->message = why;
    return strcmp(self, "fail") == 0 ? RV_FAIL : RV_DEFER;
}

/* rt_check_self - Exim's rule when a host is this host: drop it and every
 * host of equal or lower priority; if nothing better is left, "self"
 * decides (why is the message for defer/fail) */
enum route_verdict rt_check_self(struct router *r, struct route_req *req,
                                 struct route_res *res, const char *why)
{
    size_t i, keep;

    for (i = 0; i < res->nhosts; i++)
        if (host_is_self(req, &res->hosts[i]))
            break;
    if (i == res->nhosts)
        return RV_ACCEPT;
    int pref = res->hosts[i].mx;
    for (keep = 0; keep < res->nhosts && res->hosts[keep].mx < pref
         && res->hosts[keep].mx >= 0; keep++)
        ;
    if (keep == 0)
        return apply_self(r, req, res, why);
    res->nhosts = keep;
    return RV_ACCEPT;
}
