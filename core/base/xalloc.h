/*
 * xalloc.h - allocation that never returns NULL.
 *
 * INTERFACE: xmalloc, xcalloc, xrealloc, xstrdup, xstrndup, xmemdup,
 *            xreallocarray.
 * ERRORS:    on exhaustion every function calls fatal(): the environment is
 *            broken, accepted mail is already on disk, the caller never
 *            checks for NULL.
 */
#ifndef TERN_XALLOC_H
#define TERN_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
