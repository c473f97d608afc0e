/*
 * lstate_impl.h - private to lua/ and the DSL (load/l_conf.c): the lstate
 *                 layout and helpers shared by the binding files.
 */
#ifndef TERN_LSTATE_IMPL_H
#define TERN_LSTATE_IMPL_H

#include <lua.h>
#include <lauxlib.h>

#include "core/base/errbuf.h"
#include "lua/lstate.h"

/* The budget of one call into Lua (a routing function, an ACL function
 * through all its resumes, one conf.d file): instructions shared by every
 * coroutine the call runs, and the wall-clock deadline of the current run
 * between yields. */
struct lbudget {
    long left;                  /* instructions left (instr_limit > 0) */
    long long deadline;         /* monotonic ms, 0 = none */
    const char *stopped;        /* why the call was stopped, or NULL */
};

struct lrun;

struct lstate {
    lua_State *L;
    struct conf *conf;
    size_t mem_used;
    size_t mem_limit;
    long instr_limit;
    long time_limit_ms;         /* 0 = none */
    int period;                 /* instructions between two hook calls */
    struct lbudget *run;        /* the budget running now, NULL between */
    struct lrun *call;          /* the l_run.c call running now */
    int env_ref;                /* the shared _ENV of configuration files */
    struct dns_cache *dns;
    lstate_want_fn dns_want;
    void *dns_want_arg;
};

/* the lstate of any thread of the state */
struct lstate *lstate_of(lua_State *L);
/* a fresh budget (instructions) for one call */
void lstate_budget_init(struct lstate *ls, struct lbudget *b);
/* make b the running budget, its deadline now + the time limit; returns
 * the budget to give back to lstate_leave */
struct lbudget *lstate_enter(struct lstate *ls, struct lbudget *b);
void lstate_leave(struct lstate *ls, struct lbudget *prev);
/* count n instructions of work done in C (0: only check the clock); raise
 * "instruction limit exceeded" / "time limit exceeded" when over */
void lstate_charge(lua_State *L, long n);
/* push the sentinel raised when a routing function needs DNS */
void lstate_push_need_dns(lua_State *L);
int lstate_is_need_dns(lua_State *L, int idx);
/* "FILE:LINE" of the calling Lua code at level */
void lstate_where(lua_State *L, int level, const char **file, int *line);

/* add names to the sandbox environment (at stack index env); for the
 * DSL of load/l_conf.c, which stands above lua/ */
void lstate_open_env(struct lstate *ls, void (*open)(struct lstate *, int));
void l_sandbox_open(struct lstate *ls, int env);   /* l_sandbox.c */
void l_pattern_open(lua_State *L, int strlib);     /* l_pattern.c */
void l_lookup_open(struct lstate *ls, int env);    /* l_lookup.c */
void l_verbs_open(struct lstate *ls, int env);     /* l_verbs.c */
void l_dns_open(struct lstate *ls, int env);       /* l_coro_dns.c */
struct dns_answer;
void l_push_dns_answer(lua_State *L, const struct dns_answer *a); /* l_lookup */

/* ---- l_run.c: one protected call in a thread of its own ---- */

/* What a call runs: push() puts the function and its arguments on the
 * thread's stack and returns the number of arguments; take() turns the
 * results (stack indexes base .. base+n-1) into C data and may raise. Both
 * run inside the thread, so an error or the memory cap is a Lua error, and
 * take() reads results with raw access only (no metamethod runs). */
struct lrun {
    struct lstate *ls;
    int (*push)(lua_State *L, struct lrun *r);
    void (*take)(lua_State *L, int base, int n, struct lrun *r);
    void *arg;
    int fn;                     /* registry ref of the function, or -1 */
    const char *what;           /* "route function", for messages */
    struct lbudget budget;
    lua_State *co;              /* the thread, while the call lives */
    int ref;                    /* anchors co */
};

enum { LRUN_OK, LRUN_YIELD, LRUN_ERROR, LRUN_NEED_DNS };

/* lrun_call - run r to its end on a fresh thread (no yields allowed) */
int lrun_call(struct lrun *r, struct errbuf *eb);
/* lrun_start / lrun_resume / lrun_end - a call that may yield (ACLs) */
int lrun_start(struct lrun *r, struct errbuf *eb);
int lrun_resume(struct lrun *r, struct errbuf *eb);
void lrun_end(struct lrun *r);
/* lrun_fn_where - "FILE:LINE" where r's function is defined (for errors
 * about its results) */
const char *lrun_fn_where(lua_State *L, struct lrun *r, char *buf,
                          size_t size);
/* lrun_positioned - msg starts with "SOURCE:LINE:" */
int lrun_positioned(const char *msg);
/* lrun_raise - raise "FILE:LINE: WHAT MESSAGE" about r's results (it
 * does not return; the int is for "return lrun_raise(...)") */
int lrun_raise(lua_State *L, struct lrun *r, const char *fmt, ...)
    TERN_PRINTF(3, 4);
/* lrun_string - the string at idx (strings and numbers), at most max
 * bytes, or raise naming r's function and what */
const char *lrun_string(lua_State *L, int idx, size_t max, struct lrun *r,
                        const char *field, size_t *len);

#endif
