/*
 * logfile.c - mainlog, rejectlog and paniclog in Exim's shape (DESIGN §10).
 *
 * PURPOSE:   the one log sink of a process (STYLE §1 allows it as a
 *            process-wide static): formats a timestamped line and appends
 *            it with one write() to each log it belongs to, and/or syslog.
 * INTERFACE: logfile_open, logfile_reopen, logfile_close, logfile_set_pid,
 *            log_main, log_reject, log_panic, logfile_escape,
 *            logfile_escape_str (logfile.h).
 * ERRORS:    a file that cannot be opened or written costs one warning on
 *            stderr and its lines go to stderr; logging never stops mail.
 * SECURITY:  paths come from the configuration only. Files are O_APPEND
 *            and each line is one write() of at most 16 KiB, so lines of
 *            concurrent processes never interleave; O_CLOEXEC keeps log
 *            descriptors out of pipe commands; files are 0640. Every
 *            line goes through esc_text (core/base/esc.h), so a caller
 *            that forgot logfile_escape still cannot forge a line or
 *            send a terminal sequence.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/base/esc.h"
#include "core/base/log.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"

#include "logfile.h"

enum log_kind { LOGK_MAIN, LOGK_REJECT, LOGK_PANIC, LOGK_N };

#define TO_MAIN   (1u << LOGK_MAIN)
#define TO_REJECT (1u << LOGK_REJECT)
#define TO_PANIC  (1u << LOGK_PANIC)
#define TO_TTY    (1u << 8)      /* also stderr when it is a terminal */

static const char *const kind_name[LOGK_N] = { "main", "reject", "panic" };

struct log_sink {
    int opened;                 /* logfile_open succeeded */
    int to_syslog;
    int with_pid;
    char *ident;                /* openlog keeps the pointer */
    char *path[LOGK_N];         /* NULL: no file logging */
    int fd[LOGK_N];             /* -1 until the first line */
    int warned[LOGK_N];         /* failure already reported */
};

static struct log_sink sink = { .fd = { -1, -1, -1 } };

