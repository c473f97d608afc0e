/*
 * log.h - warnings and debug traces.
 *
 * The Exim-shaped mainlog/rejectlog/paniclog writers arrive with the SMTP
 * server; this module already owns stderr diagnostics and debug masks so
 * every layer reports the same way.
 *
 * INTERFACE: log_warn (stderr, "tern: warning: ..."), log_debug(mask, ...)
 *            (written when the mask is enabled by -d), log_vterm (a line
 *            with a prefix, for -bh's ">>> " trace), log_set_debug,
 *            log_debug_enabled, log_debug_parse ("all", "route,dns", ...).
 * Every line is escaped as esc.h says (one line, no control sequence).
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>

#include "fatal.h"

enum {
    DBG_ROUTE  = 1 << 0,
    DBG_DNS    = 1 << 1,
    DBG_LUA    = 1 << 2,
    DBG_LOOKUP = 1 << 3,
    DBG_CONF   = 1 << 4,
    DBG_SMTP   = 1 << 5,
    DBG_ALL    = 0xffff
};

void log_warn(const char *fmt, ...) TERN_PRINTF(1, 2);
/* log_vterm - prefix then the text, escaped, as one line on stderr */
void log_vterm(const char *prefix, const char *fmt, va_list ap)
    TERN_PRINTF(2, 0);
void log_debug(unsigned mask, const char *fmt, ...) TERN_PRINTF(2, 3);
void log_set_debug(unsigned mask);
unsigned log_debug_enabled(unsigned mask);
int log_debug_parse(const char *spec, unsigned *mask);

#endif
