/*
 * router.h - the contract between the router runner (route/route.c) and
 *            router drivers, and the rt_* helpers drivers share.
 *
 * A driver is a const struct router_driver (core/conf/driver.h): name, private
 * option table and its block size, check() at load time, route() per
 * address. Add one by writing routers/NAME.c and one line in
 * routers/registry.c.
 *
 * Before route() runs, the runner has applied every generic option: the
 * router is skipped unless verify/verify_only fit the run, it did not
 * redirect an identical ancestor, the local part has no '%', '!' or quoted
 * '@' (unless allow_special_local_parts; lua routers see everything),
 * local_part_prefix/suffix match (or are optional), domains, local_parts,
 * check_local_user, senders and condition match, and address_data did not
 * come out nil. req->vars holds the address's variables for this router
 * (local part lowercased unless caseful_local_part, affixes removed).
 *
 * route(r, req, res) returns one verdict:
 *   RV_ACCEPT    the address is routed: res->transport (NULL: the router's
 *                transport), res->hosts for remote transports, res->home.
 *   RV_PASS      not handled; the next router runs even after no_more.
 *   RV_DECLINE   not handled; the next router runs unless no_more, in which
 *                case the address fails as "Unrouteable address".
 *   RV_FAIL      the address is undeliverable: res->message (the bounce /
 *                5xx text).
 *   RV_DEFER     try later: res->message. Every DNS or lookup temporary
 *                failure ends here, never in FAIL or DECLINE.
 *   RV_REDIRECT  res->children replace the address; addresses start again
 *                at the first router, pipes and files are delivered by the
 *                transport given with them. No children: discarded.
 *   RV_NEED_DNS  res->wanted names the (type, name) queries whose answers
 *                are missing from req->dns; route() is called again with
 *                the same request once they are cached. route() keeps no
 *                state between the calls.
 * route() allocates only from req->pool and never blocks.
 */
#ifndef TERN_ROUTER_H
#define TERN_ROUTER_H

#include "core/conf/driver.h"
#include "core/mail/expand.h"

extern const struct router_driver rt_dnslookup;
extern const struct router_driver rt_manualroute;
extern const struct router_driver rt_redirect;
extern const struct router_driver rt_local_user;
extern const struct router_driver rt_catch_all;
extern const struct router_driver rt_lua;

/* A host to resolve into res->hosts (one entry per address found). */
struct rt_host_spec {
    const char *name;           /* host name or IP literal */
    int mx;                     /* MX preference or -1 */
    int port;                   /* 0: transport default */
};

enum rt_hosts_result {
    RTH_OK,             /* res->hosts filled (some may have been dropped) */
    RTH_NEED_DNS,       /* res->wanted filled */
    RTH_DEFER,          /* a lookup failed temporarily: msg set */
    RTH_NONE,           /* no host has an address left */
};

/* rt_resolve_hosts - A/AAAA lookups for specs, in order (IPv6 first for a
 * host with both), dropping addresses in ignore (a host list; may be
 * NULL); *missing counts hosts whose name does not exist, and *msg names
 * the first of them (RTH_DEFER: *msg says why) */
enum rt_hosts_result rt_resolve_hosts(struct route_req *req,
                                      struct route_res *res,
                                      const struct rt_host_spec *specs,
                                      size_t n, const struct mlist *ignore,
                                      size_t *missing, const char **msg);
/* rt_want - add a query to res->wanted (no duplicates) */
void rt_want(struct route_res *res, int type, const char *name);
/* rt_expand - expand an xval for the address (string or Lua function);
 * LC_OK / LC_ERROR / LC_NEED_DNS as lua/lcall.h, *out NULL when a function
 * returned nil */
int rt_expand(struct route_req *req, struct route_res *res,
              const struct xval *x, const char **out, const char **err);
/* rt_parse_hostport - "host", "host::port", "[ip]:port", "ip" */
int rt_parse_hostport(struct pool *p, const char *text,
                      struct rt_host_spec *out);
/* rt_random - a pseudo-random number (host shuffling) */
unsigned rt_random(void);
/* rt_check_self - the generic "self" option when res->hosts include this
 * host (Exim's "MX points to me"); why: the defer/fail message */
enum route_verdict rt_check_self(struct router *r, struct route_req *req,
                                 struct route_res *res, const char *why);
/* rt_qualify - child address text: add @domain to a bare local part */
const char *rt_qualify(struct pool *p, const char *item, const char *domain);

#endif
