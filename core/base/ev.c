/*
 * ev.c - the event loop: epoll for fds, a binary min-heap for timers.
 *
 * PURPOSE:   one loop per process; see ev.h for the contract.
 * INTERFACE: ev_new, ev_free, ev_io_set, ev_io_del, ev_timer_add,
 *            ev_timer_cancel, ev_run_once, ev_now_ms, ev_timer_count,
 *            ev_io_count.
 * ERRORS:    ev_io_set: -1 with errno from epoll_ctl; epoll_wait failures
 *            other than EINTR are fatal().
 *
 * Dispatch is re-entrant: a callback may add or remove any fd or timer,
 * itself included. Each fd slot carries a generation that is packed into the
 * epoll data with the fd, so an event collected before a callback removed
 * (and maybe re-added) that fd is recognised as stale and dropped. Timers
 * are ordered by (due, seq); one dispatch runs only the timers that were due
 * when it started, so a callback that re-arms a 0 ms timer cannot starve
 * the loop.
 *
 * A file epoll cannot watch (a regular file or /dev/null as the stdin of
 * -bs/-bh: epoll_ctl says EPERM) is, as poll(2) says of such files,
 * always ready: its callback runs on every round for the events it asked
 * for, and the loop does not sleep while one is watched.
 * Each turn tells the watchdog (watchdog.h) when it stops and
 * starts waiting, so a process stuck in a callback can be found.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fatal.h"
#include "log.h"
#include "watchdog.h"
#include "xalloc.h"
#include "ev.h"

#define EV_MAX_EVENTS 64
#define IDX_FIRING ((size_t)-1)     /* popped, its callback is running */

struct ev_timer {
    uint64_t due;           /* CLOCK_MONOTONIC ms */
    uint64_t seq;           /* tie-break: FIFO among equal due times */
    size_t idx;             /* position in the heap, or IDX_FIRING */
    ev_timer_cb cb;
    void *arg;
};

struct io_slot {
    ev_io_cb cb;            /* NULL: not watched */
    void *arg;
    unsigned events;        /* EV_READ | EV_WRITE */
    uint32_t gen;           /* bumped on every removal */
    int always;             /* not pollable (EPERM): always ready */
};

struct ev {
    int epfd;
    struct io_slot *io;     /* indexed by fd */
    size_t io_cap;
    unsigned io_n;
    unsigned always_n;      /* watched slots with always set */
    struct ev_timer **heap;
    size_t heap_n, heap_cap;
    uint64_t seq;
    uint64_t now;
};

static uint64_t clock_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        fatal("clock_gettime(CLOCK_MONOTONIC): %s", strerror(errno));
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ev_new - an empty loop */
struct ev *ev_new(void)
{
    struct ev *ev = xcalloc(1, sizeof(*ev));

    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ev->epfd < 0)
        fatal("epoll_create1: %s", strerror(errno));
    ev->now = clock_ms();
    return ev;
}

/* ev_free - release the loop; pending callbacks are never called (NULL ok) */
void ev_free(struct ev *ev)
{
    if (ev == NULL)
        return;
    for (size_t i = 0; i < ev->heap_n; i++)
        free(ev->heap[i]);
    free(ev->heap);
    free(ev->io);
    if (close(ev->epfd) != 0)
        log_warn("ev_free: close(epoll): %s", strerror(errno));
    free(ev);
}

/* ---- timer heap ------------------------------------------------------- */

static int timer_before(const struct ev_timer *a, const struct ev_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_place(struct ev *ev, size_t i, struct ev_timer *t)
{
    ev->heap[i] = t;
    t->idx = i;
}

static void sift_up(struct ev *ev, size_t i)
{
    struct ev_timer *t = ev->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, ev->heap[parent]))
            break;
        heap_place(ev, i, ev->heap[parent]);
        i = parent;
    }
    heap_place(ev, i, t);
}

static void sift_down(struct ev *ev, size_t i)
{
    struct ev_timer *t = ev->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ev->heap_n)
            break;
        if (c + 1 < ev->heap_n && timer_before(ev->heap[c + 1], ev->heap[c]))
            c++;
        if (!timer_before(ev->heap[c], t))
            break;
        heap_place(ev, i, ev->heap[c]);
        i = c;
    }
    heap_place(ev, i, t);
}

/* heap_remove - take the timer at i out of the heap */
static void heap_remove(struct ev *ev, size_t i)
{
    struct ev_timer *last = ev->heap[--ev->heap_n];

    if (i == ev->heap_n)
        return;
    heap_place(ev, i, last);
    sift_down(ev, i);
    sift_up(ev, last->idx);
}

