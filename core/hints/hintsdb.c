/*
 * hintsdb.c - hints databases: GDBM files under SPOOL/db/, opened, used
 *             and closed by each caller (see hintsdb.h).
 *
 * PURPOSE:   one place that knows GDBM: paths, locking and the busy wait,
 *            key checks, fetch/store/delete, listing keys. What a record
 *            means belongs to its user (retrydb.c).
 * INTERFACE: see hintsdb.h.
 * ERRORS:    -1 / NULL with eb ("NAME database: ..."); a file busy for
 *            more than 2 seconds or not permitted cannot be opened. A
 *            file that is not a GDBM file (bad magic number, bad header,
 *            bad offsets), or whose records turn out damaged in use, is
 *            disposable as in Exim: renamed NAME.corrupt-STAMP-PID-N, logged
 *            once to the panic log, and a new file started (a reader then
 *            finds none).
 * SECURITY:  SPOOL/db 0750, files 0640, opened O_NOFOLLOW; readers
 *            GDBM_READER (shared lock), writers GDBM_WRCREAT (exclusive
 *            lock), never GDBM_NOLOCK. A file created by root is given to
 *            the owner of SPOOL/db.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gdbm.h>

#include "core/base/errbuf.h"
#include "core/base/log.h"
#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/mail/logfile.h"
#include "core/hints/hintsdb.h"

#define BUSY_WAIT_NS (10L * 1000 * 1000)        /* 10 ms between tries */
#define BUSY_WAIT_MS 2000L                      /* 2 seconds */
#define BUSY_NAP_SHORT_NS (2L * 1000 * 1000)    /* bounded waits: 2 ms */

struct hintsdb {
    GDBM_FILE f;
    const char *name;           /* the caller's constant, for messages */
    char *path;
    int damaged;                /* an operation found the file damaged */
    char why[128];              /* gdbm's words for it */
};

/* SPOOL/db (leaf NULL) or SPOOL/db/leaf into buf */
static int db_path(const char *spool, const char *name, const char *leaf,
                   char *buf, size_t size, struct errbuf *eb)
{
    if (spool == NULL || spool[0] == '\0'
        || bsnprintf(buf, size, "%s/db%s%s", spool, leaf ? "/" : "",
                     leaf ? leaf : "") < 0) {
        errbuf_set(eb, "%s database: bad spool directory", name);
        return -1;
    }
    return 0;
}

/* Errors that say the file is not (or no longer) a usable GDBM file, as
 * opposed to a lock held by someone else, a permission or an I/O error.
 * An empty file is not listed: a reader can meet a file a writer has just
 * created and not yet initialised. */
static int db_damaged(int gerr)
{
    static const int damaged[] = {
        GDBM_BAD_MAGIC_NUMBER, GDBM_BLOCK_SIZE_ERROR, GDBM_BYTE_SWAPPED,
        GDBM_BAD_FILE_OFFSET, GDBM_FILE_EOF, GDBM_NEED_RECOVERY,
        GDBM_DIR_OVERFLOW, GDBM_BAD_BUCKET, GDBM_BAD_HEADER, GDBM_BAD_AVAIL,
        GDBM_BAD_HASH_TABLE, GDBM_BAD_DIR_ENTRY, GDBM_BAD_HASH_ENTRY,
        GDBM_BUCKET_CACHE_CORRUPTED, GDBM_MALFORMED_DATA };

    for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++)
        if (gerr == damaged[i])
            return 1;
    return 0;
}

/* A hints file is disposable (Exim): a damaged one is renamed
 * NAME.corrupt-YYYYMMDD-HHMMSS-PID-N beside itself (N counts this
 * process's moves), if it is still the file fd has open, and logged once
 * (panic and main log) by the process that moved it; the next open starts
 * afresh. 0 moved (or already gone), -1 with eb. */
static int move_aside(const char *path, int fd, const char *name,
                      const char *why, struct errbuf *eb)
{
    static unsigned moves;
    char aside[PATH_MAX + 64], stamp[32];
    struct stat fst, pst;
    time_t now = time(NULL);
    struct tm tm;

    if (fstat(fd, &fst) != 0 || lstat(path, &pst) != 0
        || fst.st_dev != pst.st_dev || fst.st_ino != pst.st_ino)
        return 0;               /* another process moved it already */
    if (localtime_r(&now, &tm) == NULL
        || strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm) == 0
        || bsnprintf(aside, sizeof(aside), "%s.corrupt-%s-%ld-%u", path,
                     stamp, (long)getpid(), ++moves) < 0) {
        errbuf_set(eb, "%s database %s is damaged (%s)", name, path, why);
        return -1;
    }
    if (rename(path, aside) != 0) {
        errbuf_set(eb, "%s database %s is damaged (%s) and cannot be moved "
                   "aside: %s", name, path, why, strerror(errno));
        return -1;
    }
    log_panic("%s database %s was damaged (%s): moved to %s, starting a new "
              "one", name, path, why, aside);
    return 0;
}

