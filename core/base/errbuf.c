/*
 * errbuf.c - error message buffers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"

/* errbuf_set - replace the message */
void errbuf_set(struct errbuf *eb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
    va_end(ap);
}

/* errbuf_prefix - put formatted text before the current message */
void errbuf_prefix(struct errbuf *eb, const char *fmt, ...)
{
    char head[512], old[sizeof(eb->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, eb->msg, sizeof(old));
    snprintf(eb->msg, sizeof(eb->msg), "%s%s", head, old);
}
