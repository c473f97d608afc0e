/*
 * test_logfile.c - unit tests of core/mail/logfile.c under a temporary
 * directory: bad patterns, lines on stderr before logfile_open, directory
 * and file creation and modes, the line shape, the three files of a
 * pattern, [pid], escaping of hostile bytes, the 16 KiB cut, reopen after
 * a logrotate rename, 4 processes x 500 concurrent lines, the stderr
 * fallback, fatal() copied to the panic log, syslog patterns and close.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "core/mail/logfile.h"
#include "test-suite/unit/tap.h"

#define KIDS 4
#define KID_LINES 500

static char dir[64];
static char pattern[128];
static int saved_stderr = -1;

/* path_of - dir + "/" + name into a static buffer */
static const char *path_of(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];

    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

/* slurp - the file at path into b (emptied first); -1 if unreadable */
static int slurp(const char *path, struct strbuf *b)
{
    char chunk[8192];
    ssize_t r;
    int fd = open(path, O_RDONLY);

    sb_reset(b);
    if (fd < 0)
        return -1;
    while ((r = read(fd, chunk, sizeof(chunk))) > 0)
        sb_append(b, chunk, (size_t)r);
    close(fd);
    return r < 0 ? -1 : 0;
}

/* count_lines - newline count of the file (-1 if unreadable) */
static long count_lines(const char *path)
{
    struct strbuf b;
    long n = 0;
    size_t i;

    sb_init(&b);
    if (slurp(path, &b) < 0)
        n = -1;
    for (i = 0; i < sb_len(&b); i++)
        n += sb_str(&b)[i] == '\n';
    sb_free(&b);
    return n;
}

/* last_line - the last line of the file (without "\n") into b */
static void last_line(const char *path, struct strbuf *b)
{
    const char *s, *nl;
    size_t len;

    if (slurp(path, b) < 0 || sb_len(b) == 0)
        return;
    s = sb_str(b);
    len = sb_len(b) - (s[sb_len(b) - 1] == '\n');
    nl = memrchr(s, '\n', len);
    if (nl != NULL) {
        size_t start = (size_t)(nl + 1 - s);

        memmove(b->data, s + start, len - start);
        len -= start;
    }
    sb_truncate(b, len);
}

/* stamped - line starts "YYYY-MM-DD HH:MM:SS " with sane field ranges;
 * the rest of the line is returned in *text */
static int stamped(const char *line, const char **text)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd ";
    int mon, day, hh, mm, ss;
    size_t i;

    for (i = 0; shape[i] != '\0'; i++) {
        if (line[i] == '\0')
            return 0;
        if (shape[i] == 'd' ? !isdigit((unsigned char)line[i])
                            : line[i] != shape[i])
            return 0;
    }
    if (sscanf(line + 5, "%2d-%2d %2d:%2d:%2d", &mon, &day, &hh, &mm, &ss)
        != 5 || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23
        || mm > 59 || ss > 60)
        return 0;
    *text = line + i;
    return 1;
}

/* last_is - the last line of log name is stamped and its text is want */
static int last_is(const char *name, const char *want)
{
    struct strbuf b;
    const char *text = "";
    int good;

    sb_init(&b);
    last_line(path_of(name), &b);
    good = stamped(sb_str(&b), &text) && strcmp(text, want) == 0;
    if (!good)
        printf("#   %s: \"%.200s\"\n", name, sb_str(&b));
    sb_free(&b);
    return good;
}

/* capture_start - send stderr to the file path */
static void capture_start(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    if (fd < 0 || saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0)
        perror("capture_start");
    if (fd >= 0)
        close(fd);
}

/* capture_end - stderr back to where it was */
static void capture_end(void)
{
    fflush(stderr);
    if (dup2(saved_stderr, STDERR_FILENO) < 0)
        perror("capture_end");
    close(saved_stderr);
}

/* test_before_open - lines go to stderr, in the same shape */
static void test_before_open(void)
{
    struct strbuf b;
    const char *text = "";

    sb_init(&b);
    capture_start(path_of("stderr0"));
    log_main("before open %d", 1);
    log_panic("panic before open");
    capture_end();
    slurp(path_of("stderr0"), &b);
    ok(stamped(sb_str(&b), &text)
       && strncmp(text, "before open 1\n", 14) == 0
       && count_lines(path_of("stderr0")) == 2,
       "before logfile_open lines go to stderr");
    sb_free(&b);
}

/* test_bad_patterns - logfile_open refuses malformed log_file_path */
static void test_bad_patterns(void)
{
    static const char *const bad[] = {
        "", " : ", "relative/%slog", "/var/log/nopercent",
        "/a/%s/%slog", "/a/%d%slog", "/a/%slog%", "/a/%slog : /b/%slog",
        "sys log",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        ok(logfile_open(bad[i], "t") == -1 && errno == EINVAL,
           "bad pattern \"%s\" is refused", bad[i]);
    }
}

