/*
 * test_tp_local.c - the maildir and mbox transports' deliver_local on a
 * real configuration (conf_load) and a hand-built message: the files a
 * user finds (names, exact content, modes), quota, write failures that
 * must leave nothing behind (RLIMIT_FSIZE in a child), mbox locking with
 * two concurrent writers, and the refusal of symlinked or linked mboxes.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "test-suite/unit/tap.h"
#include "test-suite/unit/tp_fixture.h"

static const char config[] =
    "transport \"md\" { driver = \"maildir\",\n"
    "  directory = \"@D@/md/${local_part}\", mode = \"0640\",\n"
    "  return_path_add = true, envelope_to_add = true,\n"
    "  headers_add = \"X-Added: yes\", headers_remove = \"Subject\" }\n"
    "transport \"mdq\" { driver = \"maildir\", directory = \"@D@/q\",\n"
    "  quota = \"2K\" }\n"
    "transport \"mdnc\" { driver = \"maildir\", directory = \"@D@/none\",\n"
    "  create_directory = false }\n"
    "transport \"mdfn\" { driver = \"maildir\", directory = function(a)\n"
    "  return \"@D@/fn/\" .. a.local_part:upper() end }\n"
    "transport \"mb\" { driver = \"mbox\", file = \"@D@/mbox/${local_part}\",\n"
    "  return_path_add = true }\n"
    "transport \"mbs\" { driver = \"mbox\", file = \"@D@/shared\",\n"
    "  lock_timeout = \"1s\" }\n"
    "transport \"mbnc\" { driver = \"mbox\", file = \"@D@/nofile\",\n"
    "  create_file = false }\n"
    "transport \"mbc\" { driver = \"mbox\", file = \"@D@/concurrent\" }\n"
    "transport \"address_file\" { driver = \"mbox\" }\n";

static const char *const two[] = { "alice", "bob" };

static const char md_alice[] =
    "Return-path: <sender@example.net>\n"
    "Delivered-To: alice@example.org\n"
    "Envelope-to: alice@example.org\n"
    "X-Added: yes\n"
    "From: Alice <alice@example.org>\n"
    "To: bob@example.org\n"
    "\n"
    "line 1\n"
    "From the start\n"
    ">From quoted\n"
    ".\n"
    "last\n";

static const char md_bob[] =
    "Return-path: <sender@example.net>\n"
    "Delivered-To: bob@example.org\n"
    "Envelope-to: bob@example.org\n"
    "X-Added: yes\n"
    "From: Alice <alice@example.org>\n"
    "To: bob@example.org\n"
    "\n"
    "line 1\n"
    "From the start\n"
    ">From quoted\n"
    ".\n"
    "last\n";

static void check_maildir_file(struct fx *f, const char *lp, const char *want)
{
    char dir[256], name[256], path[600];
    struct strbuf sb;
    struct stat st;
    regex_t re;
    regmatch_t m[2];

    snprintf(dir, sizeof(dir), "%s/md/%s/new", f->dir, lp);
    is_int(fx_count(dir, name, sizeof(name)), 1, "maildir: one file in new/");
    snprintf(path, sizeof(path), "%s/md/%s/tmp", f->dir, lp);
    is_int(fx_count(path, NULL, 0), 0, "maildir: tmp/ is empty");
    snprintf(path, sizeof(path), "%s/md/%s/cur", f->dir, lp);
    is_int(fx_count(path, NULL, 0), 0, "maildir: cur/ exists, empty");
    regcomp(&re, "^[0-9]+\\.M[0-9]{6}P[0-9]+Q[0-9]+\\.[^/:]+,S=([0-9]+)$",
            REG_EXTENDED);
    ok(regexec(&re, name, 2, m, 0) == 0, "maildir name %s has the form "
       "time.MusecPpidQn.host,S=size", name);
    regfree(&re);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    sb_init(&sb);
    fx_read(path, &sb);
    is_str(sb_str(&sb), want, "maildir: content with added headers, "
           "Subject removed, LF ends, no From quoting");
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640,
       "maildir: file mode 0640 (mode option)");
    ok(atol(name + m[1].rm_so) == (long)sb_len(&sb),
       "maildir: ,S= is the file size");
    sb_free(&sb);
}

static void test_maildir(struct fx *f)
{
    char path[256];
    struct stat st;

    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "md", 2, two);
    ok(fx_run(f), "maildir: every recipient settled");
    is_int(f->r[0].status, DLV_OK, "maildir: alice delivered");
    is_int(f->r[1].status, DLV_OK, "maildir: bob delivered");
    check_maildir_file(f, "alice", md_alice);
    check_maildir_file(f, "bob", md_bob);
    snprintf(path, sizeof(path), "%s/md/alice/cur", f->dir);
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700,
       "maildir: directories created with directory_mode 0700");
}

static void test_maildir_fn(struct fx *f)
{
    char path[256];

    fx_msg(f, "", NULL);
    fx_batch(f, "mdfn", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "maildir: directory from a Lua function");
    snprintf(path, sizeof(path), "%s/fn/ALICE/new", f->dir);
    is_int(fx_count(path, NULL, 0), 1, "maildir: Lua function's directory "
           "used");
}

static void test_quota(struct fx *f)
{
    char path[256], big[1801];

    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "mdq", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "quota: first message fits in 2K");
    snprintf(path, sizeof(path), "%s/q/cur/1.M1P1Q1.h,S=1900:2,S", f->dir);
    fx_write(path, "x");
    fx_batch(f, "mdq", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "quota: over quota (,S= of a file in "
           "cur/ counted) defers");
    is_str(f->r[0].errtype, "quota", "quota: errtype quota");
    ok(strstr(f->r[0].msg, "mailbox is full (quota exceeded") != NULL,
       "quota: message says the mailbox is full (%s)", f->r[0].msg);
    snprintf(path, sizeof(path), "%s/q/new", f->dir);
    is_int(fx_count(path, NULL, 0), 1, "quota: nothing added to new/");
    snprintf(path, sizeof(path), "%s/q/tmp", f->dir);
    is_int(fx_count(path, NULL, 0), 0, "quota: nothing left in tmp/");
    snprintf(path, sizeof(path), "%s/q/cur/1.M1P1Q1.h,S=1900:2,S", f->dir);
    unlink(path);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(path, sizeof(path), "%s/q/cur/nosize", f->dir);
    fx_write(path, big);
    fx_batch(f, "mdq", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "quota: a file without ,S= is "
           "counted by its size");
    big[1500] = '\0';
    fx_write(path, big);
    fx_batch(f, "mdq", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "quota: under quota again: delivered");
}

static void test_maildir_errors(struct fx *f)
{
    static const char *const carol[] = { "carol" };
    char path[256];
    struct strbuf sb;
    int st;
    pid_t pid;

    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "mdnc", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "maildir: missing directory without "
           "create_directory defers");
    snprintf(path, sizeof(path), "%s/none", f->dir);
    ok(access(path, F_OK) != 0, "maildir: and creates nothing");
    fx_batch(f, "md", 1, carol);
    fflush(stdout);
    if ((pid = fork()) == 0) {
        struct rlimit rl = { 60, RLIM_INFINITY };
        setrlimit(RLIMIT_FSIZE, &rl);
        fx_run(f);
        rl.rlim_cur = RLIM_INFINITY;
        setrlimit(RLIMIT_FSIZE, &rl);
        snprintf(path, sizeof(path), "%s/child.msg", f->dir);
        fx_write(path, f->r[0].msg);
        _exit(f->r[0].status);
    }
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == DLV_DEFER, "maildir: a write "
       "error (EFBIG) defers");
    sb_init(&sb);
    snprintf(path, sizeof(path), "%s/child.msg", f->dir);
    fx_read(path, &sb);
    ok(strstr(sb_str(&sb), "File too large") != NULL, "maildir: with the "
       "reason (%s)", sb_str(&sb));
    sb_free(&sb);
    snprintf(path, sizeof(path), "%s/md/carol/new", f->dir);
    is_int(fx_count(path, NULL, 0), 0, "maildir: nothing in new/ after a "
           "write error");
    snprintf(path, sizeof(path), "%s/md/carol/tmp", f->dir);
    is_int(fx_count(path, NULL, 0), 0, "maildir: tmp file removed");
}

static const char mb_body[] =
    "Return-path: <sender@example.net>\n"
    "Delivered-To: alice@example.org\n"
    "From: Alice <alice@example.org>\n"
    "To: bob@example.org\n"
    "Subject: test\n"
    "\n"
    "line 1\n"
    ">From the start\n"
    ">>From quoted\n"
    ".\n"
    "last\n"
    "\n";

/* one From_ line + mb_body, twice */
static void test_mbox(struct fx *f)
{
    char path[256];
    struct strbuf sb;
    struct stat st;
    regex_t re;
    const char *second;

    snprintf(path, sizeof(path), "%s/mbox", f->dir);
    mkdir(path, 0700);
    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "mb", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "mbox: delivered");
    f->r[0].status = DLV_PENDING;
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "mbox: second copy delivered");
    snprintf(path, sizeof(path), "%s/mbox/alice", f->dir);
    sb_init(&sb);
    fx_read(path, &sb);
    regcomp(&re, "^From sender@example\\.net (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
            "[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} "
            "[0-9]{4}\n", REG_EXTENDED);
    ok(regexec(&re, sb_str(&sb), 0, NULL, 0) == 0, "mbox: From_ line with "
       "the sender and a ctime date");
    regfree(&re);
    ok(strncmp(strchr(sb_str(&sb), '\n') + 1, mb_body, sizeof(mb_body) - 1)
       == 0, "mbox: headers, LF ends, mboxrd quoting, final blank line");
    second = strstr(sb_str(&sb) + 1, "\n\nFrom sender@example.net ");
    ok(second != NULL && strcmp(strchr(second + 2, '\n') + 1, mb_body) == 0,
       "mbox: second message appended intact");
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600,
       "mbox: file created with mode 0600");
    snprintf(path, sizeof(path), "%s/mbox/alice.lock", f->dir);
    ok(access(path, F_OK) != 0, "mbox: lock file removed");
    sb_free(&sb);
}

