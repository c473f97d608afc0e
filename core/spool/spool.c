/*
 * spool.c - the spool handle, message writers and the group commit.
 *
 * PURPOSE:   open the spool (directories created, one fd kept per
 *            input/<c>), write message files through a 64 KiB buffer into
 *            input/<c>/.tmp.<id>.<pid>, and make them durable under their
 *            final names: one at a time with fsync + rename + directory
 *            fsync, or a whole event-loop turn's worth with one syncfs(),
 *            the renames, and one fsync per directory involved.
 * INTERFACE: spool_open, spool_close, spool_dir, spool_writer_new,
 *            spool_writer_write, spool_writer_abort, spool_commit,
 *            spool_flush (spool.h); spool_sub_index, spool_sub_char
 *            (spool_impl.h).
 * ERRORS:    spool_open/spool_writer_new: NULL with eb; a write error is
 *            sticky and reported by the commit; a failed commit calls
 *            back with -1 and a reason and leaves no file behind.
 * SECURITY:  file names are built only from msgid_valid() ids.
 * A 1 KiB message costs openat, write, then per batch of n: syncfs once,
 * close and renameat each, fsync once per directory (n >= 2); or fsync,
 * close, renameat, fsync of the directory (n == 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/spool/spool_impl.h"

#define WRITER_BUF (64 * 1024)
#define IDLE_MAX 64                 /* writers kept for reuse */

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

struct spool_writer {
    struct spool *sp;
    struct spool_writer *next;      /* pending list, idle list */
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
    char buf[WRITER_BUF];
};

/* spool_sub_index - index of input/<c> for an id's last character */
int spool_sub_index(const char *id)
{
    const char *c = strchr(b62, id[MSGID_LEN - 1]);

    return c == NULL || *c == '\0' ? 0 : (int)(c - b62);
}

/* spool_sub_char - the <c> of input/<c> number i */
char spool_sub_char(int i)
{
    return b62[i];
}

/* ---- open and close ---------------------------------------------------- */

