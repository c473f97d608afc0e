/*
 * test_ev.c - unit tests of the event loop (core/base/ev.c).
 *
 * PURPOSE: timer order and FIFO ties, O(log n) cancel keeping heap order,
 *          pipe readiness and HUP, table growth, and the re-entrancy rules:
 *          callbacks that add or remove fds and timers, themselves included;
 *          files epoll refuses (regular files, /dev/null) are always ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "test-suite/unit/tap.h"

static struct ev *ev;

/* ---- timers ------------------------------------------------------------ */

static int order[64];
static int norder;

static void record_cb(void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
}

static void run_until_idle(void)
{
    for (int i = 0; i < 1000 && ev_timer_count(ev) + ev_io_count(ev) > 0; i++)
        ev_run_once(ev, -1);
}

static void test_timer_order(void)
{
    static const struct { int ms; int id; } cases[] = {
        { 30, 3 }, { 10, 1 }, { 0, 10 }, { 20, 2 }, { 0, 11 }, { 10, 12 },
    };
    static const int want[] = { 10, 11, 1, 12, 2, 3 };
    int same = 1;

    norder = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ev_timer_add(ev, (uint64_t)cases[i].ms, record_cb,
                     (void *)(intptr_t)cases[i].id);
    is_int(ev_timer_count(ev), 6, "six timers armed");
    /* 1 and 12 tie only when added in the same millisecond; else 1 is
     * due first anyway */
    run_until_idle();
    is_int(norder, 6, "all six fired");
    for (int i = 0; i < 6; i++)
        if (order[i] != want[i])
            same = 0;
    ok(same, "timers fire by due time, FIFO among equal due times");
    is_int(ev_timer_count(ev), 0, "no timer left");
}

static void test_timer_wait(void)
{
    uint64_t t0 = ev_now_ms(ev), t1;

    norder = 0;
    ev_timer_add(ev, 50, record_cb, (void *)1);
    while (norder == 0)
        ev_run_once(ev, -1);
    t1 = ev_now_ms(ev);
    ok(t1 - t0 >= 50 && t1 - t0 < 500, "run_once(-1) sleeps until the timer "
       "(%llu ms)", (unsigned long long)(t1 - t0));
    is_int(ev_run_once(ev, -1), 0, "nothing registered: returns 0 at once");
    ev_timer_add(ev, 10000, record_cb, (void *)2);
    t0 = ev_now_ms(ev);
    is_int(ev_run_once(ev, 20), 0, "max_wait bounds the wait");
    t1 = ev_now_ms(ev);
    ok(t1 - t0 < 1000, "bounded wait returned early enough");
}

/* each timer's due time lies in [lo, hi]: the clock before and after its
 * ev_timer_add, plus its delay; a firing order is wrong only if a timer
 * fired before another that was certainly due earlier */
static uint64_t due_lo[1000], due_hi[1000];
static int fired[1000];
static int nfired;

static void due_cb(void *arg)
{
    fired[nfired++] = (int)(intptr_t)arg;
}

static void test_timer_cancel_many(void)
{
    struct ev_timer *t[1000];
    int sorted = 1, kept = 0;

    /* a pending 10 s timer from test_timer_wait must not disturb this */
    nfired = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t ms = (uint64_t)((i * 7919) % 40);
        due_lo[i] = ev_now_ms(ev) + ms;
        t[i] = ev_timer_add(ev, ms, due_cb, (void *)(intptr_t)i);
        due_hi[i] = ev_now_ms(ev) + ms;
    }
    for (int i = 0; i < 1000; i++) {
        if (i % 3 == 0)
            ev_timer_cancel(ev, t[i]);
        else
            kept++;
    }
    ev_timer_cancel(ev, NULL);
    is_int(ev_timer_count(ev), kept + 1, "cancelled timers left the heap");
    while (nfired < kept)
        ev_run_once(ev, -1);
    for (int i = 1; i < nfired; i++)
        if (due_hi[fired[i]] < due_lo[fired[i - 1]] || fired[i] % 3 == 0)
            sorted = 0;
    is_int(nfired, kept, "only the timers not cancelled fired");
    ok(sorted, "heap order survives cancels in the middle");
}

