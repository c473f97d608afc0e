/*
 * sched_impl.h - private to the scheduler's files: sched.c (the queue of
 *                messages and the slots), sched_msg.c (one message's
 *                delivery: lock, read, route, batch), sched_result.c
 *                (outcomes: log, journal, retry), sched_end.c (bounces,
 *                warnings, completion), sched_local.c (local delivery
 *                helpers: sched_lhelper.c, lhelper.c, lwire.c),
 *                sched_retry.c (the retry cache), sched_log.c.
 */
#ifndef TERN_SCHED_IMPL_H
#define TERN_SCHED_IMPL_H

#include <stddef.h>

#include "core/base/strbuf.h"
#include "queue/bounce.h"
#include "transports/deliver.h"
#include "core/hints/retrydb.h"
#include "queue/sched.h"
#include "core/spool/spool.h"

struct hash;
struct lhelper;
struct pool;
struct slocal;
struct route_run;
struct route_top;
struct dns_cache;
struct ev_timer;

/* message ids waiting for a slot, first in first out */
struct idfifo {
    char **v;
    size_t head, len, cap;
};

struct sched {
    struct conf *conf;
    struct ev *ev;
    struct spool *sp;
    struct dns_ctx *dns;
    struct sched_opts o;
    struct hash *known;         /* id -> struct sq: queued, running, later */
    struct idfifo queue;        /* waiting for a slot */
    struct idfifo held;         /* waiting to run alone (strikes) */
    struct hash *strikes;       /* id -> struct strike (poisondb.h) */
    struct sq *alone;           /* a message with strikes in delivery */
    size_t running;
    struct ev_timer *kick;
    struct hash *retry;         /* key -> struct retry_rec (cache) */
    long long retry_mtime;      /* of SPOOL/db/retry when loaded */
    long long retry_down_until; /* the database failed: cache only */
    struct smsg *locked;        /* messages whose spool lock is held */
    struct slocal *local;       /* local deliveries (sched_local.c) */
    struct lhelper *helpers;    /* their processes (sched_lhelper.c) */
};

/* what the scheduler knows of a message id */
struct sq {
    char id[MSGID_LEN + 1];
    int state;                  /* SQ_QUEUED, SQ_RUNNING, SQ_LATER */
    struct ev_timer *timer;     /* SQ_LATER: the retry time */
    struct sched *s;
};

enum { SQ_QUEUED, SQ_RUNNING, SQ_LATER, SQ_FROZEN };
#define SCHED_FROZEN (-1)          /* sched_msg_done: left frozen */

/* Work over many addresses (routing a big alias, logging its outcomes,
 * starting its batches) runs in slices this long, so the scheduler's
 * loop keeps turning (the watchdog, watchdog.h, kills a stuck one). */
#define SCHED_SLICE_MS 50

/* one batch in flight */
struct sbatch {
    struct dlv_batch b;
    struct smsg *m;
    struct sbatch *next;
    const char *group;          /* the grouping key */
    const char *errors_to;      /* the router's errors_to, or NULL */
    const char **keys;          /* journal key of each b.rcpts[i] */
    size_t cap;                 /* of b.rcpts and keys */
    unsigned char *skip;
    size_t settled;             /* recipients whose outcome is recorded */
    struct ev_timer *timer;     /* settles the rest in the next slice */
};

/* a finished address and the envelope recipient it came from */
struct sleaf {
    struct raddr *a;
    const char *top;
};

