/*
 * log.c - stderr warnings, masked debug traces and -bh's ACL trace.
 *
 * SECURITY: the lines carry hostile text (SMTP commands, DNS names,
 * Lua errors) to a terminal: each is escaped by esc_text (esc.h) so it
 * is one line and holds no control sequence. Nothing is allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "esc.h"
#include "log.h"

#define TERM_LINE_MAX 8192

static unsigned debug_mask;

/* log_vterm - prefix and the formatted text, escaped, as one stderr line */
void log_vterm(const char *prefix, const char *fmt, va_list ap)
{
    char raw[TERM_LINE_MAX], out[TERM_LINE_MAX];
    int r = vsnprintf(raw, sizeof(raw), fmt, ap);
    size_t n, len, used;

    n = r < 0 ? 0 : (size_t)r < sizeof(raw) ? (size_t)r : sizeof(raw) - 1;
    len = esc_text(out, sizeof(out) - 3, raw, n, 0, &used);
    if (r > 0 && used < (size_t)r) {
        memcpy(out + len, "...", 3);
        len += 3;
    }
    fprintf(stderr, "%s%.*s\n", prefix, (int)len, out);
}

/* log_warn - a warning on stderr */
void log_warn(const char *fmt, ...)
{
    char prefix[64];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "%s: warning: ", fatal_progname());
    va_start(ap, fmt);
    log_vterm(prefix, fmt, ap);
    va_end(ap);
}

/* log_debug - a trace line on stderr when mask is enabled */
void log_debug(unsigned mask, const char *fmt, ...)
{
    va_list ap;

    if ((debug_mask & mask) == 0)
        return;
    va_start(ap, fmt);
    log_vterm("  ", fmt, ap);
    va_end(ap);
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
