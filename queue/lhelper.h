/*
 * lhelper.h - local delivery helpers (private to queue/): processes the
 *             scheduler forks, each running for good as one identity,
 *             that deliver the local batches it sends them, one job (a
 *             group of batches) at a time, over a socketpair.
 *
 * The scheduler's end (sched_lhelper.c) spawns a helper, sends it jobs
 * and reads the results on its loop; when a job is over, every batch of
 * it has gone through sres_batch (recipients the helper did not answer,
 * because it died, are deferred) and the owner's callback hears LH_IDLE;
 * when the helper has exited (retired, or killed) it hears LH_GONE and
 * the handle is freed after the call. The helper's end (lhelper.c) runs
 * in the child: it drops what it inherited but does not own, becomes its
 * user and serves jobs until the scheduler closes the socket.
 * INTERFACE: lh_spawn, lh_send, lh_busy, lh_retire, lh_pid, lh_free_all
 *            (scheduler); lhelper_run (the child).
 * SECURITY: a helper never runs as root: the scheduler refuses uid 0
 * before it asks for one (sched_local.c), and the child checks its uid
 * after switching.
 */
#ifndef TERN_LHELPER_H
#define TERN_LHELPER_H

#include <stddef.h>
#include <sys/types.h>

struct sched;
struct sbatch;
struct lhelper;

/* the identity a helper runs as */
struct lh_who {
    int switch_user;            /* become uid/gid (the scheduler keeps root
                                   as its saved uid); else run as it runs */
    uid_t uid;
    gid_t gid;
    const char *who;            /* user name: initgroups, messages */
};

enum lh_event { LH_IDLE, LH_GONE };
typedef void (*lh_event_fn)(struct lhelper *h, enum lh_event e, void *arg);

/* lh_spawn - fork a helper for w; NULL with errno (socketpair, fork) */
struct lhelper *lh_spawn(struct sched *s, const struct lh_who *w,
                         lh_event_fn cb, void *arg);
/* lh_send - the job sbs[0..n) (n <= LW_BATCH_MAX) to an idle helper */
void lh_send(struct lhelper *h, struct sbatch *const *sbs, size_t n);
/* lh_busy - a job is in flight */
int lh_busy(const struct lhelper *h);
pid_t lh_pid(const struct lhelper *h);
/* lh_retire - no more jobs: the helper exits after the one in flight
 * (LH_GONE follows) */
void lh_retire(struct lhelper *h);
/* lh_free_all - forget every helper of s without waiting, each with
 * LH_GONE (the scheduler is going away, nothing is in delivery; helpers
 * exit when they see the socket close) */
void lh_free_all(struct sched *s);

/* lhelper_run - in the child: fd is its end of the socketpair; never
 * returns */
void lhelper_run(struct sched *s, int fd, const struct lh_who *w)
    __attribute__((noreturn));

#endif