/* test_files - creation, modes, shape and the three files */
static void test_files(void)
{
    struct stat st;

    ok(logfile_open(pattern, "test_logfile") == 0, "logfile_open %s",
       pattern);
    ok(stat(path_of("sub/dir/mainlog"), &st) < 0 && errno == ENOENT,
       "no file before its first line");
    log_main("hello %s", "world");
    ok(stat(path_of("sub/dir"), &st) == 0 && S_ISDIR(st.st_mode)
       && (st.st_mode & 07777) == 0750, "missing directories made 0750");
    ok(stat(path_of("sub/dir/mainlog"), &st) == 0 && S_ISREG(st.st_mode)
       && (st.st_mode & 07777) == 0640, "mainlog created 0640");
    ok(last_is("sub/dir/mainlog", "hello world"), "mainlog line shape");
    log_reject("H=[192.0.2.1] rejected RCPT <%s>", "x@y.test");
    ok(last_is("sub/dir/rejectlog", "H=[192.0.2.1] rejected RCPT <x@y.test>"),
       "rejectlog line");
    ok(last_is("sub/dir/mainlog", "H=[192.0.2.1] rejected RCPT <x@y.test>"),
       "a reject line is in the main log too");
    log_panic("cannot %s", "happen");
    ok(last_is("sub/dir/paniclog", "cannot happen"), "paniclog line");
    ok(last_is("sub/dir/mainlog", "cannot happen"),
       "a panic line is in the main log too");
    ok(count_lines(path_of("sub/dir/mainlog")) == 3
       && count_lines(path_of("sub/dir/rejectlog")) == 1
       && count_lines(path_of("sub/dir/paniclog")) == 1,
       "three files from the pattern, one line per call");
}

/* test_errno - %m sees the caller's errno, which survives the call */
static void test_errno(void)
{
    errno = ENOENT;
    log_main("open x: %m");
    ok(errno == ENOENT, "errno is kept across log_main");
    ok(last_is("sub/dir/mainlog", "open x: No such file or directory"),
       "%%m formats the caller's errno");
}

/* test_pid - logfile_set_pid puts "[pid] " after the time */
static void test_pid(void)
{
    char want[64];

    logfile_set_pid(1);
    log_main("with pid");
    logfile_set_pid(0);
    snprintf(want, sizeof(want), "[%ld] with pid", (long)getpid());
    ok(last_is("sub/dir/mainlog", want), "logfile_set_pid: %s", want);
    log_main("without pid");
    ok(last_is("sub/dir/mainlog", "without pid"), "logfile_set_pid(0)");
}

/* test_escape - hostile bytes cannot make a second line or reach a
 * terminal, escaped as a field or not (the cases: test_esc.c) */
static void test_escape(void)
{
    static const char hostile[] = "a\r\nb\x1b[31m\\\x7f\tz\x80\0q\xc2\x9b"
                                  "\xe2\x80\xae";
    static const char want[] = "a\\r\\nb\\033[31m\\\\\\177\\tz\\200\\000q"
                               "\\302\\233\\342\\200\\256";
    struct strbuf b;
    char line[256];
    long before = count_lines(path_of("sub/dir/mainlog"));

    sb_init(&b);
    logfile_escape(&b, hostile, sizeof(hostile) - 1);
    is_str(sb_str(&b), want, "logfile_escape");
    log_main("H=(%s) bad", sb_str(&b));
    snprintf(line, sizeof(line), "H=(%s) bad", want);
    ok(last_is("sub/dir/mainlog", line), "escaped text logged as is");
    log_main("forged %s", "x\n2026-01-01 00:00:00 fake\rline\x1b]0;t\x07"
             "\xe2\x80\xae\\");
    ok(last_is("sub/dir/mainlog", "forged x\\n2026-01-01 00:00:00 fake\\rline"
               "\\033]0;t\\007\\342\\200\\256\\"),
       "a field not escaped by its caller: CR, LF, ESC, BEL, U+202E "
       "escaped all the same (a backslash is not doubled)");
    ok(count_lines(path_of("sub/dir/mainlog")) == before + 2,
       "two calls, two lines");
    sb_reset(&b);
    logfile_escape(&b, "plain", 5);
    logfile_escape(&b, "", 0);
    logfile_escape_str(&b, NULL);
    logfile_escape_str(&b, " caf\xc3\xa9");
    is_str(sb_str(&b), "plain caf\xc3\xa9",
           "logfile_escape leaves plain text and UTF-8 alone");
    sb_reset(&b);
    for (int i = 0; i < 300; i++)
        sb_putc(&b, '\x1b');
    {
        struct strbuf e;

        sb_init(&e);
        logfile_escape(&e, sb_str(&b), sb_len(&b));
        ok(sb_len(&e) == 1200 && strncmp(sb_str(&e), "\\033\\033", 8) == 0,
           "logfile_escape of text longer than its chunk");
        sb_free(&e);
    }
    sb_free(&b);
}

