/*
 * lstate_impl.h - private to lua/ and the DSL (load/l_conf.c): the lstate
 *                 layout and helpers shared by the binding files.
 */
#ifndef TERN_LSTATE_IMPL_H
#define TERN_LSTATE_IMPL_H

#include <lua.h>
#include <lauxlib.h>

#include "lua/lstate.h"

struct lstate {
    lua_State *L;
    struct conf *conf;
    size_t mem_used;
    size_t mem_limit;
    long instr_limit;
    int env_ref;                /* the shared _ENV of configuration files */
    struct dns_cache *dns;
    lstate_want_fn dns_want;
    void *dns_want_arg;
};

/* the lstate of a lua_State (kept in the registry) */
struct lstate *lstate_of(lua_State *L);
/* arm the instruction budget before a call into Lua */
void lstate_arm(struct lstate *ls);
void lstate_disarm(struct lstate *ls);
/* push the sentinel raised when a routing function needs DNS */
void lstate_push_need_dns(lua_State *L);
int lstate_is_need_dns(lua_State *L, int idx);
/* "FILE:LINE" of the calling Lua code at level */
void lstate_where(lua_State *L, int level, const char **file, int *line);
/* "FILE:LINE" where the function at idx was defined; lstate_note_fn
 * hands it to the watchdog (watchdog.h) as the script that runs */
void lstate_fn_where(lua_State *L, int idx, char *buf, size_t size);
void lstate_note_fn(lua_State *L, int idx);

/* add names to the sandbox environment (at stack index env); for the
 * DSL of load/l_conf.c, which stands above lua/ */
void lstate_open_env(struct lstate *ls, void (*open)(struct lstate *, int));
void l_lookup_open(struct lstate *ls, int env);    /* l_lookup.c */
void l_verbs_open(struct lstate *ls, int env);     /* l_verbs.c */
void l_dns_open(struct lstate *ls, int env);       /* l_coro.c */
struct dns_answer;
void l_push_dns_answer(lua_State *L, const struct dns_answer *a); /* l_lookup */
/* the instruction budget of one resume of a coroutine */
void lstate_arm_thread(struct lstate *ls, lua_State *co);
void lstate_disarm_thread(lua_State *co);

#endif
