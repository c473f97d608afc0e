/*
 * sched.c - the scheduler's queue: which messages wait for a delivery
 *           slot, which are in delivery, and which wait for their retry
 *           time (see sched.h).
 *
 * PURPOSE: at most max_parallel messages are in delivery at once; more
 * wait in a FIFO and start as slots free up. A message that ends with
 * deferrals goes on a timer for its next retry time when the scheduler is
 * the daemon's; a one-shot scheduler forgets it (the next queue run or
 * the daemon will try it again).
 * A message the daemon's scheduler died over (a strike in the poison
 * database, read at start: poisondb.h) waits in a second FIFO and runs
 * alone, when nothing else is in delivery, and nothing starts beside it:
 * if it takes the scheduler down again, no other message goes down with
 * it, and the rest of the queue has been delivered first. When its
 * attempt ends (or it is frozen for its strikes) its record is forgotten.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/ev.h"
#include "core/base/hash.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/hints/poisondb.h"
#include "core/mail/logfile.h"
#include "queue/sched_impl.h"

#define DEFAULT_PARALLEL 100

struct strike {
    int count;
};

static void start_queued(struct sched *s);

static void kick_cb(void *arg)
{
    struct sched *s = arg;

    s->kick = NULL;
    start_queued(s);
}

static void kick(struct sched *s)
{
    if (s->kick == NULL)
        s->kick = ev_timer_add(s->ev, 0, kick_cb, s);
}

static void fifo_push(struct idfifo *f, char *id)
{
    if (f->head + f->len == f->cap) {
        if (f->head > 0) {
            memmove(f->v, f->v + f->head, f->len * sizeof(*f->v));
            f->head = 0;
        } else {
            f->cap = f->cap ? f->cap * 2 : 64;
            f->v = xreallocarray(f->v, f->cap, sizeof(*f->v));
        }
    }
    f->v[f->head + f->len++] = id;
}

/* the first id, or NULL when empty */
static char *fifo_pop(struct idfifo *f)
{
    char *id;

    if (f->len == 0)
        return NULL;
    id = f->v[f->head++];
    if (--f->len == 0)
        f->head = 0;
    return id;
}

/* sched_clock_ms - the monotonic clock, for time slices */
long long sched_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sched_slice_over - SCHED_SLICE_MS have passed since start */
int sched_slice_over(long long start)
{
    return sched_clock_ms() - start >= SCHED_SLICE_MS;
}

/* sched_grow - see sched_impl.h */
void *sched_grow(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    *cap = *cap > 0 ? *cap * 2 : 8;
    return xreallocarray(v, *cap, size);
}

/* sched_strikes - see sched_impl.h */
int sched_strikes(const struct sched *s, const char *id)
{
    const struct strike *k = hash_get(s->strikes, id, MSGID_LEN);

    return k != NULL ? k->count : 0;
}

static void push(struct sched *s, struct sq *q)
{
    fifo_push(sched_strikes(s, q->id) > 0 ? &s->held : &s->queue, q->id);
    q->state = SQ_QUEUED;
    kick(s);
}

static size_t max_parallel(const struct sched *s)
{
    return s->o.max_parallel > 0 ? (size_t)s->o.max_parallel
                                 : DEFAULT_PARALLEL;
}

/* the next id to start: the queue's, or a held one when nothing else
 * runs (*alone set); NULL when nothing may start now */
static char *next_id(struct sched *s, int *alone)
{
    char *id = fifo_pop(&s->queue);

    *alone = 0;
    if (id != NULL || s->running > 0)
        return id;
    *alone = 1;
    return fifo_pop(&s->held);
}

static void run_alone(struct sched *s, struct sq *q)
{
    int n = sched_strikes(s, q->id);

    s->alone = q;
    if (n > 0 && n < POISON_STRIKES)
        log_main("%s is tried alone: the scheduler died %d time%s while "
                 "delivering it", q->id, n, n == 1 ? "" : "s");
}

static void start_queued(struct sched *s)
{
    char *id;
    int alone;

    while (s->alone == NULL && s->running < max_parallel(s)
           && (id = next_id(s, &alone)) != NULL) {
        struct sq *q = hash_get(s->known, id, MSGID_LEN);

        if (q == NULL || q->state != SQ_QUEUED)
            continue;
        q->state = SQ_RUNNING;
        s->running++;
        if (alone)
            run_alone(s, q);
        smsg_start(s, q);
    }
}

