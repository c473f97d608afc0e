/*
 * strbuf.c - growable strings with overflow-checked growth.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "strbuf.h"

#define SB_MIN_CAP 64

/* sb_init - an empty string with a small buffer */
void sb_init(struct strbuf *sb)
{
    sb->cap = SB_MIN_CAP;
    sb->len = 0;
    sb->data = xmalloc(sb->cap);
    sb->data[0] = '\0';
}

/* sb_free - release the storage; the handle may be sb_init'ed again */
void sb_free(struct strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

/* sb_reset - empty the string, keep the storage */
void sb_reset(struct strbuf *sb)
{
    sb_truncate(sb, 0);
}

/* sb_truncate - shorten to len bytes (no-op if already shorter) */
void sb_truncate(struct strbuf *sb, size_t len)
{
    if (len < sb->len) {
        sb->len = len;
        sb->data[len] = '\0';
    }
}

/* sb_reserve - make room for extra more bytes plus the terminator */
void sb_reserve(struct strbuf *sb, size_t extra)
{
    size_t need, cap;

    if (extra > SIZE_MAX - sb->len - 1)
        fatal("string too long");
    need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    cap = sb->cap ? sb->cap : SB_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    sb->data = xrealloc(sb->data, cap);
    sb->cap = cap;
}

/* sb_append - append n bytes (may contain NUL) */
void sb_append(struct strbuf *sb, const void *p, size_t n)
{
    sb_reserve(sb, n);
    memcpy(sb->data + sb->len, p, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

/* sb_puts - append a C string */
void sb_puts(struct strbuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

/* sb_putc - append one byte */
void sb_putc(struct strbuf *sb, char c)
{
    sb_append(sb, &c, 1);
}

/* sb_vprintf - append formatted text */
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        fatal("sb_vprintf: bad format");
    if ((size_t)n >= sb->cap - sb->len) {
        sb_reserve(sb, (size_t)n);
        n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
        if (n < 0)
            fatal("sb_vprintf: bad format");
    }
    sb->len += (size_t)n;
}

/* sb_printf - append formatted text */
void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

/* bsnprintf - snprintf that returns -1 when the output did not fit */
int bsnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return n;
}