/* ---- timers touching timers during dispatch --------------------------- */

static struct ev_timer *victim, *self_t;
static int victim_ran, self_ran, child_ran;

static void victim_cb(void *arg)
{
    (void)arg;
    victim_ran++;
}

static void child_cb(void *arg)
{
    (void)arg;
    child_ran++;
}

static void killer_cb(void *arg)
{
    (void)arg;
    ev_timer_cancel(ev, victim);        /* due in the same dispatch */
    ev_timer_add(ev, 0, child_cb, NULL);
}

static void self_cancel_cb(void *arg)
{
    (void)arg;
    self_ran++;
    ev_timer_cancel(ev, self_t);        /* cancelling itself: a no-op */
}

static void test_timer_reentry(void)
{
    unsigned base = ev_timer_count(ev);
    int ran;

    ev_timer_add(ev, 0, killer_cb, NULL);
    victim = ev_timer_add(ev, 0, victim_cb, NULL);
    self_t = ev_timer_add(ev, 0, self_cancel_cb, NULL);
    usleep(2000);
    ran = ev_run_once(ev, 0);
    is_int(ran, 2, "killer and self-cancel ran, victim did not");
    is_int(victim_ran, 0, "a due timer cancelled by an earlier one is skipped");
    is_int(self_ran, 1, "a timer may cancel itself");
    is_int(child_ran, 0, "a 0 ms timer added in dispatch waits a round");
    is_int(ev_run_once(ev, 0), 1, "next round runs the child");
    is_int(child_ran, 1, "child ran once");
    is_int(ev_timer_count(ev), base, "nothing left over");
}

/* ---- fds --------------------------------------------------------------- */

struct pipe_w {
    int p[2];
    int calls;
    unsigned last;
};

static void pipe_open(struct pipe_w *w)
{
    memset(w, 0, sizeof(*w));
    if (pipe2(w->p, O_CLOEXEC | O_NONBLOCK) != 0)
        abort();
}

static void pipe_close(struct pipe_w *w)
{
    for (int i = 0; i < 2; i++)
        if (w->p[i] >= 0) {
            ev_io_del(ev, w->p[i]);
            close(w->p[i]);
            w->p[i] = -1;
        }
}

static void count_cb(int fd, unsigned events, void *arg)
{
    struct pipe_w *w = arg;
    char buf[16];

    w->calls++;
    w->last = events;
    if (fd == w->p[0] && (events & EV_READ))
        (void)!read(fd, buf, sizeof(buf));
}

static void test_pipe(void)
{
    struct pipe_w w;

    pipe_open(&w);
    is_int(ev_io_set(ev, w.p[0], EV_READ, count_cb, &w), 0, "watch read end");
    is_int(ev_io_count(ev), 1, "one fd watched");
    is_int(ev_run_once(ev, 10), 0, "empty pipe: nothing ready");
    is_int(write(w.p[1], "x", 1), 1, "write a byte");
    is_int(ev_run_once(ev, 1000), 1, "readable pipe: one callback");
    ok(w.calls == 1 && w.last == EV_READ, "callback saw EV_READ");
    is_int(ev_io_set(ev, w.p[1], EV_WRITE, count_cb, &w), 0, "watch write end");
    w.calls = 0;
    is_int(ev_run_once(ev, 1000), 1, "write end is writable");
    ok(w.last == EV_WRITE, "callback saw EV_WRITE");
    ev_io_del(ev, w.p[1]);
    close(w.p[1]);
    w.p[1] = -1;
    w.calls = 0;
    is_int(ev_run_once(ev, 1000), 1, "peer closed: read end reports");
    ok(w.last & EV_READ, "HUP reported as EV_READ");
    is_int(ev_io_set(ev, w.p[0], 0, count_cb, &w), 0, "events 0 unwatches");
    is_int(ev_io_count(ev), 0, "no fd watched");
    pipe_close(&w);
}

