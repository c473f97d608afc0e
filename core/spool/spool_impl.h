/*
 * spool_impl.h - private to spool.c, spool_files.c and spool_format.c.
 *
 * PURPOSE:   the spool handle shared by the writer/commit code and the
 *            reader/list/journal code, and the file-format codec.
 * INTERFACE: struct spool, struct spool_writer; the writer's life
 *            (spool_writer_fail/finish/discard/recycle, spool.c); the
 *            batch commit (spool_batch_sync, spool_batch_report,
 *            spool_commit.c); the sync thread (spool_syncer_*,
 *            spool_syncer.c); spool_fmt_check, spool_fmt_head,
 *            spool_fmt_length, spool_fmt_parse; spool_sub_index,
 *            spool_sub_char.
 * ERRORS:    the codec returns -1 with a static or caller-buffer reason.
 */
#ifndef TERN_SPOOL_IMPL_H
#define TERN_SPOOL_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/spool/spool.h"

struct ev;
struct ev_timer;
struct pool;
struct spool_syncer;

#define SPOOL_NSUB 62               /* input/<c>, one per base-62 digit */
#define SPOOL_LINE_MAX 65536        /* an envelope line, escaped, with LF */
#define SPOOL_RCPT_MAX 100000
#define SPOOL_VAR_MAX 1000
#define SPOOL_FILE_MAX (1LL << 30)  /* a message file spool_read accepts */
#define SPOOL_LEN_DIGITS 20         /* "data %020llu": patched at commit */
#define SPOOL_TRAILER "\nEND\n"
#define SPOOL_TRAILER_LEN 5
#define SPOOL_MAGIC "tern-spool 1\n"
#define SPOOL_WRITER_BUF (64 * 1024)

struct spool {
    char *dir;
    struct ev *ev;
    int rootfd;                     /* SPOOL, for syncfs */
    int inputfd;                    /* SPOOL/input */
    int corruptfd;                  /* SPOOL/corrupt */
    int subfd[SPOOL_NSUB];          /* SPOOL/input/<c>, kept open */
    long pid;                       /* in temp names: set at spool_open */
    struct spool_writer *pending;   /* queued for the next group commit */
    struct spool_writer **pending_tail;
    struct ev_timer *timer;         /* armed while pending is non-empty */
    struct spool_syncer *syncer;    /* the sync thread, once started */
    int syncer_failed;              /* it could not start: sync inline */
    unsigned long long batches;     /* group commits made */
    struct spool_writer *idle;      /* recycled writers (their buffers) */
    unsigned nidle;
    unsigned char rm_dirty[SPOOL_NSUB];  /* removals not yet fsynced */
    struct ev_timer *rm_timer;      /* armed while one is dirty */
};

/* A message file being written, then committed. Between the hand-off
 * to the sync thread and the return of its batch, only that thread
 * touches fd, err, stage and renamed. */
struct spool_writer {
    struct spool *sp;
    struct spool_writer *next;      /* pending, in-flight, done, idle */
    int fd;                         /* -1 once closed */
    int sub;                        /* index of input/<c> */
    int created;                    /* we created the temp file */
    int renamed;                    /* the final name exists */
    int err;                        /* first errno, sticky; 0: none */
    const char *stage;              /* what failed: "write", "fsync"... */
    unsigned long long datalen;     /* message bytes written */
    off_t flushed;                  /* file bytes handed to write() */
    off_t len_off;                  /* file offset of the length digits */
    spool_commit_cb cb;
    void *arg;
    char id[MSGID_LEN + 1];
    char tmp[MSGID_LEN + 32];       /* ".tmp.<id>.<pid>" */
    size_t used;
    char buf[SPOOL_WRITER_BUF];
};

/* spool_writer_fail - remember the first failure; -1 with its errno */
int spool_writer_fail(struct spool_writer *w, const char *stage);
/* spool_writer_finish - trailer, data length, last buffer out */
int spool_writer_finish(struct spool_writer *w);
/* spool_writer_discard - close, remove whichever name the file has */
void spool_writer_discard(struct spool_writer *w);
/* spool_writer_recycle - keep the writer for reuse, or free it */
void spool_writer_recycle(struct spool_writer *w);

/* spool_batch_step - one sync for batch's data and prev's renames, then
 * batch's renames: prev is finished, batch is the next step's prev
 * (system calls only: safe on the sync thread; failures stay in w->err) */
void spool_batch_step(struct spool *sp, struct spool_writer *batch,
                      struct spool_writer *prev);
/* spool_batch_sync - make every good writer of list durable (both steps) */
void spool_batch_sync(struct spool *sp, struct spool_writer *list);
/* spool_batch_report - on the loop: clean up, recycle, call back */
void spool_batch_report(struct spool_writer *list);

/* spool_syncer_start - a thread that runs sp's batches through
 * spool_batch_step and hands each finished batch back through sp's event loop to spool_batch_report;
 * NULL (errno) if it cannot start */
struct spool_syncer *spool_syncer_start(struct spool *sp);
/* spool_syncer_ours - was it started by this process (not a fork's copy) */
int spool_syncer_ours(const struct spool_syncer *sy);
/* spool_syncer_submit - queue list for the next batch the thread takes;
 * -1 (errno) if the loop cannot watch for the result (sync it inline) */
int spool_syncer_submit(struct spool_syncer *sy, struct spool_writer *list);
/* spool_syncer_drain - wait until nothing is queued or in flight; the
 * batches finished and not yet reported (the caller reports them) */
struct spool_writer *spool_syncer_drain(struct spool_syncer *sy);
/* spool_syncer_stop - stop and join the idle thread, free (NULL ok); in
 * a forked child only the memory and the child's fds are released */
void spool_syncer_stop(struct spool_syncer *sy);

/* spool_sync_removals - fsync the directories of lazy removals */
void spool_sync_removals(struct spool *sp);

/* spool_sub_index - index of input/<c> for an id's last character */
int spool_sub_index(const char *id);
/* spool_sub_char - the <c> of input/<c> number i */
char spool_sub_char(int i);

/* An output for the encoder: put() returns 0 or -1 with errno. */
struct spool_sink {
    int (*put)(void *ctx, const void *p, size_t n);
    void *ctx;
};

/* spool_fmt_check - is env writable (limits, id shape); -1 with why */
int spool_fmt_check(const struct spool_env *env, const char **why);
/* spool_fmt_head - everything up to and including "data " */
int spool_fmt_head(const struct spool_env *env, struct spool_sink *out);
/* spool_fmt_length - the SPOOL_LEN_DIGITS digits of the data length */
void spool_fmt_length(char *out, unsigned long long len);
/* spool_fmt_parse - validate and decode buf[0..len) in place (buf is
 * modified; the message's strings point into it, arrays come from pool).
 * want_id: the id the file is named after. -1 with why[] on any damage. */
int spool_fmt_parse(char *buf, size_t len, const char *want_id,
                    struct pool *pool, struct spool_msg *out, char *why,
                    size_t whysize);

#endif
