/*
 * test_spool_syncer.c - the group commit runs on the spool's sync thread
 * while the event loop goes on.
 *
 * This program defines its own syncfs(2), which the static link puts in
 * front of libc's: while `held` is set it waits on a pipe before making
 * the real call, so a test can hold a batch in the middle of its sync and
 * watch what the loop does meanwhile. Checks: the loop keeps running and
 * accepting commits while a batch syncs; no callback (no 250) runs before
 * its batch is durable; commits made meanwhile form one next batch; a
 * forked child syncs inline; spool_close waits for the thread; the
 * process has the thread only once something was committed; with nothing
 * in flight the loop watches nothing of the spool's (one-shot runs wait
 * for their loop to empty).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/spool/spool.h"
#include "test-suite/unit/tap.h"

static int held;                /* syncfs waits for a byte on gate[0] */
static int gate[2];
static int entered[2];          /* syncfs writes a byte here on entry */
static pthread_t syncfs_thread; /* who called syncfs last */

int syncfs(int fd)
{
    char c;
    struct pollfd p = { .fd = -1, .events = POLLIN };

    syncfs_thread = pthread_self();
    if (__atomic_load_n(&held, __ATOMIC_SEQ_CST)) {
        p.fd = gate[0];
        /* bounded, so a sync on the loop's own thread fails the test
         * instead of hanging it */
        if (write(entered[1], "e", 1) != 1
            || (poll(&p, 1, 3000) == 1 && read(gate[0], &c, 1) != 1))
            return -1;
    }
    return (int)syscall(SYS_syncfs, fd);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

struct tally {
    int done, failed;
};

static void tally_cb(int rc, const char *why, void *arg)
{
    struct tally *t = arg;

    (void)why;
    t->done++;
    t->failed += rc != 0;
}

static void commit_n(struct spool *sp, int n, struct tally *t)
{
    struct spool_env env;
    struct errbuf eb;
    static const char *rcpt[] = { "rcpt@example.net" };

    for (int i = 0; i < n; i++) {
        struct spool_writer *w;

        memset(&env, 0, sizeof env);
        msgid_new(env.id);
        env.sender = "s@example.org";
        env.helo = env.client_ip = env.client_name = env.protocol = "x";
        env.auth_id = env.tls_cipher = env.body_type = env.local_user = "";
        env.rcpts = rcpt;
        env.nrcpt = 1;
        w = spool_writer_new(sp, &env, &eb);
        if (w == NULL) {
            printf("# spool_writer_new: %s\n", eb.msg);
            exit(1);
        }
        spool_writer_write(w, "Subject: x\r\n\r\nbody\r\n", 20);
        spool_commit(w, tally_cb, t);
    }
}

static int threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* wait_entered - the thread is inside syncfs (bounded: 5 s) */
static int wait_entered(void)
{
    char c;
    fd_set r;
    struct timeval tv = { 5, 0 };

    FD_ZERO(&r);
    FD_SET(entered[0], &r);
    return select(entered[0] + 1, &r, NULL, NULL, &tv) == 1
           && read(entered[0], &c, 1) == 1;
}

static void run_until(struct ev *ev, struct tally *t, int want)
{
    for (int i = 0; i < 100 && t->done < want; i++)
        ev_run_once(ev, 100);
}

static void test_pipeline(const char *dir)
{
    struct ev *ev = ev_new();
    struct errbuf eb;
    struct spool *sp = spool_open(dir, ev, &eb);
    struct tally a = { 0, 0 }, b = { 0, 0 };
    unsigned long long b0;
    long t0;

    is_int(threads(), 1, "no sync thread before the first commit");
    b0 = spool_commit_batches(sp);
    __atomic_store_n(&held, 1, __ATOMIC_SEQ_CST);
    commit_n(sp, 3, &a);
    ev_run_once(ev, 0);                 /* the turn ends: batch 1 handed off */
    ok(wait_entered(), "batch 1 is syncing on the thread");
    ok(!pthread_equal(syncfs_thread, pthread_self()),
       "syncfs runs on another thread than the loop");
    is_int(threads(), 2, "one sync thread");
    t0 = now_ms();
    commit_n(sp, 4, &b);                /* the loop goes on meanwhile */
    for (int i = 0; i < 5; i++)
        ev_run_once(ev, 20);
    ok(now_ms() - t0 < 1500, "the loop kept turning while batch 1 was "
       "held in its sync (%ld ms for 5 turns)", now_ms() - t0);
    is_int(a.done + b.done, 0, "no callback before its batch is durable");
    __atomic_store_n(&held, 0, __ATOMIC_SEQ_CST);
    if (write(gate[1], "g", 1) != 1)
        printf("# gate write failed\n");
    run_until(ev, &a, 3);
    run_until(ev, &b, 4);
    ok(a.done == 3 && a.failed == 0, "batch 1's three commits succeeded");
    ok(b.done == 4 && b.failed == 0, "the four made meanwhile succeeded");
    is_int((int)(spool_commit_batches(sp) - b0), 2,
           "the four made during the sync formed one batch");
    is_int((int)ev_io_count(ev), 0,
           "nothing in flight: the loop watches no spool descriptor");
    spool_close(sp);
    ev_free(ev);
}

/* a child of a process whose spool has a thread commits inline */
static void test_fork(const char *dir)
{
    struct ev *ev = ev_new();
    struct errbuf eb;
    struct spool *sp = spool_open(dir, ev, &eb);
    struct tally t = { 0, 0 };
    int status = -1;
    pid_t pid;

    commit_n(sp, 2, &t);
    run_until(ev, &t, 2);
    ok(t.done == 2 && t.failed == 0, "parent: committed on its thread");
    pid = fork();
    if (pid == 0) {
        struct tally c = { 0, 0 };

        commit_n(sp, 2, &c);
        spool_flush(sp);
        _exit(c.done == 2 && c.failed == 0 && threads() == 1 ? 0 : 1);
    }
    ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
       && WEXITSTATUS(status) == 0,
       "a forked child commits inline, without the parent's thread");
    commit_n(sp, 3, &t);
    spool_close(sp);                    /* waits for the thread */
    is_int(t.done, 5, "spool_close committed what was queued");
    is_int(threads(), 1, "spool_close stopped the thread");
    ev_free(ev);
}

static int count_files(const char *dir)
{
    char path[600];
    int n = 0;

    for (const char *c = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                         "klmnopqrstuvwxyz"; *c; c++) {
        DIR *d;
        struct dirent *e;

        snprintf(path, sizeof path, "%s/input/%c", dir, *c);
        if ((d = opendir(path)) == NULL)
            continue;
        while ((e = readdir(d)) != NULL)
            n += e->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

int main(void)
{
    char top[256], dir[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

    snprintf(top, sizeof top, "%s/tern-syncer-XXXXXX", tmp);
    if (mkdtemp(top) == NULL || pipe(gate) < 0 || pipe(entered) < 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/spool", top);
    test_pipeline(dir);
    test_fork(dir);
    is_int(count_files(dir), 14, "14 message files, no temp file left");
    if (fork() == 0)
        execlp("rm", "rm", "-rf", top, (char *)NULL);
    wait(NULL);
    return done_testing();
}
