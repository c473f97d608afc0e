/*
 * lua.c - the lua router: the route is a Lua function.
 *
 * PURPOSE: route = function(addr) ... end returns one of
 *   accept { transport = "name", hosts = { "h1", "[192.0.2.1]:2525" } }
 *   pass()    decline() / nil    fail "text"    defer "text"
 *   redirect "a@x, b@y"  or  redirect { "a@x", "b@y" }
 * addr has the fields of every option variable (local_part, domain,
 * address, home, address_data, sender_address, ...). A script may call
 * lookup.* and lookup.dnsdb; a DNS answer not yet cached makes the
 * runner fetch it and call the function again (it should not keep state
 * between calls).
 * Options: route (a function, required).
 *
 * Verdicts: as the function says; DEFER when it raises an error, exceeds
 * its instruction budget or lua_time_limit, or returns something else (the
 * result is read with raw access: a metatable is never consulted); the
 * reason names the file:line. Hosts are resolved
 * like manualroute's with host_find_failed = defer.
 */
#include <stddef.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "lua/lcall.h"
#include "routers/rt_redirect.h"

struct lua_router_opts {
    struct xval route;
};

static const struct opt_spec lua_router_opts[] = {
    { "route", OPT_FUNC, offsetof(struct lua_router_opts, route), NULL, 0,
      NULL },
    OPT_END
};

static int lua_check(struct router *r, struct conf *c, struct errbuf *eb)
{
    struct lua_router_opts *o = r->priv;

    (void)c;
    if (o->route.fn < 0) {
        errbuf_set(eb, "route = function(addr) ... end is required");
        return -1;
    }
    return 0;
}

static enum route_verdict accept_hosts(struct route_req *req,
                                       struct route_res *res,
                                       const struct lroute *lr)
{
    struct rt_host_spec *specs;
    const char *msg = NULL;
    size_t missing = 0;

    if (lr->hosts.n == 0)
        return RV_ACCEPT;
    specs = pool_zalloc(req->pool, lr->hosts.n * sizeof(*specs));
    for (size_t i = 0; i < lr->hosts.n; i++)
        if (rt_parse_hostport(req->pool, lr->hosts.v[i], &specs[i]) != 0) {
            res->message = pool_printf(req->pool, "route function returned "
                                       "a bad host \"%s\"", lr->hosts.v[i]);
            return RV_DEFER;
        }
    switch (rt_resolve_hosts(req, res, specs, lr->hosts.n, NULL, &missing,
                             &msg)) {
    case RTH_NEED_DNS:
        return RV_NEED_DNS;
    case RTH_DEFER:
        res->message = msg;
        return RV_DEFER;
    case RTH_NONE:
        res->message = "no host returned by the route function has an "
                       "address";
        return RV_DEFER;
    case RTH_OK:
        break;
    }
    return RV_ACCEPT;
}

static enum route_verdict do_redirect(struct route_req *req,
                                      struct route_res *res,
                                      const struct lroute *lr)
{
    struct redirect_policy pol = { .allow_fail = 1, .allow_defer = 1,
                                   .forbid_pipe = 1, .forbid_file = 1,
                                   .forbid_include = 1,
                                   .qualify_domain = req->addr->domain };
    const char *data = lr->data;

    if (lr->items.n > 0) {
        struct strbuf sb;
        sb_init(&sb);
        for (size_t i = 0; i < lr->items.n; i++)
            sb_printf(&sb, "%s\n", lr->items.v[i]);
        data = pool_strndup(req->pool, sb_str(&sb), sb_len(&sb));
        sb_free(&sb);
    }
    if (data == NULL) {
        res->message = "redirect needs addresses: redirect \"a@x, b@y\"";
        return RV_DEFER;
    }
    return rt_redirect_expand(req, res, &pol, data);
}

static enum route_verdict lua_route(struct router *r, struct route_req *req,
                                    struct route_res *res)
{
    struct lua_router_opts *o = r->priv;
    struct lroute lr;
    struct errbuf eb;
    int rc = lcall_route(req->conf->lua, o->route.fn, req->vars, req->pool,
                         &lr, &eb);

    if (rc == LC_NEED_DNS)
        return RV_NEED_DNS;
    if (rc != LC_OK) {
        res->message = pool_strdup(req->pool, eb.msg);
        return RV_DEFER;
    }
    if (lr.address_data != NULL)
        req->addr->address_data = lr.address_data;
    res->message = lr.message;
    if (strcmp(lr.verdict, "accept") == 0) {
        res->transport_name = lr.transport;
        return accept_hosts(req, res, &lr);
    }
    if (strcmp(lr.verdict, "pass") == 0)
        return RV_PASS;
    if (strcmp(lr.verdict, "decline") == 0)
        return RV_DECLINE;
    if (strcmp(lr.verdict, "fail") == 0)
        return RV_FAIL;
    if (strcmp(lr.verdict, "defer") == 0)
        return RV_DEFER;
    if (strcmp(lr.verdict, "redirect") == 0)
        return do_redirect(req, res, &lr);
    res->message = pool_printf(req->pool, "route function returned %s(); "
                               "routers understand accept, pass, decline, "
                               "fail, defer and redirect", lr.verdict);
    return RV_DEFER;
}

const struct router_driver rt_lua = {
    .name = "lua",
    .opts = lua_router_opts,
    .opts_size = sizeof(struct lua_router_opts),
    .needs_transport = 0,
    .any_local_part = 1,          /* the script decides what it takes */
    .check = lua_check,
    .route = lua_route,
};
