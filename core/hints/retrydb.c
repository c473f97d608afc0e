/*
 * retrydb.c - the retry hints database: SPOOL/db/retry, a GDBM file of
 *             retry records, opened, used and closed by every call.
 *
 * PURPOSE:   records are versioned text, "1 FIRST LAST NEXT EXPIRED
 *            ERRTYPE TEXT" (no NUL stored; TEXT runs to the end of the
 *            datum, control characters replaced by '?'). A record that
 *            does not parse reads as absent and is logged. A record not
 *            updated for RETRY_DATA_EXPIRE (7 days, Exim's default
 *            retry_data_expire) is stale: a new failure starts afresh.
 * INTERFACE: retrydb_get, retrydb_fail, retrydb_clear, retrydb_delete,
 *            retrydb_delete_all, retrydb_walk, retrydb_encode, retrydb_decode.
 * ERRORS:    -1 with eb when the file cannot be opened (busy for more than
 *            2 seconds, not a GDBM file, no permission) or written.
 * SECURITY:  SPOOL/db is created 0750, the file 0640; readers open it
 *            GDBM_READER (shared lock), writers GDBM_WRCREAT (exclusive
 *            lock), never GDBM_NOLOCK. Keys and texts are data, never paths.
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
#include "core/hints/retrydb.h"

#define RETRY_DATA_EXPIRE (7LL * 24 * 3600)
#define RETRY_KEY_MAX 1024
#define RETRY_TIME_MAX (1LL << 40)             /* year 36812 */
#define RETRY_REC_MAX (RETRY_TEXT_MAX + 128)
#define BUSY_WAIT_NS (10L * 1000 * 1000)        /* 10 ms between tries */
#define BUSY_TRIES 200                          /* 2 seconds */

enum db_mode { DB_READ, DB_WRITE };

