/*
 * errbuf.h - a fixed buffer that carries one error message upward.
 *
 * INTERFACE: errbuf_set (printf-style, truncates safely), errbuf_clear,
 *            errbuf_prefix (prepend "where: ").
 */
#ifndef TERN_ERRBUF_H
#define TERN_ERRBUF_H

#include "fatal.h"

struct errbuf {
    char msg[1024];
};

void errbuf_set(struct errbuf *eb, const char *fmt, ...) TERN_PRINTF(2, 3);
void errbuf_prefix(struct errbuf *eb, const char *fmt, ...) TERN_PRINTF(2, 3);
static inline void errbuf_clear(struct errbuf *eb) { eb->msg[0] = '\0'; }

#endif