static void test_mbox_sources(struct fx *f)
{
    char path[256];
    struct strbuf sb;

    fx_msg(f, "", NULL);
    fx_batch(f, "address_file", 1, two);
    snprintf(path, sizeof(path), "%s/fromalias", f->dir);
    f->r[0].kind = CHILD_FILE;
    f->r[0].text = path;
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "mbox: a redirect's /path delivery "
           "(file unset) uses the path");
    sb_init(&sb);
    fx_read(path, &sb);
    ok(strncmp(sb_str(&sb), "From MAILER-DAEMON ", 19) == 0,
       "mbox: null sender gives From MAILER-DAEMON");
    sb_free(&sb);
    fx_batch(f, "address_file", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "mbox: no file and no /path defers");
    fx_batch(f, "address_file", 1, two);
    f->r[0].kind = CHILD_FILE;
    f->r[0].text = "relative/path";
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "mbox: a relative path is refused");
    fx_batch(f, "mbnc", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "mbox: missing file without "
           "create_file defers");
    snprintf(path, sizeof(path), "%s/nofile", f->dir);
    ok(access(path, F_OK) != 0, "mbox: and creates nothing");
}

/* the shared mbox is aimed at something else: refused, target intact */
static void refused(struct fx *f, const char *what, const char *target,
                    const char *reason)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/shared", f->dir);
    fx_batch(f, "mbs", 1, two);
    fx_run(f);
    ok(f->r[0].status == DLV_DEFER, "mbox: %s refused", what);
    ok(strstr(f->r[0].msg, reason) != NULL, "mbox: %s: reason (%s)", what,
       f->r[0].msg);
    if (target != NULL)
        ok(stat(target, &st) == 0 && st.st_size == 3, "mbox: %s: target "
           "untouched", what);
    unlink(path);
    rmdir(path);
}

