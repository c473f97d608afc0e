/*
 * acl_lua.c - Lua functions in ACLs: acl "rcpt" (function(s) ... end)
 *             decides the whole hook; condition = function(s) ... end is
 *             one condition. Both run as coroutines (lua/lcoro.h), so a
 *             dns.* call inside waits without blocking the worker.
 *
 * PURPOSE: map the function's result to the engine: an ACL function
 * returns accept{}, deny{message=...}, defer{...}, discard{}, drop{} or
 * the verb as a string (nil or false deny); a condition's truth is its
 * first result. A script error defers (451 4.3.0, the error text only in
 * the logs), as a tempfail must; so does an unknown verb or a code that
 * does not fit the verb (acl_finish checks it); the
 * error (FILE:LINE: ...) goes to the log as the refusal's log_message.
 */
#include <string.h>

#include "acl/acl_impl.h"
#include "lua/lcoro.h"

static void lco_cancel_cb(void *arg)
{
    lco_cancel(arg);
}

static void condition_done(int rc, const struct lco_result *res, void *arg)
{
    struct acl_check *chk = arg;

    if (rc != 0) {      /* the client gets a plain 451, the log the why */
        chk->cond_msg = pool_strdup(chk->pool, res->message);
        acl_trace(chk, "condition function failed: %s", res->message);
        acl_cond_done(chk, C_DEFER);
        return;
    }
    acl_cond_done(chk, res->truthy ? C_YES : C_NO);
}

/* acl_lua_condition - condition = a Lua function */
enum cond_result acl_lua_condition(struct acl_check *chk, int fn)
{
    struct acl_req *q = chk->req;

    chk->async = lco_start(q->conf->lua, fn, LCO_CONDITION, q, q->ev,
                           q->dns, condition_done, chk);
    chk->async_cancel = lco_cancel_cb;
    return C_PENDING;
}

static enum acl_verdict verdict_of(const char *verb, int truthy)
{
    static const struct { const char *verb; enum acl_verdict v; } map[] = {
        { "accept", ACL_ACCEPT }, { "deny", ACL_DENY }, { "defer", ACL_DEFER },
        { "discard", ACL_DISCARD }, { "drop", ACL_DROP } };

    if (verb == NULL)
        return truthy ? ACL_ACCEPT : ACL_DENY;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].verb, verb) == 0)
            return map[i].v;
    return ACL_DEFER;
}

static void function_done(int rc, const struct lco_result *res, void *arg)
{
    struct acl_check *chk = arg;
    enum acl_verdict v;

    chk->async = NULL;
    chk->async_cancel = NULL;
    if (rc != 0) {              /* the error text is for the logs only */
        acl_trace(chk, "ACL function failed: %s", res->message);
        acl_internal_error(chk, 0, res->message);
        acl_finish(chk, ACL_DEFER, NULL);
        return;
    }
    v = verdict_of(res->verb, res->truthy);
    if (v == ACL_DEFER && res->verb && strcmp(res->verb, "defer") != 0) {
        acl_internal_error(chk, 1, pool_printf(chk->pool, "ACL function "
                           "returned an unknown verb \"%.40s\"", res->verb));
        acl_finish(chk, ACL_DEFER, NULL);
        return;
    }
    chk->res.code = res->code;      /* checked by acl_finish */
    if (res->log_message)
        chk->res.log_message = pool_strdup(chk->pool, res->log_message);
    acl_finish(chk, v, res->message ? pool_strdup(chk->pool, res->message)
                                    : NULL);
}

/* acl_run_function - the whole ACL is a Lua function */
void acl_run_function(struct acl_check *chk)
{
    struct acl_req *q = chk->req;

    chk->async = lco_start(q->conf->lua, chk->def->fn, LCO_VERDICT, q,
                           q->ev, q->dns, function_done, chk);
    chk->async_cancel = lco_cancel_cb;
}
