/*
 * catch_all.c - the catch_all router: every local part that reached it
 *               goes to one address (Postfix's luser_relay, Exim's
 *               "domain waste bin").
 *
 * PURPOSE: place it after the routers that know real users; whatever is
 * still unrouted in its domains is redirected to "to" (a string with
 * variables or a Lua function; a bare local part is qualified with the
 * address's own domain). The redirected address routes normally; if it
 * comes back here, the loop rule skips this router and it fails.
 * Options: to.
 *
 * Verdicts:
 *   REDIRECT to the catch-all address
 *   DECLINE  "to" gave nothing (a function returned nil)
 *   DEFER    "to" could not be evaluated or is not an address
 *   NEED_DNS a "to" function used lookup.dnsdb
 */
#include <stddef.h>

#include "lua/lcall.h"
#include "routers/rt_redirect.h"

struct catch_all_opts {
    struct xval to;
};

static const struct opt_spec catch_all_opts[] = {
    { "to", OPT_XVAL, offsetof(struct catch_all_opts, to), NULL, 0, NULL },
    OPT_END
};

static int catch_all_check(struct router *r, struct conf *c,
                           struct errbuf *eb)
{
    struct catch_all_opts *o = r->priv;

    (void)c;
    if (!xval_set(&o->to)) {
        errbuf_set(eb, "\"to\" is required (the address that gets unknown "
                   "local parts)");
        return -1;
    }
    return 0;
}

static enum route_verdict catch_all_route(struct router *r,
                                          struct route_req *req,
                                          struct route_res *res)
{
    struct catch_all_opts *o = r->priv;
    struct redirect_policy pol = { .forbid_pipe = 1, .forbid_file = 1,
                                   .forbid_include = 1,
                                   .qualify_domain = req->addr->domain };
    const char *to, *err = NULL;
    int rc = rt_expand(req, res, &o->to, &to, &err);

    if (rc != LC_OK)
        return rc == LC_NEED_DNS ? RV_NEED_DNS
               : (res->message = err, RV_DEFER);
    if (to == NULL || *to == '\0')
        return RV_DECLINE;
    return rt_redirect_expand(req, res, &pol, to);
}

const struct router_driver rt_catch_all = {
    .name = "catch_all",
    .opts = catch_all_opts,
    .opts_size = sizeof(struct catch_all_opts),
    .needs_transport = 0,
    .check = catch_all_check,
    .route = catch_all_route,
};