/* A file a root process creates belongs to the owner of SPOOL/db, so that
 * tern_fixdb run as root does not lock the daemon's user out of it. */
static void give_to_dir_owner(int fd, const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat dst, fst;

    if (geteuid() != 0 || slash == NULL
        || (size_t)(slash - path) >= sizeof(dir))
        return;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (stat(dir, &dst) != 0 || fstat(fd, &fst) != 0
        || (fst.st_uid == dst.st_uid && fst.st_gid == dst.st_gid))
        return;
    if (fchown(fd, dst.st_uid, dst.st_gid) != 0)
        log_warn("cannot give %s to uid %ld: %s", path, (long)dst.st_uid,
                 strerror(errno));
}

/* the file itself: never through a symbolic link */
static int open_fd(const char *path, enum hints_mode mode)
{
    int fl = O_NOFOLLOW | O_CLOEXEC
             | (mode == HINTS_WRITE ? O_RDWR | O_CREAT : O_RDONLY);

    return open(path, fl, 0640);
}

enum try_result { TRY_OK, TRY_ABSENT, TRY_BUSY, TRY_DAMAGED, TRY_ERROR };

/* one attempt at opening path: *f set for TRY_OK; a damaged file has been
 * moved aside (or eb says why it could not be) */
static enum try_result open_once(const char *path, const char *name,
                                 enum hints_mode mode, GDBM_FILE *f,
                                 struct errbuf *eb)
{
    int fd, gerr, err;

    errno = 0;
    if ((fd = open_fd(path, mode)) < 0) {
        if (mode == HINTS_READ && errno == ENOENT)
            return TRY_ABSENT;
        errbuf_set(eb, "cannot open %s: %s", path, strerror(errno));
        return TRY_ERROR;
    }
    if (mode == HINTS_WRITE)
        give_to_dir_owner(fd, path);
    /* no mmap: each use maps and unmaps the file, and in a process with
     * a second thread (the spool's syncer) every munmap costs a TLB
     * shootdown on the other CPUs; small records read as fast with read */
    *f = gdbm_fd_open(fd, path, 0, (mode == HINTS_WRITE ? GDBM_WRCREAT
                                    : GDBM_READER)
                                   | GDBM_CLOEXEC | GDBM_NOMMAP, NULL);
    if (*f != NULL)
        return TRY_OK;
    gerr = gdbm_errno;
    err = errno;
    if (db_damaged(gerr)) {
        int rc = move_aside(path, fd, name, gdbm_strerror(gerr), eb);
        (void)close(fd);
        return rc == 0 ? TRY_DAMAGED : TRY_ERROR;
    }
    (void)close(fd);
    if (gerr == GDBM_EMPTY_DATABASE && mode == HINTS_READ)
        return TRY_ABSENT;      /* a writer is creating it */
    if (gerr == GDBM_CANT_BE_WRITER || gerr == GDBM_CANT_BE_READER
        || err == EAGAIN || err == EWOULDBLOCK)
        return TRY_BUSY;
    errbuf_set(eb, "cannot open %s: %s%s%s", path, gdbm_strerror(gerr),
               err ? ": " : "", err ? strerror(err) : "");
    return TRY_ERROR;
}

/* gdbm_fd_open, retried while another process holds the lock; a damaged
 * file is moved aside once and the open made again (a writer creates a
 * new file, a reader finds none) */
static GDBM_FILE open_waiting(const char *path, const char *name,
                              enum hints_mode mode, long wait_ms,
                              int *absent, int *busy, struct errbuf *eb)
{
    long nap_ns = wait_ms < 100 ? BUSY_NAP_SHORT_NS : BUSY_WAIT_NS;
    struct timespec nap = { 0, nap_ns };
    long tries = wait_ms * 1000000L / nap_ns;
    int moved = 0;
    GDBM_FILE f = NULL;

    for (long i = 0; i <= tries; i++) {
        switch (open_once(path, name, mode, &f, eb)) {
        case TRY_OK:
            return f;
        case TRY_ABSENT:
            *absent = 1;
            return NULL;
        case TRY_DAMAGED:
            if (moved++ > 0) {
                errbuf_set(eb, "%s database %s: damaged again after it was "
                           "recreated", name, path);
                return NULL;
            }
            continue;
        case TRY_BUSY:
            if (i < tries)
                (void)nanosleep(&nap, NULL);
            continue;
        case TRY_ERROR:
            return NULL;
        }
    }
    *busy = 1;
    errbuf_set(eb, "cannot open %s: locked by another process for more than "
               "%ld ms", path, wait_ms);
    return NULL;
}

