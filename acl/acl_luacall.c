/*
 * acl_luacall.c - an ACL condition called from a Lua ACL function:
 *                 acl.dnslists("bl.example=127.0.0.2"), acl.spf("fail"),
 *                 acl.verify("recipient"), ...
 *
 * PURPOSE: scripts get the engine's conditions with the statement syntax
 * and semantics, not a second implementation. A call parses its value as
 * the statement option would, checks it for the hook (acl_stmt_check),
 * and runs the one-statement ACL `accept { NAME = value }` on a copy of
 * the session's request: accept is true, the implicit deny false, a
 * deferral -1 with the reason for the script. Results the condition
 * leaves ($dnslist_domain, $spf_result, ...) go to the session's
 * variables as from a statement. The parsed value lives in the call's own
 * pool, so values a script builds at run time do not accumulate.
 * INTERFACE: acl_lua_cond_ops (acl.h), handed to lua/ by the loader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_impl.h"
#include "core/base/xalloc.h"
#include "core/conf/conf_build.h"
#include "lua/lcoro.h"

struct lua_cond {
    struct acl_req req;         /* the session's, copied */
    struct pool *pool;          /* the parsed value */
    struct acl_stmt stmt;
    struct acl_def def;
    struct acl_check *chk;
    lco_cond_cb cb;
    void *arg;
};

/* conditions that take a string and may wait; matching lists (hosts,
 * domains, ...) are plain Lua in a script */
static const char *const callable[] = {
    "acl", "dnslists", "greylist", "ratelimit", "spf", "verify", NULL
};

static void lua_cond_free(struct lua_cond *lc)
{
    pool_free(lc->pool);
    free(lc);
}

/* name = value as a statement of the request's hook would hold it; the
 * scratch configuration differs from the session's only in its pool */
static int parse(struct lua_cond *lc, const char *name, const char *value,
                 struct errbuf *eb)
{
    const struct opt_spec *o = opt_find(acl_stmt_opts, name);
    struct conf scratch = *lc->req.conf;
    void *fields = pool_zalloc(lc->pool, acl_stmt_size);

    scratch.pool = lc->pool;
    if (o == NULL)
        return errbuf_set(eb, "no such condition"), -1;
    if (opt_defaults(&scratch, acl_stmt_opts, fields, eb) != 0
        || opt_set_text(&scratch, o, fields, value, eb) != 0
        || acl_stmt_check(&scratch, lc->req.hook, "accept", fields, eb)
           != 0)
        return -1;
    lc->stmt.fields = fields;
    return 0;
}

static void lua_cond_done(const struct acl_result *r, void *arg)
{
    struct lua_cond *lc = arg;
    int truth = r->verdict == ACL_ACCEPT ? 1 : r->verdict == ACL_DEFER
                                                ? -1 : 0;

    lc->chk = NULL;                 /* the engine frees it after this */
    lc->cb(lc->arg, truth, truth < 0 ? r->log_message : NULL);
    lua_cond_free(lc);
}

static void *lua_cond_start(const struct acl_req *req, const char *name,
                            const char *value, lco_cond_cb cb, void *arg,
                            char *err, size_t errsize)
{
    struct lua_cond *lc;
    struct errbuf eb;

    if (req->acl_depth >= ACL_MAX_DEPTH) {  /* a script that calls itself */
        snprintf(err, errsize, "ACLs nested more than %d deep",
                 ACL_MAX_DEPTH);
        return NULL;
    }
    lc = xcalloc(1, sizeof(*lc));
    lc->req = *req;
    lc->req.trace = 0;              /* the script's verdict is traced */
    lc->req.acl_depth++;
    lc->pool = pool_new();
    if (parse(lc, name, value, &eb) != 0) {
        snprintf(err, errsize, "%s", eb.msg);
        lua_cond_free(lc);
        return NULL;
    }
    lc->stmt.verb = "accept";
    lc->stmt.origin.file = pool_printf(lc->pool, "acl.%s() in a Lua ACL",
                                       name);
    lc->def = (struct acl_def){ .hook = req->hook, .fn = -1, .n = 1,
                                .stmts = &lc->stmt };
    lc->cb = cb;
    lc->arg = arg;
    lc->chk = acl_check_def(&lc->req, &lc->def, lc->req.acl_depth,
                            lua_cond_done, lc);
    return lc;
}

static void lua_cond_cancel(void *op)
{
    struct lua_cond *lc = op;

    acl_cancel(lc->chk);
    lua_cond_free(lc);
}

/* Only the conditions this build has (opt rows) are offered. */
static const char *const *offered(void)
{
    static const char *names[sizeof(callable) / sizeof(callable[0])];
    size_t n = 0;

    if (names[0] == NULL)
        for (const char *const *c = callable; *c != NULL; c++)
            if (opt_find(acl_stmt_opts, *c) != NULL)
                names[n++] = *c;
    return names;
}

/* acl_lua_cond_ops - what acl.NAME(value) runs (lua/lcoro.h) */
const struct lco_cond_ops *acl_lua_cond_ops(void)
{
    static struct lco_cond_ops ops = { NULL, lua_cond_start,
                                       lua_cond_cancel };

    ops.names = offered();
    return &ops;
}