static void test_mbox_refusals(struct fx *f)
{
    char path[256], target[256];

    fx_msg(f, "sender@example.net", NULL);
    snprintf(path, sizeof(path), "%s/shared", f->dir);
    snprintf(target, sizeof(target), "%s/target", f->dir);
    fx_write(target, "old");
    if (symlink(target, path) == 0)
        refused(f, "a symbolic link", target, "symbolic link");
    if (link(target, path) == 0)
        refused(f, "a file with two links", target, "2 links");
    if (mkdir(path, 0700) == 0)
        refused(f, "a directory", NULL, "Is a directory");
    if (mkfifo(path, 0600) == 0)
        refused(f, "a FIFO", NULL, "shared");
    if (geteuid() == 0 && fx_write(path, "old") == 0
        && chown(path, 65534, 65534) == 0)
        refused(f, "a file owned by another user", target, "owned by uid");
}

static off_t size_of(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* a write cut by RLIMIT_FSIZE: the mbox is truncated back */
static void test_mbox_rollback(struct fx *f)
{
    char path[256], lock[300], msgpath[300];
    struct strbuf before, after;
    off_t s0;
    pid_t pid;
    int st;

    snprintf(path, sizeof(path), "%s/shared", f->dir);
    snprintf(lock, sizeof(lock), "%s.lock", path);
    snprintf(msgpath, sizeof(msgpath), "%s/child.msg", f->dir);
    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "mbs", 1, two);
    fx_run(f);
    s0 = size_of(path);
    ok(f->r[0].status == DLV_OK && s0 > 0, "rollback: first message in");
    sb_init(&before);
    sb_init(&after);
    fx_read(path, &before);
    fx_batch(f, "mbs", 1, two);
    fflush(stdout);
    if ((pid = fork()) == 0) {
        struct rlimit rl = { (rlim_t)s0 + 50, RLIM_INFINITY };
        setrlimit(RLIMIT_FSIZE, &rl);
        fx_run(f);
        rl.rlim_cur = RLIM_INFINITY;
        setrlimit(RLIMIT_FSIZE, &rl);
        fx_write(msgpath, f->r[0].msg);
        _exit(f->r[0].status);
    }
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == DLV_DEFER, "rollback: a write "
       "error (EFBIG) defers");
    fx_read(msgpath, &after);
    ok(strstr(sb_str(&after), "File too large") != NULL
       && strstr(sb_str(&after), "appended data removed") != NULL,
       "rollback: reason says so (%s)", sb_str(&after));
    is_int(size_of(path), s0, "rollback: mbox back to its old size");
    fx_read(path, &after);
    ok(sb_len(&after) == sb_len(&before)
       && memcmp(sb_str(&after), sb_str(&before), sb_len(&before)) == 0,
       "rollback: old content intact");
    ok(access(lock, F_OK) != 0, "rollback: lock file removed");
    sb_free(&before);
    sb_free(&after);
}

