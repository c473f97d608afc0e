/*
 * lstate.c - Lua state creation, the sandbox environment, memory cap and
 *            instruction budget.
 *
 * PURPOSE: one lua_State per process per configuration generation, with a
 * counting allocator (memory cap) and an allow-listed _ENV (Redis's idea,
 * with stock 5.4 tables). The count hook stops a runaway script; once it
 * fires it re-arms itself to fire on every instruction so pcall cannot
 * swallow the stop (Redis luaMaskCountHook).
 * SECURITY: no io, os.execute/exit/remove, load/loadfile/dofile, require,
 * package, debug, collectgarbage; chunks are loaded in text mode only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "core/base/errbuf.h"
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "lua/lstate_impl.h"

static const char REG_KEY[] = "tern.lstate";
static const char NEED_DNS_KEY[] = "tern.need_dns";

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lstate *ls = ud;
    size_t old = ptr ? osize : 0;

    if (nsize == 0) {
        free(ptr);
        ls->mem_used -= old;
        return NULL;
    }
    if (nsize > old && ls->mem_limit
        && ls->mem_used - old + nsize > ls->mem_limit)
        return NULL;            /* Lua raises "not enough memory" */
    void *p = realloc(ptr, nsize);
    if (p != NULL)
        ls->mem_used = ls->mem_used - old + nsize;
    return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    /* fire again at once if the error is caught by pcall */
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, 0);           /* the interrupted function's file:line */
    lua_pushstring(L, "instruction limit exceeded");
    lua_concat(L, 2);
    lua_error(L);
}

/* lstate_arm - start a fresh instruction budget */
void lstate_arm(struct lstate *ls)
{
    if (ls->instr_limit > 0)
        lua_sethook(ls->L, budget_hook, LUA_MASKCOUNT,
                    (int)(ls->instr_limit > 0x7fffffff ? 0x7fffffff
                                                       : ls->instr_limit));
}

/* lstate_arm_thread - a fresh budget for one resume of co */
void lstate_arm_thread(struct lstate *ls, lua_State *co)
{
    if (ls->instr_limit > 0)
        lua_sethook(co, budget_hook, LUA_MASKCOUNT,
                    (int)(ls->instr_limit > 0x7fffffff ? 0x7fffffff
                                                       : ls->instr_limit));
}

/* lstate_disarm_thread - no budget between resumes */
void lstate_disarm_thread(lua_State *co)
{
    lua_sethook(co, NULL, 0, 0);
}

/* lstate_disarm - no budget outside calls */
void lstate_disarm(struct lstate *ls)
{
    lua_sethook(ls->L, NULL, 0, 0);
}

/* lstate_of - the owning lstate */
struct lstate *lstate_of(lua_State *L)
{
    struct lstate *ls;

    lua_getfield(L, LUA_REGISTRYINDEX, REG_KEY);
    ls = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return ls;
}

/* lstate_push_need_dns - the unique sentinel value */
void lstate_push_need_dns(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, NEED_DNS_KEY);
}

/* lstate_is_need_dns - is the value at idx the sentinel */
int lstate_is_need_dns(lua_State *L, int idx)
{
    int same;

    idx = lua_absindex(L, idx);
    lstate_push_need_dns(L);
    same = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return same;
}

/* lstate_where - source file and line of the Lua caller at level */
void lstate_where(lua_State *L, int level, const char **file, int *line)
{
    lua_Debug ar;

    *file = "?";
    *line = 0;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar)) {
        *file = ar.source[0] == '@' || ar.source[0] == '=' ? ar.source + 1
                                                           : ar.source;
        *line = ar.currentline;
    }
}

/* lstate_fn_where - "FILE:LINE" where the function at idx was defined
 * (for the watchdog's notes; "?" for a C function) */
void lstate_fn_where(lua_State *L, int idx, char *buf, size_t size)
{
    lua_Debug ar;

    lua_pushvalue(L, idx);
    if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0)
        snprintf(buf, size, "%s:%d", ar.short_src, ar.linedefined);
    else
        snprintf(buf, size, "?");
}

/* lstate_note_fn - tell the watchdog that the function at idx runs */
void lstate_note_fn(lua_State *L, int idx)
{
    char where[WATCHDOG_TEXT];

    if (!watchdog_active())
        return;
    lstate_fn_where(L, idx, where, sizeof(where));
    watchdog_note(WD_SCRIPT, where);
}

static void copy_fields(lua_State *L, int from, int to, const char *const *names)
{
    for (; *names != NULL; names++) {
        lua_getfield(L, from, *names);
        lua_setfield(L, to, *names);
    }
}

