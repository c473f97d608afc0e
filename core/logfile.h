/*
 * logfile.h - the Exim-shaped log files: mainlog, rejectlog, paniclog
 *             (DESIGN §10).
 *
 * log_file_path is a pattern with "%s" replaced by main, reject or panic
 * ("/var/log/tern/%slog"); "syslog" sends lines to syslog instead, and
 * "syslog : PATH" does both. Every line starts with "YYYY-MM-DD HH:MM:SS "
 * local time, then the text; message lines put the message id first.
 * Files are opened O_APPEND (several worker processes share them; each
 * line is written with one write()) and reopened by logfile_reopen()
 * (SIGHUP, SIGUSR1: logrotate). Control characters in logged data are
 * escaped by logfile_escape so a hostile client cannot forge lines.
 *
 * INTERFACE: logfile_open, logfile_reopen, logfile_close, log_main,
 *            log_reject, log_panic (printf-style), logfile_escape,
 *            logfile_set_pid (a [pid] after the time, Exim's log_pid).
 * ERRORS: a log that cannot be written falls back to stderr once and
 *         never stops mail.
 */
#ifndef TERN_LOGFILE_H
#define TERN_LOGFILE_H

#include <stddef.h>

#include "core/base/fatal.h"

struct strbuf;

int logfile_open(const char *path_pattern, const char *progname);
void logfile_reopen(void);
void logfile_close(void);
void log_main(const char *fmt, ...) TERN_PRINTF(1, 2);
void log_reject(const char *fmt, ...) TERN_PRINTF(1, 2);
void log_panic(const char *fmt, ...) TERN_PRINTF(1, 2);
/* logfile_escape - append s with control characters and backslash written
 * as \n, \r, \t, \\ and \xHH */
void logfile_escape(struct strbuf *out, const char *s, size_t n);

#endif
