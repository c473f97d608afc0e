/*
 * greylistdb.c - the greylist hints database: postgrey's rules over a
 *                hints file, SPOOL/db/greylist (see greylistdb.h).
 *
 * PURPOSE:   a triplet seen for the first time is greylisted; a retry
 *            before `delay` still is; the first retry after it and within
 *            `window` of the first sight passes, and the triplet is then
 *            remembered until it has not been seen for `lifetime`. Each
 *            pass of a client network counts (at most once per `delay`,
 *            so one message to many recipients counts once); `awl` counts
 *            whitelist the network for `lifetime` since its last count.
 *            Writes are few: a decision is first made under the shared
 *            (reader's) lock, and the file is opened for writing only
 *            when a record changes - a first sight, a first pass, and a
 *            known triplet's or client's refresh at most once per
 *            `delay`. gdbm_close syncs a writer's file (fsync + msync), so
 *            each write costs the worker one flush of a small file.
 * INTERFACE: see greylistdb.h.
 * ERRORS:    GREY_BUSY when the lock is held for more than
 *            GREY_LOCK_WAIT_MS (nothing recorded), GREY_ERROR with eb;
 *            damaged records read as absent, are logged and overwritten.
 * SECURITY:  keys and records are hostile input: keys escape every byte
 *            that could split them, values are parsed strictly and
 *            bounded; files and locks as hintsdb.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/errbuf.h"
#include "core/base/log.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/hints/hintsdb.h"
#include "core/hints/greylistdb.h"

#define GREY_REC_MAX 64
#define GREY_TIDY_BATCH 100         /* deletions per writer's lock */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int is_word(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* BATV (prvs=TAG=user): the tag changes with every message */
static size_t batv_skip(const char *lp, size_t n)
{
    const char *eq;

    if (n < 6 || strncmp(lp, "prvs=", 5) != 0)
        return 0;
    eq = memchr(lp + 5, '=', n - 5);
    return eq != NULL && (size_t)(eq - lp) + 1 < n ? (size_t)(eq - lp) + 1
                                                  : 0;
}

/* the local part lp (n bytes, lowercased) as postgrey keys it */
static void norm_local(const char *lp, size_t n, struct strbuf *out)
{
    size_t i = batv_skip(lp, n);
    const char *plus = memchr(lp + i, '+', n - i);

    if (plus != NULL && plus > lp + i)      /* "+ext" off, not all of it */
        n = (size_t)(plus - lp);
    while (i < n) {
        size_t j = i;
        while (j < n && is_digit((unsigned char)lp[j]))
            j++;
        if (j > i && (i == 0 || !is_word((unsigned char)lp[i - 1]))
            && (j == n || !is_word((unsigned char)lp[j]))) {
            sb_putc(out, '#');
            i = j;
        } else if (j > i) {
            sb_append(out, lp + i, j - i);
            i = j;
        } else
            sb_putc(out, lp[i++]);
    }
}

/* greylist_norm_sender - see greylistdb.h */
void greylist_norm_sender(const char *in, struct strbuf *out)
{
    size_t n = strlen(in);
    char *low = xmalloc(n + 1);
    const char *at;

    for (size_t i = 0; i <= n; i++)
        low[i] = (char)lower((unsigned char)in[i]);
    sb_reset(out);
    at = strrchr(low, '@');
    if (at == NULL)
        sb_append(out, low, n);
    else {
        norm_local(low, (size_t)(at - low), out);
        sb_puts(out, at);
    }
    free(low);
}

/* greylist_norm_rcpt - see greylistdb.h */
void greylist_norm_rcpt(const char *in, struct strbuf *out)
{
    sb_reset(out);
    for (; *in != '\0'; in++)
        sb_putc(out, (char)lower((unsigned char)*in));
}

/* s escaped into key, at most GREY_ADDR_MAX bytes (a longer address is
 * cut: such addresses can only collide with each other) */
static void key_part(struct strbuf *key, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;

    for (; *s != '\0' && used + 3 <= GREY_ADDR_MAX; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '%') {
            sb_putc(key, '%');
            sb_putc(key, hex[c >> 4]);
            sb_putc(key, hex[c & 15]);
            used += 3;
        } else {
            sb_putc(key, (char)c);
            used++;
        }
    }
}

