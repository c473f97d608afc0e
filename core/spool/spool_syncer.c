/*
 * spool_syncer.c - the spool's sync thread: group commits off the loop.
 *
 * PURPOSE:   a worker's event loop must not stop while a batch of message
 *            files is synced (milliseconds per sync on a real disk). One
 *            thread per spool handle takes whole batches, runs them
 *            through spool_batch_step (one sync covers a batch's data
 *            and the previous batch's renames), and hands each finished
 *            batch back through an eventfd the loop watches; the loop
 *            reports them (the 250s).
 *            While the thread syncs, the loop keeps reading and writing,
 *            and whatever it commits meanwhile becomes the next batch.
 * INTERFACE: spool_syncer_start, spool_syncer_ours, spool_syncer_submit,
 *            spool_syncer_drain, spool_syncer_stop (spool_impl.h).
 * ERRORS:    start returns NULL with errno; a failed pthread or eventfd
 *            call after that is a bug or exhaustion: panic.
 * The thread blocks every signal (they belong to the loop's thread) and
 * makes only system calls on files the loop no longer touches. The
 * handle may be inherited by fork(): the child sees only a copy, never
 * locks its mutex (the parent's thread may have held it) and syncs
 * inline.
 * Why a thread and not io_uring: the batch is four kinds of calls in a
 * fixed order (syncfs, close, rename, fsync), each needing the previous
 * to finish; a thread does that with plain calls, on every kernel.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/fatal.h"
#include "core/base/xalloc.h"
#include "core/spool/spool_impl.h"

struct spool_syncer {
    struct spool *sp;
    pid_t owner;                    /* the process that started it */
    int efd;                        /* eventfd: a batch is done */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;            /* queued non-empty, or stop */
    pthread_cond_t idle;            /* a batch finished */
    struct spool_writer *queued, **queued_tail;
    struct spool_writer *done, **done_tail;
    struct spool_writer *renamed;   /* the thread's: synced and renamed,
                                     * the renames not yet synced */
    int busy;                       /* the thread holds a batch */
    int stop;
    int watched;                    /* the loop's: efd is in sp->ev */
};

static void lock(struct spool_syncer *sy)
{
    if (pthread_mutex_lock(&sy->mu) != 0)
        panic("spool_syncer: pthread_mutex_lock failed");
}

static void unlock(struct spool_syncer *sy)
{
    if (pthread_mutex_unlock(&sy->mu) != 0)
        panic("spool_syncer: pthread_mutex_unlock failed");
}

/* append - list onto a tail-pointer list */
static void append(struct spool_writer ***tail, struct spool_writer *list)
{
    **tail = list;
    while (list != NULL) {
        *tail = &list->next;
        list = list->next;
    }
}

/* take - detach a whole list */
static struct spool_writer *take(struct spool_writer **head,
                                 struct spool_writer ***tail)
{
    struct spool_writer *list = *head;

    *head = NULL;
    *tail = head;
    return list;
}

