/*
 * l_coro_dns.c - the yielding DNS binding of ACL functions: dns.a,
 *                dns.aaaa, dns.mx, dns.txt, dns.ptr.
 *
 * PURPOSE: a dns.* call checks that it runs on an lco's own thread,
 * starts the query with a small request that points back at the lco, and
 * yields; the answer resumes the thread, whose continuation pushes
 * (records) or (nil, reason). A cancelled lco clears the request's back
 * pointer, so a late answer is dropped and nothing resumes.
 * INTERFACE: l_dns_open (lstate_impl.h).
 */
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/xalloc.h"
#include "core/net/dns.h"
#include "lua/lcoro_impl.h"

struct dns_wait {
    struct lco *lco;            /* NULL: cancelled */
};

static void dns_wait_cancel(void *arg)
{
    ((struct dns_wait *)arg)->lco = NULL;   /* the late answer frees it */
}

static void dns_answer_cb(const struct dns_answer *ans, void *arg)
{
    struct dns_wait *w = arg;
    struct lco *co = w->lco;

    free(w);
    if (co == NULL)
        return;                     /* the session is gone */
    co->waiting = NULL;
    co->answer = ans;               /* dns_resumed pushes it */
    lco_wake(co);
    co->answer = NULL;
}

/* the continuation of a dns.* call: the answer as Lua values, built
 * inside the thread (a memory error here is the script's error) */
static int dns_resumed(lua_State *L, int status, lua_KContext ctx)
{
    struct lco *co = (struct lco *)ctx;
    const struct dns_answer *ans = co->answer;

    (void)status;
    if (ans->status == DNS_OK) {
        l_push_dns_answer(L, ans);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, ans->status == DNS_NXDOMAIN ? "nxdomain"
                      : ans->status == DNS_NODATA ? "nodata"
                      : ans->why ? ans->why : "servfail");
    return 2;
}

static int l_dns_query(lua_State *L)
{
    int type = (int)lua_tointeger(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    struct lco *co;
    struct dns_wait *w;

    if (!lua_isyieldable(L) || (co = lco_running(L)) == NULL
        || co->dc == NULL)
        return luaL_error(L, "dns.%s cannot be called here (only in ACL "
                          "functions)", dns_type_name(type));
    w = xcalloc(1, sizeof(*w));
    w->lco = co;
    co->waiting = w;
    co->wait_cancel = dns_wait_cancel;
    dns_query(co->dc, type, name, dns_answer_cb, w);
    return lua_yieldk(L, 0, (lua_KContext)co, dns_resumed);
}

/* l_dns_open - the dns table of the sandbox */
void l_dns_open(struct lstate *ls, int env)
{
    static const struct { const char *name; int type; } types[] = {
        { "a", DNS_T_A }, { "aaaa", DNS_T_AAAA }, { "mx", DNS_T_MX },
        { "txt", DNS_T_TXT }, { "ptr", DNS_T_PTR } };
    lua_State *L = ls->L;

    lua_newtable(L);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        lua_pushinteger(L, types[i].type);
        lua_pushcclosure(L, l_dns_query, 1);
        lua_setfield(L, -2, types[i].name);
    }
    lua_setfield(L, env, "dns");
}
