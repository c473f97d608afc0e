/*
 * l_run.c - one call into Lua, protected from end to end.
 *
 * PURPOSE: every call a configuration makes into Lua (a routing function,
 * an ACL function with its resumes, a conf.d file) runs on a thread of its
 * own whose body is a C function: it pushes the function and arguments,
 * calls it (lua_callk, so it may yield), and converts the results to C
 * data with raw access. All of it happens inside lua_resume, which is
 * itself run under lua_pcall on the main thread: a script's error, the
 * memory cap, a result table with a hostile metatable or a budget that
 * ran out is a Lua error caught here, never a panic of the process. A
 * failed thread keeps its stack, so the message always gets the file and
 * line where it happened (memory errors and error({}) carry none).
 * INTERFACE: lrun_call, lrun_start, lrun_resume, lrun_end, lrun_fn_where,
 *            lrun_string (lstate_impl.h).
 * ERRORS: "FILE:LINE: text" in eb; LRUN_NEED_DNS for the dnsdb sentinel.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/strbuf.h"
#include "core/base/watchdog.h"
#include "lua/lstate_impl.h"

static int body_k(lua_State *L, int status, lua_KContext ctx)
{
    struct lrun *r = (struct lrun *)ctx;

    (void)status;
    if (r->take != NULL)
        r->take(L, 2, lua_gettop(L) - 1, r);
    return 0;
}

/* the thread's body: [lightuserdata r] -> push, call, take */
static int body(lua_State *L)
{
    struct lrun *r = lua_touserdata(L, 1);
    int nargs = r->push(L, r);

    lua_callk(L, nargs, LUA_MULTRET, (lua_KContext)r, body_k);
    return body_k(L, LUA_OK, (lua_KContext)r);
}

static int make_thread(lua_State *L)
{
    struct lrun *r = lua_touserdata(L, 1);

    r->co = lua_newthread(L);
    r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(r->co, body);
    lua_pushlightuserdata(r->co, r);
    return 0;
}

struct resume_ctx {
    struct lrun *r;
    int nargs;
    int status;
};

static int resume_main(lua_State *L)
{
    struct resume_ctx *x = lua_touserdata(L, 1);
    int nres = 0;

    x->status = lua_resume(x->r->co, L, x->nargs, &nres);
    if (x->status == LUA_YIELD)
        lua_pop(x->r->co, nres);
    return 0;
}

static const char *source_name(const lua_Debug *ar)
{
    return ar->source[0] == '@' ? ar->source + 1 : ar->short_src;
}

/* "FILE:LINE" of the innermost Lua frame of a failed thread */
static int frame_where(lua_State *co, char *buf, size_t size)
{
    lua_Debug ar;

    for (int level = 0; lua_getstack(co, level, &ar); level++)
        if (lua_getinfo(co, "Sl", &ar) && ar.currentline > 0) {
            (void)bsnprintf(buf, size, "%s:%d", source_name(&ar),
                            ar.currentline);    /* truncated is fine */
            return 0;
        }
    return -1;
}

/* lrun_positioned - does msg start with "SOURCE:LINE:", as Lua's
 * positioned messages do */
int lrun_positioned(const char *msg)
{
    const char *d = msg ? strchr(msg, ':') : NULL;

    if (d == NULL || d == msg || !isdigit((unsigned char)d[1]))
        return 0;
    for (d++; isdigit((unsigned char)*d); d++)
        continue;
    return *d == ':';
}

/* the error object on top of r's thread as "FILE:LINE: text", FILE:LINE
 * where it happened (else where r's function is defined, else r->what);
 * nothing here runs Lua (no __tostring: it could fail or loop) */
static void error_text(struct lrun *r, int status, struct errbuf *eb)
{
    lua_State *co = r->co;
    char where[512], num[64];
    const char *msg;

    if (frame_where(co, where, sizeof(where)) != 0) {
        if (r->fn >= 0)
            lrun_fn_where(r->ls->L, r, where, sizeof(where));
        else
            bsnprintf(where, sizeof(where), "%s", r->what);
    }
    switch (lua_type(co, -1)) {
    case LUA_TSTRING:
        msg = lua_tostring(co, -1);
        break;
    case LUA_TNUMBER:
        bsnprintf(num, sizeof(num), "%.14g", lua_tonumber(co, -1));
        msg = num;
        break;
    default:
        errbuf_set(eb, "%s: error object is a %s value", where,
                   luaL_typename(co, -1));
        return;
    }
    if (status == LUA_ERRMEM || !lrun_positioned(msg))
        errbuf_set(eb, "%s: %s", where, msg);
    else
        errbuf_set(eb, "%s", msg);
}

/* tell the watchdog which function runs (its notes are cleared at every
 * turn of the loop, so each run says it again) */
