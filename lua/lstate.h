/*
 * lstate.h - the sandboxed Lua state of one configuration generation.
 *
 * Everyone outside lua/ sees only this: a struct lstate handle and calls
 * taking tern types, never a lua_State.
 *
 * INTERFACE: lstate_new/free, lstate_run_file (load one conf.d file into
 *            the shared DSL environment), lstate_set_dns (where dnsdb
 *            lookups in routing functions find answers), lstate_mem_used.
 * ERRORS:    messages are "FILE:LINE: reason" in eb; a script that runs
 *            past the instruction budget (shared by every coroutine one
 *            call runs), its wall-clock limit between yields or the memory
 *            cap is stopped with "instruction limit exceeded" / "time limit
 *            exceeded" / "not enough memory".
 * SECURITY:  the environment is an allow-list: no io, os.execute, load,
 *            require, debug, package; no __gc or __close metamethods;
 *            pattern matching watches the clock; only text chunks are
 *            loaded.
 */
#ifndef TERN_LSTATE_H
#define TERN_LSTATE_H

#include <stddef.h>

struct conf;
struct errbuf;
struct dns_cache;
struct dns_want;

struct lstate;

/* dns_want_fn - record that a routing function needs (type, name) */
typedef void (*lstate_want_fn)(void *arg, int type, const char *name);

struct lstate *lstate_new(struct conf *c, size_t mem_limit, long instr_limit,
                          long time_limit_ms, struct errbuf *eb);
void lstate_free(struct lstate *ls);
void lstate_end_load(struct lstate *ls);
const char *lstate_version(void);
void lstate_set_limits(struct lstate *ls, size_t mem_limit, long instr_limit,
                       long time_limit_ms);
void lstate_set_time_limit(struct lstate *ls, long time_limit_ms);
int lstate_run_file(struct lstate *ls, const char *path, struct errbuf *eb);
void lstate_set_dns(struct lstate *ls, struct dns_cache *cache,
                    lstate_want_fn want, void *arg);
size_t lstate_mem_used(const struct lstate *ls);

#endif
