/*
 * spool_commit.c - make message files durable under their final names.
 *
 * PURPOSE:   the group commit (DESIGN §3). Writers committed during one
 *            event-loop turn form a batch. Each file's data is synced,
 *            then it is renamed to its final name, then the rename is
 *            synced; a sync is an fsync of each file or directory when
 *            there are at most two, else one syncfs(). With an event
 *            loop the batch is handed to the spool's sync thread
 *            (spool_syncer.c), so the loop goes on reading, parsing and
 *            writing the next batch while this one syncs; the callbacks,
 *            which say 250, run on the loop once the batch is durable.
 *            Without a loop (one-shot modes), or in a forked child, the
 *            batch syncs inline.
 * INTERFACE: spool_commit, spool_flush, spool_commit_batches (spool.h);
 *            spool_batch_step, spool_batch_sync, spool_batch_report
 *            (spool_impl.h).
 * ERRORS:    a failed commit calls back with -1 and a reason and leaves
 *            no file behind.
 * A batch's size approaches the number of sessions waiting: while the
 * thread syncs one batch, every commit that arrives joins the next. The
 * thread pipelines them (spool_batch_step): the sync that makes batch k's
 * renames durable also makes batch k+1's data durable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "core/mail/logfile.h"
#include "core/spool/spool_impl.h"

/* ---- the system calls (sync thread or inline) -------------------------- */

static void w_fsync(struct spool_writer *w)
{
    if (w->err == 0 && fsync(w->fd) < 0)
        (void)spool_writer_fail(w, "fsync");
}

static void w_close(struct spool_writer *w)
{
    int fd = w->fd;

    if (w->err != 0)
        return;
    w->fd = -1;
    if (safe_close(fd) < 0)
        (void)spool_writer_fail(w, "close");
}

static void w_rename(struct spool_writer *w)
{
    int dfd = w->sp->subfd[w->sub];

    if (w->err != 0)
        return;
    if (renameat(dfd, w->tmp, dfd, w->id) < 0)
        (void)spool_writer_fail(w, "rename");
    else
        w->renamed = 1;
}

/* dirs_of - the input/<c> directories holding renamed, good writers */
static uint64_t dirs_of(const struct spool_writer *list)
{
    uint64_t dirs = 0;

    for (const struct spool_writer *w = list; w != NULL; w = w->next)
        if (w->err == 0)
            dirs |= 1ULL << w->sub;
    return dirs;
}

/* fsync_dirs - fsync each directory of dirs, charging a failure to the
 * writers of list in it */
static void fsync_dirs(struct spool *sp, struct spool_writer *list,
                       uint64_t dirs)
{
    for (int i = 0; i < SPOOL_NSUB; i++) {
        if (!(dirs & (1ULL << i)) || fsync(sp->subfd[i]) == 0)
            continue;
        for (struct spool_writer *w = list; w != NULL; w = w->next)
            if (w->sub == i && w->err == 0)
                (void)spool_writer_fail(w, "fsync of the directory of");
    }
}

/* step_sync - make the data of batch's files and prev's directory
 * entries durable: fsync each when there are at most two things to sync,
 * else one syncfs; a failed syncfs falls back to the fsyncs so the error
 * is charged to the files that really have one (and on a kernel whose
 * syncfs cannot report errors, safe_syncfs always fails: fsyncs). */
static void step_sync(struct spool *sp, struct spool_writer *batch,
                      struct spool_writer *prev)
{
    uint64_t dirs = dirs_of(prev);
    unsigned n = (unsigned)__builtin_popcountll(dirs);

    for (struct spool_writer *w = batch; w != NULL; w = w->next)
        n += w->err == 0;
    if (n == 0 || (n > 2 && safe_syncfs(sp->inputfd) == 0))
        return;
    for (struct spool_writer *w = batch; w != NULL; w = w->next)
        w_fsync(w);
    fsync_dirs(sp, prev, dirs);
}

/* spool_batch_step - one step of the commit pipeline: one sync covers the
 * data of batch and the renames of prev (the batch of the step before),
 * so prev is finished (durable or failed) when it returns; then batch's
 * files are closed and renamed to their final names, and batch becomes
 * the prev of the next step. Each file is synced before its rename, and
 * its rename before it is reported: DESIGN §3's order, with one sync per
 * step instead of two per batch. */
void spool_batch_step(struct spool *sp, struct spool_writer *batch,
                      struct spool_writer *prev)
{
    step_sync(sp, batch, prev);
    for (struct spool_writer *w = batch; w != NULL; w = w->next) {
        w_close(w);
        w_rename(w);
    }
}

