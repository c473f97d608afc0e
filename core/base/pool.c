/*
 * pool.c - region allocator built from a chain of blocks.
 *
 * Small requests are carved from the current block; a request larger than a
 * quarter block gets a block of its own so it does not waste the tail.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "pool.h"

#define POOL_FIRST_BLOCK 512     /* most pools stay small: one address */
#define POOL_BLOCK 8192
#define POOL_ALIGN 16

struct pool_block {
    struct pool_block *next;
    size_t size;                /* usable bytes after the header */
    size_t used;
    _Alignas(POOL_ALIGN) unsigned char mem[];
};

struct pool_cleanup {
    struct pool_cleanup *next;
    void (*fn)(void *);
    void *arg;
};

struct pool {
    struct pool_cleanup *cleanups;  /* run newest first */
    struct pool_block *head;    /* current block for small requests */
    struct pool_block *big;     /* dedicated blocks for large requests */
    size_t bytes;
};

static struct pool_block *block_new(size_t size)
{
    struct pool_block *b;

    if (size > SIZE_MAX - sizeof(*b))
        fatal("pool allocation too large");
    b = xmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

static void chain_free(struct pool_block *b)
{
    while (b != NULL) {
        struct pool_block *next = b->next;
        free(b);
        b = next;
    }
}

/* pool_new - an empty pool */
struct pool *pool_new(void)
{
    return xcalloc(1, sizeof(struct pool));
}

static void run_cleanups(struct pool *p)
{
    struct pool_cleanup *c = p->cleanups;

    p->cleanups = NULL;
    for (; c != NULL; c = c->next)
        c->fn(c->arg);
}

/* pool_cleanup - call fn(arg) when the pool is reset or freed */
void pool_cleanup(struct pool *p, void (*fn)(void *), void *arg)
{
    struct pool_cleanup *c = pool_alloc(p, sizeof(*c));

    c->fn = fn;
    c->arg = arg;
    c->next = p->cleanups;
    p->cleanups = c;
}

/* pool_free - release the pool and everything allocated from it */
void pool_free(struct pool *p)
{
    if (p == NULL)
        return;
    run_cleanups(p);
    chain_free(p->head);
    chain_free(p->big);
    free(p);
}

/* pool_reset - release everything but keep one block for reuse */
void pool_reset(struct pool *p)
{
    run_cleanups(p);
    if (p->head != NULL) {
        chain_free(p->head->next);
        p->head->next = NULL;
        p->head->used = 0;
        p->bytes = p->head->size;
    } else {
        p->bytes = 0;
    }
    chain_free(p->big);
    p->big = NULL;
}

/* pool_alloc - size bytes aligned to 16, valid until reset/free */
void *pool_alloc(struct pool *p, size_t size)
{
    struct pool_block *b;
    size_t need = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);

    if (need < size)
        fatal("pool allocation too large");
    if (need > POOL_BLOCK / 4) {
        b = block_new(need);
        b->next = p->big;
        p->big = b;
        p->bytes += need;
        return b->mem;
    }
    b = p->head;
    if (b == NULL || b->size - b->used < need) {
        /* blocks grow from POOL_FIRST_BLOCK to POOL_BLOCK */
        size_t bsize = b == NULL ? POOL_FIRST_BLOCK
                       : b->size * 2 > POOL_BLOCK ? POOL_BLOCK : b->size * 2;
        while (bsize < need)
            bsize *= 2;
        b = block_new(bsize);
        b->next = p->head;
        p->head = b;
        p->bytes += bsize;
    }
    b->used += need;
    return b->mem + b->used - need;
}

/* pool_zalloc - zeroed pool_alloc */
void *pool_zalloc(struct pool *p, size_t size)
{
    void *m = pool_alloc(p, size);

    memset(m, 0, size);
    return m;
}

/* pool_memdup - copy n bytes into the pool */
void *pool_memdup(struct pool *p, const void *src, size_t n)
{
    void *m = pool_alloc(p, n);

    memcpy(m, src, n);
    return m;
}

/* pool_strndup - copy at most n bytes of s, terminated */
char *pool_strndup(struct pool *p, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *m = pool_alloc(p, len + 1);

    memcpy(m, s, len);
    m[len] = '\0';
    return m;
}

/* pool_strdup - copy a C string into the pool */
char *pool_strdup(struct pool *p, const char *s)
{
    return pool_memdup(p, s, strlen(s) + 1);
}

/* pool_printf - formatted string in the pool */
char *pool_printf(struct pool *p, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *m;

    if (fmt == NULL)    /* also keeps gcc -fsanitize=undefined from a false
                           "null format string" error */
        panic("pool_printf: NULL format");
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatal("pool_printf: bad format");
    m = pool_alloc(p, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(m, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return m;
}

/* pool_bytes - bytes of block storage the pool holds */
size_t pool_bytes(const struct pool *p)
{
    return p->bytes;
}