/* put_stderr - the whole line to stderr, best effort */
static void put_stderr(const char *line, size_t n)
{
    ssize_t r;

    while (n > 0) {
        r = write(STDERR_FILENO, line, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        line += r;
        n -= (size_t)r;
    }
}

/* make_parents - create the missing directories above path (0750) */
static void make_parents(const char *path)
{
    struct strbuf dir;
    size_t i;

    sb_init(&dir);
    sb_puts(&dir, path);
    for (i = 1; i < sb_len(&dir); i++) {
        if (dir.data[i] != '/')
            continue;
        dir.data[i] = '\0';
        if (mkdir(dir.data, 0750) < 0 && errno != EEXIST)
            break;              /* the open() after us reports why */
        dir.data[i] = '/';
    }
    sb_free(&dir);
}

/* open_kind - the descriptor of log k, opened (and its directory made) on
 * first use; -1 with errno */
static int open_kind(enum log_kind k)
{
    const int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;

    if (sink.fd[k] >= 0)
        return sink.fd[k];
    sink.fd[k] = open(sink.path[k], flags, 0640);
    if (sink.fd[k] < 0 && errno == ENOENT) {
        make_parents(sink.path[k]);
        sink.fd[k] = open(sink.path[k], flags, 0640);
    }
    return sink.fd[k];
}

/* close_kind - close log k; a failed close is reported, not fatal */
static void close_kind(enum log_kind k)
{
    if (sink.fd[k] < 0)
        return;
    if (close(sink.fd[k]) < 0)
        log_warn("close %s: %s", sink.path[k], strerror(errno));
    sink.fd[k] = -1;
}

/* write_line - one write() of the whole line; 0 or -1 with errno */
static int write_line(int fd, const char *line, size_t n)
{
    ssize_t r;

    do
        r = write(fd, line, n);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -1;
    if ((size_t)r != n) {
        errno = ENOSPC;         /* a partial line: the disk is full */
        return -1;
    }
    return 0;
}

/* put_file - append the line to log k; -1 (reported once) on failure */
static int put_file(enum log_kind k, const char *line, size_t n)
{
    int err;

    if (open_kind(k) >= 0 && write_line(sink.fd[k], line, n) == 0) {
        sink.warned[k] = 0;
        return 0;
    }
    err = errno;
    close_kind(k);
    if (!sink.warned[k])
        log_warn("cannot write %s: %s; its lines go to stderr",
                 sink.path[k], strerror(err));
    sink.warned[k] = 1;
    return -1;
}

/* stamp - "YYYY-MM-DD HH:MM:SS " (and "[pid] ") into buf; its length */
static size_t stamp(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (localtime_r(&now, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    n = snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    if (n < 0 || (size_t)n >= size)
        return 0;
    if (sink.with_pid) {
        int p = snprintf(buf + n, size - (size_t)n, "[%ld] ", (long)getpid());

        if (p > 0 && (size_t)p < size - (size_t)n)
            n += p;
    }
    return (size_t)n;
}

/* format_text - the text into buf (room bytes, room > 4; at most room - 1
 * used, as the NUL of snprintf would), escaped by
 * esc_text (a field a caller forgot to escape cannot make a second line
 * or a terminal sequence either), cut with "..." when too long; its
 * length. Allocates nothing: fatal() logs through here. */
__attribute__((format(printf, 3, 0)))
static size_t format_text(char *buf, size_t room, const char *fmt, va_list ap)
{
    static const char bad[] = "(unprintable log line)";
    char raw[LOGFILE_LINE_MAX];
    int r = vsnprintf(raw, sizeof(raw), fmt, ap);
    size_t n, used, len;

    if (r < 0) {
        memcpy(buf, bad, sizeof(bad) - 1);
        return sizeof(bad) - 1;
    }
    n = (size_t)r < sizeof(raw) ? (size_t)r : sizeof(raw) - 1;
    len = esc_text(buf, room - 1, raw, n, 0, &used);
    if (used < (size_t)r) {     /* cut: again, leaving room for "..." */
        len = esc_text(buf, room - 4, raw, n, 0, &used);
        memcpy(buf + len, "...", 3);
        len += 3;
    }
    return len;
}

/* syslog_prio - the priority of the most serious log a line goes to */
static int syslog_prio(unsigned to)
{
    if (to & TO_PANIC)
        return LOG_ALERT;
    if (to & TO_REJECT)
        return LOG_NOTICE;
    return LOG_INFO;
}

/* log_vwrite - format one line and send it to every destination in to;
 * errno is kept for the caller (and for %m) */
__attribute__((format(printf, 2, 0)))
static void log_vwrite(unsigned to, const char *fmt, va_list ap)
{
    char buf[LOGFILE_LINE_MAX + 1];
    int saved_errno = errno;
    size_t off = stamp(buf, sizeof(buf));
    size_t n, len;
    int k, lost = 0;

    errno = saved_errno;
    n = format_text(buf + off, LOGFILE_LINE_MAX - off, fmt, ap);
    len = off + n + 1;
    buf[off + n] = '\n';
    if (!sink.opened) {
        put_stderr(buf, len);
        errno = saved_errno;
        return;
    }
    for (k = 0; k < LOGK_N; k++)
        if ((to & (1u << k)) && sink.path[k] != NULL
            && put_file((enum log_kind)k, buf, len) < 0)
            lost = 1;
    if (sink.to_syslog)
        syslog(syslog_prio(to), "%.*s", (int)n, buf + off);
    if (lost || ((to & TO_TTY) && isatty(STDERR_FILENO)))
        put_stderr(buf, len);
    errno = saved_errno;
}

/* log_to - log_vwrite with arguments */
__attribute__((format(printf, 2, 3)))
static void log_to(unsigned to, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(to, fmt, ap);
    va_end(ap);
}

/* panic_hook - fatal()/panic() already wrote msg to stderr */
static void panic_hook(const char *msg)
{
    log_to(TO_PANIC | TO_MAIN, "%s", msg);
}

/* pattern_ok - an absolute path with exactly one "%s" and no other '%' */
static int pattern_ok(const char *p)
{
    const char *s = strstr(p, "%s");

    if (p[0] != '/' || s == NULL || strchr(s + 2, '%') != NULL)
        return 0;
    return strchr(p, '%') == s;
}

/* set_paths - the three file names of a pattern */
static void set_paths(const char *pattern)
{
    const char *s = strstr(pattern, "%s");
    struct strbuf b;
    int k;

    sb_init(&b);
    for (k = 0; k < LOGK_N; k++) {
        sb_reset(&b);
        sb_append(&b, pattern, (size_t)(s - pattern));
        sb_puts(&b, kind_name[k]);
        sb_puts(&b, s + 2);
        sink.path[k] = xstrdup(sb_str(&b));
    }
    sb_free(&b);
}

/* parse_item - one ':'-separated item of log_file_path */
static int parse_item(const char *item, size_t n, int *to_syslog,
                      char **pattern)
{
    while (n > 0 && (*item == ' ' || *item == '\t'))
        item++, n--;
    while (n > 0 && (item[n - 1] == ' ' || item[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    if (n == 6 && memcmp(item, "syslog", 6) == 0) {
        *to_syslog = 1;
        return 0;
    }
    if (*pattern != NULL)
        return -1;
    *pattern = xstrndup(item, n);
    return pattern_ok(*pattern) ? 0 : -1;
}

/* parse_pattern - split log_file_path into syslog and a file pattern */
static int parse_pattern(const char *spec, int *to_syslog, char **pattern)
{
    size_t n;

    *to_syslog = 0;
    *pattern = NULL;
    for (;;) {
        n = strcspn(spec, ":");
        if (parse_item(spec, n, to_syslog, pattern) < 0)
            return -1;
        if (spec[n] == '\0')
            break;
        spec += n + 1;
    }
    return *to_syslog || *pattern != NULL ? 0 : -1;
}

/* logfile_open - start logging where path_pattern says */
int logfile_open(const char *path_pattern, const char *progname)
{
    char *pattern;
    int to_syslog;

    if (parse_pattern(path_pattern, &to_syslog, &pattern) < 0) {
        free(pattern);
        errno = EINVAL;
        return -1;
    }
    logfile_close();
    sink.to_syslog = to_syslog;
    if (pattern != NULL)
        set_paths(pattern);
    free(pattern);
    if (sink.to_syslog) {
        sink.ident = xstrdup(progname != NULL ? progname : "tern");
        openlog(sink.ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
    sink.opened = 1;
    fatal_set_panic_hook(panic_hook);
    return 0;
}

/* logfile_path - the file of log kind ("main", "reject", "panic") */
const char *logfile_path(const char *kind)
{
    for (int k = 0; k < LOGK_N; k++)
        if (kind != NULL && strcmp(kind, kind_name[k]) == 0)
            return sink.path[k];
    return NULL;
}

/* logfile_reopen - reopen the open files by name (logrotate) */
void logfile_reopen(void)
{
    int k;

    for (k = 0; k < LOGK_N; k++) {
        if (sink.fd[k] < 0)
            continue;
        close_kind((enum log_kind)k);
        sink.warned[k] = 0;
        if (open_kind((enum log_kind)k) < 0)
            log_warn("cannot reopen %s: %s", sink.path[k], strerror(errno));
    }
}

/* logfile_close - close everything; lines go to stderr again */
void logfile_close(void)
{
    int k;

    fatal_set_panic_hook(NULL);
    for (k = 0; k < LOGK_N; k++) {
        close_kind((enum log_kind)k);
        free(sink.path[k]);
        sink.path[k] = NULL;
        sink.warned[k] = 0;
    }
    if (sink.to_syslog)
        closelog();
    free(sink.ident);
    sink.ident = NULL;
    sink.to_syslog = 0;
    sink.opened = 0;
}

/* logfile_set_pid - put "[pid] " after the time of each line */
void logfile_set_pid(int on)
{
    sink.with_pid = on != 0;
}

/* log_main - a line in the main log */
void log_main(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(TO_MAIN, fmt, ap);
    va_end(ap);
}

/* log_reject - a line in the reject log and the main log */
void log_reject(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(TO_REJECT | TO_MAIN, fmt, ap);
    va_end(ap);
}

/* log_reject_detail - a line in the reject log only (the header lines
 * that follow a data-time rejection, as Exim writes them) */
void log_reject_detail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(TO_REJECT, fmt, ap);
    va_end(ap);
}

/* log_panic - a line in the panic log, the main log and a tty stderr */
void log_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(TO_PANIC | TO_MAIN | TO_TTY, fmt, ap);
    va_end(ap);
}

/* logfile_escape - append s[0..n) escaped for a log field (esc.h, with
 * the backslash doubled) */
void logfile_escape(struct strbuf *out, const char *s, size_t n)
{
    char chunk[512];
    size_t len, used;

    while (n > 0) {
        len = esc_text(chunk, sizeof(chunk), s, n, ESC_BACKSLASH, &used);
        sb_append(out, chunk, len);
        s += used;
        n -= used;
    }
}

/* logfile_escape_str - logfile_escape of a C string (NULL: nothing) */
void logfile_escape_str(struct strbuf *out, const char *s)
{
    if (s != NULL)
        logfile_escape(out, s, strlen(s));
}