static void wake_loop(struct spool_syncer *sy)
{
    uint64_t one = 1;

    /* EAGAIN: the counter is already non-zero, the loop will look */
    if (write(sy->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        panic("spool_syncer: eventfd write: %s", strerror(errno));
}

/* finish - a finished batch goes to done (the loop is told); the
 * thread stays busy while a renamed batch waits for its sync */
static void finish(struct spool_syncer *sy, struct spool_writer *batch)
{
    lock(sy);
    append(&sy->done_tail, batch);
    sy->busy = sy->renamed != NULL;
    pthread_cond_broadcast(&sy->idle);
    unlock(sy);
    if (batch != NULL)
        wake_loop(sy);
}

/* syncer_main - the pipeline: each step syncs the batch queued meanwhile
 * together with the renames of the step before, and returns the latter */
static void *syncer_main(void *arg)
{
    struct spool_syncer *sy = arg;
    struct spool_writer *batch, *prev;

    lock(sy);
    for (;;) {
        while (sy->queued == NULL && sy->renamed == NULL && !sy->stop)
            pthread_cond_wait(&sy->work, &sy->mu);
        if (sy->queued == NULL && sy->renamed == NULL)
            break;
        batch = take(&sy->queued, &sy->queued_tail);
        prev = sy->renamed;
        sy->busy = 1;
        unlock(sy);
        spool_batch_step(sy->sp, batch, prev);
        sy->renamed = batch;
        finish(sy, prev);
        lock(sy);
    }
    unlock(sy);
    return NULL;
}

/* unwatch - nothing in flight: the loop stops watching the eventfd, so
 * a process with nothing to commit has no spool descriptor in its loop
 * (one-shot runs wait for their loop to empty) */
static void unwatch(struct spool_syncer *sy)
{
    if (sy->watched)
        ev_io_del(sy->sp->ev, sy->efd);
    sy->watched = 0;
}

/* on_done - the loop's side: report the batches the thread finished */
static void on_done(int fd, unsigned events, void *arg)
{
    struct spool_syncer *sy = arg;
    struct spool_writer *done;
    uint64_t n;
    int idle;

    (void)events;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        panic("spool_syncer: eventfd read: %s", strerror(errno));
    lock(sy);
    done = take(&sy->done, &sy->done_tail);
    idle = sy->queued == NULL && !sy->busy;
    unlock(sy);
    if (idle)
        unwatch(sy);
    spool_batch_report(done);
}

/* spawn - the thread, with every signal blocked */
static int spawn(struct spool_syncer *sy)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
        return EINVAL;
    rc = pthread_create(&sy->thread, NULL, syncer_main, sy);
    if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
        panic("spool_syncer: cannot restore the signal mask");
    return rc;
}

/* spool_syncer_start - the thread and its eventfd (watched by sp->ev
 * while batches are in flight) */
struct spool_syncer *spool_syncer_start(struct spool *sp)
{
    struct spool_syncer *sy = xcalloc(1, sizeof(*sy));
    int rc;

    sy->sp = sp;
    sy->owner = getpid();
    sy->queued_tail = &sy->queued;
    sy->done_tail = &sy->done;
    sy->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sy->efd < 0)
        goto fail;
    if (pthread_mutex_init(&sy->mu, NULL) != 0
        || pthread_cond_init(&sy->work, NULL) != 0
        || pthread_cond_init(&sy->idle, NULL) != 0)
        panic("spool_syncer: cannot initialise a mutex or condition");
    if ((rc = spawn(sy)) == 0)
        return sy;
    errno = rc;
fail:
    rc = errno;
    if (sy->efd >= 0)
        (void)close(sy->efd);
    free(sy);
    errno = rc;
    return NULL;
}

/* spool_syncer_ours - started by this process */
int spool_syncer_ours(const struct spool_syncer *sy)
{
    return sy->owner == getpid();
}

/* spool_syncer_submit - queue list; the thread takes all queued at
 * once. -1 (errno) if the loop cannot watch for the result: the caller
 * syncs inline */
int spool_syncer_submit(struct spool_syncer *sy, struct spool_writer *list)
{
    if (!sy->watched
        && ev_io_set(sy->sp->ev, sy->efd, EV_READ, on_done, sy) < 0)
        return -1;
    sy->watched = 1;
    lock(sy);
    append(&sy->queued_tail, list);
    pthread_cond_signal(&sy->work);
    unlock(sy);
    return 0;
}

/* spool_syncer_drain - wait for the thread to go idle with nothing
 * queued; the finished batches not yet reported */
struct spool_writer *spool_syncer_drain(struct spool_syncer *sy)
{
    struct spool_writer *done;

    lock(sy);
    while (sy->queued != NULL || sy->busy)
        pthread_cond_wait(&sy->idle, &sy->mu);
    done = take(&sy->done, &sy->done_tail);
    unlock(sy);
    unwatch(sy);
    return done;
}

/* spool_syncer_stop - stop and join the thread (its queue is empty:
 * spool_close drained it), release the eventfd */
void spool_syncer_stop(struct spool_syncer *sy)
{
    if (sy == NULL)
        return;
    if (spool_syncer_ours(sy)) {
        lock(sy);
        sy->stop = 1;
        pthread_cond_signal(&sy->work);
        unlock(sy);
        if (pthread_join(sy->thread, NULL) != 0)
            panic("spool_syncer: pthread_join failed");
        unwatch(sy);
        pthread_cond_destroy(&sy->work);
        pthread_cond_destroy(&sy->idle);
        pthread_mutex_destroy(&sy->mu);
    }
    (void)close(sy->efd);
    free(sy);
}