static void test_io_errors(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct pipe_w w;

    errno = 0;
    ok(ev_io_set(ev, -1, EV_READ, count_cb, NULL) == -1 && errno == EBADF,
       "negative fd: EBADF");
    close(fd);
    errno = 0;
    ok(ev_io_set(ev, fd, EV_READ, count_cb, NULL) == -1 && errno == EBADF,
       "closed fd: epoll's EBADF");
    is_int(ev_io_count(ev), 0, "failed set leaves nothing watched");
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pipe_open(&w);
    is_int(ev_io_set(ev, w.p[0], EV_READ, count_cb, &w), 0, "a pipe watched");
    ev_io_del(ev, fd);
    ev_io_del(ev, 100000);
    ev_io_del(ev, -1);
    is_int(ev_io_count(ev), 1, "ev_io_del of unwatched fds: still one watched");
    is_int(write(w.p[1], "x", 1), 1, "the watched pipe made ready");
    is_int(ev_run_once(ev, 1000), 1, "and it still dispatches");
    is_int(w.calls, 1, "to its callback");
    ev_io_del(ev, w.p[0]);
    close(fd);
    fd = fcntl(w.p[1], F_DUPFD_CLOEXEC, 900);
    ok(fd >= 900, "dup to a high fd (%d)", fd);
    is_int(ev_io_set(ev, fd, EV_WRITE, count_cb, &w), 0, "fd table grows");
    is_int(ev_run_once(ev, 1000), 1, "high fd dispatches");
    ev_io_del(ev, fd);
    close(fd);
    pipe_close(&w);
}

/* ---- fds touching fds during dispatch ---------------------------------- */

static struct pipe_w pa, pb, pc;
static int reused_fd;

/* first callback of the round (epoll picks which pipe): unwatch and close
 * the other pipe, which is also ready, reuse its fd number for a new idle
 * pipe, and unwatch itself */
static void remover_cb(int fd, unsigned events, void *arg)
{
    struct pipe_w *self = arg, *other = self == &pa ? &pb : &pa;
    int old = other->p[0];

    (void)events;
    self->calls++;
    pipe_close(other);
    pipe_open(&pc);
    reused_fd = pc.p[0] == old;
    if (ev_io_set(ev, pc.p[0], EV_READ, count_cb, &pc) != 0)
        abort();
    ev_io_del(ev, fd);
}

static void test_io_reentry(void)
{
    int ran;

    pc.p[0] = pc.p[1] = -1;
    pipe_open(&pa);
    pipe_open(&pb);
    ev_io_set(ev, pa.p[0], EV_READ, remover_cb, &pa);
    ev_io_set(ev, pb.p[0], EV_READ, remover_cb, &pb);
    is_int(write(pa.p[1], "a", 1) + write(pb.p[1], "b", 1), 2, "both ready");
    ran = ev_run_once(ev, 1000);
    is_int(ran, 1, "one callback: the other fd was removed in dispatch");
    is_int(pa.calls + pb.calls, 1, "remover ran once");
    ok(reused_fd, "the new pipe reuses the removed fd number");
    is_int(pc.calls, 0, "stale event not delivered to the fd's new owner");
    is_int(ev_io_count(ev), 1, "only the new pipe is watched");
    is_int(ev_run_once(ev, 10), 0, "new pipe idle");
    pipe_close(&pa);
    pipe_close(&pb);
    pipe_close(&pc);
    is_int(ev_io_count(ev), 0, "all unwatched");
}

/* ---- files epoll refuses (EPERM): always ready, as poll(2) says ------- */

struct file_w {
    int fd;
    int calls;
    unsigned last;
    size_t got;             /* bytes read */
    int eof;
};

static void file_cb(int fd, unsigned events, void *arg)
{
    struct file_w *w = arg;
    char buf[4];
    ssize_t n;

    w->calls++;
    w->last = events;
    if (!(events & EV_READ))
        return;
    n = read(fd, buf, sizeof(buf));
    if (n > 0)
        w->got += (size_t)n;
    else if (n == 0) {
        w->eof = 1;
        ev_io_del(ev, fd);
    }
}

