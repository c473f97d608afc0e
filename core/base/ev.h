/*
 * ev.h - the event loop: epoll readiness plus millisecond timers.
 *
 * One loop per process (worker, scheduler, one-shot mode). Callbacks run on
 * the loop's thread; nothing blocks. Modelled on Redis's ae and Postfix's
 * nine-call events API.
 *
 * INTERFACE: ev_new, ev_free, ev_io_set (add/modify/remove interest in an
 *            fd), ev_io_del, ev_timer_add, ev_timer_cancel, ev_run_once,
 *            ev_now_ms, ev_timer_count, ev_io_count.
 * ERRORS:    ev_io_set returns -1 with errno (EBADF, ENOMEM...); epoll
 *            failures other than EINTR in ev_run_once call fatal().
 * A regular file or a device epoll refuses (EPERM: stdin of -bs < file,
 * /dev/null) is watched as always ready, as poll(2) treats it: its
 * callback runs every round and the loop does not sleep meanwhile.
 * Callbacks may add and remove fds and timers, themselves included; an
 * event for an fd removed earlier in the same round is dropped, and a
 * timer added during a round fires in a later one. ev_free calls nothing.
 */
#ifndef TERN_EV_H
#define TERN_EV_H

#include <stdint.h>

enum { EV_READ = 1, EV_WRITE = 2 };

struct ev;
struct ev_timer;

/* events: the EV_READ/EV_WRITE bits that are ready (EV_READ also on HUP/ERR) */
typedef void (*ev_io_cb)(int fd, unsigned events, void *arg);
typedef void (*ev_timer_cb)(void *arg);

struct ev *ev_new(void);
void ev_free(struct ev *ev);
/* ev_io_set - watch fd for events (0 = stop watching but keep nothing) */
int ev_io_set(struct ev *ev, int fd, unsigned events, ev_io_cb cb, void *arg);
void ev_io_del(struct ev *ev, int fd);
/* ev_timer_add - call cb once after ms milliseconds; the handle dies then */
struct ev_timer *ev_timer_add(struct ev *ev, uint64_t ms, ev_timer_cb cb,
                              void *arg);
/* ev_timer_cancel - cancel a timer that has not fired (NULL ok) */
void ev_timer_cancel(struct ev *ev, struct ev_timer *t);
/* ev_run_once - wait at most max_wait_ms (-1: until the next timer or event),
 * dispatch what is ready; returns the number of callbacks run */
int ev_run_once(struct ev *ev, int max_wait_ms);
uint64_t ev_now_ms(struct ev *ev);
unsigned ev_timer_count(const struct ev *ev);
unsigned ev_io_count(const struct ev *ev);

#endif
