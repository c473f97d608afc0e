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
 * (SIGHUP, SIGUSR1: logrotate). Untrusted text cannot forge lines or
 * reach a terminal as control sequences: every line is escaped as
 * core/base/esc.h says (Exim's form: \n, \r, \t, \ooo; C1 and bidi
 * controls and invalid UTF-8 too), and fields from clients, remote
 * servers and DNS go through logfile_escape, which also doubles '\'.
 *
 * A file is opened (and its directory created, 0750) when its first line
 * is written; files are created 0640. log_reject lines also go to the
 * main log, and log_panic lines to the main log and, when stderr is a
 * terminal, to stderr: a panic appears in both logs, as in Exim. Lines
 * longer than LOGFILE_LINE_MAX are cut and end in "..."; a CR or LF in
 * the text is written \r or \n, so one call is always one line. Until
 * logfile_open (and after logfile_close) lines go to stderr. Once open,
 * fatal() and panic() messages are copied to the panic and main logs.
 * Syslog lines (LOG_MAIL, ident progname, with pid) carry no timestamp;
 * main is LOG_INFO, reject LOG_NOTICE, panic LOG_ALERT.
 *
 * INTERFACE: logfile_open, logfile_reopen, logfile_close, log_main,
 *            log_reject, log_panic (printf-style), logfile_escape,
 *            logfile_escape_str,
 *            logfile_path,
 *            logfile_set_pid (a [pid] after the time, Exim's log_pid).
 * ERRORS: logfile_open returns -1 (EINVAL) for a bad pattern: not
 *         "syslog" and at most one absolute path with exactly one "%s" and
 *         no other '%', separated by ':'. A log that cannot be opened or
 *         written gets one warning on stderr (again only after it worked
 *         in between) and its lines go to stderr; mail never stops.
 */
#ifndef TERN_LOGFILE_H
#define TERN_LOGFILE_H

#include <stddef.h>

#include "core/base/fatal.h"

struct strbuf;

#define LOGFILE_LINE_MAX 16384  /* bytes of a line incl. time and "\n" */

/* logfile_open - log to the files and/or syslog of path_pattern; 0 or -1 */
int logfile_open(const char *path_pattern, const char *progname);
/* logfile_reopen - close the open log files and open them again by name
 * (after logrotate renamed them). Not async-signal-safe: a SIGHUP or
 * SIGUSR1 handler only sets a flag and the event loop calls this. */
void logfile_reopen(void);
/* logfile_path - the file log kind ("main", "reject" or "panic") is
 * written to, or NULL (syslog only, or logfile_open not called) */
const char *logfile_path(const char *kind);
/* logfile_close - close everything; later lines go to stderr */
void logfile_close(void);
/* log_main - a line in the main log */
void log_main(const char *fmt, ...) TERN_PRINTF(1, 2);
/* log_reject - a line in the reject log and the main log */
void log_reject(const char *fmt, ...) TERN_PRINTF(1, 2);
/* log_panic - a line in the panic log and the main log (and on a tty) */
void log_panic(const char *fmt, ...) TERN_PRINTF(1, 2);
void log_reject_detail(const char *fmt, ...) TERN_PRINTF(1, 2);
/* logfile_set_pid - nonzero: put "[pid] " after the time of each line */
void logfile_set_pid(int on);
/* logfile_escape - append s[0..n) escaped for a log field: as every log
 * line (esc.h: \n \r \t \b \v \f \ooo for controls, C1 and bidi
 * controls, invalid UTF-8) and with '\' written "\\" */
void logfile_escape(struct strbuf *out, const char *s, size_t n);
/* logfile_escape_str - logfile_escape of a C string (NULL: nothing) */
void logfile_escape_str(struct strbuf *out, const char *s);

#endif
