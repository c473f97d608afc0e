/*
 * l_coro.c - configuration functions as coroutines: ACL functions and
 *            ACL conditions written in Lua.
 *
 * PURPOSE: lco_start runs the function on a thread of its own through
 * l_run.c (protected: the session table is built, the function runs and
 * its results are copied with raw access, all inside the thread), with
 * one instruction budget for all its resumes and lua_time_limit for each.
 * While the thread waits (dns.*: l_coro_dns.c, acl.*: l_coro_acl.c) the
 * worker serves other sessions; cancelling the lco cancels what it waits
 * for, so nothing resumes later (rspamd's rule: never a stale pointer).
 * Each resume tells the watchdog (watchdog.h) whose session, which hook
 * and which function runs, so a stuck script is named when it is killed.
 * INTERFACE: lco_start, lco_cancel (lcoro.h); lco_running, lco_wake
 *            (lcoro_impl.h).
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
#include "lua/lcoro_impl.h"

#define LCO_TEXT_MAX 4096           /* a verb's message and log_message */

static void keep_notes(struct lco *co, const struct acl_req *req);
static void note(const struct lco *co);

static void lco_free(struct lco *co)
{
    if (co->vars_ref != LUA_NOREF)         /* no allocation */
        luaL_unref(co->run.ls->L, LUA_REGISTRYINDEX, co->vars_ref);
    lrun_end(&co->run);
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

/* a string field of the verb table at idx, raw; NULL when absent */
static const char *field(lua_State *L, int idx, const char *key,
                         struct lrun *r)
{
    const char *v = NULL;

    lua_pushstring(L, key);
    if (lua_rawget(L, idx) != LUA_TNIL)
        v = lrun_string(L, -1, LCO_TEXT_MAX, r, key, NULL);
    lua_pop(L, 1);
    return v;
}

/* the code field: an integer (or a string of digits) from 0 to 999, else
 * -1, which the ACL engine refuses (451 and a panic-log line) rather than
 * reading part of it */
static int field_code(lua_State *L, int idx, struct lrun *r)
{
    lua_Integer code = 0;
    int isnum = 1;

    (void)r;
    lua_pushliteral(L, "code");
    if (lua_rawget(L, idx) != LUA_TNIL)
        code = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum || code < 0 || code > 999)
        return -1;
    return (int)code;
}

/* the results, copied inside the protected call with raw access only: a
 * verb table, a verb name, or a boolean (nil or nothing is false); a
 * condition only needs the truth */
static void take_result(lua_State *L, int base, int n, struct lrun *r)
{
    struct lco *co = r->arg;
    int t = n > 0 ? lua_type(L, base) : LUA_TNIL;

    co->res.truthy = n > 0 && lua_toboolean(L, base);
    if (t == LUA_TNIL || t == LUA_TBOOLEAN || co->kind == LCO_CONDITION)
        return;
    if (t == LUA_TSTRING) {
        co->res.verb = keep(co, 0, lrun_string(L, base, LCO_TEXT_MAX, r,
                                               "its verb", NULL));
        return;
    }
    if (t != LUA_TTABLE)
        lrun_raise(L, r, "returned a %s; expected a verb such as accept{} "
                   "or deny{...}, a verb's name or a boolean",
                   lua_typename(L, t));
    co->res.verb = keep(co, 0, field(L, base, "_verb", r));
    if (co->res.verb == NULL)
        lrun_raise(L, r, "returned a table that is not a verb (accept{}, "
                   "deny{...}, defer{...}, discard{}, drop{})");
    co->res.message = keep(co, 1, field(L, base, "message", r));
    co->res.log_message = keep(co, 2, field(L, base, "log_message", r));
    co->res.code = field_code(L, base, r);
}

static void finish(struct lco *co, int rc, const char *msg)
{
    co->rc = rc;
    if (rc != 0) {
        co->res = (struct lco_result){ 0 };
        co->res.message = keep(co, 1, msg);
    }
    co->timer = ev_timer_add(co->ev, 0, deliver_cb, co);
}

