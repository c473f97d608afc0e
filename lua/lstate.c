/*
 * lstate.c - Lua state creation, memory cap, and the budget of a call:
 *            instructions and wall-clock time.
 *
 * PURPOSE: one lua_State per process per configuration generation, with a
 * counting allocator (memory cap). A count hook, set on the main thread
 * when the state is made and so inherited by every thread created from it
 * (lua_newthread copies the hook), charges each `period` instructions to
 * the budget of the call running now (ls->run): one budget for the whole
 * call, whichever coroutine runs the instructions, and a deadline checked
 * at the same time. Work done in C (pattern matching, table moves, new
 * coroutines) is charged through lstate_charge. Once a call is over, the
 * hook re-arms itself to fire on every instruction so pcall cannot
 * swallow the stop (Redis luaMaskCountHook).
 * INTERFACE: lstate.h; lstate_of, lstate_budget_init, lstate_enter,
 *            lstate_leave, lstate_charge, lstate_where and the need-DNS
 *            sentinel (lstate_impl.h).
 * SECURITY: the sandbox itself is built by l_sandbox.c; chunks are loaded
 *           in text mode only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "core/base/errbuf.h"
#include "core/base/xalloc.h"
#include "lua/lstate_impl.h"

#define HOOK_PERIOD 1000        /* instructions between two budget checks */
#define TIME_LIMIT_MAX_MS (1000LL * 86400 * 365)   /* no overflow past it */

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

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* charge n instructions to b; 1 when the call must stop */
static int over_budget(struct lstate *ls, struct lbudget *b, long n)
{
    if (b->stopped != NULL)
        return 1;
    b->left -= n;
    if (ls->instr_limit > 0 && b->left < 0)
        b->stopped = "instruction limit exceeded";
    else if (b->deadline != 0 && now_ms() >= b->deadline)
        b->stopped = "time limit exceeded";
    return b->stopped != NULL;
}

static void budget_hook(lua_State *L, lua_Debug *ar);

/* raise the stop, naming the Lua code at level; the hook now fires on
 * every instruction of this thread, so pcall cannot swallow it */
static int raise_stop(lua_State *L, int level, const char *why)
{
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, level);
    lua_pushstring(L, why);
    lua_concat(L, 2);
    return lua_error(L);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    struct lstate *ls = lstate_of(L);
    struct lbudget *b = ls->run;
    int n = lua_gethookcount(L);

    (void)ar;
    if (b == NULL)
        return;
    if (b->stopped == NULL && n != ls->period)  /* left at 1 by a stop */
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, ls->period);
    if (over_budget(ls, b, n))
        raise_stop(L, 0, b->stopped);
}

/* lstate_charge - count n instructions of work done in C (0: only look
 * at the clock); raise when the call is over its budget */
void lstate_charge(lua_State *L, long n)
{
    struct lstate *ls = lstate_of(L);

    if (ls->run != NULL && over_budget(ls, ls->run, n))
        raise_stop(L, 1, ls->run->stopped);
}

/* lstate_budget_init - the budget of a new call */
void lstate_budget_init(struct lstate *ls, struct lbudget *b)
{
    b->left = ls->instr_limit;
    b->deadline = 0;
    b->stopped = NULL;
}

/* lstate_enter - b runs now, until now + the time limit */
struct lbudget *lstate_enter(struct lstate *ls, struct lbudget *b)
{
    struct lbudget *prev = ls->run;

    ls->run = b;
    b->deadline = ls->time_limit_ms > 0 ? now_ms() + ls->time_limit_ms : 0;
    return prev;
}

/* lstate_leave - back to the budget that ran before (usually none) */
void lstate_leave(struct lstate *ls, struct lbudget *prev)
{
    ls->run = prev;
}

/* lstate_of - the owning lstate (every thread copies the main thread's
 * extra space when it is made) */
struct lstate *lstate_of(lua_State *L)
{
    return *(struct lstate **)lua_getextraspace(L);
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

    if (!lua_checkstack(L, 1))
        return 0;
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

static int open_libs(lua_State *L)
{
    struct lstate *ls = lua_touserdata(L, 1);

    luaL_openlibs(L);
    lua_newtable(L);            /* a unique table as the sentinel */
    lua_setfield(L, LUA_REGISTRYINDEX, NEED_DNS_KEY);
    lua_newtable(L);
    l_sandbox_open(ls, lua_gettop(L));
    ls->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* lstate_new - a sandboxed state for configuration c */
struct lstate *lstate_new(struct conf *c, size_t mem_limit, long instr_limit,
                          long time_limit_ms, struct errbuf *eb)
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
    *(struct lstate **)lua_getextraspace(ls->L) = ls;
    lua_pushcfunction(ls->L, open_libs);
    lua_pushlightuserdata(ls->L, ls);
    if (lua_pcall(ls->L, 1, 0, 0) != LUA_OK) {
        errbuf_set(eb, "cannot open the Lua libraries");
        lstate_free(ls);
        return NULL;
    }
    lstate_set_limits(ls, mem_limit, instr_limit, time_limit_ms);
    return ls;
}

/* lstate_set_limits - memory the state may use beyond what it holds now
 * (bytes, 0 none), the instruction budget of each call (0 none) and the
 * wall-clock limit of each run between yields (ms, 0 none) */
void lstate_set_limits(struct lstate *ls, size_t mem_limit, long instr_limit,
                       long time_limit_ms)
{
    ls->mem_limit = mem_limit ? ls->mem_used + mem_limit : 0;
    ls->instr_limit = instr_limit;
    lstate_set_time_limit(ls, time_limit_ms);
    ls->period = instr_limit > 0 && instr_limit < HOOK_PERIOD
                 ? (int)instr_limit : HOOK_PERIOD;
    lua_sethook(ls->L, budget_hook, LUA_MASKCOUNT, ls->period);
}

/* lstate_set_time_limit - the wall-clock limit alone (ms, 0 none) */
void lstate_set_time_limit(struct lstate *ls, long time_limit_ms)
{
    ls->time_limit_ms = time_limit_ms < 0 ? 0
                        : time_limit_ms > TIME_LIMIT_MAX_MS ? TIME_LIMIT_MAX_MS
                        : time_limit_ms;
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

/* lstate_free - close the state (NULL ok); sandboxed code cannot set
 * __gc, so closing runs no script */
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

/* load path as a text chunk with the shared _ENV; the messages Lua gives
 * without a position (a binary chunk) get "FILE:1:" */
static int push_file(lua_State *L, struct lrun *r)
{
    const char *path = r->arg;
    int rc = luaL_loadfilex(L, path, "t");

    if (rc == LUA_ERRSYNTAX && !lrun_positioned(lua_tostring(L, -1))) {
        lua_pushfstring(L, "%s:1: %s", path, lua_tostring(L, -1));
        return lua_error(L);
    }
    if (rc != LUA_OK)
        return lua_error(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lstate_of(L)->env_ref);
    if (lua_setupvalue(L, -2, 1) == NULL)
        lua_pop(L, 1);
    return 0;
}

/* lstate_run_file - run one configuration file in the shared environment,
 * under the budget of one call */
int lstate_run_file(struct lstate *ls, const char *path, struct errbuf *eb)
{
    struct lrun r = { .ls = ls, .push = push_file, .arg = (void *)path,
                      .fn = -1, .what = path };

    switch (lrun_call(&r, eb)) {
    case LRUN_OK:
        return 0;
    case LRUN_NEED_DNS:
        errbuf_set(eb, "%s: lookup.dnsdb cannot be used while the "
                   "configuration is loaded", path);
        return -1;
    default:
        return -1;
    }
}
