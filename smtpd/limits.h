/*
 * limits.h - connection limits shared by all worker processes: total
 *            sessions (smtp_accept_max), sessions per client IP
 *            (smtp_accept_max_per_host) and new connections per IP per
 *            minute (smtp_accept_max_per_minute_per_host).
 *
 * A shared anonymous mapping made by the master before it forks, guarded
 * by a process-shared robust mutex. Counts are kept per worker, so when a
 * worker dies the master clears its share (limits_worker_gone) and no
 * count leaks.
 *
 * INTERFACE: limits_new, limits_free, limits_enter, limits_leave,
 *            limits_worker_gone, limits_raise_nofile.
 */
#ifndef TERN_LIMITS_H
#define TERN_LIMITS_H

struct limits;
struct conf_main;

#define LIMITS_MAX_WORKERS 64

struct limits *limits_new(void);
void limits_free(struct limits *l);
/* limits_enter - count a new session of worker w from ip; 0 ok, else -1
 * and *why is the refusal text for the 421 */
int limits_enter(struct limits *l, int w, const char *ip,
                 const struct conf_main *m, const char **why);
void limits_leave(struct limits *l, int w, const char *ip);
void limits_worker_gone(struct limits *l, int w);
/* limits_raise_nofile - raise this process's soft RLIMIT_NOFILE to what
 * smtp_accept_max sessions need on one worker (never above the hard
 * limit); a warning in the main log when the limit stays lower. The
 * master calls it before it forks workers (at start and on reload). */
void limits_raise_nofile(const struct conf_main *m);

#endif
