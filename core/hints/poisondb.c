/*
 * poisondb.c - strikes against messages that took the scheduler down
 *              (see poisondb.h), stored through hintsdb.h.
 *
 * PURPOSE:   encode/decode "1 COUNT LAST"; a strike is read, incremented
 *            and stored under one exclusive open; a walk reads the keys
 *            and records and closes the file before calling back.
 * INTERFACE: poisondb_strike, poisondb_clear, poisondb_walk.
 * ERRORS:    -1 with eb; a damaged record counts as none.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/hints/hintsdb.h"
#include "core/hints/poisondb.h"

#define POISON_DB "poison"

struct poison_rec {
    int count;
    long long last;
};

static int decode(const struct strbuf *v, struct poison_rec *r)
{
    int version, end = 0;

    if (sscanf(sb_str(v), "%d %d %lld%n", &version, &r->count, &r->last,
               &end) != 3 || version != 1 || (size_t)end != sb_len(v)
        || r->count < 0)
        return -1;
    return 0;
}

/* the record of id: 1 found, 0 none (or damaged), -1 error */
static int fetch(struct hintsdb *db, const char *id, struct poison_rec *r,
                 struct errbuf *eb)
{
    struct strbuf v;
    int rc;

    sb_init(&v);
    rc = hintsdb_fetch(db, id, &v, eb);
    if (rc == 1 && decode(&v, r) != 0)
        rc = 0;
    sb_free(&v);
    return rc;
}

/* poisondb_strike - count one more death of the scheduler over id */
int poisondb_strike(const char *spool_dir, const char *id, long long now,
                    int *count, struct errbuf *eb)
{
    struct poison_rec r = { 0, 0 };
    struct hintsdb *db;
    char val[64];
    int absent = 0, n, found;

    if (hintsdb_key_ok(POISON_DB, id, eb) < 0)
        return -1;
    db = hintsdb_open(spool_dir, POISON_DB, HINTS_WRITE, &absent, eb);
    if (db == NULL)
        return -1;
    if ((found = fetch(db, id, &r, eb)) < 0)
        goto fail;
    if (found == 0 || now - r.last > POISON_FORGET)
        r.count = 0;
    r.count++;
    r.last = now;
    n = snprintf(val, sizeof(val), "1 %d %lld", r.count, r.last);
    if (hintsdb_store(db, id, val, (size_t)n, eb) < 0)
        goto fail;
    *count = r.count;
    return hintsdb_close(db, eb);
fail:
    (void)hintsdb_close(db, NULL);
    return -1;
}

/* poisondb_clear - forget id */
int poisondb_clear(const char *spool_dir, const char *id, struct errbuf *eb)
{
    return hintsdb_forget(spool_dir, POISON_DB, id, eb) < 0 ? -1 : 0;
}

struct ent {
    char *id;
    struct poison_rec r;
};

/* every decodable record of db into *v; the file is closed */
static int read_all(struct hintsdb *db, struct ent **v, size_t *n,
                    struct errbuf *eb)
{
    char **keys = NULL;
    size_t nkeys = 0;
    int rc = hintsdb_keys(db, &keys, &nkeys, eb);

    *v = xcalloc(nkeys + 1, sizeof(**v));
    *n = 0;
    for (size_t i = 0; rc == 0 && i < nkeys; i++) {
        int f = fetch(db, keys[i], &(*v)[*n].r, eb);
        if (f < 0)
            rc = -1;
        else if (f == 1) {
            (*v)[(*n)++].id = keys[i];
            keys[i] = NULL;
        }
    }
    hintsdb_keys_free(keys, nkeys);
    if (hintsdb_close(db, eb) < 0)
        rc = -1;
    return rc;
}

/* poisondb_walk - every record to fn (the file is closed by then) */
int poisondb_walk(const char *spool_dir,
                  int (*fn)(const char *id, int count, long long last,
                            void *arg),
                  void *arg, struct errbuf *eb)
{
    struct hintsdb *db;
    struct ent *v;
    size_t n;
    int absent = 0, rc;

    if ((rc = hintsdb_exists(spool_dir, POISON_DB, eb)) <= 0)
        return rc;
    db = hintsdb_open(spool_dir, POISON_DB, HINTS_READ, &absent, eb);
    if (db == NULL)
        return absent ? 0 : -1;
    rc = read_all(db, &v, &n, eb);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && fn(v[i].id, v[i].r.count, v[i].r.last, arg) != 0)
            rc = 1;
        free(v[i].id);
    }
    free(v);
    return rc < 0 ? -1 : 0;
}