static int load_strike(const char *id, int count, long long last, void *arg)
{
    struct sched *s = arg;
    struct strike *k;

    if (!msgid_valid(id) || count <= 0
        || (long long)time(NULL) - last > POISON_FORGET) {
        struct errbuf eb;
        if (poisondb_clear(s->conf->main.spool_directory, id, &eb) != 0)
            log_panic("%s", eb.msg);
        return 0;
    }
    k = xcalloc(1, sizeof(*k));
    k->count = count;
    free(hash_put(s->strikes, id, MSGID_LEN, k));
    return 0;
}

/* a message's attempt is over: its strikes are forgotten */
static void forget_strikes(struct sched *s, const char *id)
{
    struct strike *k = hash_del(s->strikes, id, MSGID_LEN);
    struct errbuf eb;

    if (k == NULL)
        return;
    free(k);
    if (poisondb_clear(s->conf->main.spool_directory, id, &eb) != 0)
        log_panic("%s", eb.msg);
}

/* sched_new - a scheduler on ev */
struct sched *sched_new(struct conf *c, struct ev *ev, struct spool *sp,
                        struct dns_ctx *dns, const struct sched_opts *o)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    struct errbuf eb;

    s->conf = c;
    s->ev = ev;
    s->sp = sp;
    s->dns = dns;
    s->o = *o;
    s->known = hash_new(256);
    s->retry = hash_new(64);
    s->strikes = hash_new(16);
    s->retry_mtime = -1;
    if (poisondb_walk(c->main.spool_directory, load_strike, s, &eb) != 0)
        log_panic("%s", eb.msg);
    return s;
}

static void free_sq(void *v)
{
    struct sq *q = v;

    ev_timer_cancel(q->s->ev, q->timer);
    free(q);
}

/* sched_free - stop (messages in delivery must be finished: sched_idle) */
void sched_free(struct sched *s)
{
    if (s == NULL)
        return;
    ev_timer_cancel(s->ev, s->kick);
    slocal_free(s);
    hash_free(s->known, free_sq);
    hash_free(s->retry, free);
    hash_free(s->strikes, free);
    free(s->queue.v);
    free(s->held.v);
    free(s);
}

/* sched_add - queue id unless it is queued or in delivery already */
void sched_add(struct sched *s, const char *id)
{
    struct sq *q = hash_get(s->known, id, MSGID_LEN);

    if (q != NULL && (q->state == SQ_QUEUED || q->state == SQ_RUNNING))
        return;
    if (q == NULL) {
        q = xcalloc(1, sizeof(*q));
        memcpy(q->id, id, MSGID_LEN + 1);
        q->s = s;
        hash_put(s->known, q->id, MSGID_LEN, q);
    }
    ev_timer_cancel(s->ev, q->timer);
    q->timer = NULL;
    push(s, q);
}

static void later_cb(void *arg)
{
    struct sq *q = arg;

    q->timer = NULL;
    push(q->s, q);
}

/* sched_msg_done - a message's attempt ended; next_try 0: it is gone
 * (or not to be retried by this scheduler) */
void sched_msg_done(struct sched *s, struct sq *q, long long next_try)
{
    long long now = time(NULL);

    s->running--;
    if (q == s->alone)
        s->alone = NULL;
    forget_strikes(s, q->id);
    kick(s);
    if (next_try == SCHED_FROZEN && s->o.daemon) {
        q->state = SQ_FROZEN;   /* known: sweeps leave it; -Mt wakes it */
        return;
    }
    if (next_try <= 0 || !s->o.daemon) {
        hash_del(s->known, q->id, MSGID_LEN);
        free(q);
        return;
    }
    q->state = SQ_LATER;
    q->timer = ev_timer_add(s->ev, next_try > now
                            ? (uint64_t)(next_try - now) * 1000 : 1000,
                            later_cb, q);
}

/* sched_stop - drop the waiting messages */
void sched_stop(struct sched *s)
{
    s->queue.head = s->queue.len = 0;
    s->held.head = s->held.len = 0;
}

/* sched_idle - nothing queued or in delivery */
int sched_idle(const struct sched *s)
{
    return s->running == 0 && s->queue.len == 0 && s->held.len == 0;
}

/* sched_flush - close cached connections of every remote driver, and
 * let the local delivery helpers go */
void sched_flush(struct sched *s)
{
    for (size_t i = 0; transport_drivers[i] != NULL; i++)
        if (transport_drivers[i]->flush != NULL)
            transport_drivers[i]->flush(s->ev);
    slocal_flush(s);
}

/* sched_reopen - the log files were reopened: local delivery helpers,
 * which hold the old ones, are replaced */
void sched_reopen(struct sched *s)
{
    slocal_reopen(s);
}