/* ev_timer_add - call cb(arg) once, ms milliseconds from now */
struct ev_timer *ev_timer_add(struct ev *ev, uint64_t ms, ev_timer_cb cb,
                              void *arg)
{
    struct ev_timer *t = xcalloc(1, sizeof(*t));

    t->due = clock_ms() + ms;
    t->seq = ev->seq++;
    t->cb = cb;
    t->arg = arg;
    if (ev->heap_n == ev->heap_cap) {
        ev->heap_cap = ev->heap_cap ? ev->heap_cap * 2 : 16;
        ev->heap = xreallocarray(ev->heap, ev->heap_cap, sizeof(*ev->heap));
    }
    ev->heap[ev->heap_n++] = t;
    sift_up(ev, ev->heap_n - 1);
    return t;
}

/* ev_timer_cancel - forget a timer that has not fired; O(log n) */
void ev_timer_cancel(struct ev *ev, struct ev_timer *t)
{
    if (t == NULL)
        return;
    if (t->idx == IDX_FIRING)       /* from its own callback: freed after */
        return;
    if (t->idx >= ev->heap_n || ev->heap[t->idx] != t)
        panic("ev_timer_cancel: %p is not a live timer", (void *)t);
    heap_remove(ev, t->idx);
    free(t);
}

/* run_timers - fire the timers due at now that existed before this call */
static int run_timers(struct ev *ev)
{
    uint64_t limit = ev->seq;
    int ran = 0;

    while (ev->heap_n > 0) {
        struct ev_timer *t = ev->heap[0];
        if (t->due > ev->now || t->seq >= limit)
            break;
        heap_remove(ev, 0);
        t->idx = IDX_FIRING;
        watchdog_callback();
        t->cb(t->arg);
        free(t);
        ran++;
    }
    return ran;
}

/* ---- fds -------------------------------------------------------------- */

static void io_grow(struct ev *ev, int fd)
{
    size_t cap = ev->io_cap ? ev->io_cap : 64;

    while (cap <= (size_t)fd)
        cap *= 2;
    ev->io = xreallocarray(ev->io, cap, sizeof(*ev->io));
    memset(ev->io + ev->io_cap, 0, (cap - ev->io_cap) * sizeof(*ev->io));
    ev->io_cap = cap;
}

static int epoll_set(struct ev *ev, int fd, const struct io_slot *s, int op)
{
    struct epoll_event ee;

    memset(&ee, 0, sizeof(ee));
    ee.events = ((s->events & EV_READ) ? EPOLLIN : 0)
                | ((s->events & EV_WRITE) ? EPOLLOUT : 0);
    ee.data.u64 = ((uint64_t)s->gen << 32) | (uint32_t)fd;
    if (epoll_ctl(ev->epfd, op, fd, &ee) == 0)
        return 0;
    /* a watched fd closed without ev_io_del left epoll on its own; its
     * number may now name a new file */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
        return epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee);
    return -1;
}

/* fd_always_ready - whether fd is a file poll(2) calls always ready
 * (regular file, character device such as /dev/null) that epoll refuses */
static int fd_always_ready(int fd)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return 0;
    return S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)
           || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode);
}

/* ev_io_set - watch fd for events with cb; events 0 is ev_io_del */
int ev_io_set(struct ev *ev, int fd, unsigned events, ev_io_cb cb, void *arg)
{
    struct io_slot *s;
    int was_on;

    if (fd < 0 || cb == NULL || (events & ~(unsigned)(EV_READ | EV_WRITE))) {
        errno = fd < 0 ? EBADF : EINVAL;
        return -1;
    }
    if (events == 0) {
        ev_io_del(ev, fd);
        return 0;
    }
    if ((size_t)fd >= ev->io_cap)
        io_grow(ev, fd);
    s = &ev->io[fd];
    was_on = s->cb != NULL;
    s->events = events;
    if (!s->always
        && epoll_set(ev, fd, s, was_on ? EPOLL_CTL_MOD : EPOLL_CTL_ADD) != 0) {
        if (!was_on && errno == EPERM && fd_always_ready(fd)) {
            s->always = 1;
            ev->always_n++;
        } else {
            if (was_on)
                ev_io_del(ev, fd);
            return -1;
        }
    }
    s->cb = cb;
    s->arg = arg;
    if (!was_on)
        ev->io_n++;
    return 0;
}

