/*
 * spool_files.c - reading, listing, removing and quarantining message
 * files, and the per-message journals.
 *
 * PURPOSE:   everything the scheduler and the queue commands do with
 *            committed messages.
 * INTERFACE: spool_read, spool_read_fd, spool_msg_free, spool_list,
 *            spool_list_unsorted, spool_remove,
 *            spool_quarantine, spool_journal_append, spool_journal_read,
 *            spool_tidy (spool.h).
 * ERRORS:    -1 with errno and eb. spool_read sets errno EBADMSG for a
 *            damaged file (the caller quarantines it) and keeps the
 *            system's errno for an I/O failure (retry later).
 * SECURITY:  ids are checked with msgid_valid() before they name a file;
 *            a journal line may not contain a newline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/base/pool.h"
#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/mail/logfile.h"
#include "core/spool/spool_impl.h"

#define JOURNAL_LINE_MAX 8192
#define JOURNAL_MAX (64L << 20)
#define QUARANTINE_TRIES 1000
#define JNAME_SIZE (MSGID_LEN + 3)  /* "<id>.J" */

/* check_id - an id that may name a file; its directory fd */
static int check_id(struct spool *sp, const char *id, struct errbuf *eb)
{
    if (!msgid_valid(id)) {
        errbuf_set(eb, "spool: bad message id");
        errno = EINVAL;
        return -1;
    }
    return sp->subfd[spool_sub_index(id)];
}

static void jname(char *out, const char *id)
{
    memcpy(out, id, MSGID_LEN);
    memcpy(out + MSGID_LEN, ".J", 3);
}

/* sys_fail - eb "spool: what input/<c>/name: strerror"; -1, errno kept */
static int sys_fail(struct errbuf *eb, const char *what, const char *name)
{
    int err = errno;

    errbuf_set(eb, "spool: %s input/%c/%s: %s", what, name[MSGID_LEN - 1],
               name, strerror(err));
    errno = err;
    return -1;
}

/* ---- reading ----------------------------------------------------------- */

/* pread_full - up to n bytes from offset 0 on; pread leaves the file
 * offset alone, which a descriptor passed to another process shares with
 * it. A short read of a regular file is its end (no second call to learn
 * what the first one said). */
static ssize_t pread_full(int fd, char *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        size_t want = n - got;
        ssize_t r = pread(fd, p + got, want, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        got += (size_t)r;
        if ((size_t)r < want)
            break;
    }
    return (ssize_t)got;
}

/* slurp - the whole file into the pool; its length, or -1 */
static ssize_t slurp(int fd, struct pool *pool, off_t max, char **buf)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -1;
    if (st.st_size > max) {
        errno = EFBIG;
        return -1;
    }
    /* one byte more than the size: a file that grew is caught as
     * trailing garbage rather than cut silently */
    *buf = pool_alloc(pool, (size_t)st.st_size + 1);
    return pread_full(fd, *buf, (size_t)st.st_size + 1);
}

/* spool_read - read message id and validate every byte of it */
int spool_read(struct spool *sp, const char *id, struct spool_msg *out,
               struct errbuf *eb)
{
    int dfd = check_id(sp, id, eb), fd, rc, err;

    memset(out, 0, sizeof(*out));
    if (dfd < 0 || (fd = openat(dfd, id, O_RDONLY | O_CLOEXEC)) < 0)
        return dfd < 0 ? -1 : sys_fail(eb, "open", id);
    rc = spool_read_fd(fd, id, out, eb);
    err = errno;
    (void)close(fd);            /* read-only: nothing to report */
    errno = err;
    return rc;
}

/* spool_read_fd - message id from fd, validated (see spool.h) */
int spool_read_fd(int fd, const char *id, struct spool_msg *out,
                  struct errbuf *eb)
{
    struct pool *pool = pool_new();
    char why[256], *buf;
    ssize_t len;
    int err;