static double elapsed(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec)
           + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_mbox_dotlock(struct fx *f)
{
    char lock[300];
    struct timeval old[2];
    struct timespec t0;

    snprintf(lock, sizeof(lock), "%s/shared.lock", f->dir);
    fx_msg(f, "sender@example.net", NULL);
    fx_write(lock, "");
    gettimeofday(&old[0], NULL);
    old[0].tv_sec -= 600;
    old[1] = old[0];
    utimes(lock, old);
    fx_batch(f, "mbs", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "dotlock: a stale lock (10 min) is "
           "broken");
    ok(access(lock, F_OK) != 0, "dotlock: and removed");
    fx_write(lock, "");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fx_batch(f, "mbs", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "dotlock: a fresh lock held past "
           "lock_timeout defers");
    ok(strstr(f->r[0].msg, "timed out") != NULL && elapsed(&t0) >= 0.9,
       "dotlock: after waiting lock_timeout (%s)", f->r[0].msg);
    ok(access(lock, F_OK) == 0, "dotlock: someone else's lock is left");
    unlink(lock);
}

static void test_mbox_fcntl(struct fx *f)
{
    char path[256], lock[300], c;
    int ready[2], fd, st;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/shared", f->dir);
    snprintf(lock, sizeof(lock), "%s.lock", path);
    if (pipe(ready) != 0)
        return;
    fflush(stdout);
    if ((pid = fork()) == 0) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        fd = open(path, O_WRONLY);
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        sleep(5);
        _exit(0);
    }
    close(ready[1]);
    ok(read(ready[0], &c, 1) == 1, "fcntl: another process holds the lock");
    close(ready[0]);
    fx_batch(f, "mbs", 1, two);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "fcntl: a held fcntl lock past "
           "lock_timeout defers");
    ok(strstr(f->r[0].msg, "timed out waiting for a lock") != NULL,
       "fcntl: reason (%s)", f->r[0].msg);
    ok(access(lock, F_OK) != 0, "fcntl: our dotlock released anyway");
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

