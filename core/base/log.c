/*
 * log.c - stderr warnings and masked debug traces.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static unsigned debug_mask;

/* log_warn - a warning on stderr */
void log_warn(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: warning: ", fatal_progname());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* log_debug - a trace line on stderr when mask is enabled */
void log_debug(unsigned mask, const char *fmt, ...)
{
    va_list ap;

    if ((debug_mask & mask) == 0)
        return;
    fputs("  ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* log_set_debug - enable the trace classes in mask */
void log_set_debug(unsigned mask)
{
    debug_mask = mask;
}

/* log_debug_enabled - nonzero when any class in mask is on */
unsigned log_debug_enabled(unsigned mask)
{
    return debug_mask & mask;
}

/* log_debug_parse - "all" or a comma list of route,dns,lua,lookup,conf,smtp */
int log_debug_parse(const char *spec, unsigned *mask)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        { "all", DBG_ALL }, { "route", DBG_ROUTE }, { "dns", DBG_DNS },
        { "lua", DBG_LUA }, { "lookup", DBG_LOOKUP }, { "conf", DBG_CONF },
        { "smtp", DBG_SMTP },
    };
    char word[32];
    size_t n;

    *mask = 0;
    while (*spec != '\0') {
        n = strcspn(spec, ",+");
        if (n == 0 || n >= sizeof(word))
            return -1;
        memcpy(word, spec, n);
        word[n] = '\0';
        size_t i;
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(word, names[i].name) == 0)
                break;
        if (i == sizeof(names) / sizeof(names[0]))
            return -1;
        *mask |= names[i].bit;
        spec += n;
        if (*spec != '\0')
            spec++;
    }
    return 0;
}