/* hintsdb_open - open SPOOL/db/name for mode */
struct hintsdb *hintsdb_open(const char *spool, const char *name,
                             enum hints_mode mode, int *absent,
                             struct errbuf *eb)
{
    int busy;

    return hintsdb_open_wait(spool, name, mode, BUSY_WAIT_MS, absent, &busy,
                             eb);
}

/* hintsdb_open_wait - hintsdb_open waiting at most wait_ms for the lock */
struct hintsdb *hintsdb_open_wait(const char *spool, const char *name,
                                  enum hints_mode mode, long wait_ms,
                                  int *absent, int *busy, struct errbuf *eb)
{
    char path[PATH_MAX];
    struct hintsdb *db;
    GDBM_FILE f;

    *absent = 0;
    *busy = 0;
    if (mode == HINTS_WRITE) {
        if (db_path(spool, name, NULL, path, sizeof(path), eb) < 0)
            return NULL;
        if (safe_mkdir(AT_FDCWD, path, 0750) < 0) {
            errbuf_set(eb, "cannot create %s: %s", path, strerror(errno));
            return NULL;
        }
    }
    if (db_path(spool, name, name, path, sizeof(path), eb) < 0)
        return NULL;
    if ((f = open_waiting(path, name, mode, wait_ms, absent, busy, eb))
        == NULL)
        return NULL;
    db = xcalloc(1, sizeof(*db));
    db->f = f;
    db->name = name;
    db->path = xstrdup(path);
    return db;
}

/* An operation failed: remember whether it found the file damaged (a bad
 * bucket or directory behind a good header), so that close moves it
 * aside. Returns gdbm's text for the caller's message. */
static const char *op_error(struct hintsdb *db)
{
    if (!db->damaged && (db_damaged(gdbm_errno)
                         || gdbm_needs_recovery(db->f))) {
        db->damaged = 1;
        (void)bsnprintf(db->why, sizeof(db->why), "%s",
                        gdbm_db_strerror(db->f));
    }
    return gdbm_db_strerror(db->f);
}

/* hintsdb_close - close db (NULL ok); a file found damaged while in use
 * is moved aside first (while this process still holds its lock) */
int hintsdb_close(struct hintsdb *db, struct errbuf *eb)
{
    struct errbuf aside;
    int rc = 0;

    if (db == NULL)
        return 0;
    if (db->damaged) {
        if (move_aside(db->path, gdbm_fdesc(db->f), db->name, db->why,
                       &aside) != 0)
            log_panic("%s", aside.msg);
        else
            rc = HINTS_RESET;
    }
    if (gdbm_close(db->f) != 0 && !db->damaged) {
        errbuf_set(eb, "%s database: close failed: %s", db->name,
                   gdbm_strerror(gdbm_errno));
        rc = -1;
    }
    free(db->path);
    free(db);
    return rc;
}

/* hintsdb_exists - does SPOOL/db/name exist (a remover need not create
 * it) */
int hintsdb_exists(const char *spool, const char *name, struct errbuf *eb)
{
    char path[PATH_MAX];
    struct stat st;

    if (db_path(spool, name, name, path, sizeof(path), eb) < 0)
        return -1;
    return !(stat(path, &st) != 0 && errno == ENOENT);
}

/* hintsdb_key_ok - a key is 1..HINTS_KEY_MAX bytes of text */
int hintsdb_key_ok(const char *name, const char *key, struct errbuf *eb)
{
    size_t n = key != NULL ? strlen(key) : 0;

    if (n == 0 || n > HINTS_KEY_MAX) {
        errbuf_set(eb, "%s database: bad key", name);
        return -1;
    }
    return 0;
}

static int key_datum(const struct hintsdb *db, const char *key, datum *k,
                     struct errbuf *eb)
{
    if (hintsdb_key_ok(db->name, key, eb) < 0)
        return -1;
    k->dptr = (char *)key;
    k->dsize = (int)strlen(key);
    return 0;
}

/* hintsdb_fetch - the value of key */
int hintsdb_fetch(struct hintsdb *db, const char *key, struct strbuf *val,
                  struct errbuf *eb)
{
    datum k, v;

    if (key_datum(db, key, &k, eb) < 0)
        return -1;
    v = gdbm_fetch(db->f, k);
    if (v.dptr == NULL) {
        if (gdbm_errno == GDBM_ITEM_NOT_FOUND)
            return 0;
        errbuf_set(eb, "%s database: fetch of %s failed: %s", db->name, key,
                   op_error(db));
        return -1;
    }
    sb_reset(val);
    if (v.dsize > 0)
        sb_append(val, v.dptr, (size_t)v.dsize);
    free(v.dptr);
    return 1;
}

