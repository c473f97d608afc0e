/*
 * xalloc.c - allocation wrappers that call fatal() on exhaustion.
 *
 * PURPOSE: one place for out-of-memory handling (OpenSMTPD's xmalloc,
 * Postfix's mymalloc), so callers never test for NULL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fatal.h"
#include "xalloc.h"

/* xmalloc - malloc or die */
void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        fatal("out of memory allocating %zu bytes", size);
    return p;
}

/* xcalloc - calloc or die */
void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        fatal("out of memory allocating %zu x %zu bytes", nmemb, size);
    return p;
}

/* xrealloc - realloc or die */
void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        fatal("out of memory reallocating %zu bytes", size);
    return p;
}

/* xreallocarray - realloc with an overflow-checked element count */
void *xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        fatal("allocation size overflow (%zu x %zu)", nmemb, size);
    return xrealloc(ptr, nmemb * size);
}

/* xstrdup - strdup or die */
char *xstrdup(const char *s)
{
    return xmemdup(s, strlen(s) + 1);
}

/* xstrndup - copy at most n bytes of s and terminate */
char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* xmemdup - copy n bytes */
void *xmemdup(const void *src, size_t n)
{
    void *p = xmalloc(n);

    memcpy(p, src, n);
    return p;
}
