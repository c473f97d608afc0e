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
    size_t hl = strlen(head), room = sizeof(eb->msg) - 1;

    memcpy(old, eb->msg, sizeof(old));
    if (hl > room)
        hl = room;
    memcpy(eb->msg, head, hl);
    size_t ol = strnlen(old, room - hl);
    memcpy(eb->msg + hl, old, ol);
    eb->msg[hl + ol] = '\0';
}
