/*
 * retrydb.c - the retry hints database: SPOOL/db/retry, a hints file
 *             (hintsdb.c) of retry records, opened, used and closed by
 *             every call.
 *
 * PURPOSE:   records are versioned text, "1 FIRST LAST NEXT EXPIRED
 *            ERRTYPE TEXT" (no NUL stored; TEXT runs to the end of the
 *            datum, control characters replaced by '?'). A record that
 *            does not parse reads as absent and is logged. A record not
 *            updated for RETRY_DATA_EXPIRE (7 days, Exim's default
 *            retry_data_expire) is stale: a new failure starts afresh.
 * INTERFACE: retrydb_get, retrydb_fail, retrydb_clear, retrydb_delete,
 *            retrydb_delete_all, retrydb_walk, retrydb_encode, retrydb_decode,
 *            retrydb_failure.
 * ERRORS:    -1 with eb when the file cannot be opened (busy for more than
 *            2 seconds, not a GDBM file, no permission) or written.
 * SECURITY:  files and locks as hintsdb.c. Keys and texts are data, never
 *            paths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/errbuf.h"
#include "core/base/log.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/hints/hintsdb.h"
#include "core/hints/retrydb.h"

#define RETRY_DATA_EXPIRE (7LL * 24 * 3600)
#define RETRY_TIME_MAX (1LL << 40)             /* year 36812 */
#define RETRY_REC_MAX (RETRY_TEXT_MAX + 128)
#define RETRY_DB "retry"

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

/* Fetch key into *r: 1 found, 0 absent or damaged, -1 error. */
static int db_fetch(struct hintsdb *db, const char *key, struct retry_rec *r,
                    struct errbuf *eb)
{
    struct strbuf v;
    int rc;

    sb_init(&v);
    rc = hintsdb_fetch(db, key, &v, eb);
    if (rc == 1 && retrydb_decode(v.data, v.len, r) < 0) {
        log_warn("retry database: damaged record for %s ignored", key);
        rc = 0;
    }
    sb_free(&v);
    return rc;
}

/* retrydb_get - the record of key: 1 found, 0 none, -1 error */
int retrydb_get(const char *spool_dir, const char *key,
                struct retry_rec *out, struct errbuf *eb)
{
    int absent, rc;
    struct hintsdb *db = hintsdb_open(spool_dir, RETRY_DB, HINTS_READ,
                                      &absent, eb);

    if (db == NULL)
        return absent ? 0 : -1;
    rc = db_fetch(db, key, out, eb);
    switch (hintsdb_close(db, eb)) {
    case -1:
        return -1;
    case HINTS_RESET:           /* damaged and moved aside: no record */
        return 0;
    }
    return rc;
}

static int db_store(struct hintsdb *db, const char *key,
                    const struct retry_rec *r, struct errbuf *eb)
{
    struct strbuf sb;
    int rc;

    sb_init(&sb);
    retrydb_encode(r, &sb);
    rc = hintsdb_store(db, key, sb.data, sb.len, eb);
    sb_free(&sb);
    return rc;
}

/* retrydb_failure - the record after a failure at now: an old one
 * (unless stale) keeps its first_failed; the rule decides next_try and
 * expired */
