/*
 * spool.c - the spool handle and the message writers.
 *
 * PURPOSE:   open the spool (directories created, one fd kept per
 *            input/<c>), write message files through a 64 KiB buffer into
 *            input/<c>/.tmp.<id>.<pid>. Making them durable under their
 *            final names is spool_commit.c's job.
 * INTERFACE: spool_open, spool_close, spool_dir, spool_writer_new,
 *            spool_writer_write, spool_writer_abort (spool.h);
 *            spool_sub_index, spool_sub_char, spool_writer_fail,
 *            spool_writer_finish, spool_writer_discard,
 *            spool_writer_recycle (spool_impl.h).
 * ERRORS:    spool_open/spool_writer_new: NULL with eb; a write error is
 *            sticky and reported by the commit.
 * SECURITY:  file names are built only from msgid_valid() ids.
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

#define IDLE_MAX 64                 /* writers kept for reuse */

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


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

/* spool_close - commit what is queued, stop the sync thread, release
 * everything (NULL ok) */
void spool_close(struct spool *sp)
{
    struct spool_writer *w;

    if (sp == NULL)
        return;
    spool_flush(sp);
    spool_syncer_stop(sp->syncer);
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

/* spool_writer_fail - remember the first failure; -1 with its errno */
int spool_writer_fail(struct spool_writer *w, const char *stage)
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
        return spool_writer_fail(w, "write");
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
    if (n > SPOOL_WRITER_BUF - w->used) {
        if (buf_flush(w) < 0)
            return -1;
        if (n >= SPOOL_WRITER_BUF)
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

void spool_writer_recycle(struct spool_writer *w)
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

/* spool_writer_discard - close, remove whichever name the file has */
void spool_writer_discard(struct spool_writer *w)
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
        return spool_writer_fail(w, "create");
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
    spool_writer_discard(w);
    spool_writer_recycle(w);
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
    spool_writer_discard(w);
    spool_writer_recycle(w);
}

/* spool_writer_finish - trailer, data length, last buffer out */
int spool_writer_finish(struct spool_writer *w)
{
    char digits[SPOOL_LEN_DIGITS];

    spool_fmt_length(digits, w->datalen);
    if (buf_put(w, SPOOL_TRAILER, SPOOL_TRAILER_LEN) < 0)
        return -1;
    if (w->len_off >= w->flushed)
        memcpy(w->buf + (w->len_off - w->flushed), digits, sizeof digits);
    else if (safe_pwrite_all(w->fd, digits, sizeof digits, w->len_off) < 0)
        return spool_writer_fail(w, "write");
    return buf_flush(w);
}