static void after_run(struct lco *co, int st, const struct errbuf *eb)
{
    switch (st) {
    case LRUN_OK:
        finish(co, 0, NULL);
        break;
    case LRUN_YIELD:
        if (co->waiting == NULL)
            finish(co, -1, "coroutine.yield is not allowed in ACL functions");
        break;
    case LRUN_NEED_DNS:
        finish(co, -1, "lookup.dnsdb cannot be used in ACL functions "
               "(use dns.*)");
        break;
    default:
        finish(co, -1, eb->msg);
    }
}

/* the session's variables (acl_c_*, acl_m_*, what conditions found) into
 * the table on top of the stack */
static void fill_vars(lua_State *L, const struct acl_req *q)
{
    for (const struct acl_vars *v = q->conn_vars; v; v = v == q->conn_vars
         ? q->msg_vars : NULL)
        for (size_t i = 0; i < v->n; i++) {
            lua_pushstring(L, v->values[i]);
            lua_setfield(L, -2, v->names[i]);
        }
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
    fill_vars(L, q);
    lua_setfield(L, -2, "vars");
}

static int push_fn_session(lua_State *L, struct lrun *r)
{
    struct lco *co = r->arg;

    lua_rawgeti(L, LUA_REGISTRYINDEX, r->fn);
    push_session(L, co->req);
    lua_getfield(L, -1, "vars");        /* kept for lco_refresh_vars */
    co->vars_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* lco_start - run fn(session) as a coroutine; see lcoro.h */
struct lco *lco_start(struct lstate *ls, int fn, enum lco_kind kind,
                      const struct acl_req *req, struct ev *ev,
                      struct dns_ctx *dc, lco_done_fn done, void *arg)
{
    struct lco *co = xcalloc(1, sizeof(*co));
    struct errbuf eb;
    int st;

    co->run = (struct lrun){ .ls = ls, .push = push_fn_session,
                             .take = take_result, .arg = co, .fn = fn,
                             .what = "ACL function" };
    co->kind = kind;
    co->req = req;
    co->vars_ref = LUA_NOREF;
    co->ev = ev;
    co->dc = dc;
    co->done = done;
    co->arg = arg;
    keep_notes(co, req);
    note(co);
    st = lrun_start(&co->run, &eb);
    after_run(co, st, &eb);
    return co;
}

/* lco_cancel - never call done, never resume (NULL ok) */
void lco_cancel(struct lco *co)
{
    if (co == NULL)
        return;
    if (co->waiting != NULL)
        co->wait_cancel(co->waiting);
    ev_timer_cancel(co->ev, co->timer);
    lco_free(co);
}

/* what this coroutine serves, for the watchdog: two texts in co->notes */
static void keep_notes(struct lco *co, const struct acl_req *req)
{
    char *n;

    if (!watchdog_active())
        return;
    n = co->notes = xcalloc(2, WATCHDOG_TEXT);
    if (req->client_ip != NULL && req->client_ip[0] != '\0')
        snprintf(n, WATCHDOG_TEXT, "[%s]:%d", req->client_ip,
                 req->client_port);
    snprintf(n + WATCHDOG_TEXT, WATCHDOG_TEXT, "acl %s",
             req->hook ? req->hook : "?");
}

/* tell the watchdog before each run: the loop cleared the notes */
static void note(const struct lco *co)
{
    if (co->notes == NULL)
        return;
    if (co->notes[0] != '\0')
        watchdog_note(WD_SESSION, co->notes);
    watchdog_note(WD_STEP, co->notes + WATCHDOG_TEXT);
}

/* lco_running - see lcoro_impl.h */
struct lco *lco_running(lua_State *L)
{
    struct lrun *r = lstate_of(L)->call;

    if (r == NULL || r->co != L || r->push != push_fn_session)
        return NULL;
    return r->arg;
}

/* lco_wake - see lcoro_impl.h */
void lco_wake(struct lco *co)
{
    struct errbuf eb;

    note(co);
    after_run(co, lrun_resume(&co->run, &eb), &eb);
}

/* lco_refresh_vars - see lcoro_impl.h */
void lco_refresh_vars(lua_State *L, struct lco *co)
{
    if (co->vars_ref == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, co->vars_ref);
    if (lua_istable(L, -1))
        fill_vars(L, co->req);
    lua_pop(L, 1);
}