/* hintsdb_store - set key */
int hintsdb_store(struct hintsdb *db, const char *key, const void *val,
                  size_t len, struct errbuf *eb)
{
    datum k, v;

    if (key_datum(db, key, &k, eb) < 0)
        return -1;
    if (len > INT_MAX) {
        errbuf_set(eb, "%s database: value of %s too long", db->name, key);
        return -1;
    }
    v.dptr = (char *)val;
    v.dsize = (int)len;
    if (gdbm_store(db->f, k, v, GDBM_REPLACE) != 0) {
        errbuf_set(eb, "%s database: store of %s failed: %s", db->name, key,
                   op_error(db));
        return -1;
    }
    return 0;
}

/* hintsdb_delete - remove key */
int hintsdb_delete(struct hintsdb *db, const char *key, struct errbuf *eb)
{
    datum k;

    if (key_datum(db, key, &k, eb) < 0)
        return -1;
    if (gdbm_delete(db->f, k) == 0)
        return 1;
    if (gdbm_errno == GDBM_ITEM_NOT_FOUND)
        return 0;
    errbuf_set(eb, "%s database: delete of %s failed: %s", db->name, key,
               op_error(db));
    return -1;
}

/* Every key of db as raw datums (binary-safe); -1 on error. */
static int all_datums(struct hintsdb *db, datum **out, size_t *n,
                      struct errbuf *eb)
{
    datum k = gdbm_firstkey(db->f);
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    for (; k.dptr != NULL; k = gdbm_nextkey(db->f, (*out)[*n - 1])) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = xreallocarray(*out, cap, sizeof(**out));
        }
        (*out)[(*n)++] = k;
    }
    if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
        errbuf_set(eb, "%s database: cannot list keys: %s", db->name,
                   op_error(db));
        return -1;
    }
    return 0;
}

static void datums_free(datum *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].dptr);
    free(d);
}

/* A key as text, or NULL (logged) when it is empty, too long or has a NUL */
static char *key_text(const struct hintsdb *db, datum k)
{
    if (k.dsize <= 0 || k.dsize > HINTS_KEY_MAX
        || memchr(k.dptr, '\0', (size_t)k.dsize) != NULL) {
        log_warn("%s database: damaged key ignored", db->name);
        return NULL;
    }
    return xstrndup(k.dptr, (size_t)k.dsize);
}

/* hintsdb_keys - every usable key */
int hintsdb_keys(struct hintsdb *db, char ***keys, size_t *n,
                 struct errbuf *eb)
{
    datum *d;
    size_t nd;

    *keys = NULL;
    *n = 0;
    if (all_datums(db, &d, &nd, eb) < 0) {
        datums_free(d, nd);
        return -1;
    }
    *keys = xcalloc(nd + 1, sizeof(**keys));
    for (size_t i = 0; i < nd; i++) {
        char *k = key_text(db, d[i]);
        if (k != NULL)
            (*keys)[(*n)++] = k;
    }
    datums_free(d, nd);
    return 0;
}

/* hintsdb_keys_free - free what hintsdb_keys returned */
void hintsdb_keys_free(char **keys, size_t n)
{
    for (size_t i = 0; keys != NULL && i < n; i++)
        free(keys[i]);
    free(keys);
}

/* hintsdb_delete_all - remove every record */
int hintsdb_delete_all(struct hintsdb *db, size_t *n, struct errbuf *eb)
{
    datum *d;
    size_t nd;
    int rc = all_datums(db, &d, &nd, eb);

    *n = 0;
    for (size_t i = 0; rc == 0 && i < nd; i++) {
        if (gdbm_delete(db->f, d[i]) == 0)
            (*n)++;
        else if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
            errbuf_set(eb, "%s database: delete failed: %s", db->name,
                       op_error(db));
            rc = -1;
        }
    }
    datums_free(d, nd);
    return rc;
}

/* hintsdb_forget - remove key if the file and the record exist */
int hintsdb_forget(const char *spool, const char *name, const char *key,
                   struct errbuf *eb)
{
    int absent, rc;
    struct hintsdb *db;

    if (hintsdb_key_ok(name, key, eb) < 0
        || (rc = hintsdb_exists(spool, name, eb)) < 0)
        return -1;
    if (rc == 0)
        return 0;                       /* no file: nothing to forget */
    db = hintsdb_open(spool, name, HINTS_WRITE, &absent, eb);
    if (db == NULL)
        return -1;
    rc = hintsdb_delete(db, key, eb);
    switch (hintsdb_close(db, eb)) {
    case -1:
        return -1;
    case HINTS_RESET:           /* moved aside: the record is gone too */
        return 0;
    }
    return rc;
}
