/*
 * l_coro.c - configuration functions as coroutines, and the yielding DNS
 *            binding (dns.a, dns.aaaa, dns.mx, dns.txt, dns.ptr).
 *
 * PURPOSE: lco_start makes a thread (lua_newthread, anchored with
 * luaL_ref), pushes the function and a session table, and resumes it
 * under the instruction budget. A dns.* call checks lua_isyieldable,
 * starts the query with a small request that points back at the lco, and
 * yields. The answer resumes the thread with (records) or (nil, reason).
 * A cancelled lco clears the request's back pointer, so a late answer is
 * dropped and nothing resumes (rspamd's rule: never a stale pointer).
 * Each resume tells the watchdog (watchdog.h) whose session, which hook
 * and which function runs, so a stuck script is named when it is killed.
 * INTERFACE: lco_start, lco_cancel (lcoro.h); l_dns_open (lstate_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/ev.h"
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "core/net/dns.h"
#include "core/conf/policy.h"
#include "lua/lcoro.h"
#include "lua/lstate_impl.h"

struct lco {
    struct lstate *ls;
    lua_State *co;
    int ref;                    /* anchors the thread */
    struct ev *ev;
    struct dns_ctx *dc;
    lco_done_fn done;
    void *arg;
    struct dns_wait *wait;      /* the query the thread waits for */
    struct ev_timer *timer;     /* delivers the result */
    int rc;
    struct lco_result res;
    char *strings[3];           /* copies backing res */
    char *notes;                /* for the watchdog: session, step, script
                                   (NULL when no watchdog listens) */
};

struct dns_wait {
    struct lco *lco;            /* NULL: cancelled */
};

static const char LCO_KEY[] = "tern.lco";   /* registry: thread -> lco */

static void lco_free(struct lco *co)
{
    lua_State *L = co->ls->L;

    lua_getfield(L, LUA_REGISTRYINDEX, LCO_KEY);
    lua_pushthread(co->co);
    lua_xmove(co->co, L, 1);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, co->ref);
    for (int i = 0; i < 3; i++)
        free(co->strings[i]);
    free(co->notes);
    free(co);
}

static void deliver_cb(void *arg)
{
    struct lco *co = arg;

    co->timer = NULL;
    co->done(co->rc, &co->res, co->arg);
    lco_free(co);
}

static const char *keep(struct lco *co, int slot, const char *s)
{
    free(co->strings[slot]);
    co->strings[slot] = s ? xstrdup(s) : NULL;
    return co->strings[slot];
}

static const char *field(lua_State *L, int idx, const char *key)
{
    const char *v = NULL;

    lua_getfield(L, idx, key);
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
        v = lua_tostring(L, -1);
    lua_pop(L, 1);
    return v;
}

static void take_result(struct lco *co, int nres)
{
    lua_State *L = co->co;
    int idx = lua_gettop(L) - nres + 1;

    co->rc = 0;
    if (nres == 0)
        return;
    co->res.truthy = lua_toboolean(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        co->res.verb = keep(co, 0, lua_tostring(L, idx));
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        co->res.verb = keep(co, 0, field(L, idx, "_verb"));
        co->res.message = keep(co, 1, field(L, idx, "message"));
        co->res.log_message = keep(co, 2, field(L, idx, "log_message"));
        const char *code = field(L, idx, "code");
        co->res.code = code ? atoi(code) : 0;
    }
    lua_settop(L, 0);
}

static void finish(struct lco *co, int rc, const char *msg)
{
    if (rc != 0) {
        co->rc = rc;
        co->res.message = keep(co, 1, msg);
    }
    co->timer = ev_timer_add(co->ev, 0, deliver_cb, co);
}

/* what this coroutine is, for the watchdog: three texts in co->notes */
static void keep_notes(struct lco *co, const struct acl_req *req)
{
    char *n;

    if (!watchdog_active())
        return;
    n = co->notes = xcalloc(3, WATCHDOG_TEXT);
    if (req->client_ip != NULL && req->client_ip[0] != '\0')
        snprintf(n, WATCHDOG_TEXT, "[%s]:%d", req->client_ip,
                 req->client_port);
    snprintf(n + WATCHDOG_TEXT, WATCHDOG_TEXT, "acl %s",
             req->hook ? req->hook : "?");
    lstate_fn_where(co->co, -1, n + 2 * WATCHDOG_TEXT, WATCHDOG_TEXT);
}

static void note(const struct lco *co)
{
    if (co->notes == NULL)
        return;
    if (co->notes[0] != '\0')
        watchdog_note(WD_SESSION, co->notes);
    watchdog_note(WD_STEP, co->notes + WATCHDOG_TEXT);
    watchdog_note(WD_SCRIPT, co->notes + 2 * WATCHDOG_TEXT);
}

static void resume(struct lco *co, int nargs)
{
    int nres = 0, st;

    note(co);
    lstate_arm_thread(co->ls, co->co);
    st = lua_resume(co->co, co->ls->L, nargs, &nres);
    lstate_disarm_thread(co->co);
    if (st == LUA_YIELD) {
        lua_pop(co->co, nres);
        if (co->wait == NULL)
            finish(co, -1, "coroutine.yield is not allowed in ACL functions");
        return;
    }
    if (st != LUA_OK) {
        const char *m = lua_tostring(co->co, -1);
        finish(co, -1, m ? m : "error in Lua function");
        return;
    }
    take_result(co, nres);
    finish(co, 0, NULL);
}

