/*
 * l_coro_acl.c - ACL conditions called from Lua ACL functions:
 *                acl.dnslists("bl.example"), acl.spf("fail"), ...
 *
 * PURPOSE: the ACL engine, a higher layer, hands down how to start and
 * cancel one condition (struct lco_cond_ops), so a script gets Exim's
 * conditions with their own syntax and semantics, not a second
 * implementation. A call checks that it runs on an lco's own thread,
 * starts the condition on the session's request and yields; the answer
 * resumes the thread with true, false, or nil and the reason of a
 * temporary failure, and session.vars shows what the condition found
 * ($dnslist_domain, $spf_result, ...). Cancelling the lco cancels the
 * condition.
 * INTERFACE: lco_open_acl (lcoro.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/xalloc.h"
#include "lua/lcoro_impl.h"

struct cond_wait {
    struct lco *lco;
    const struct lco_cond_ops *ops;
    void *op;
};

static void cond_wait_cancel(void *arg)
{
    struct cond_wait *w = arg;

    w->ops->cancel(w->op);
    free(w);
}

static void cond_answered(void *arg, int truth, const char *why)
{
    struct cond_wait *w = arg;
    struct lco *co = w->lco;

    free(w);
    co->waiting = NULL;
    co->cond_truth = truth;             /* cond_resumed pushes it */
    co->cond_why = why;
    lco_wake(co);
    co->cond_why = NULL;
}

/* the continuation: true, false, or nil and why */
static int cond_resumed(lua_State *L, int status, lua_KContext ctx)
{
    struct lco *co = (struct lco *)ctx;

    (void)status;
    lco_refresh_vars(L, co);
    if (co->cond_truth >= 0) {
        lua_pushboolean(L, co->cond_truth);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, co->cond_why ? co->cond_why : "temporary failure");
    return 2;
}

static int l_acl_cond(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    const struct lco_cond_ops *ops = lua_touserdata(L, lua_upvalueindex(2));
    const char *value = luaL_checkstring(L, 1);
    struct lco *co = lco_running(L);
    struct cond_wait *w;
    char err[256];

    if (!lua_isyieldable(L) || co == NULL || co->req == NULL)
        return luaL_error(L, "acl.%s cannot be called here (only in ACL "
                          "functions)", name);
    w = xcalloc(1, sizeof(*w));
    w->lco = co;
    w->ops = ops;
    w->op = ops->start(co->req, name, value, cond_answered, w, err,
                       sizeof(err));
    if (w->op == NULL) {
        free(w);
        return luaL_error(L, "acl.%s: %s", name, err);
    }
    co->waiting = w;
    co->wait_cancel = cond_wait_cancel;
    return lua_yieldk(L, 0, (lua_KContext)co, cond_resumed);
}

/* lco_open_acl - see lcoro.h */
void lco_open_acl(struct lstate *ls, int env, const struct lco_cond_ops *ops)
{
    lua_State *L = ls->L;

    lua_newtable(L);
    for (const char *const *n = ops->names; *n != NULL; n++) {
        lua_pushstring(L, *n);
        lua_pushlightuserdata(L, (void *)(uintptr_t)ops);
        lua_pushcclosure(L, l_acl_cond, 2);
        lua_setfield(L, -2, *n);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, env, "acl");
}