    memset(out, 0, sizeof(*out));
    if (!msgid_valid(id)) {
        errbuf_set(eb, "spool: bad message id");
        err = EINVAL;
        goto fail;
    }
    if ((len = slurp(fd, pool, SPOOL_FILE_MAX, &buf)) < 0) {
        err = errno;
        (void)sys_fail(eb, "read", id);
        goto fail;
    }
    if (spool_fmt_parse(buf, (size_t)len, id, pool, out, why, sizeof why) < 0) {
        errbuf_set(eb, "spool file input/%c/%s: %s", id[MSGID_LEN - 1], id,
                   why);
        err = EBADMSG;
        goto fail;
    }
    out->priv = pool;
    return 0;
fail:
    pool_free(pool);
    memset(out, 0, sizeof(*out));
    errno = err;
    return -1;
}

/* spool_msg_free - release what spool_read filled in (NULL ok) */
void spool_msg_free(struct spool_msg *m)
{
    if (m == NULL)
        return;
    pool_free(m->priv);
    memset(m, 0, sizeof(*m));
}

/* ---- listing ----------------------------------------------------------- */

struct idvec {
    char **v;
    size_t n, cap;
};

static void idvec_push(struct idvec *iv, const char *id)
{
    if (iv->n == iv->cap) {
        iv->cap = iv->cap ? iv->cap * 2 : 64;
        iv->v = xreallocarray(iv->v, iv->cap, sizeof(*iv->v));
    }
    iv->v[iv->n++] = xstrdup(id);
}

static void idvec_free(struct idvec *iv)
{
    for (size_t i = 0; i < iv->n; i++)
        free(iv->v[i]);
    free(iv->v);
}

/* open_sub - a directory stream on input/<c> (its own descriptor: the
 * kept subfd must not share a read offset) */