static int file_with(const char *text)
{
    char path[] = "/tmp/test_ev.XXXXXX";
    int fd = mkstemp(path);

    if (fd < 0 || unlink(path) != 0
        || write(fd, text, strlen(text)) != (ssize_t)strlen(text)
        || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    return fd;
}

static void test_always_ready(void)
{
    struct file_w f = { file_with("0123456789"), 0, 0, 0, 0 };
    struct file_w n = { open("/dev/null", O_WRONLY | O_CLOEXEC), 0, 0, 0, 0 };
    struct ev_timer *t;
    uint64_t t0;
    int rounds = 0;

    is_int(ev_io_set(ev, f.fd, EV_READ, file_cb, &f), 0,
           "a regular file can be watched");
    is_int(ev_io_count(ev), 1, "it counts as watched");
    t = ev_timer_add(ev, 10000, record_cb, NULL);
    t0 = ev_now_ms(ev);
    while (!f.eof && rounds++ < 20)
        ev_run_once(ev, -1);
    ok(ev_now_ms(ev) - t0 < 2000, "the loop does not sleep while a file is "
       "ready (%llu ms)", (unsigned long long)(ev_now_ms(ev) - t0));
    ok(f.got == 10 && f.eof, "every byte then EOF read (%zu bytes)", f.got);
    is_int(f.calls, 4, "one callback per round: 4+4+2 bytes, then EOF");
    is_int(ev_io_count(ev), 0, "removed by its callback at EOF");
    is_int(ev_run_once(ev, 20), 0, "no longer dispatched");
    is_int(ev_io_set(ev, n.fd, EV_WRITE, file_cb, &n), 0,
           "/dev/null can be watched for writing");
    is_int(ev_run_once(ev, -1), 1, "and is ready at once");
    ok(n.last == EV_WRITE, "for what it asked (EV_WRITE)");
    is_int(ev_io_set(ev, n.fd, EV_READ | EV_WRITE, file_cb, &n), 0,
           "modify the events of a file");
    n.calls = 0;
    is_int(ev_run_once(ev, -1), 1, "one callback");
    ok(n.last == (EV_READ | EV_WRITE), "with both events");
    ev_io_del(ev, n.fd);
    ev_timer_cancel(ev, t);
    is_int(ev_io_count(ev), 0, "nothing watched");
    close(f.fd);
    close(n.fd);
}

/* open_fds - how many fds this process has open */
static int open_fds(void)
{
    int n = 0;

    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static void free_null_ev(void)
{
    ev_free(NULL);
}

/* ev_free with pending timers and a watched fd: nothing is called, its
 * epoll fd is closed, the caller's fds stay open (leaks: ASan's at exit) */
static void test_free_pending(void)
{
    int fds = open_fds();
    struct ev *e2 = ev_new();
    struct pipe_w w;

    norder = 0;
    pipe_open(&w);
    ok(e2 != NULL && open_fds() == fds + 3, "ev_new and a pipe: 3 more fds");
    ev_timer_add(e2, 1000, record_cb, NULL);
    ev_timer_add(e2, 0, record_cb, NULL);
    is_int(write(w.p[1], "x", 1), 1, "the watched pipe is ready");
    is_int(ev_io_set(e2, w.p[0], EV_READ, count_cb, &w), 0, "and watched");
    ev_free(e2);
    is_int(norder + w.calls, 0, "ev_free runs no timer and no io callback");
    is_int(open_fds(), fds + 2, "ev_free closes its epoll fd only");
    ok(fcntl(w.p[0], F_GETFD) != -1 && fcntl(w.p[1], F_GETFD) != -1,
       "the caller's fds stay open");
    ok(survives(free_null_ev), "ev_free(NULL) returns");
    close(w.p[0]);
    close(w.p[1]);
}

int main(void)
{
    ev = ev_new();
    is_int(ev_run_once(ev, -1), 0, "empty loop: run_once returns 0 at once");
    test_timer_order();
    test_timer_wait();
    test_timer_cancel_many();
    test_timer_reentry();
    test_pipe();
    test_io_errors();
    test_io_reentry();
    test_always_ready();
    test_free_pending();
    ev_free(ev);
    return done_testing();
}