static int db_path(const char *spool, const char *leaf, char *buf,
                   size_t size, struct errbuf *eb)
{
    if (spool == NULL || spool[0] == '\0'
        || bsnprintf(buf, size, "%s/db%s", spool, leaf) < 0) {
        errbuf_set(eb, "retry database: bad spool directory");
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

/* Open the database; NULL with *absent set when a reader finds no file,
 * NULL with eb on error. A locked file is retried for up to 2 seconds. */
static GDBM_FILE db_open(const char *spool, enum db_mode mode, int *absent,
                         struct errbuf *eb)
{
    char path[PATH_MAX];
    struct timespec nap = { 0, BUSY_WAIT_NS };
    int flags = (mode == DB_WRITE ? GDBM_WRCREAT : GDBM_READER) | GDBM_CLOEXEC;

    *absent = 0;
    if (mode == DB_WRITE) {
        if (db_path(spool, "", path, sizeof(path), eb) < 0)
            return NULL;
        if (safe_mkdir(AT_FDCWD, path, 0750) < 0) {
            errbuf_set(eb, "cannot create %s: %s", path, strerror(errno));
            return NULL;
        }
    }
    if (db_path(spool, "/retry", path, sizeof(path), eb) < 0)
        return NULL;
    if (mode == DB_READ && access(path, F_OK) != 0 && errno == ENOENT) {
        *absent = 1;
        return NULL;
    }
    for (int i = 0; i < BUSY_TRIES; i++) {
        GDBM_FILE db;

        errno = 0;
        db = gdbm_open(path, 0, flags, 0640, NULL);
        if (db != NULL)
            return db;
        if (mode == DB_READ && gdbm_errno == GDBM_FILE_OPEN_ERROR
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

static int db_close(GDBM_FILE db, struct errbuf *eb)
{
    if (gdbm_close(db) != 0) {
        errbuf_set(eb, "retry database: close failed: %s",
                   gdbm_strerror(gdbm_errno));
        return -1;
    }
    return 0;
}

static void copy_clean(char *dst, size_t size, const char *src, int errtype)
{
    size_t i = 0;

    for (; src != NULL && src[i] != '\0' && i + 1 < size; i++) {
        unsigned char ch = (unsigned char)src[i];
        int bad = errtype ? !(ch == '_' || ch == '*' || (ch >= '0' && ch <= '9')
                              || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
                          : (ch < 0x20 || ch == 0x7f);

        dst[i] = bad ? (errtype ? '_' : '?') : (char)ch;
    }
    dst[i] = '\0';
}

/* retrydb_encode - the stored form of r (text, version 1) */
void retrydb_encode(const struct retry_rec *r, struct strbuf *out)
{
    char et[sizeof(r->errtype)], text[sizeof(r->text)];

    copy_clean(et, sizeof(et), r->errtype, 1);
    copy_clean(text, sizeof(text), r->text, 0);
    sb_reset(out);
    sb_printf(out, "1 %lld %lld %lld %d %s %s", r->first_failed, r->last_try,
              r->next_try, r->expired ? 1 : 0, et[0] ? et : "-", text);
}

/* One space-terminated decimal field; NULL if malformed. */
static const char *num_field(const char *p, long long *v)
{
    char *end;

    if (*p == '\0' || *p == ' ')
        return NULL;
    errno = 0;
    *v = strtoll(p, &end, 10);
    if (errno != 0 || *end != ' ')
        return NULL;
    return end + 1;
}

static int decode_text(const char *p, struct retry_rec *r)
{
    long long v[4];
    size_t n;

    if (strncmp(p, "1 ", 2) != 0)
        return -1;
    p += 2;
    for (int i = 0; i < 4; i++)
        if ((p = num_field(p, &v[i])) == NULL)
            return -1;
    for (int i = 0; i < 3; i++)
        if (v[i] < 0 || v[i] > RETRY_TIME_MAX)
            return -1;                  /* keeps the arithmetic in range */
    if (v[3] != 0 && v[3] != 1)
        return -1;
    n = strcspn(p, " ");
    if (p[n] != ' ' || n == 0 || n >= sizeof(r->errtype))
        return -1;
    if (n == 1 && p[0] == '-') {
        r->errtype[0] = '\0';
    } else {                    /* cleaned as encode cleans it */
        char raw[sizeof(r->errtype)];
        memcpy(raw, p, n);
        raw[n] = '\0';
        copy_clean(r->errtype, sizeof(r->errtype), raw, 1);
    }
    copy_clean(r->text, sizeof(r->text), p + n + 1, 0);
    r->first_failed = v[0];
    r->last_try = v[1];
    r->next_try = v[2];
    r->expired = (int)v[3];
    return 0;
}

/* retrydb_decode - parse a stored record (ptr, len): 0, or -1 damaged */
int retrydb_decode(const char *p, size_t len, struct retry_rec *r)
{
    char buf[RETRY_REC_MAX + 1];

    if (p == NULL || len == 0 || len > RETRY_REC_MAX
        || memchr(p, '\0', len) != NULL)
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    memset(r, 0, sizeof(*r));
    return decode_text(buf, r);
}

static int key_datum(const char *key, datum *k, struct errbuf *eb)
{
    size_t n = key != NULL ? strlen(key) : 0;

    if (n == 0 || n > RETRY_KEY_MAX) {
        errbuf_set(eb, "retry database: bad key");
        return -1;
    }
    k->dptr = (char *)key;
    k->dsize = (int)n;
    return 0;
}

/* Fetch key into *r: 1 found, 0 absent or damaged, -1 error. */
static int db_fetch(GDBM_FILE db, const char *key, struct retry_rec *r,
                    struct errbuf *eb)
{
    datum k, v;
    int rc;

    if (key_datum(key, &k, eb) < 0)
        return -1;
    v = gdbm_fetch(db, k);
    if (v.dptr == NULL) {
        if (gdbm_errno == GDBM_ITEM_NOT_FOUND)
            return 0;
        errbuf_set(eb, "retry database: fetch of %s failed: %s", key,
                   gdbm_db_strerror(db));
        return -1;
    }
    rc = v.dsize < 0 ? -1 : retrydb_decode(v.dptr, (size_t)v.dsize, r);
    free(v.dptr);
    if (rc < 0) {
        log_warn("retry database: damaged record for %s ignored", key);
        return 0;
    }
    return 1;
}

/* retrydb_get - the record of key: 1 found, 0 none, -1 error */
int retrydb_get(const char *spool_dir, const char *key,
                struct retry_rec *out, struct errbuf *eb)
{
    int absent, rc;
    GDBM_FILE db = db_open(spool_dir, DB_READ, &absent, eb);

    if (db == NULL)
        return absent ? 0 : -1;
    rc = db_fetch(db, key, out, eb);
    if (db_close(db, eb) < 0)
        return -1;
    return rc;
}

static int db_store(GDBM_FILE db, const char *key, const struct retry_rec *r,
                    struct errbuf *eb)
{
    struct strbuf sb;
    datum k, v;
    int rc = -1;

    if (key_datum(key, &k, eb) < 0)
        return -1;
    sb_init(&sb);
    retrydb_encode(r, &sb);
    v.dptr = sb.data;
    v.dsize = (int)sb.len;
    if (gdbm_store(db, k, v, GDBM_REPLACE) != 0)
        errbuf_set(eb, "retry database: store of %s failed: %s", key,
                   gdbm_db_strerror(db));
    else
        rc = 0;
    sb_free(&sb);
    return rc;
}

/* The record after a failure at now: an old one (unless stale) keeps its
 * first_failed; the rule decides next_try and expired. */
static void fill_failure(struct retry_rec *r, int found, const struct conf *c,
                         const char *subject, const char *errtype,
                         const char *text, long long now)
{
    if (!found || now - r->last_try > RETRY_DATA_EXPIRE) {
        memset(r, 0, sizeof(*r));
        r->first_failed = r->last_try = r->next_try = now;
    }
    retry_next(retry_rule_find(c, subject, errtype), r, now);
    r->last_try = now;
    copy_clean(r->errtype, sizeof(r->errtype), errtype, 1);
    copy_clean(r->text, sizeof(r->text), text, 0);
}

/* retrydb_fail - record a failure of key at now, scheduled by the rules */
int retrydb_fail(const char *spool_dir, const struct conf *c,
                 const char *key, const char *subject, const char *errtype,
                 const char *text, long long now, struct retry_rec *out,
                 struct errbuf *eb)
{
    struct retry_rec r;
    int absent, found;
    GDBM_FILE db;

    if (key_datum(key, &(datum){ 0 }, eb) < 0)
        return -1;
    if ((db = db_open(spool_dir, DB_WRITE, &absent, eb)) == NULL)
        return -1;
    found = db_fetch(db, key, &r, eb);
    if (found < 0)
        goto fail;
    fill_failure(&r, found, c, subject, errtype, text, now);
    if (db_store(db, key, &r, eb) < 0)
        goto fail;
    if (db_close(db, eb) < 0)
        return -1;
    if (out != NULL)
        *out = r;
    return 0;
fail:
    (void)gdbm_close(db);
    return -1;
}

/* 1 when the file exists, 0 when not (a remover need not create it) */
static int db_exists(const char *spool, struct errbuf *eb)
{
    char path[PATH_MAX];
    struct stat st;

    if (db_path(spool, "/retry", path, sizeof(path), eb) < 0)
        return -1;
    return !(stat(path, &st) != 0 && errno == ENOENT);
}

/* retrydb_delete - remove key: 1 removed, 0 there was none, -1 error */
int retrydb_delete(const char *spool_dir, const char *key, struct errbuf *eb)
{
    int absent, rc = 1;
    datum k;
    GDBM_FILE db;

    if (key_datum(key, &k, eb) < 0 || (rc = db_exists(spool_dir, eb)) < 0)
        return -1;
    if (rc == 0)
        return 0;                       /* no file: nothing to forget */
    if ((db = db_open(spool_dir, DB_WRITE, &absent, eb)) == NULL)
        return -1;
    if (gdbm_delete(db, k) != 0) {
        rc = 0;
        if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
            errbuf_set(eb, "retry database: delete of %s failed: %s", key,
                       gdbm_db_strerror(db));
            rc = -1;
        }
    }
    if (db_close(db, eb) < 0)
        return -1;
    return rc;
}

/* retrydb_clear - forget key (a success); 0 (also when absent) or -1 */
int retrydb_clear(const char *spool_dir, const char *key, struct errbuf *eb)
{
    return retrydb_delete(spool_dir, key, eb) < 0 ? -1 : 0;
}

/* Every key of db, copied (binary-safe: gdbm datums); -1 on error. */
static int all_keys(GDBM_FILE db, datum **out, size_t *n, struct errbuf *eb)
{
    datum k = gdbm_firstkey(db);
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    for (; k.dptr != NULL; k = gdbm_nextkey(db, (*out)[*n - 1])) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = xreallocarray(*out, cap, sizeof(**out));
        }
        (*out)[(*n)++] = k;
    }
    if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
        errbuf_set(eb, "retry database: cannot list keys: %s",
                   gdbm_db_strerror(db));
        return -1;
    }
    return 0;
}

/* retrydb_delete_all - remove every record, damaged ones too; the count
 * removed goes to *n. 0 or -1. */
int retrydb_delete_all(const char *spool_dir, size_t *n, struct errbuf *eb)
{
    int absent, rc;
    size_t nk = 0;
    datum *keys = NULL;
    GDBM_FILE db;

    *n = 0;
    if ((rc = db_exists(spool_dir, eb)) <= 0)
        return rc;
    if ((db = db_open(spool_dir, DB_WRITE, &absent, eb)) == NULL)
        return -1;
    rc = all_keys(db, &keys, &nk, eb);
    for (size_t i = 0; rc == 0 && i < nk; i++) {
        if (gdbm_delete(db, keys[i]) == 0)
            (*n)++;
        else if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
            errbuf_set(eb, "retry database: delete failed: %s",
                       gdbm_db_strerror(db));
            rc = -1;
        }
    }
    for (size_t i = 0; i < nk; i++)
        free(keys[i].dptr);
    free(keys);
    if (db_close(db, eb) < 0)
        rc = -1;
    return rc;
}

struct walk_ent {
    char *key;
    struct retry_rec rec;
};

struct walk_set {
    struct walk_ent *v;
    size_t n, cap;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct walk_ent *)a)->key,
                  ((const struct walk_ent *)b)->key);
}