static void push_session(lua_State *L, const struct acl_req *q)
{
    lua_createtable(L, 0, 14);
#define SET_STR(k, v) do { if (v) { lua_pushstring(L, v); \
                                    lua_setfield(L, -2, k); } } while (0)
    SET_STR("hook", q->hook);
    SET_STR("client_ip", q->client_ip);
    SET_STR("client_name", q->client_name);
    SET_STR("helo", q->helo);
    SET_STR("sender", q->sender);
    SET_STR("rcpt", q->rcpt);
    SET_STR("authenticated", q->auth_id);
    SET_STR("tls_cipher", q->tls_cipher);
    SET_STR("mime_content_type", q->mime_content_type);
    SET_STR("mime_filename", q->mime_filename);
#undef SET_STR
    lua_createtable(L, (int)q->nrcpts, 0);
    for (size_t i = 0; i < q->nrcpts; i++) {
        lua_pushstring(L, q->rcpts[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "recipients");
    if (q->data != NULL) {
        lua_pushlstring(L, q->data, q->data_len);
        lua_setfield(L, -2, "data");
    }
    lua_newtable(L);
    for (const struct acl_vars *v = q->conn_vars; v; v = v == q->conn_vars
         ? q->msg_vars : NULL)
        for (size_t i = 0; i < v->n; i++) {
            lua_pushstring(L, v->values[i]);
            lua_setfield(L, -2, v->names[i]);
        }
    lua_setfield(L, -2, "vars");
}

/* lco_start - run fn(session) as a coroutine; see lcoro.h */
struct lco *lco_start(struct lstate *ls, int fn, const struct acl_req *req,
                      struct ev *ev, struct dns_ctx *dc, lco_done_fn done,
                      void *arg)
{
    struct lco *co = xcalloc(1, sizeof(*co));
    lua_State *L = ls->L;

    co->ls = ls;
    co->ev = ev;
    co->dc = dc;
    co->done = done;
    co->arg = arg;
    co->co = lua_newthread(L);
    co->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, LUA_REGISTRYINDEX, LCO_KEY);
    lua_pushthread(co->co);
    lua_xmove(co->co, L, 1);
    lua_pushlightuserdata(L, co);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_rawgeti(co->co, LUA_REGISTRYINDEX, fn);
    keep_notes(co, req);
    push_session(co->co, req);
    resume(co, 1);
    return co;
}

/* lco_cancel - never call done, never resume (NULL ok) */
void lco_cancel(struct lco *co)
{
    if (co == NULL)
        return;
    if (co->wait != NULL)
        co->wait->lco = NULL;       /* the late answer frees the wait */
    ev_timer_cancel(co->ev, co->timer);
    lco_free(co);
}

/* ---- dns.* ---- */

static void dns_answer_cb(const struct dns_answer *ans, void *arg)
{
    struct dns_wait *w = arg;
    struct lco *co = w->lco;

    free(w);
    if (co == NULL)
        return;                     /* the session is gone */
    co->wait = NULL;
    if (ans->status == DNS_OK) {
        l_push_dns_answer(co->co, ans);
        resume(co, 1);
        return;
    }
    lua_pushnil(co->co);
    lua_pushstring(co->co, ans->status == DNS_NXDOMAIN ? "nxdomain"
                           : ans->status == DNS_NODATA ? "nodata"
                           : ans->why ? ans->why : "servfail");
    resume(co, 2);
}

static struct lco *running_lco(lua_State *L)
{
    struct lco *co;

    lua_getfield(L, LUA_REGISTRYINDEX, LCO_KEY);
    lua_pushthread(L);
    lua_rawget(L, -2);
    co = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return co;
}

static int l_dns_query(lua_State *L)
{
    int type = (int)lua_tointeger(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    struct lco *co;
    struct dns_wait *w;

    if (!lua_isyieldable(L) || (co = running_lco(L)) == NULL
        || co->dc == NULL)
        return luaL_error(L, "dns.%s cannot be called here (only in ACL "
                          "functions)", dns_type_name(type));
    w = xcalloc(1, sizeof(*w));
    w->lco = co;
    co->wait = w;
    dns_query(co->dc, type, name, dns_answer_cb, w);
    return lua_yield(L, 0);
}

/* l_dns_open - the dns table of the sandbox */
void l_dns_open(struct lstate *ls, int env)
{
    static const struct { const char *name; int type; } types[] = {
        { "a", DNS_T_A }, { "aaaa", DNS_T_AAAA }, { "mx", DNS_T_MX },
        { "txt", DNS_T_TXT }, { "ptr", DNS_T_PTR } };
    lua_State *L = ls->L;

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LCO_KEY);
    lua_newtable(L);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        lua_pushinteger(L, types[i].type);
        lua_pushcclosure(L, l_dns_query, 1);
        lua_setfield(L, -2, types[i].name);
    }
    lua_setfield(L, env, "dns");
}