/* spool_batch_sync - make every good writer of list durable: a batch
 * through both steps of the pipeline at once */
void spool_batch_sync(struct spool *sp, struct spool_writer *list)
{
    spool_batch_step(sp, list, NULL);
    spool_batch_step(sp, NULL, list);
}

/* ---- back on the loop -------------------------------------------------- */

/* report - clean up a failure, recycle the writer, then call back (the
 * callback may commit or abort other writers, not close the spool) */
static void report(struct spool_writer *w)
{
    spool_commit_cb cb = w->cb;
    void *arg = w->arg;
    char why[200];
    int failed = w->err != 0;

    if (failed) {
        spool_writer_discard(w);
        if (bsnprintf(why, sizeof why, "spool %s input/%c/%s: %s", w->stage,
                      spool_sub_char(w->sub), w->id, strerror(w->err)) < 0)
            why[0] = '\0';
    }
    spool_writer_recycle(w);
    if (cb != NULL)
        cb(failed ? -1 : 0, failed ? why : "", arg);
}

/* spool_batch_report - report every writer of a synced batch */
void spool_batch_report(struct spool_writer *list)
{
    struct spool_writer *next;

    for (struct spool_writer *w = list; w != NULL; w = next) {
        next = w->next;
        report(w);
    }
}

/* ---- queueing ---------------------------------------------------------- */

/* take_pending - detach the queued writers */
static struct spool_writer *take_pending(struct spool *sp)
{
    struct spool_writer *list = sp->pending;

    sp->pending = NULL;
    sp->pending_tail = &sp->pending;
    return list;
}

/* our_syncer - the sync thread of this process, started on first use;
 * NULL: sync inline (no loop, a forked child, or it cannot start) */
static struct spool_syncer *our_syncer(struct spool *sp)
{
    if (sp->ev == NULL || sp->syncer_failed)
        return NULL;
    if (sp->syncer == NULL) {
        sp->syncer = spool_syncer_start(sp);
        if (sp->syncer == NULL) {
            sp->syncer_failed = 1;
            log_panic("spool: no sync thread (%s); syncing on the event "
                      "loop", strerror(errno));
            return NULL;
        }
    }
    return spool_syncer_ours(sp->syncer) ? sp->syncer : NULL;
}

/* hand_off - sync list on the thread, or inline and report at once */
static void hand_off(struct spool *sp, struct spool_writer *list)
{
    struct spool_syncer *sy = our_syncer(sp);

    sp->batches++;
    if (sy != NULL && spool_syncer_submit(sy, list) == 0)
        return;
    spool_batch_sync(sp, list);
    spool_batch_report(list);
}

static void batch_cb(void *arg)
{
    struct spool *sp = arg;

    sp->timer = NULL;
    hand_off(sp, take_pending(sp));
}

/* spool_commit - finish the file, queue it for this turn's group commit */
void spool_commit(struct spool_writer *w, spool_commit_cb cb, void *arg)
{
    struct spool *sp = w->sp;

    w->cb = cb;
    w->arg = arg;
    w->next = NULL;
    (void)spool_writer_finish(w);   /* a failure is sticky in w->err */
    if (sp->ev == NULL) {
        hand_off(sp, w);
        return;
    }
    *sp->pending_tail = w;
    sp->pending_tail = &w->next;
    if (sp->timer == NULL)
        sp->timer = ev_timer_add(sp->ev, 0, batch_cb, sp);
}

/* settle - everything queued or in flight made durable and reported;
 * 0 when there was nothing left to do */
static int settle(struct spool *sp)
{
    struct spool_writer *done = NULL;
    int any = sp->pending != NULL;

    if (sp->timer != NULL) {
        ev_timer_cancel(sp->ev, sp->timer);
        sp->timer = NULL;
    }
    if (any)
        hand_off(sp, take_pending(sp));
    if (sp->syncer != NULL && spool_syncer_ours(sp->syncer))
        done = spool_syncer_drain(sp->syncer);
    spool_batch_report(done);
    return any || done != NULL;
}

/* spool_flush - commit every queued writer now; callbacks may queue
 * more, which are committed too */
void spool_flush(struct spool *sp)
{
    while (settle(sp))
        ;
}

/* spool_commit_batches - group commits made so far (tests, statistics) */
unsigned long long spool_commit_batches(const struct spool *sp)
{
    return sp->batches;
}