/* Keep the record of key k (NUL-free, bounded) when it decodes. */
static int collect_one(GDBM_FILE db, datum k, struct walk_set *s,
                       struct errbuf *eb)
{
    char *key;
    int rc;

    if (k.dsize <= 0 || k.dsize > RETRY_KEY_MAX
        || memchr(k.dptr, '\0', (size_t)k.dsize) != NULL) {
        log_warn("retry database: damaged key ignored");
        return 0;
    }
    key = xstrndup(k.dptr, (size_t)k.dsize);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
    }
    rc = db_fetch(db, key, &s->v[s->n].rec, eb);
    if (rc == 1)
        s->v[s->n++].key = key;
    else
        free(key);
    return rc < 0 ? -1 : 0;
}

static int collect(GDBM_FILE db, struct walk_set *s, struct errbuf *eb)
{
    datum k = gdbm_firstkey(db), next;

    while (k.dptr != NULL) {
        int rc = collect_one(db, k, s, eb);

        next = gdbm_nextkey(db, k);
        free(k.dptr);
        if (rc < 0) {
            free(next.dptr);
            return -1;
        }
        k = next;
    }
    if (gdbm_errno != GDBM_ITEM_NOT_FOUND) {
        errbuf_set(eb, "retry database: cannot list keys: %s",
                   gdbm_db_strerror(db));
        return -1;
    }
    return 0;
}

static void walk_free(struct walk_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].key);
    free(s->v);
}

/* retrydb_walk - call fn for every record, in key order. The file is
 * read whole and closed first, so fn may change the database. */
int retrydb_walk(const char *spool_dir,
                 int (*fn)(const char *key, const struct retry_rec *r,
                           void *arg),
                 void *arg, struct errbuf *eb)
{
    struct walk_set s = { NULL, 0, 0 };
    int absent, rc;
    GDBM_FILE db = db_open(spool_dir, DB_READ, &absent, eb);

    if (db == NULL)
        return absent ? 0 : -1;
    rc = collect(db, &s, eb);
    if (db_close(db, eb) < 0)
        rc = -1;
    if (rc == 0) {
        if (s.n > 1)
            qsort(s.v, s.n, sizeof(*s.v), ent_cmp);
        for (size_t i = 0; i < s.n; i++)
            if (fn(s.v[i].key, &s.v[i].rec, arg) != 0)
                break;
    }
    walk_free(&s);
    return rc;
}