static void copy_library(lua_State *L, int env, const char *lib,
                         const char *const *names)
{
    lua_getglobal(L, lib);
    int from = lua_gettop(L);
    lua_newtable(L);
    if (names == NULL) {
        lua_pushnil(L);
        while (lua_next(L, from) != 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    } else {
        copy_fields(L, from, lua_gettop(L), names);
    }
    lua_setfield(L, env, lib);
    lua_pop(L, 1);
}

static void build_env(struct lstate *ls)
{
    static const char *const base[] = {
        "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
        "tonumber", "tostring", "type", "xpcall", "rawequal", "rawget",
        "rawlen", "rawset", "setmetatable", "getmetatable", "print",
        "_VERSION", NULL };
    static const char *const os_safe[] = { "time", "date", "clock",
                                           "difftime", NULL };
    lua_State *L = ls->L;

    lua_newtable(L);
    int env = lua_gettop(L);
    lua_pushglobaltable(L);
    copy_fields(L, lua_gettop(L), env, base);
    lua_pop(L, 1);
    copy_library(L, env, "string", NULL);
    lua_getfield(L, env, "string");     /* bytecode is never loaded: no dump */
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    copy_library(L, env, "table", NULL);
    copy_library(L, env, "math", NULL);
    copy_library(L, env, "utf8", NULL);
    copy_library(L, env, "coroutine", NULL);
    copy_library(L, env, "os", os_safe);
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    l_lookup_open(ls, env);
    l_verbs_open(ls, env);
    l_dns_open(ls, env);
    ls->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static int open_libs(lua_State *L)
{
    luaL_openlibs(L);
    return 0;
}

/* lstate_new - a sandboxed state for configuration c */
struct lstate *lstate_new(struct conf *c, size_t mem_limit, long instr_limit,
                          struct errbuf *eb)
{
    struct lstate *ls = xcalloc(1, sizeof(*ls));

    ls->conf = c;
    ls->mem_limit = 0;          /* the standard libraries load uncapped */
    ls->L = lua_newstate(counting_alloc, ls);
    if (ls->L == NULL) {
        errbuf_set(eb, "cannot create the Lua state");
        free(ls);
        return NULL;
    }
    lua_pushcfunction(ls->L, open_libs);
    if (lua_pcall(ls->L, 0, 0, 0) != LUA_OK) {
        errbuf_set(eb, "cannot open the Lua libraries");
        lstate_free(ls);
        return NULL;
    }
    lua_pushlightuserdata(ls->L, ls);
    lua_setfield(ls->L, LUA_REGISTRYINDEX, REG_KEY);
    lua_newtable(ls->L);            /* a unique table as the sentinel */
    lua_setfield(ls->L, LUA_REGISTRYINDEX, NEED_DNS_KEY);
    build_env(ls);
    lstate_set_limits(ls, mem_limit, instr_limit);
    return ls;
}

/* lstate_set_limits - memory the state may use beyond what it holds now
 * (bytes, 0 none) and the instruction budget of each call */
void lstate_set_limits(struct lstate *ls, size_t mem_limit, long instr_limit)
{
    ls->mem_limit = mem_limit ? ls->mem_used + mem_limit : 0;
    ls->instr_limit = instr_limit;
}

/* lstate_version - "Lua 5.4.x" */
const char *lstate_version(void)
{
    return LUA_RELEASE;
}

/* lstate_open_env - call open(ls, env) with the sandbox environment at
 * stack index env, to add names to it (the loader's DSL) */
void lstate_open_env(struct lstate *ls, void (*open)(struct lstate *, int))
{
    lua_rawgeti(ls->L, LUA_REGISTRYINDEX, ls->env_ref);
    open(ls, lua_gettop(ls->L));
    lua_pop(ls->L, 1);
}

/* lstate_end_load - definitions are refused from now on */
void lstate_end_load(struct lstate *ls)
{
    ls->conf = NULL;
}

/* lstate_free - close the state (NULL ok) */
void lstate_free(struct lstate *ls)
{
    if (ls == NULL)
        return;
    if (ls->L != NULL)
        lua_close(ls->L);
    free(ls);
}

/* lstate_mem_used - bytes the state holds */
size_t lstate_mem_used(const struct lstate *ls)
{
    return ls->mem_used;
}

/* lstate_set_dns - answers for dnsdb lookups made by routing functions */
void lstate_set_dns(struct lstate *ls, struct dns_cache *cache,
                    lstate_want_fn want, void *arg)
{
    ls->dns = cache;
    ls->dns_want = want;
    ls->dns_want_arg = arg;
}

/* lstate_run_file - run one configuration file in the shared environment */
int lstate_run_file(struct lstate *ls, const char *path, struct errbuf *eb)
{
    lua_State *L = ls->L;
    int rc;

    rc = luaL_loadfilex(L, path, "t");
    if (rc != LUA_OK) {
        errbuf_set(eb, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->env_ref);
    if (lua_setupvalue(L, -2, 1) == NULL)
        lua_pop(L, 1);
    lstate_arm(ls);
    rc = lua_pcall(L, 0, 0, 0);
    lstate_disarm(ls);
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL)
            msg = "error object is not a string";
        if (strstr(msg, path) == NULL && strstr(msg, ".lua:") == NULL)
            errbuf_set(eb, "%s: %s", path, msg);    /* e.g. out of memory */
        else
            errbuf_set(eb, "%s", msg);
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}