/* greylist_key - see greylistdb.h */
int greylist_key(const char *net, const char *sender, const char *rcpt,
                 struct strbuf *key)
{
    struct strbuf n;

    sb_reset(key);
    if (net == NULL || net[0] == '\0' || strlen(net) > 64
        || strpbrk(net, " %\t\r\n") != NULL)
        return -1;
    sb_printf(key, "%c %s", sender ? 'T' : 'C', net);
    if (sender == NULL)
        return 0;
    sb_init(&n);
    greylist_norm_sender(sender, &n);
    sb_putc(key, ' ');
    if (sb_len(&n) == 0)
        sb_puts(key, "<>");
    key_part(key, sb_str(&n));
    greylist_norm_rcpt(rcpt ? rcpt : "", &n);
    sb_putc(key, ' ');
    key_part(key, sb_str(&n));
    sb_free(&n);
    return 0;
}

/* greylistdb_encode - the stored form (version 1) */
void greylistdb_encode(const struct grey_rec *r, struct strbuf *out)
{
    sb_reset(out);
    sb_printf(out, "1 %lld %lld %ld", r->first, r->last, r->passes);
}

/* one decimal field of at most 15 digits, no leading zero (the form is
 * canonical), ending at sep; NULL if not */
static const char *dec_field(const char *p, const char *end, char sep,
                             long long *v)
{
    long long x = 0;
    const char *s = p;

    if (end - p > 1 && p[0] == '0' && is_digit((unsigned char)p[1]))
        return NULL;
    while (p < end && is_digit((unsigned char)*p) && p - s < 15)
        x = x * 10 + (*p++ - '0');
    if (p == s || (sep == '\0' ? p != end : (p == end || *p != sep)))
        return NULL;
    *v = x;
    return sep == '\0' ? p : p + 1;
}

/* greylistdb_decode - parse a stored record strictly */
int greylistdb_decode(const char *p, size_t len, struct grey_rec *r)
{
    const char *end = p + len;
    long long f, l, n;

    if (len < 2 || len > GREY_REC_MAX || p[0] != '1' || p[1] != ' ')
        return -1;
    p += 2;
    if ((p = dec_field(p, end, ' ', &f)) == NULL
        || (p = dec_field(p, end, ' ', &l)) == NULL
        || dec_field(p, end, '\0', &n) == NULL)
        return -1;
    if (f > l || l >= GREY_TIME_MAX || n > GREY_PASSES_MAX)
        return -1;
    r->first = f;
    r->last = l;
    r->passes = (long)n;
    return 0;
}

static int triplet_expired(const struct grey_params *p,
                           const struct grey_rec *t, long long now)
{
    return t->passes == 0 ? now - t->first > p->window
                          : now - t->last > p->lifetime;
}

/* a pass of the client network: counted at most once per delay */
static void count_client(const struct grey_params *p, struct grey_rec *c,
                         long long now, struct grey_result *res,
                         int *write_c)
{
    if (p->awl <= 0)
        return;
    if (c->passes == 0 || now - c->last >= p->delay || now < c->last) {
        if (c->passes == 0)
            c->first = now;
        if (c->passes < GREY_PASSES_MAX)
            c->passes++;
        c->last = now;
        *write_c = 1;
        res->now_whitelisted = c->passes == p->awl;
    }
    res->client_passes = c->passes;
}

/* a whitelisted client's record is kept alive, written at most once per
 * delay */
static int whitelisted(const struct grey_params *p, struct grey_rec *c,
                       long long now, struct grey_result *res, int *write_c)
{
    if (p->awl <= 0 || c->passes < p->awl)
        return 0;
    res->v = GREY_WHITELISTED;
    res->client_passes = c->passes;
    if (now - c->last >= p->delay || now < c->last) {
        c->last = now;
        *write_c = 1;
    }
    return 1;
}

/* a triplet on record: early (0), or it passes (1), counted in *t when
 * it is its first pass or a known one's first after the delay */
