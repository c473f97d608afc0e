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
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/ev.h"
#include "core/base/hash.h"
#include "core/base/xalloc.h"
#include "queue/sched_impl.h"

#define DEFAULT_PARALLEL 100

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

static void push(struct sched *s, struct sq *q)
{
    if (s->qhead + s->qlen == s->qcap) {
        if (s->qhead > 0) {
            memmove(s->queue, s->queue + s->qhead,
                    s->qlen * sizeof(*s->queue));
            s->qhead = 0;
        } else {
            s->qcap = s->qcap ? s->qcap * 2 : 64;
            s->queue = xreallocarray(s->queue, s->qcap, sizeof(*s->queue));
        }
    }
    s->queue[s->qhead + s->qlen++] = q->id;
    q->state = SQ_QUEUED;
    kick(s);
}

static size_t max_parallel(const struct sched *s)
{
    return s->o.max_parallel > 0 ? (size_t)s->o.max_parallel
                                 : DEFAULT_PARALLEL;
}

static void start_queued(struct sched *s)
{
    while (s->qlen > 0 && s->running < max_parallel(s)) {
        const char *id = s->queue[s->qhead++];
        struct sq *q = hash_get(s->known, id, MSGID_LEN);

        s->qlen--;
        if (q == NULL || q->state != SQ_QUEUED)
            continue;
        q->state = SQ_RUNNING;
        s->running++;
        smsg_start(s, q);
    }
    if (s->qlen == 0)
        s->qhead = 0;
}

/* sched_new - a scheduler on ev */
struct sched *sched_new(struct conf *c, struct ev *ev, struct spool *sp,
                        struct dns_ctx *dns, const struct sched_opts *o)
{
    struct sched *s = xcalloc(1, sizeof(*s));

    s->conf = c;
    s->ev = ev;
    s->sp = sp;
    s->dns = dns;
    s->o = *o;
    s->known = hash_new(256);
    s->retry = hash_new(64);
    s->retry_mtime = -1;
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
    hash_free(s->known, free_sq);
    hash_free(s->retry, free);
    free(s->queue);
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
    s->qhead = s->qlen = 0;
}

/* sched_idle - nothing queued or in delivery */
int sched_idle(const struct sched *s)
{
    return s->running == 0 && s->qlen == 0;
}

/* sched_flush - close cached connections of every remote driver */
void sched_flush(struct sched *s)
{
    for (size_t i = 0; transport_drivers[i] != NULL; i++)
        if (transport_drivers[i]->flush != NULL)
            transport_drivers[i]->flush(s->ev);
}
