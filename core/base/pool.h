/*
 * pool.h - region allocator: many small allocations, one release.
 *
 * Lifetimes are pools (STYLE §4): one per routing run, per session, per
 * transaction, per config generation. Individual objects are never freed.
 *
 * INTERFACE: pool_new, pool_free (NULL ok), pool_reset, pool_alloc,
 *            pool_zalloc, pool_strdup, pool_strndup, pool_memdup,
 *            pool_printf, pool_bytes (bytes held, for tests and limits),
 *            pool_cleanup (run fn(arg) when the pool is freed or reset:
 *            for objects a pool owns that live outside it, such as a
 *            compiled regex or an open lookup spec).
 * ERRORS:    exhaustion calls fatal().
 */
#ifndef TERN_POOL_H
#define TERN_POOL_H

#include <stddef.h>

#include "fatal.h"

struct pool;

struct pool *pool_new(void);
void pool_free(struct pool *p);
void pool_reset(struct pool *p);
void *pool_alloc(struct pool *p, size_t size);
void *pool_zalloc(struct pool *p, size_t size);
char *pool_strdup(struct pool *p, const char *s);
char *pool_strndup(struct pool *p, const char *s, size_t n);
void *pool_memdup(struct pool *p, const void *src, size_t n);
char *pool_printf(struct pool *p, const char *fmt, ...) TERN_PRINTF(2, 3);
size_t pool_bytes(const struct pool *p);
void pool_cleanup(struct pool *p, void (*fn)(void *), void *arg);

#endif