static int known(const struct grey_params *p, struct grey_rec *t,
                 long long now, struct grey_result *res, int *write_t)
{
    if (t->passes == 0) {
        long long age = now > t->first ? now - t->first : 0;
        if (age < p->delay) {
            res->v = GREY_EARLY;
            res->retry_in = p->delay - age;
            return 0;
        }
        res->v = GREY_PASSED;
        res->waited = age;
    } else {
        res->v = GREY_KNOWN;
        res->passes = t->passes;
        if (now - t->last < p->delay && now >= t->last)
            return 1;           /* refreshed and counted once per delay */
    }
    if (t->passes < GREY_PASSES_MAX)
        t->passes++;
    t->last = now > t->last ? now : t->last;
    res->passes = t->passes;
    *write_t = 1;
    return 1;
}

/* greylist_decide - see greylistdb.h */
void greylist_decide(const struct grey_params *p, struct grey_rec *t,
                     int have_t, struct grey_rec *c, int have_c,
                     long long now, struct grey_result *res, int *write_t,
                     int *write_c)
{
    memset(res, 0, sizeof(*res));
    *write_t = *write_c = 0;
    if (!have_c || now - c->last > p->lifetime)
        *c = (struct grey_rec){ now, now, 0 };
    if (whitelisted(p, c, now, res, write_c))
        return;
    res->client_passes = c->passes;
    if (!have_t || triplet_expired(p, t, now)) {
        *t = (struct grey_rec){ now, now, 0 };
        res->v = GREY_NEW;
        res->retry_in = p->delay;
        *write_t = 1;
        return;
    }
    if (known(p, t, now, res, write_t))
        count_client(p, c, now, res, write_c);
}

/* the record of key: 1 present and sound, 0 absent or damaged (logged,
 * res->damaged set), -1 error */
static int fetch_rec(struct hintsdb *db, const char *key,
                     struct grey_rec *r, struct grey_result *res,
                     struct errbuf *eb)
{
    struct strbuf val;
    int rc;

    sb_init(&val);
    rc = hintsdb_fetch(db, key, &val, eb);
    if (rc == 1 && greylistdb_decode(sb_str(&val), sb_len(&val), r) != 0) {
        log_warn("greylist database: damaged record for %s ignored "
                 "(replaced)", key);
        res->damaged = 1;
        rc = 0;
    }
    sb_free(&val);
    return rc;
}

static int store_rec(struct hintsdb *db, const char *key,
                     const struct grey_rec *r, struct errbuf *eb)
{
    struct strbuf val;
    int rc;

    sb_init(&val);
    greylistdb_encode(r, &val);
    rc = hintsdb_store(db, key, sb_str(&val), sb_len(&val), eb);
    sb_free(&val);
    return rc;
}

/* fetch both records, decide, store what changed: 0 or -1 */
static int check_in(struct hintsdb *db, const struct grey_params *p,
                    const char *tkey, const char *ckey, long long now,
                    struct grey_result *res, struct errbuf *eb)
{
    struct grey_rec t = { 0, 0, 0 }, c = { 0, 0, 0 };
    struct grey_result dmg = { .damaged = 0 };
    int have_t, have_c = 0, wt, wc;

    if ((have_t = fetch_rec(db, tkey, &t, &dmg, eb)) < 0
        || (p->awl > 0 && (have_c = fetch_rec(db, ckey, &c, &dmg, eb)) < 0))
        return -1;
    greylist_decide(p, &t, have_t, &c, have_c, now, res, &wt, &wc);
    res->damaged = dmg.damaged;
    if ((wt && store_rec(db, tkey, &t, eb) != 0)
        || (wc && store_rec(db, ckey, &c, eb) != 0))
        return -1;
    return 0;
}

/* under the reader's lock: 1 the decision needs no write (res is
 * final), 0 it does, or a grey_status */
static int read_only(const char *spool, const struct grey_params *p,
                     const char *tkey, const char *ckey, long long now,
                     struct grey_result *res, struct errbuf *eb)
{
    struct grey_rec t = { 0, 0, 0 }, c = { 0, 0, 0 };
    int absent, busy, have_t, have_c = 0, wt, wc;
    struct hintsdb *db = hintsdb_open_wait(spool, GREY_DB, HINTS_READ,
                                           GREY_LOCK_WAIT_MS, &absent,
                                           &busy, eb);