/* one message in delivery */
struct smsg {
    struct sched *s;
    struct sq *q;
    char id[MSGID_LEN + 1];
    int lockfd;
    struct smsg *lnext, *lprev; /* in s->locked while lockfd >= 0 */
    struct pool *pool;
    struct spool_msg msg;
    struct hash *done;          /* final addresses with an outcome, by
                                   smsg_unique key */
    struct hash *uniq;          /* smsg_dup_key -> struct sprimary: the
                                   final addresses batched this attempt */
    struct hash *tops_done;     /* envelope recipients finished */
    int frozen;                 /* frozen at the end of this attempt */
    int cancelled;              /* frozen past timeout_frozen_after, or
                                   given up (-Mg): what is left fails */
    int given_up;               /* -Mg */
    unsigned warnings;          /* delay warnings sent */
    struct dns_cache *cache;
    struct route_run *rr;
    size_t ntops, tops_routing;
    struct route_top **tops;
    struct ev_timer *timer;
    struct sleaf *leaves;       /* routed addresses, taken in slices */
    size_t nleaves, next_leaf;
    int walked;                 /* every leaf taken: batches start */
    struct sbatch *next_batch;  /* the next batch to start */
    struct hash *groups;        /* grouping key -> struct sbatch */
    struct sbatch *batches;     /* every batch of this attempt */
    size_t running;             /* batches not finished */
    int logged_first;           /* a "=>" line was written */
    struct bounce_rcpt *fails;  /* failures to bounce */
    const char **fail_to;       /* where each one's bounce goes */
    size_t nfails, fails_cap;
    struct bounce_rcpt *delays; /* deferrals, for a delay warning */
    size_t ndelays, delays_cap;
    struct hash *top_open;      /* tops with a deferred final address */
    long long next_try;         /* earliest retry time of a deferral */
    const char **jl;            /* journal lines of this attempt */
    size_t njl, njl_written, jl_cap;
};

/* a final address batched this attempt, and the envelope recipients of
 * its duplicates (delivered once, as Exim): they stay open while it is
 * deferred */
struct sdup {
    const char *top;
    struct sdup *next;
};
struct sprimary {
    struct sdup *dups;
};

/* sched.c */
void sched_msg_done(struct sched *s, struct sq *q, long long next_try);
/* sched_slice_over - a slice begun at start (sched_clock_ms) is over */
long long sched_clock_ms(void);
int sched_slice_over(long long start);
/* sched_grow - v with room for element n (*cap doubles as needed): lists
 * that grow by one per address must not be copied at every step */
void *sched_grow(void *v, size_t n, size_t *cap, size_t size);
/* how many times the daemon's scheduler died over id (poisondb.h) */
int sched_strikes(const struct sched *s, const char *id);

/* sched_msg.c */
void smsg_start(struct sched *s, struct sq *q);
void smsg_free(struct smsg *m);
void smsg_abandon(struct smsg *m, long long next_try);
long long smsg_age(const struct smsg *m);

/* sched_result.c */
void sres_batch(struct sbatch *sb);
/* who an outcome is about: the journal key, the address to show, and
 * the envelope recipient it came from */
struct sres_who {
    const char *key;
    const char *shown;
    const char *top;
};
void sres_route_fail(struct smsg *m, const struct sres_who *w,
                     const char *router, const char *why,
                     const char *errors_to);
void sres_route_defer(struct smsg *m, const struct sres_who *w,
                      const char *domain, const char *router,
                      const char *why);
void sres_discard(struct smsg *m, const struct sres_who *w,
                  const char *router);
void sres_suppress(struct smsg *m, const struct sres_who *w,
                   const char *router, const char *transport);
void sres_journal(struct smsg *m, const char *const *lines, size_t n);
void sres_flush_journal(struct smsg *m);

/* sched_msg.c */
const char *smsg_unique(struct smsg *m, const char *key);
const char *smsg_dup_key(struct smsg *m, const char *key,
                         const struct router *r);
void smsg_close_locks(struct sched *s, struct sbatch *const *keep, size_t n);
const char *smsg_errors_to(struct smsg *m, const struct raddr *a);

/* sched_end.c */
void smsg_end(struct smsg *m);

/* sched_local.c */
void slocal_start(struct sbatch *sb);
void slocal_flush(struct sched *s);
void slocal_reopen(struct sched *s);
void slocal_free(struct sched *s);

/* sched_retry.c */
void sretry_refresh(struct sched *s);
const struct retry_rec *sretry_get(struct sched *s, const char *key);
void sretry_fail(struct sched *s, const char *key, const char *subject,
                 const char *errtype, const char *text,
                 struct retry_rec *out);
void sretry_clear(struct sched *s, const char *key);
void sretry_addr_key(char *out, size_t size, const char *addr);
void sretry_host_key(char *out, size_t size, const struct dlv_batch *b,
                     size_t i);

/* sched_log.c */
void slog_delivery(struct smsg *m, const struct dlv_batch *b,
                   const struct dlv_rcpt *r);
void slog_line(struct smsg *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int slog_errno(const char *errtype);
/* slog_esc - s escaped for a log field, from m's pool (or s itself) */
const char *slog_esc(struct smsg *m, const char *s);

#endif