/* long_text - n bytes of 'L' */
static char *long_text(size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    memset(s, 'L', n);
    s[n] = '\0';
    return s;
}

/* test_long_line - one line of at most LOGFILE_LINE_MAX, cut with "..." */
static void test_long_line(void)
{
    const size_t fit = LOGFILE_LINE_MAX - 20 - 1;  /* stamp and newline */
    char *s = long_text(100000);
    struct strbuf b;
    long before = count_lines(path_of("sub/dir/mainlog"));

    sb_init(&b);
    log_main("%s", s);
    last_line(path_of("sub/dir/mainlog"), &b);
    ok(count_lines(path_of("sub/dir/mainlog")) == before + 1
       && sb_len(&b) == LOGFILE_LINE_MAX - 1
       && strcmp(sb_str(&b) + sb_len(&b) - 4, "L...") == 0,
       "a 100 KB line is one line of LOGFILE_LINE_MAX ending in ...");
    s[fit] = '\0';
    log_main("%s", s);
    last_line(path_of("sub/dir/mainlog"), &b);
    ok(sb_len(&b) == LOGFILE_LINE_MAX - 1
       && strcmp(sb_str(&b) + sb_len(&b) - 3, "LLL") == 0,
       "a line of exactly LOGFILE_LINE_MAX is not cut");
    s[fit] = 'L';
    s[fit + 1] = '\0';
    log_main("%s", s);
    last_line(path_of("sub/dir/mainlog"), &b);
    ok(sb_len(&b) == LOGFILE_LINE_MAX - 1
       && strcmp(sb_str(&b) + sb_len(&b) - 3, "...") == 0,
       "one byte more is cut");
    sb_free(&b);
    free(s);
}

/* test_reopen - logrotate renames, logfile_reopen starts a new file */
static void test_reopen(void)
{
    struct strbuf b;
    const char *main_log = path_of("sub/dir/mainlog");
    const char *rotated = path_of("sub/dir/mainlog.1");
    struct stat st;

    sb_init(&b);
    ok(rename(main_log, rotated) == 0, "logrotate renames mainlog");
    log_main("after rename");
    ok(last_is("sub/dir/mainlog.1", "after rename"),
       "before reopen lines still go to the renamed file");
    logfile_reopen();
    ok(stat(main_log, &st) == 0 && st.st_size == 0
       && (st.st_mode & 07777) == 0640, "reopen creates a new mainlog");
    log_main("after reopen");
    ok(last_is("sub/dir/mainlog", "after reopen")
       && count_lines(main_log) == 1, "later lines go to the new file");
    slurp(rotated, &b);
    ok(strstr(sb_str(&b), "after reopen") == NULL,
       "and not to the renamed one");
    sb_free(&b);
}