    if (db == NULL)
        return absent ? 0 : busy ? GREY_BUSY : GREY_ERROR;
    have_t = fetch_rec(db, tkey, &t, res, eb);
    if (have_t >= 0 && p->awl > 0)
        have_c = fetch_rec(db, ckey, &c, res, eb);
    if (hintsdb_close(db, NULL) != 0 || have_t < 0 || have_c < 0)
        return 0;               /* the writer looks again (and repairs) */
    greylist_decide(p, &t, have_t, &c, have_c, now, res, &wt, &wc);
    return !wt && !wc;
}

static enum grey_status check_once(const char *spool,
                                   const struct grey_params *p,
                                   const char *tkey, const char *ckey,
                                   long long now, struct grey_result *res,
                                   int *reset, struct errbuf *eb)
{
    int absent, busy, rc;
    struct hintsdb *db;

    *reset = 0;
    if ((rc = read_only(spool, p, tkey, ckey, now, res, eb)) != 0)
        return rc == 1 ? GREY_OK : (enum grey_status)rc;
    db = hintsdb_open_wait(spool, GREY_DB, HINTS_WRITE, GREY_LOCK_WAIT_MS,
                           &absent, &busy, eb);
    if (db == NULL)
        return busy ? GREY_BUSY : GREY_ERROR;
    rc = check_in(db, p, tkey, ckey, now, res, eb);
    switch (hintsdb_close(db, rc == 0 ? eb : NULL)) {
    case -1:
        return GREY_ERROR;
    case HINTS_RESET:               /* moved aside: its records are gone */
        *reset = 1;
        return GREY_ERROR;
    }
    return rc == 0 ? GREY_OK : GREY_ERROR;
}

/* greylistdb_check - see greylistdb.h; a file found damaged in use is
 * moved aside (hintsdb.c) and the decision made again on a new one */
enum grey_status greylistdb_check(const char *spool,
                                  const struct grey_params *p,
                                  const char *net, const char *sender,
                                  const char *rcpt, long long now,
                                  struct grey_result *res,
                                  struct errbuf *eb)
{
    struct strbuf tkey, ckey;
    enum grey_status st = GREY_ERROR;
    int reset = 0;

    sb_init(&tkey);
    sb_init(&ckey);
    if (greylist_key(net, sender ? sender : "", rcpt, &tkey) != 0
        || greylist_key(net, NULL, NULL, &ckey) != 0)
        errbuf_set(eb, "greylist: bad client network \"%s\"", net);
    else {
        st = check_once(spool, p, sb_str(&tkey), sb_str(&ckey), now, res,
                        &reset, eb);
        if (st == GREY_ERROR && reset)
            st = check_once(spool, p, sb_str(&tkey), sb_str(&ckey), now,
                            res, &reset, eb);
    }
    sb_free(&tkey);
    sb_free(&ckey);
    return st;
}

/* greylist_state - see greylistdb.h */
const char *greylist_state(const struct grey_params *p, const char *key,
                           const struct grey_rec *r, long long now)
{
    if (key[0] == 'C') {
        if (now - r->last > p->lifetime)
            return "expired";
        return p->awl > 0 && r->passes >= p->awl ? "whitelisted"
                                                 : "counting";
    }
    if (triplet_expired(p, r, now))
        return "expired";
    return r->passes == 0 ? "greylisted" : "passed";
}

struct grey_ent {
    char *key;
    struct grey_rec rec;
    int ok;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct grey_ent *)a)->key,
                  ((const struct grey_ent *)b)->key);
}

/* every record of db, decoded (ok = 0 for a damaged one) */
static int read_all(struct hintsdb *db, struct grey_ent **out, size_t *n,
                    struct errbuf *eb)
{
    struct strbuf val;
    char **keys;
    size_t nk;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (hintsdb_keys(db, &keys, &nk, eb) != 0)
        return -1;
    *out = xcalloc(nk + 1, sizeof(**out));
    sb_init(&val);
    for (size_t i = 0; i < nk && rc == 0; i++) {
        struct grey_ent *e = &(*out)[(*n)++];
        e->key = keys[i];
        keys[i] = NULL;
        rc = hintsdb_fetch(db, e->key, &val, eb) < 0 ? -1 : 0;
        e->ok = rc == 0 && greylistdb_decode(sb_str(&val), sb_len(&val),
                                             &e->rec) == 0;
    }
    sb_free(&val);
    hintsdb_keys_free(keys, nk);
    return rc;
}

