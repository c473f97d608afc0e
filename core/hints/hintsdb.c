/*
 * hintsdb.c - hints databases: GDBM files under SPOOL/db/, opened, used
 *             and closed by each caller (see hintsdb.h).
 *
 * PURPOSE:   one place that knows GDBM: paths, locking and the busy wait,
 *            key checks, fetch/store/delete, listing keys. What a record
 *            means belongs to its user (retrydb.c).
 * INTERFACE: see hintsdb.h.
 * ERRORS:    -1 / NULL with eb ("NAME database: ..."); a file busy for
 *            more than 2 seconds, not a GDBM file or not permitted cannot
 *            be opened.
 * SECURITY:  SPOOL/db 0750, files 0640; readers GDBM_READER (shared lock),
 *            writers GDBM_WRCREAT (exclusive lock), never GDBM_NOLOCK.
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
#include "core/hints/hintsdb.h"

#define BUSY_WAIT_NS (10L * 1000 * 1000)        /* 10 ms between tries */
#define BUSY_TRIES 200                          /* 2 seconds */

struct hintsdb {
    GDBM_FILE f;
    const char *name;           /* the caller's constant, for messages */
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

static int db_busy(void)
{
    return gdbm_errno == GDBM_CANT_BE_WRITER
           || gdbm_errno == GDBM_CANT_BE_READER || errno == EAGAIN
           || errno == EWOULDBLOCK;
}

/* gdbm_open, retried while another process holds the lock */
static GDBM_FILE open_waiting(const char *path, enum hints_mode mode,
                              int *absent, struct errbuf *eb)
{
    struct timespec nap = { 0, BUSY_WAIT_NS };
    int flags = (mode == HINTS_WRITE ? GDBM_WRCREAT : GDBM_READER)
                | GDBM_CLOEXEC;

    for (int i = 0; i < BUSY_TRIES; i++) {
        GDBM_FILE f;

        errno = 0;
        f = gdbm_open(path, 0, flags, 0640, NULL);
        if (f != NULL)
            return f;
        if (mode == HINTS_READ && gdbm_errno == GDBM_FILE_OPEN_ERROR
            && errno == ENOENT) {
            *absent = 1;
            return NULL;
        }
        if (!db_busy())
            break;
        (void)nanosleep(&nap, NULL);
    }
    errbuf_set(eb, "cannot open %s: %s%s%s", path, gdbm_strerror(gdbm_errno),
               errno ? ": " : "", errno ? strerror(errno) : "");
    return NULL;
}

/* hintsdb_open - open SPOOL/db/name for mode */
struct hintsdb *hintsdb_open(const char *spool, const char *name,
                             enum hints_mode mode, int *absent,
                             struct errbuf *eb)
{
    char path[PATH_MAX];
    struct hintsdb *db;
    GDBM_FILE f;

    *absent = 0;
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
    if (mode == HINTS_READ && access(path, F_OK) != 0 && errno == ENOENT) {
        *absent = 1;
        return NULL;
    }
    if ((f = open_waiting(path, mode, absent, eb)) == NULL)
        return NULL;
    db = xcalloc(1, sizeof(*db));
    db->f = f;
    db->name = name;
    return db;
}

/* hintsdb_close - close db (NULL ok) */
int hintsdb_close(struct hintsdb *db, struct errbuf *eb)
{
    int rc = 0;

    if (db == NULL)
        return 0;
    if (gdbm_close(db->f) != 0) {
        errbuf_set(eb, "%s database: close failed: %s", db->name,
                   gdbm_strerror(gdbm_errno));
        rc = -1;
    }
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
                   gdbm_db_strerror(db->f));
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
                   gdbm_db_strerror(db->f));
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
               gdbm_db_strerror(db->f));
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
                   gdbm_db_strerror(db->f));
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
                       gdbm_db_strerror(db->f));
            rc = -1;
        }
    }
    datums_free(d, nd);
    return rc;
}