static DIR *open_sub(struct spool *sp, int i)
{
    char name[2] = { spool_sub_char(i), 0 };
    int fd = openat(sp->inputfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;

    if (fd < 0)
        return NULL;
    if ((d = fdopendir(fd)) == NULL)
        (void)close(fd);        /* read-only directory */
    return d;
}

/* end_dir - closedir, reporting a readdir error first */
static int end_dir(DIR *d)
{
    int err = errno;

    if (err != 0) {
        (void)closedir(d);
        errno = err;
        return -1;
    }
    return closedir(d);
}

/* list_sub - the ids in input/<c>: a valid id whose last character is c
 * (temp files and journals fail msgid_valid) */
static int list_sub(struct spool *sp, int i, struct idvec *iv)
{
    DIR *d = open_sub(sp, i);
    struct dirent *de;

    if (d == NULL)
        return -1;
    for (errno = 0; (de = readdir(d)) != NULL; errno = 0)
        if (msgid_valid(de->d_name)
            && de->d_name[MSGID_LEN - 1] == spool_sub_char(i))
            idvec_push(iv, de->d_name);
    return end_dir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* spool_list - ids of all committed messages, sorted */
int spool_list(struct spool *sp, char ***ids, size_t *n, struct errbuf *eb)
{
    if (spool_list_unsorted(sp, ids, n, eb) != 0)
        return -1;
    if (*n > 0)
        qsort(*ids, *n, sizeof(**ids), cmp_str);
    return 0;
}

/* spool_list_unsorted - the same in the order the directories give */
int spool_list_unsorted(struct spool *sp, char ***ids, size_t *n,
                        struct errbuf *eb)
{
    struct idvec iv = { NULL, 0, 0 };

    *ids = NULL;
    *n = 0;
    for (int i = 0; i < SPOOL_NSUB; i++) {
        if (list_sub(sp, i, &iv) < 0) {
            int err = errno;

            errbuf_set(eb, "spool: list %s/input: %s", sp->dir,
                       strerror(err));
            idvec_free(&iv);
            errno = err;
            return -1;
        }
    }
    *ids = iv.v;
    *n = iv.n;
    return 0;
}

/* ---- removing and quarantining ----------------------------------------- */

/* unlink id and its journal in dfd; 1 when the message was not there */
static int remove_files(int dfd, const char *id, struct errbuf *eb)
{
    char j[JNAME_SIZE];
    int gone = unlinkat(dfd, id, 0) < 0;

    if (gone && errno != ENOENT)
        return sys_fail(eb, "remove", id);
    /* a missing message: still drop an orphan journal */
    jname(j, id);
    if (unlinkat(dfd, j, 0) < 0 && errno != ENOENT)
        return sys_fail(eb, "remove", j);
    return gone;
}

/* spool_remove - delete a message, then its journal, sync the directory
 * (a missing message is an error after its journal is gone) */
int spool_remove(struct spool *sp, const char *id, struct errbuf *eb)
{
    int dfd = check_id(sp, id, eb);
    int gone;

    if (dfd < 0 || (gone = remove_files(dfd, id, eb)) < 0)
        return -1;
    if (fsync(dfd) < 0)
        return sys_fail(eb, "fsync of the directory of", id);
    if (gone) {
        errno = ENOENT;
        return sys_fail(eb, "remove", id);
    }
    return 0;
}

/* spool_sync_removals - fsync the directories of lazy removals */
void spool_sync_removals(struct spool *sp)
{
    if (sp->ev != NULL)
        ev_timer_cancel(sp->ev, sp->rm_timer);
    sp->rm_timer = NULL;
    for (int i = 0; i < SPOOL_NSUB; i++)
        if (sp->rm_dirty[i]) {
            sp->rm_dirty[i] = 0;
            if (fsync(sp->subfd[i]) < 0)
                log_panic("spool: fsync of input/%c: %s", spool_sub_char(i),
                          strerror(errno));
        }
}

static void sync_removals_cb(void *arg)
{
    struct spool *sp = arg;

    sp->rm_timer = NULL;
    spool_sync_removals(sp);
}

/* spool_remove_later - spool_remove for a message whose deliveries are
 * durable already: the directory is fsynced at the end of this loop turn,
 * once for every removal of the turn. Until then a power loss can only
 * bring the message back (delivered twice), never lose it. */
int spool_remove_later(struct spool *sp, const char *id, struct errbuf *eb)
{
    int dfd = check_id(sp, id, eb);
    int gone;

    if (sp->ev == NULL)
        return spool_remove(sp, id, eb);
    if (dfd < 0 || (gone = remove_files(dfd, id, eb)) < 0)
        return -1;
    sp->rm_dirty[spool_sub_index(id)] = 1;
    if (sp->rm_timer == NULL)
        sp->rm_timer = ev_timer_add(sp->ev, 0, sync_removals_cb, sp);
    if (gone) {
        errno = ENOENT;
        return sys_fail(eb, "remove", id);
    }
    return 0;
}

/* move_noreplace - rename unless to exists (EEXIST); falls back to a
 * check + rename where the filesystem lacks RENAME_NOREPLACE */
static int move_noreplace(int fromfd, const char *from, int tofd,
                          const char *to)
{
    struct stat st;

    if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (fstatat(tofd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return -1;
    }
    return renameat(fromfd, from, tofd, to);
}

/* move_aside - input/<c>/name to corrupt/name, or name.1, name.2... */
static int move_aside(struct spool *sp, int dfd, const char *name)
{
    char to[JNAME_SIZE + 8];

    for (int k = 0; k < QUARANTINE_TRIES; k++) {
        if (k == 0)
            memcpy(to, name, strlen(name) + 1);
        else if (bsnprintf(to, sizeof to, "%s.%d", name, k) < 0)
            break;
        if (move_noreplace(dfd, name, sp->corruptfd, to) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* spool_quarantine - move a message's files to corrupt/ */
int spool_quarantine(struct spool *sp, const char *id, struct errbuf *eb)
{
    int dfd = check_id(sp, id, eb);
    char j[JNAME_SIZE];

    if (dfd < 0)
        return -1;
    if (move_aside(sp, dfd, id) < 0)
        return sys_fail(eb, "quarantine", id);
    jname(j, id);
    if (move_aside(sp, dfd, j) < 0 && errno != ENOENT)
        return sys_fail(eb, "quarantine", j);
    if (fsync(sp->corruptfd) < 0 || fsync(dfd) < 0)
        return sys_fail(eb, "fsync after quarantine of", id);
    return 0;
}

/* ---- journals ---------------------------------------------------------- */

/* journal_open - open for appending, creating it; *created says so */
static int journal_open(int dfd, const char *j, int *created)
{
    int fd = openat(dfd, j, O_WRONLY | O_APPEND | O_CLOEXEC);

    *created = 0;
    if (fd >= 0 || errno != ENOENT)
        return fd;
    fd = openat(dfd, j, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
                0600);
    if (fd >= 0)
        *created = 1;
    else if (errno == EEXIST)   /* another process was quicker */
        fd = openat(dfd, j, O_WRONLY | O_APPEND | O_CLOEXEC);
    return fd;
}

/* journal_write - the lines (each already ending in a newline) in one
 * write, then fsync */
static int journal_write(int fd, const char *buf, size_t len)
{
    int err;

    if (safe_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
        err = errno;
        (void)close(fd);        /* the write error is the one to report */
        errno = err;
        return -1;
    }
    return safe_close(fd);
}

/* journal_text - the lines with their newlines; -1 if one is too long or
 * holds a newline */
static int journal_text(const char *const *lines, size_t n, struct strbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(lines[i]);
        if (len > JOURNAL_LINE_MAX || memchr(lines[i], '\n', len) != NULL)
            return -1;
        sb_append(out, lines[i], len);
        sb_putc(out, '\n');
    }
    return 0;
}

/* spool_journal_append_v - append n lines with one write and one fsync
 * (and the directory's when the journal is new) before returning */
int spool_journal_append_v(struct spool *sp, const char *id,
                           const char *const *lines, size_t n,
                           struct errbuf *eb)
{
    int dfd = check_id(sp, id, eb), fd, created, rc;
    char j[JNAME_SIZE];
    struct strbuf text;

    if (dfd < 0)
        return -1;
    sb_init(&text);
    if (journal_text(lines, n, &text) != 0) {
        sb_free(&text);
        errbuf_set(eb, "spool: journal line too long or with a newline");
        errno = EINVAL;
        return -1;
    }
    jname(j, id);
    if ((fd = journal_open(dfd, j, &created)) < 0)
        rc = sys_fail(eb, "open", j);
    else if (journal_write(fd, sb_str(&text), sb_len(&text)) < 0)
        rc = sys_fail(eb, "append to", j);
    else if (created && fsync(dfd) < 0)
        rc = sys_fail(eb, "fsync of the directory of", j);
    else
        rc = 0;
    sb_free(&text);
    return rc;
}

/* spool_journal_append - append one line (see spool_journal_append_v) */
int spool_journal_append(struct spool *sp, const char *id, const char *line,
                         struct errbuf *eb)
{
    return spool_journal_append_v(sp, id, &line, 1, eb);
}

/* still_named - does id in dfd still name the file open on fd? A queue
 * command that edits a message (-Mar, -Mes) replaces its file by rename
 * while holding the lock of the old one; whoever opened the old file
 * before that and locks it after must not deliver the stale copy. */
static int still_named(int dfd, const char *id, int fd)
{
    struct stat a, b;

    if (fstat(fd, &a) < 0 || fstatat(dfd, id, &b, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* lock_open - open and lock id once: the descriptor, -1 with errno, or
 * -2 when the file was replaced between the open and the lock */
static int lock_open(int dfd, const char *id)
{
    int fd = openat(dfd, id, O_RDONLY | O_CLOEXEC), err;

    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        err = errno;
        (void)close(fd);        /* read-only */
        errno = err;
        return -1;
    }
    if (still_named(dfd, id, fd))
        return fd;
    (void)close(fd);
    return -2;
}

/* spool_lock - an exclusive lock on message id for a delivery: an open
 * descriptor (close it to unlock), -1 with errno EWOULDBLOCK when another
 * process delivers it, ENOENT when it is gone. The locked descriptor is
 * always the file the id names now (a replaced file is opened again). */
int spool_lock(struct spool *sp, const char *id, struct errbuf *eb)
{
    int dfd = check_id(sp, id, eb), fd = -2;

    if (dfd < 0)
        return -1;
    for (int tries = 0; fd == -2 && tries < 10; tries++)
        fd = lock_open(dfd, id);
    if (fd == -2)
        errno = EWOULDBLOCK;    /* replaced again and again: busy */
    if (fd >= 0)
        return fd;
    if (errno == EWOULDBLOCK) {
        errbuf_set(eb, "spool: message %s is locked by another process", id);
        return -1;
    }
    return sys_fail(eb, "open", id);
}

/* split_lines - complete lines of buf; a last line without its newline
 * is an append cut short by a crash (never fsynced, never acted on) */
static void split_lines(const char *buf, size_t len, char ***lines, size_t *n)
{
    size_t cnt = 0, k = 0;
    const char *p = buf, *end = buf + len, *lf;

    for (size_t i = 0; i < len; i++)
        cnt += buf[i] == '\n';
    *lines = xcalloc(cnt + 1, sizeof(**lines));
    for (; (lf = memchr(p, '\n', (size_t)(end - p))) != NULL; p = lf + 1)
        (*lines)[k++] = xstrndup(p, (size_t)(lf - p));
    *n = k;
}

/* spool_journal_read - the journal's complete lines (none if no journal) */
int spool_journal_read(struct spool *sp, const char *id, char ***lines,
                       size_t *n, struct errbuf *eb)
{
    int dfd = check_id(sp, id, eb), fd, err;
    struct pool *pool;
    char j[JNAME_SIZE], *buf;
    ssize_t len;

    *lines = NULL;
    *n = 0;
    if (dfd < 0)
        return -1;
    jname(j, id);
    if ((fd = openat(dfd, j, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : sys_fail(eb, "open", j);
    pool = pool_new();
    len = slurp(fd, pool, JOURNAL_MAX, &buf);
    err = errno;
    (void)close(fd);            /* read-only: nothing to report */
    if (len < 0) {
        pool_free(pool);
        errno = err;
        return sys_fail(eb, "read", j);
    }
    split_lines(buf, (size_t)len, lines, n);
    pool_free(pool);
    return 0;
}

/* ---- tidying ----------------------------------------------------------- */

/* stale_tmp - is name ".tmp.<id>.<pid>" of a process that is gone */
static int stale_tmp(const char *name, long self)
{
    const char *p;
    char *end;
    long pid;

    if (strncmp(name, ".tmp.", 5) != 0 || strlen(name) < 5 + MSGID_LEN + 2)
        return 0;
    p = name + 5 + MSGID_LEN;
    if (*p != '.')
        return 0;
    errno = 0;
    pid = strtol(p + 1, &end, 10);
    if (errno != 0 || *end != '\0' || pid <= 0 || pid == self)
        return 0;
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int tidy_sub(struct spool *sp, int i, unsigned *removed)
{
    DIR *d = open_sub(sp, i);
    struct dirent *de;

    if (d == NULL)
        return -1;
    for (errno = 0; (de = readdir(d)) != NULL; errno = 0)
        if (stale_tmp(de->d_name, sp->pid)
            && unlinkat(sp->subfd[i], de->d_name, 0) == 0)
            (*removed)++;
    return end_dir(d);
}

/* spool_tidy - remove temp files whose writing process no longer exists */
int spool_tidy(struct spool *sp, unsigned *removed, struct errbuf *eb)
{
    *removed = 0;
    for (int i = 0; i < SPOOL_NSUB; i++) {
        if (tidy_sub(sp, i, removed) < 0) {
            errbuf_set(eb, "spool: tidy %s/input: %s", sp->dir,
                       strerror(errno));
            return -1;
        }
    }
    return 0;
}