static void ents_free(struct grey_ent *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].key);
    free(v);
}

/* greylistdb_walk - see greylistdb.h; the file is read whole and closed
 * before fn runs */
int greylistdb_walk(const char *spool,
                    int (*fn)(const char *key, const struct grey_rec *r,
                              void *arg),
                    void *arg, struct errbuf *eb)
{
    struct grey_ent *v;
    size_t n;
    int absent, rc;
    struct hintsdb *db = hintsdb_open(spool, GREY_DB, HINTS_READ, &absent,
                                      eb);

    if (db == NULL)
        return absent ? 0 : -1;
    rc = read_all(db, &v, &n, eb);
    if (hintsdb_close(db, eb) == -1)
        rc = -1;
    if (rc == 0 && n > 1)
        qsort(v, n, sizeof(*v), ent_cmp);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!v[i].ok)
            log_warn("greylist database: damaged record for %s skipped",
                     v[i].key);
        else if (fn(v[i].key, &v[i].rec, arg) != 0)
            break;
    }
    ents_free(v, n);
    return rc;
}

/* greylistdb_delete - remove key */
int greylistdb_delete(const char *spool, const char *key, struct errbuf *eb)
{
    return hintsdb_forget(spool, GREY_DB, key, eb);
}

/* greylistdb_delete_all - remove every record */
int greylistdb_delete_all(const char *spool, size_t *n, struct errbuf *eb)
{
    int absent, rc;
    struct hintsdb *db;

    *n = 0;
    if ((rc = hintsdb_exists(spool, GREY_DB, eb)) <= 0)
        return rc;
    if ((db = hintsdb_open(spool, GREY_DB, HINTS_WRITE, &absent, eb))
        == NULL)
        return -1;
    rc = hintsdb_delete_all(db, n, eb);
    if (hintsdb_close(db, rc == 0 ? eb : NULL) == -1)
        rc = -1;
    return rc;
}

static int stale(const struct grey_params *p, const struct grey_ent *e,
                 long long now)
{
    return !e->ok || strcmp(greylist_state(p, e->key, &e->rec, now),
                            "expired") == 0;
}

/* delete the stale ones of v[from..to) under one writer's lock, each
 * looked at again first (a worker may have refreshed it meanwhile) */
static int tidy_batch(const char *spool, const struct grey_params *p,
                      long long now, struct grey_ent *v, size_t from,
                      size_t to, size_t *n, struct errbuf *eb)
{
    struct grey_result ignored;
    int absent, rc = 0;
    struct hintsdb *db = hintsdb_open(spool, GREY_DB, HINTS_WRITE, &absent,
                                      eb);

    if (db == NULL)
        return -1;
    for (size_t i = from; i < to && rc == 0; i++) {
        if (!stale(p, &v[i], now))
            continue;
        v[i].ok = (rc = fetch_rec(db, v[i].key, &v[i].rec, &ignored, eb)) > 0;
        if (rc >= 0 && stale(p, &v[i], now)
            && (rc = hintsdb_delete(db, v[i].key, eb)) > 0)
            (*n)++;
        rc = rc < 0 ? -1 : 0;
    }
    if (hintsdb_close(db, rc == 0 ? eb : NULL) == -1)
        rc = -1;
    return rc;
}

/* greylistdb_tidy - remove expired and damaged records: read under the
 * reader's lock (workers still decide meanwhile), deleted in batches of
 * GREY_TIDY_BATCH so the writer's lock is never held for long */
int greylistdb_tidy(const char *spool, const struct grey_params *p,
                    long long now, size_t *n, struct errbuf *eb)
{
    struct grey_ent *v = NULL;
    size_t nv = 0;
    int absent, rc;
    struct hintsdb *db;

    *n = 0;
    if ((db = hintsdb_open(spool, GREY_DB, HINTS_READ, &absent, eb)) == NULL)
        return absent ? 0 : -1;
    rc = read_all(db, &v, &nv, eb);
    if (hintsdb_close(db, eb) == -1)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < nv; i += GREY_TIDY_BATCH)
        rc = tidy_batch(spool, p, now, v, i, i + GREY_TIDY_BATCH < nv
                        ? i + GREY_TIDY_BATCH : nv, n, eb);
    ents_free(v, nv);
    return rc;
}