/* ev_io_del - stop watching fd (not watched: no-op); call before close() */
void ev_io_del(struct ev *ev, int fd)
{
    struct io_slot *s;

    if (fd < 0 || (size_t)fd >= ev->io_cap || ev->io[fd].cb == NULL)
        return;
    s = &ev->io[fd];
    /* ENOENT/EBADF: the fd was closed first and epoll already dropped it */
    if (s->always)
        ev->always_n--;
    else
        (void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
    s->always = 0;
    s->cb = NULL;
    s->arg = NULL;
    s->events = 0;
    s->gen++;
    ev->io_n--;
}

/* io_dispatch - one epoll event to its callback unless it went stale */
static int io_dispatch(struct ev *ev, const struct epoll_event *ee)
{
    int fd = (int)(uint32_t)ee->data.u64;
    uint32_t gen = (uint32_t)(ee->data.u64 >> 32);
    struct io_slot *s;
    unsigned ready = 0;

    if ((size_t)fd >= ev->io_cap)
        return 0;
    s = &ev->io[fd];
    if (s->cb == NULL || s->gen != gen)
        return 0;
    if (ee->events & EPOLLIN)
        ready |= EV_READ;
    if (ee->events & EPOLLOUT)
        ready |= EV_WRITE;
    if (ee->events & (EPOLLHUP | EPOLLERR))
        ready |= EV_READ | s->events;
    ready &= s->events | EV_READ;
    if (ready == 0)
        return 0;
    watchdog_callback();
    s->cb(fd, ready, s->arg);
    return 1;
}

/* always_dispatch - the round of the fds epoll cannot watch: each watched
 * at the start of the round is ready for what it asked; one removed (or
 * replaced) by an earlier callback of the round is skipped */
static int always_dispatch(struct ev *ev)
{
    size_t n = ev->io_cap;
    uint64_t *gens = xcalloc(n, sizeof(*gens));
    int ran = 0;

    for (size_t fd = 0; fd < n; fd++)
        gens[fd] = ev->io[fd].always ? (1ULL << 32 | ev->io[fd].gen) : 0;
    for (size_t fd = 0; fd < n; fd++) {
        struct io_slot *s = &ev->io[fd];   /* io may move in a callback */
        if (gens[fd] == 0 || s->cb == NULL || !s->always
            || (1ULL << 32 | s->gen) != gens[fd])
            continue;
        s->cb((int)fd, s->events, s->arg);
        ran++;
    }
    free(gens);
    return ran;
}

/* ---- the loop --------------------------------------------------------- */

static int wait_ms(struct ev *ev, int max_wait_ms)
{
    uint64_t now, due;
    int ms;

    if (ev->always_n > 0)
        return 0;               /* an always-ready fd: do not sleep */
    if (ev->heap_n == 0)
        return max_wait_ms < 0 ? -1 : max_wait_ms;
    now = clock_ms();
    due = ev->heap[0]->due;
    ms = due <= now ? 0 : (due - now > 0x7fffffff ? 0x7fffffff
                                                  : (int)(due - now));
    if (max_wait_ms >= 0 && max_wait_ms < ms)
        ms = max_wait_ms;
    return ms;
}

/* ev_run_once - wait (bounded by max_wait_ms, -1: by the next timer only),
 * dispatch ready fds then due timers; the number of callbacks run */
int ev_run_once(struct ev *ev, int max_wait_ms)
{
    struct epoll_event evs[EV_MAX_EVENTS];
    int n, ran = 0;

    if (ev->heap_n == 0 && ev->io_n == 0)
        return 0;
    watchdog_turn_end();        /* waiting is not being stuck */
    n = epoll_wait(ev->epfd, evs, EV_MAX_EVENTS, wait_ms(ev, max_wait_ms));
    watchdog_turn_begin();
    if (n < 0) {
        if (errno != EINTR)
            fatal("epoll_wait: %s", strerror(errno));
        n = 0;
    }
    for (int i = 0; i < n; i++)
        ran += io_dispatch(ev, &evs[i]);
    if (ev->always_n > 0)
        ran += always_dispatch(ev);
    ev->now = clock_ms();
    ran += run_timers(ev);
    return ran;
}

/* ev_now_ms - the monotonic clock in milliseconds */
uint64_t ev_now_ms(struct ev *ev)
{
    ev->now = clock_ms();
    return ev->now;
}

/* ev_timer_count - timers armed and not yet fired */
unsigned ev_timer_count(const struct ev *ev)
{
    return (unsigned)ev->heap_n;
}

/* ev_io_count - fds watched */
unsigned ev_io_count(const struct ev *ev)
{
    return ev->io_n;
}
