/*
 * local_user.c - the local_user router: deliver to a local mailbox owner.
 *
 * PURPOSE: without "users", the local part must be a system account
 * (getpwnam, cached) and its home directory becomes $home. With
 * users = "lsearch;FILE" (or dbm, ...), the account is a virtual user: the
 * key (user_key, default "$local_part") must be in the table, whose value
 * is either a home directory or "home=/path uid=N gid=N" pairs.
 * home_directory overrides the home. The transport then delivers, e.g.
 * maildir with directory = "$home/Maildir".
 * Options: users, user_key, home_directory.
 *
 * Verdicts:
 *   ACCEPT   the user exists (res->home set)
 *   DECLINE  no such user
 *   DEFER    the user table or NSS failed temporarily
 *   NEED_DNS a Lua option used lookup.dnsdb
 */
#include <stddef.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "core/lookup/lookup.h"
#include "core/mail/pwcache.h"
#include "lua/lcall.h"
#include "routers/router.h"

struct local_user_opts {
    const char *users;
    struct xval user_key;
    struct xval home_directory;
    struct lookup_spec spec;
};

#define O(n) offsetof(struct local_user_opts, n)

static const struct opt_spec local_user_opts[] = {
    { "users", OPT_STR, O(users), NULL, 0, NULL },
    { "user_key", OPT_XVAL, O(user_key), "$local_part", 0, NULL },
    { "home_directory", OPT_XVAL, O(home_directory), NULL, 0, NULL },
    OPT_END
};

static int local_user_check(struct router *r, struct conf *c,
                            struct errbuf *eb)
{
    struct local_user_opts *o = r->priv;

    if (o->users != NULL
        && lookup_spec_parse_pool(c->pool, o->users, &o->spec, eb) != 0)
        return -1;
    return 0;
}

/* "home=/x uid=1 gid=2" -> the home field; a plain value is the home */
static const char *home_of(struct pool *p, const char *value)
{
    const char *h = strstr(value, "home=");

    if (strchr(value, '=') == NULL)
        return pool_strndup(p, value, strcspn(value, "\n"));
    if (h == NULL || (h != value && strchr(" \t,", h[-1]) == NULL))
        return NULL;
    h += 5;
    return pool_strndup(p, h, strcspn(h, " \t,\n"));
}

static enum route_verdict virtual_user(struct router *r,
                                       struct route_req *req,
                                       struct route_res *res)
{
    struct local_user_opts *o = r->priv;
    const char *key, *err = NULL;
    struct strbuf val;
    struct errbuf eb;
    int rc = rt_expand(req, res, &o->user_key, &key, &err);
    enum lk_result lr;

    if (rc != LC_OK)
        return rc == LC_NEED_DNS ? RV_NEED_DNS
               : (res->message = err, RV_DEFER);
    if (key == NULL)
        return RV_DECLINE;
    sb_init(&val);
    lr = lookup_find(&o->spec, key, strlen(key), &val, &eb);
    if (lr == LK_FOUND)
        res->home = home_of(req->pool, sb_str(&val));
    sb_free(&val);
    if (lr == LK_TEMPFAIL)
        res->message = pool_strdup(req->pool, eb.msg);
    return lr == LK_TEMPFAIL ? RV_DEFER
           : lr == LK_FOUND ? RV_ACCEPT : RV_DECLINE;
}

static enum route_verdict system_user(struct route_req *req,
                                      struct route_res *res)
{
    int tempfail;
    const struct pw_entry *pw = pw_lookup(req->vars->local_part, &tempfail);

    if (tempfail) {
        res->message = pool_printf(req->pool, "cannot look up local user "
                                   "%s", req->vars->local_part);
        return RV_DEFER;
    }
    if (pw == NULL)
        return RV_DECLINE;
    res->home = pool_strdup(req->pool, pw->home);
    return RV_ACCEPT;
}

static enum route_verdict local_user_route(struct router *r,
                                           struct route_req *req,
                                           struct route_res *res)
{
    struct local_user_opts *o = r->priv;
    const char *home, *err = NULL;
    enum route_verdict v = o->users ? virtual_user(r, req, res)
                                    : system_user(req, res);
    int rc;

    if (v != RV_ACCEPT || !xval_set(&o->home_directory))
        return v;
    rc = rt_expand(req, res, &o->home_directory, &home, &err);
    if (rc != LC_OK)
        return rc == LC_NEED_DNS ? RV_NEED_DNS
               : (res->message = err, RV_DEFER);
    if (home != NULL)
        res->home = home;
    return RV_ACCEPT;
}

const struct router_driver rt_local_user = {
    .name = "local_user",
    .opts = local_user_opts,
    .opts_size = sizeof(struct local_user_opts),
    .needs_transport = 1,
    .check = local_user_check,
    .route = local_user_route,
};