/* dir_open - create (0750) if missing and open directory name */
static int dir_open(int at, const char *name, int *created)
{
    if (mkdirat(at, name, 0750) == 0)
        *created = 1;
    else if (errno != EEXIST)
        return -1;
    return openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int open_subdirs(struct spool *sp, int *created)
{
    char name[2] = { 0, 0 };

    for (int i = 0; i < SPOOL_NSUB; i++) {
        name[0] = b62[i];
        sp->subfd[i] = dir_open(sp->inputfd, name, created);
        if (sp->subfd[i] < 0)
            return -1;
    }
    return 0;
}

/* open_tree - the directories; new entries are made durable so a message
 * committed into a new directory cannot vanish with it */
static int open_tree(struct spool *sp, const char **what)
{
    int top = 0, in_root = 0, in_input = 0, dbfd;

    *what = "";
    if ((sp->rootfd = dir_open(AT_FDCWD, sp->dir, &top)) < 0)
        return -1;
    *what = "/input";
    if ((sp->inputfd = dir_open(sp->rootfd, "input", &in_root)) < 0
        || open_subdirs(sp, &in_input) < 0)
        return -1;
    *what = "/corrupt";
    if ((sp->corruptfd = dir_open(sp->rootfd, "corrupt", &in_root)) < 0)
        return -1;
    *what = "/db";
    if ((dbfd = dir_open(sp->rootfd, "db", &in_root)) < 0
        || safe_close(dbfd) < 0)
        return -1;
    *what = " (fsync)";
    if ((in_input && fsync(sp->inputfd) < 0)
        || (in_root && fsync(sp->rootfd) < 0)
        || (top && safe_fsync_dir(sp->rootfd, "..") < 0))
        return -1;
    return 0;
}

/* spool_open - the spool under dir (created: input/, corrupt/, db/) */
struct spool *spool_open(const char *dir, struct ev *ev, struct errbuf *eb)
{
    struct spool *sp = xcalloc(1, sizeof(*sp));
    const char *what;

    sp->dir = xstrdup(dir);
    sp->ev = ev;
    sp->rootfd = sp->inputfd = sp->corruptfd = -1;
    for (int i = 0; i < SPOOL_NSUB; i++)
        sp->subfd[i] = -1;
    sp->pid = (long)getpid();
    sp->pending_tail = &sp->pending;
    if (open_tree(sp, &what) < 0)
        goto fail;
    return sp;
fail:
    errbuf_set(eb, "spool %s%s: %s", dir, what, strerror(errno));
    spool_close(sp);
    return NULL;
}

static void close_fd(int fd)
{
    if (fd >= 0)
        (void)close(fd);    /* directories, read-only: nothing to lose */
}

/* spool_close - commit what is queued, release everything (NULL ok) */
void spool_close(struct spool *sp)
{
    struct spool_writer *w;

    if (sp == NULL)
        return;
    spool_flush(sp);
    spool_sync_removals(sp);
    while ((w = sp->idle) != NULL) {
        sp->idle = w->next;
        free(w);
    }
    for (int i = 0; i < SPOOL_NSUB; i++)
        close_fd(sp->subfd[i]);
    close_fd(sp->corruptfd);
    close_fd(sp->inputfd);
    close_fd(sp->rootfd);
    free(sp->dir);
    free(sp);
}

/* spool_dir - the directory the spool was opened on */
const char *spool_dir(const struct spool *sp)
{
    return sp->dir;
}

/* ---- buffered writing -------------------------------------------------- */

/* set_err - remember the first failure; -1 with its errno */
static int set_err(struct spool_writer *w, const char *stage)
{
    if (w->err == 0) {
        w->err = errno != 0 ? errno : EIO;
        w->stage = stage;
    }
    errno = w->err;
    return -1;
}

static int raw_write(struct spool_writer *w, const void *p, size_t n)
{
    if (safe_write_all(w->fd, p, n) < 0)
        return set_err(w, "write");
    w->flushed += (off_t)n;
    return 0;
}

static int buf_flush(struct spool_writer *w)
{
    size_t n = w->used;

    w->used = 0;
    return n == 0 ? 0 : raw_write(w, w->buf, n);
}

/* buf_put - append; a put is never split between buffer and file, and
 * one as large as the buffer bypasses it */
static int buf_put(void *ctx, const void *p, size_t n)
{
    struct spool_writer *w = ctx;

    if (w->err != 0) {
        errno = w->err;
        return -1;
    }
    if (n > WRITER_BUF - w->used) {
        if (buf_flush(w) < 0)
            return -1;
        if (n >= WRITER_BUF)
            return raw_write(w, p, n);
    }
    memcpy(w->buf + w->used, p, n);
    w->used += n;
    return 0;
}

/* ---- writers ----------------------------------------------------------- */

static struct spool_writer *writer_get(struct spool *sp)
{
    struct spool_writer *w = sp->idle;

    if (w != NULL) {
        sp->idle = w->next;
        sp->nidle--;
    } else {
        w = xmalloc(sizeof(*w));
    }
    memset(w, 0, offsetof(struct spool_writer, buf));
    w->sp = sp;
    w->fd = -1;
    return w;
}

static void writer_put(struct spool_writer *w)
{
    struct spool *sp = w->sp;

    if (sp->nidle >= IDLE_MAX) {
        free(w);
        return;
    }
    w->next = sp->idle;
    sp->idle = w;
    sp->nidle++;
}

/* writer_remove - close, remove whichever name the file has */
static void writer_remove(struct spool_writer *w)
{
    int dfd = w->sp->subfd[w->sub];

    if (w->fd >= 0)
        (void)close(w->fd);     /* the file is being thrown away */
    w->fd = -1;
    if (w->created)
        (void)unlinkat(dfd, w->renamed ? w->id : w->tmp, 0);
}

static int writer_start(struct spool_writer *w, const struct spool_env *env)
{
    static const char zeros[] = "00000000000000000000\n";
    struct spool_sink sink = { buf_put, w };

    w->fd = safe_open_excl(w->sp->subfd[w->sub], w->tmp);
    if (w->fd < 0)
        return set_err(w, "create");
    w->created = 1;
    if (spool_fmt_head(env, &sink) < 0)
        return -1;
    w->len_off = w->flushed + (off_t)w->used;
    return buf_put(w, zeros, SPOOL_LEN_DIGITS + 1);
}

/* spool_writer_new - start a message file for env (id must be set) */
struct spool_writer *spool_writer_new(struct spool *sp,
                                      const struct spool_env *env,
                                      struct errbuf *eb)
{
    struct spool_writer *w;
    const char *why;
    int err;

    if (spool_fmt_check(env, &why) < 0) {
        errbuf_set(eb, "spool: %s", why);
        errno = EINVAL;
        return NULL;
    }
    w = writer_get(sp);
    memcpy(w->id, env->id, MSGID_LEN + 1);
    w->sub = spool_sub_index(w->id);
    if (bsnprintf(w->tmp, sizeof w->tmp, ".tmp.%s.%ld", w->id, sp->pid) < 0)
        panic("spool: temp name overflow");
    if (writer_start(w, env) < 0)
        goto fail;
    return w;
fail:
    err = w->err;
    errbuf_set(eb, "spool: %s input/%c/%s: %s", w->stage, b62[w->sub],
               w->tmp, strerror(err));
    writer_remove(w);
    writer_put(w);
    errno = err;
    return NULL;
}

/* spool_writer_write - append message bytes (buffered) */
int spool_writer_write(struct spool_writer *w, const void *p, size_t n)
{
    if (buf_put(w, p, n) < 0)
        return -1;
    w->datalen += n;
    return 0;
}

/* spool_writer_abort - forget the message, remove the temp file */
void spool_writer_abort(struct spool_writer *w)
{
    if (w == NULL)
        return;
    writer_remove(w);
    writer_put(w);
}

/* writer_finish - trailer, data length, last buffer out */
static int writer_finish(struct spool_writer *w)
{
    char digits[SPOOL_LEN_DIGITS];

    spool_fmt_length(digits, w->datalen);
    if (buf_put(w, SPOOL_TRAILER, SPOOL_TRAILER_LEN) < 0)
        return -1;
    if (w->len_off >= w->flushed)
        memcpy(w->buf + (w->len_off - w->flushed), digits, sizeof digits);
    else if (safe_pwrite_all(w->fd, digits, sizeof digits, w->len_off) < 0)
        return set_err(w, "write");
    return buf_flush(w);
}

/* ---- commit ------------------------------------------------------------ */

static void w_fsync(struct spool_writer *w)
{
    if (w->err == 0 && fsync(w->fd) < 0)
        (void)set_err(w, "fsync");
}

static void w_close(struct spool_writer *w)
{
    int fd = w->fd;

    if (w->err != 0)
        return;
    w->fd = -1;
    if (safe_close(fd) < 0)
        (void)set_err(w, "close");
}

static void w_rename(struct spool_writer *w)
{
    int dfd = w->sp->subfd[w->sub];

    if (w->err != 0)
        return;
    if (renameat(dfd, w->tmp, dfd, w->id) < 0)
        (void)set_err(w, "rename");
    else
        w->renamed = 1;
}

/* report - clean up a failure, recycle the writer, then call back (the
 * callback may commit or abort other writers, not close the spool) */
static void report(struct spool_writer *w)
{
    spool_commit_cb cb = w->cb;
    void *arg = w->arg;
    char why[200];
    int failed = w->err != 0;

    if (failed) {
        writer_remove(w);
        if (bsnprintf(why, sizeof why, "spool %s input/%c/%s: %s", w->stage,
                      b62[w->sub], w->id, strerror(w->err)) < 0)
            why[0] = '\0';
    }
    writer_put(w);
    if (cb != NULL)
        cb(failed ? -1 : 0, failed ? why : "", arg);
}

/* commit_one - fsync, close, rename, fsync of the directory */
static void commit_one(struct spool_writer *w)
{
    w_fsync(w);
    w_close(w);
    w_rename(w);
    if (w->err == 0 && fsync(w->sp->subfd[w->sub]) < 0)
        (void)set_err(w, "fsync of the directory of");
}

/* group_sync - one syncfs for all; if it fails, fsync each file so the
 * error is charged to the files that really have one.
 * XXX syncfs reports writeback errors only since Linux 5.8; on older
 * kernels a batch of two or more could be acknowledged after an EIO. */
static void group_sync(struct spool *sp, struct spool_writer *list)
{
    if (syncfs(sp->inputfd) == 0)
        return;
    for (struct spool_writer *w = list; w != NULL; w = w->next)
        w_fsync(w);
}

/* group_dirs - make the renames durable: one syncfs when files went to
 * more than two directories (ids spread over 62), else fsync each
 * directory once; a failed syncfs falls back to the fsyncs so the error
 * is charged to the right files */
static void group_dirs(struct spool *sp, struct spool_writer *list,
                       uint64_t dirs)
{
    if (__builtin_popcountll(dirs) > 2 && syncfs(sp->inputfd) == 0)
        return;
    for (int i = 0; i < SPOOL_NSUB; i++) {
        if (!(dirs & (1ULL << i)) || fsync(sp->subfd[i]) == 0)
            continue;
        for (struct spool_writer *w = list; w != NULL; w = w->next)
            if (w->sub == i && w->err == 0)
                (void)set_err(w, "fsync of the directory of");
    }
}

/* commit_group - syncfs, closes, renames, then group_dirs */
static void commit_group(struct spool *sp, struct spool_writer *list)
{
    uint64_t dirs = 0;

    group_sync(sp, list);
    for (struct spool_writer *w = list; w != NULL; w = w->next) {
        w_close(w);
        w_rename(w);
        if (w->err == 0)
            dirs |= 1ULL << w->sub;
    }
    group_dirs(sp, list, dirs);
}

/* commit_batch - make every good writer of list durable, then report */
static void commit_batch(struct spool *sp, struct spool_writer *list)
{
    struct spool_writer *w, *next;
    unsigned good = 0;

    for (w = list; w != NULL; w = w->next)
        good += w->err == 0;
    if (good >= 2)
        commit_group(sp, list);
    else
        for (w = list; w != NULL; w = w->next)
            commit_one(w);
    for (w = list; w != NULL; w = next) {
        next = w->next;
        report(w);
    }
}

/* take_pending - detach the queued writers */
static struct spool_writer *take_pending(struct spool *sp)
{
    struct spool_writer *list = sp->pending;

    sp->pending = NULL;
    sp->pending_tail = &sp->pending;
    return list;
}

static void batch_cb(void *arg)
{
    struct spool *sp = arg;

    sp->timer = NULL;
    commit_batch(sp, take_pending(sp));
}

/* spool_commit - finish the file, queue it for this turn's group commit */
void spool_commit(struct spool_writer *w, spool_commit_cb cb, void *arg)
{
    struct spool *sp = w->sp;

    w->cb = cb;
    w->arg = arg;
    w->next = NULL;
    (void)writer_finish(w);     /* a failure is sticky in w->err */
    if (sp->ev == NULL) {
        commit_batch(sp, w);
        return;
    }
    *sp->pending_tail = w;
    sp->pending_tail = &w->next;
    if (sp->timer == NULL)
        sp->timer = ev_timer_add(sp->ev, 0, batch_cb, sp);
}

/* spool_flush - commit every queued writer now */
void spool_flush(struct spool *sp)
{
    for (;;) {
        /* callbacks may queue more, and arm the timer again */
        if (sp->timer != NULL) {
            ev_timer_cancel(sp->ev, sp->timer);
            sp->timer = NULL;
        }
        if (sp->pending == NULL)
            return;
        commit_batch(sp, take_pending(sp));
    }
}
