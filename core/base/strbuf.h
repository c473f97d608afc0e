/*
 * strbuf.h - length-tracked, binary-safe, always NUL-terminated strings.
 *
 * A struct strbuf is a stable handle (Postfix VSTRING style): the struct stays
 * put while its storage grows, so pointers to the handle remain valid.
 *
 * INTERFACE: sb_init, sb_free, sb_reset, sb_truncate, sb_append, sb_puts,
 *            sb_putc, sb_printf, sb_vprintf, sb_str, sb_len;
 *            bsnprintf - snprintf that reports truncation as -1.
 * ERRORS:    growth overflow or exhaustion calls fatal().
 */
#ifndef TERN_STRBUF_H
#define TERN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "fatal.h"

struct strbuf {
    char *data;     /* never NULL after sb_init; data[len] == '\0' */
    size_t len;
    size_t cap;
};

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_truncate(struct strbuf *sb, size_t len);
void sb_reserve(struct strbuf *sb, size_t extra);
void sb_append(struct strbuf *sb, const void *p, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
void sb_printf(struct strbuf *sb, const char *fmt, ...) TERN_PRINTF(2, 3);
void sb_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static inline const char *sb_str(const struct strbuf *sb) { return sb->data; }
static inline size_t sb_len(const struct strbuf *sb) { return sb->len; }

int bsnprintf(char *buf, size_t size, const char *fmt, ...) TERN_PRINTF(3, 4);

#endif