static void note_script(struct lrun *r)
{
    char where[WATCHDOG_TEXT];

    if (watchdog_active())
        watchdog_note(WD_SCRIPT, lrun_fn_where(r->ls->L, r, where,
                                               sizeof(where)));
}

static int run(struct lrun *r, int nargs, struct errbuf *eb)
{
    lua_State *L = r->ls->L;
    struct resume_ctx x = { r, nargs, LUA_OK };
    struct lbudget *prev = lstate_enter(r->ls, &r->budget);
    struct lrun *prev_call = r->ls->call;
    int rc;

    note_script(r);
    r->ls->call = r;
    lua_pushcfunction(L, resume_main);
    lua_pushlightuserdata(L, &x);
    rc = lua_pcall(L, 1, 0, 0);
    r->ls->call = prev_call;
    lstate_leave(r->ls, prev);
    if (rc != LUA_OK) {             /* the resume itself failed (memory) */
        errbuf_set(eb, "%s: %s", r->what, lua_tostring(L, -1)
                   ? lua_tostring(L, -1) : "error resuming the Lua thread");
        lua_pop(L, 1);
        return LRUN_ERROR;
    }
    if (x.status == LUA_OK)
        return LRUN_OK;
    if (x.status == LUA_YIELD)
        return LRUN_YIELD;
    if (lstate_is_need_dns(r->co, -1))
        return LRUN_NEED_DNS;
    error_text(r, x.status, eb);
    return LRUN_ERROR;
}

/* lrun_start - make r's thread and run it until it ends or yields */
int lrun_start(struct lrun *r, struct errbuf *eb)
{
    lua_State *L = r->ls->L;

    r->co = NULL;
    r->ref = LUA_NOREF;
    lstate_budget_init(r->ls, &r->budget);
    lua_pushcfunction(L, make_thread);
    lua_pushlightuserdata(L, r);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        errbuf_set(eb, "%s: cannot start: %s", r->what,
                   lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        return LRUN_ERROR;
    }
    return run(r, 1, eb);
}

/* lrun_resume - go on after a yield (the binding that yielded pushes its
 * results itself, from its continuation) */
int lrun_resume(struct lrun *r, struct errbuf *eb)
{
    return run(r, 0, eb);
}

/* lrun_end - let the thread go (NULL thread ok) */
void lrun_end(struct lrun *r)
{
    if (r->ref != LUA_NOREF)
        luaL_unref(r->ls->L, LUA_REGISTRYINDEX, r->ref);  /* no allocation */
    r->ref = LUA_NOREF;
    r->co = NULL;
}

/* lrun_call - run r to its end; a yield is an error */
int lrun_call(struct lrun *r, struct errbuf *eb)
{
    int rc = lrun_start(r, eb);
    char where[512];

    if (rc == LRUN_YIELD) {
        errbuf_set(eb, "%s: %s yielded; only ACL functions may wait "
                   "(dns.*)", lrun_fn_where(r->ls->L, r, where,
                                            sizeof(where)), r->what);
        rc = LRUN_ERROR;
    }
    lrun_end(r);
    return rc;
}

/* lrun_fn_where - where r's function is defined */
const char *lrun_fn_where(lua_State *L, struct lrun *r, char *buf,
                          size_t size)
{
    lua_Debug ar;

    bsnprintf(buf, size, "(Lua)");
    if (L == NULL || r->fn < 0 || !lua_checkstack(L, 1))
        return buf;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->fn);
    if (lua_getinfo(L, ">S", &ar))
        bsnprintf(buf, size, "%s:%d", source_name(&ar), ar.linedefined);
    return buf;
}

/* lrun_raise - raise "FILE:LINE: WHAT MESSAGE" about r's results, FILE:LINE
 * being where r's function is defined */
int lrun_raise(lua_State *L, struct lrun *r, const char *fmt, ...)
{
    char where[512], msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);   /* truncation is harmless */
    va_end(ap);
    lua_pushfstring(L, "%s: %s %s", lrun_fn_where(L, r, where,
                                                  sizeof(where)),
                    r->what, msg);
    return lua_error(L);
}

/* lrun_string - a string result (numbers are converted), at most max
 * bytes; raises naming the function otherwise */
const char *lrun_string(lua_State *L, int idx, size_t max, struct lrun *r,
                        const char *field, size_t *len)
{
    size_t n;
    const char *s;

    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER) {
        lrun_raise(L, r, "returned a %s as %s; expected a string",
                   luaL_typename(L, idx), field);
        return NULL;
    }
    s = lua_tolstring(L, idx, &n);
    if (n > max) {
        lrun_raise(L, r, "returned %s of %zu bytes (at most %zu)", field, n,
                   max);
        return NULL;
    }
    if (len != NULL)
        *len = n;
    return s;
}