void retrydb_failure(struct retry_rec *r, int found, const struct conf *c,
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

/* one try of retrydb_fail: 0, -1, or HINTS_RESET when the file turned
 * out damaged (it has been moved aside: try again on a new one) */
static int fail_once(const char *spool_dir, const struct conf *c,
                     const char *key, const char *subject,
                     const char *errtype, const char *text, long long now,
                     struct retry_rec *r, struct errbuf *eb)
{
    int absent, found, rc;
    struct hintsdb *db;

    db = hintsdb_open(spool_dir, RETRY_DB, HINTS_WRITE, &absent, eb);
    if (db == NULL)
        return -1;
    found = db_fetch(db, key, r, eb);
    if (found < 0)
        goto fail;
    retrydb_failure(r, found, c, subject, errtype, text, now);
    if (db_store(db, key, r, eb) < 0)
        goto fail;
    return hintsdb_close(db, eb) < 0 ? -1 : 0;
fail:
    rc = hintsdb_close(db, NULL);
    return rc == HINTS_RESET ? HINTS_RESET : -1;
}

/* retrydb_fail - record a failure of key at now, scheduled by the rules */
int retrydb_fail(const char *spool_dir, const struct conf *c,
                 const char *key, const char *subject, const char *errtype,
                 const char *text, long long now, struct retry_rec *out,
                 struct errbuf *eb)
{
    struct retry_rec r;
    int rc;

    if (hintsdb_key_ok(RETRY_DB, key, eb) < 0)
        return -1;
    rc = fail_once(spool_dir, c, key, subject, errtype, text, now, &r, eb);
    if (rc == HINTS_RESET)
        rc = fail_once(spool_dir, c, key, subject, errtype, text, now, &r,
                       eb);
    if (rc != 0)
        return -1;
    if (out != NULL)
        *out = r;
    return 0;
}

/* retrydb_delete - remove key: 1 removed, 0 there was none, -1 error */
int retrydb_delete(const char *spool_dir, const char *key, struct errbuf *eb)
{
    return hintsdb_forget(spool_dir, RETRY_DB, key, eb);
}

/* retrydb_clear - forget key (a success); 0 (also when absent) or -1 */
int retrydb_clear(const char *spool_dir, const char *key, struct errbuf *eb)
{
    return retrydb_delete(spool_dir, key, eb) < 0 ? -1 : 0;
}

/* retrydb_delete_all - remove every record, damaged ones too; the count
 * removed goes to *n. 0 or -1. */
int retrydb_delete_all(const char *spool_dir, size_t *n, struct errbuf *eb)
{
    int absent, rc;
    struct hintsdb *db;

    *n = 0;
    if ((rc = hintsdb_exists(spool_dir, RETRY_DB, eb)) <= 0)
        return rc;
    db = hintsdb_open(spool_dir, RETRY_DB, HINTS_WRITE, &absent, eb);
    if (db == NULL)
        return -1;
    rc = hintsdb_delete_all(db, n, eb);
    switch (hintsdb_close(db, eb)) {
    case -1:
        return -1;
    case HINTS_RESET:           /* moved aside: every record is gone */
        return 0;
    }
    return rc;
}

struct walk_ent {
    char *key;
    struct retry_rec rec;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct walk_ent *)a)->key,
                  ((const struct walk_ent *)b)->key);
}

/* The records of every key that decodes, in *v (keys moved from keys[]);
 * -1 on error. */
static int collect(struct hintsdb *db, char **keys, size_t nkeys,
                   struct walk_ent **v, size_t *n, struct errbuf *eb)
{
    *v = xcalloc(nkeys + 1, sizeof(**v));
    *n = 0;
    for (size_t i = 0; i < nkeys; i++) {
        int rc = db_fetch(db, keys[i], &(*v)[*n].rec, eb);

        if (rc < 0)
            return -1;
        if (rc == 1) {
            (*v)[(*n)++].key = keys[i];
            keys[i] = NULL;
        }
    }
    return 0;
}

/* Read every record of the file, then close it. */
static int read_all(struct hintsdb *db, struct walk_ent **v, size_t *n,
                    struct errbuf *eb)
{
    char **keys;
    size_t nkeys;
    int rc = hintsdb_keys(db, &keys, &nkeys, eb);

    *v = NULL;
    *n = 0;
    if (rc == 0)
        rc = collect(db, keys, nkeys, v, n, eb);
    hintsdb_keys_free(keys, nkeys);
    switch (hintsdb_close(db, eb)) {
    case -1:
        rc = -1;
        break;
    case HINTS_RESET:           /* moved aside: what was read is all */
        rc = 0;
        break;
    }
    return rc;
}

/* retrydb_walk - call fn for every record, in key order. The file is
 * read whole and closed first, so fn may change the database. */
int retrydb_walk(const char *spool_dir,
                 int (*fn)(const char *key, const struct retry_rec *r,
                           void *arg),
                 void *arg, struct errbuf *eb)
{
    struct walk_ent *v;
    size_t n;
    int absent, rc;
    struct hintsdb *db = hintsdb_open(spool_dir, RETRY_DB, HINTS_READ,
                                      &absent, eb);

    if (db == NULL)
        return absent ? 0 : -1;
    rc = read_all(db, &v, &n, eb);
    if (rc == 0) {
        if (n > 1)
            qsort(v, n, sizeof(*v), ent_cmp);
        for (size_t i = 0; i < n; i++)
            if (fn(v[i].key, &v[i].rec, arg) != 0)
                break;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].key);
    free(v);
    return rc;
}