/* kid - one writer process */
static void kid(int k)
{
    char pad[1001];
    int i;

    memset(pad, 'a' + k, sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (i = 0; i < KID_LINES; i++)
        log_main("kid %d line %03d %s", k, i, pad);
    _exit(0);
}

/* check_kid_line - one line written by a kid is whole; marks it seen */
static int check_kid_line(const char *line, size_t len,
                          int seen[KIDS][KID_LINES])
{
    const char *text;
    int k, i, n = 0;
    size_t j;

    if (len != 20 + 15 + 1000 || !stamped(line, &text)
        || sscanf(text, "kid %d line %3d %n", &k, &i, &n) != 2 || n != 15
        || k < 0 || k >= KIDS || i < 0 || i >= KID_LINES)
        return 0;
    for (j = (size_t)(text - line) + 15; j < len; j++)
        if (line[j] != 'a' + k)
            return 0;
    return ++seen[k][i] == 1;
}

/* test_concurrent - 4 processes x 500 lines, every line intact, once */
static void test_concurrent(void)
{
    static int seen[KIDS][KID_LINES];
    struct strbuf b;
    const char *s, *nl;
    int k, status, bad = 0, good = 0, reaped = 0;

    for (k = 0; k < KIDS; k++) {
        pid_t pid = fork();

        if (pid == 0)
            kid(k);
        if (pid < 0)
            perror("fork");
    }
    for (k = 0; k < KIDS; k++)
        if (wait(&status) > 0 && WIFEXITED(status)
            && WEXITSTATUS(status) == 0)
            reaped++;
    ok(reaped == KIDS, "%d writers exited", KIDS);
    sb_init(&b);
    slurp(path_of("sub/dir/mainlog"), &b);
    for (s = sb_str(&b); (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        if (strstr(s, " kid ") == NULL || strstr(s, " kid ") > nl)
            continue;
        if (check_kid_line(s, (size_t)(nl - s), seen))
            good++;
        else
            bad++;
    }
    ok(good == KIDS * KID_LINES && bad == 0,
       "%d concurrent lines intact and each once (good %d, bad %d)",
       KIDS * KID_LINES, good, bad);
    sb_free(&b);
}

/* test_fallback - an unwritable log: one warning, lines on stderr */
static void test_fallback(void)
{
    char bad_pattern[160];
    struct strbuf b;
    const char *s;
    int fd = open(path_of("afile"), O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd >= 0)
        close(fd);
    snprintf(bad_pattern, sizeof(bad_pattern), "%s/afile/%%slog", dir);
    ok(logfile_open(bad_pattern, "t") == 0, "a pattern under a file opens");
    capture_start(path_of("stderr1"));
    log_main("lost %d", 1);
    log_main("lost %d", 2);
    log_reject("lost %d", 3);
    capture_end();
    sb_init(&b);
    slurp(path_of("stderr1"), &b);
    s = sb_str(&b);
    ok(strstr(s, "lost 1\n") && strstr(s, "lost 2\n")
       && strstr(s, "lost 3\n") && strstr(strstr(s, "lost 3\n") + 1,
                                          "lost 3\n") == NULL,
       "lines that cannot be written go to stderr, each once");
    s = strstr(s, "warning: cannot write");
    ok(s != NULL && strstr(s, "mainlog") != NULL, "with a warning");
    ok(s != NULL && (s = strstr(s + 1, "warning: cannot write")) != NULL
       && strstr(s, "rejectlog") != NULL
       && strstr(s + 1, "warning") == NULL,
       "once per log file");
    sb_free(&b);
}

/* test_fatal_hook - fatal() in a child is copied to paniclog and mainlog */
static void test_fatal_hook(void)
{
    int status = 0;
    pid_t pid;

    ok(logfile_open(pattern, "test_logfile") == 0, "reopen the good pattern");
    pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);

        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        fatal("fatal in child %d", 7);
    }
    ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
       && WEXITSTATUS(status) == 70, "fatal() exits 70");
    ok(last_is("sub/dir/paniclog", "fatal in child 7"),
       "fatal() message in the panic log");
    ok(last_is("sub/dir/mainlog", "fatal in child 7"),
       "and in the main log");
}

/* test_syslog - "syslog" and "syslog : PATH" patterns */
static void test_syslog(void)
{
    char both[200];
    long before;

    before = count_lines(path_of("sub/dir/mainlog"));
    ok(logfile_open("syslog", "test_logfile") == 0, "pattern \"syslog\"");
    log_main("to syslog only");
    ok(count_lines(path_of("sub/dir/mainlog")) == before,
       "syslog alone writes no file");
    snprintf(both, sizeof(both), "syslog : %s", pattern);
    ok(logfile_open(both, "test_logfile") == 0, "pattern \"%s\"", both);
    log_main("to syslog and file");
    ok(last_is("sub/dir/mainlog", "to syslog and file"),
       "syslog : PATH also writes the file");
    snprintf(both, sizeof(both), "%s:syslog", pattern);
    ok(logfile_open(both, "test_logfile") == 0, "pattern \"%s\"", both);
}

/* test_close - after logfile_close lines go to stderr again */
static void test_close(void)
{
    struct strbuf b;
    long before = count_lines(path_of("sub/dir/mainlog"));

    logfile_close();
    logfile_close();
    logfile_reopen();
    capture_start(path_of("stderr2"));
    log_main("after close");
    capture_end();
    sb_init(&b);
    slurp(path_of("stderr2"), &b);
    ok(strstr(sb_str(&b), "after close\n") != NULL
       && count_lines(path_of("sub/dir/mainlog")) == before,
       "after logfile_close lines go to stderr");
    sb_free(&b);
}

int main(void)
{
    umask(022);
    snprintf(dir, sizeof(dir), "/tmp/tern-logfile.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(pattern, sizeof(pattern), "%s/sub/dir/%%slog", dir);
    test_before_open();
    test_bad_patterns();
    test_files();
    test_errno();
    test_pid();
    test_escape();
    test_long_line();
    test_reopen();
    test_concurrent();
    test_fallback();
    test_fatal_hook();
    test_syslog();
    test_close();
    if (getenv("KEEP_TEST_DIR") == NULL) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", dir);
    }
    return done_testing();
}