#define NWRITERS 2
#define NMSGS 50

static void writer(struct fx *f, int w)
{
    char data[256];
    int bad = 0;

    for (int i = 0; i < NMSGS; i++) {
        snprintf(data, sizeof(data), "From: w@example.org\r\nSubject: %d\r\n"
                 "\r\nmarker w%d-%d\r\nFrom here\r\nend\r\n", i, w, i);
        fx_msg(f, "w@example.org", data);
        fx_batch(f, "mbc", 1, two);
        fx_run(f);
        bad += f->r[0].status != DLV_OK;
    }
    _exit(bad);
}

/* count messages; each must be whole; mark its (writer, i) seen */
static int parse_mbox(const char *s, int seen[NWRITERS][NMSGS])
{
    int n = 0, w, i, len;
    char tail[64];

    while (*s != '\0') {
        const char *end = strstr(s + 1, "\n\nFrom ");
        size_t mlen = end != NULL ? (size_t)(end - s) + 2 : strlen(s);
        if (strncmp(s, "From w@example.org ", 19) != 0)
            return -1;
        const char *b = strstr(s, "\n\nmarker w");
        if (b == NULL || (size_t)(b - s) > mlen
            || sscanf(b + 2, "marker w%d-%d\n%n", &w, &i, &len) != 2
            || w < 0 || w >= NWRITERS || i < 0 || i >= NMSGS)
            return -1;
        snprintf(tail, sizeof(tail), "%.*s", (int)(s + mlen - (b + 2 + len)),
                 b + 2 + len);
        if (strcmp(tail, ">From here\nend\n\n") != 0)
            return -1;
        seen[w][i]++;
        n++;
        s += mlen;
    }
    return n;
}

static void test_mbox_concurrent(struct fx *f)
{
    char path[256];
    int seen[NWRITERS][NMSGS], st, okw = 1, once = 1;
    pid_t pid[NWRITERS];
    struct strbuf sb;

    memset(seen, 0, sizeof(seen));
    fflush(stdout);
    for (int w = 0; w < NWRITERS; w++)
        if ((pid[w] = fork()) == 0)
            writer(f, w);
    for (int w = 0; w < NWRITERS; w++) {
        waitpid(pid[w], &st, 0);
        okw = okw && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    ok(okw, "concurrent: %d writers x %d messages all delivered", NWRITERS,
       NMSGS);
    snprintf(path, sizeof(path), "%s/concurrent", f->dir);
    sb_init(&sb);
    fx_read(path, &sb);
    is_int(parse_mbox(sb_str(&sb), seen), NWRITERS * NMSGS,
           "concurrent: every message intact and separate");
    for (int w = 0; w < NWRITERS; w++)
        for (int i = 0; i < NMSGS; i++)
            once = once && seen[w][i] == 1;
    ok(once, "concurrent: each marker exactly once");
    sb_free(&sb);
}

int main(void)
{
    struct fx f;

    if (!ok(fx_setup(&f, "test_tp_local", config) == 0,
            "configuration with maildir and mbox transports loads"))
        return done_testing();
    test_maildir(&f);
    test_maildir_fn(&f);
    test_quota(&f);
    test_maildir_errors(&f);
    test_mbox(&f);
    test_mbox_sources(&f);
    test_mbox_refusals(&f);
    test_mbox_rollback(&f);
    test_mbox_dotlock(&f);
    test_mbox_fcntl(&f);
    test_mbox_concurrent(&f);
    fx_teardown(&f);
    return done_testing();
}
