/*
 * ratelimitdb.c - the ratelimit hints database (see ratelimitdb.h):
 *                 Exim's smoothed rate, its Bloom filter of unique
 *                 events, and the records, stored through hintsdb.h.
 *
 * PURPOSE:   one update is one open (the lock waited for at most
 *            q->wait_ms), one fetch, one store of a record of at most
 *            ~8 KiB, one close, so a worker's loop is never held long.
 * INTERFACE: rl_smooth, rl_decode, rl_encode, rl_bloom_seen,
 *            rl_bloom_size, ratelimitdb_update, ratelimitdb_walk.
 * ERRORS:    -1 with eb when the file cannot be opened or read; a
 *            record that cannot be written is logged and the rate still
 *            answered (Exim ignores its write errors); a damaged record
 *            reads as none.
 * SECURITY:  records come from a file others may write: every field is
 *            range-checked, the filter's size bounded, its hex checked.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/base/errbuf.h"
#include "core/base/log.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/hints/hintsdb.h"
#include "core/hints/ratelimitdb.h"
#include "core/mail/logfile.h"

#define RL_MAX_TIME (1LL << 40)
#define RL_MAX_RATE 1e300

/* rl_smooth - Exim's EWMA over a variable interval (ratelimitdb.h) */
double rl_smooth(double old_rate, double interval, double period,
                 double count)
{
    double i_over_p, a, rate;

    if (interval <= 0.0)            /* the clock went back: tiny, not 0 */
        interval = 1e-9;
    i_over_p = interval / period;
    a = exp(-i_over_p);
    rate = (1.0 - a) * count / i_over_p + a * old_rate;
    if (rate < count)               /* an isolated event: count/period */
        rate = count;
    return rate > RL_MAX_RATE ? RL_MAX_RATE : rate;
}

/* rl_bloom_size - 16 bits per event of the limit, as Exim sizes it */
size_t rl_bloom_size(double limit)
{
    double want = limit * 2.0;

    if (!(want >= RL_BLOOM_MIN))
        return RL_BLOOM_MIN;
    return want > RL_BLOOM_MAX ? RL_BLOOM_MAX : (size_t)want;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int decode_bloom(const char *hex, struct rl_rec *r)
{
    size_t n = strlen(hex);

    if (n % 2 != 0 || n / 2 < RL_BLOOM_MIN || n / 2 > RL_BLOOM_MAX)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        r->bloom[i] = (unsigned char)(hi << 4 | lo);
    }
    r->bloom_size = n / 2;
    r->has_bloom = 1;
    return 0;
}

static int fields_ok(const struct rl_rec *r)
{
    return r->sec >= 0 && r->sec < RL_MAX_TIME && r->usec >= 0
           && r->usec < 1000000 && isfinite(r->rate) && r->rate >= 0.0
           && r->rate <= RL_MAX_RATE;
}

/* rl_decode - "1 SEC USEC RATE [EPOCH HEX]", nothing else */
int rl_decode(const char *s, size_t len, struct rl_rec *r)
{
    char buf[128 + 2 * RL_BLOOM_MAX], hex[2 * RL_BLOOM_MAX + 2];
    int version, end = 0, end2 = 0;

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(r, 0, offsetof(struct rl_rec, bloom));
    if (sscanf(buf, "%d %lld %ld %lf%n", &version, &r->sec, &r->usec,
               &r->rate, &end) != 4 || version != 1 || !fields_ok(r)
        || strspn(buf, "0123456789 .e+-") < (size_t)end)  /* no nan, 0x */
        return -1;
    if ((size_t)end == len)
        return 0;
    if (buf[end] != ' '
        || sscanf(buf + end, " %lld %8193[0-9a-f]%n", &r->bloom_epoch, hex,
                  &end2) != 2 || (size_t)(end + end2) != len
        || r->bloom_epoch < 0 || r->bloom_epoch >= RL_MAX_TIME)
        return -1;
    return decode_bloom(hex, r);
}

/* rl_encode - the stored form of r */
void rl_encode(const struct rl_rec *r, struct strbuf *out)
{
    sb_printf(out, "1 %lld %ld %.17g", r->sec, r->usec, r->rate);
    if (!r->has_bloom)
        return;
    sb_printf(out, " %lld ", r->bloom_epoch);
    for (size_t i = 0; i < r->bloom_size; i++)
        sb_printf(out, "%02x", r->bloom[i]);
}

/* rl_bloom_seen - Exim's filter: 8 bits from h1 + n * h2 of the event's
 * digest; 1 if all were set already (the event was seen) */
int rl_bloom_seen(struct rl_rec *r, const char *event)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, h, inc;
    int seen = 1;

    if (EVP_Digest(event, strlen(event), md, &mdlen, EVP_sha256(), NULL)
        != 1 || mdlen < 8 || r->bloom_size == 0)
        return 0;
    h = (unsigned)md[0] | (unsigned)md[1] << 8 | (unsigned)md[2] << 16
        | (unsigned)md[3] << 24;
    inc = (unsigned)md[4] | (unsigned)md[5] << 8 | (unsigned)md[6] << 16
          | (unsigned)md[7] << 24;
    for (int n = 0; n < 8; n++, h += inc) {
        unsigned bit = 1u << (h % 8);
        size_t byte = (h / 8) % r->bloom_size;
        if ((r->bloom[byte] & bit) == 0) {
            r->bloom[byte] |= (unsigned char)bit;
            seen = 0;
        }
    }
    return seen;
}

/* the stored record of key: 1 found, 0 none (or damaged), -1 error */
static int fetch(struct hintsdb *db, const char *key, struct rl_rec *r,
                 struct errbuf *eb)
{
    struct strbuf v;
    int rc;

    sb_init(&v);
    rc = hintsdb_fetch(db, key, &v, eb);
    if (rc == 1 && rl_decode(sb_str(&v), sb_len(&v), r) != 0) {
        log_warn("ratelimit database: damaged record for %s ignored", key);
        rc = 0;
    }
    sb_free(&v);
    return rc;
}

/* A unique= counter's filter lives one period, then starts again (the
 * rate, the longer memory, is kept); a new one is sized for the limit. */
static double count_unique(const struct rl_query *q, struct rl_rec *r,
                           int found)
{
    if (!found || !r->has_bloom
        || (double)q->now_sec > (double)r->bloom_epoch + q->period) {
        r->has_bloom = 1;
        r->bloom_epoch = q->now_sec;
        r->bloom_size = rl_bloom_size(q->limit);
        memset(r->bloom, 0, r->bloom_size);
    }
    if (q->update == RL_READONLY)
        return q->count;
    return rl_bloom_seen(r, q->unique) ? 0.0 : q->count;
}

/* The rate at q->now; r is updated as it would be stored. */
static void compute(const struct rl_query *q, struct rl_rec *r, int found)
{
    double count = q->count;

    if (q->unique != NULL)
        count = count_unique(q, r, found);
    else
        r->has_bloom = 0;
    if (!found) {
        r->rate = count;
    } else {
        double now = (double)q->now_sec + (double)q->now_usec / 1e6;
        double prev = (double)r->sec + (double)r->usec / 1e6;
        r->rate = rl_smooth(r->rate, now - prev, q->period, count);
    }
    r->sec = q->now_sec;
    r->usec = q->now_usec;
}

static int open_for(const struct rl_query *q, struct hintsdb **db,
                    struct errbuf *eb)
{
    int absent = 0, busy = 0;

    if (hintsdb_key_ok(RL_DB, q->key, eb) < 0)
        return -1;
    *db = hintsdb_open_wait(q->spool, RL_DB, q->update == RL_READONLY
                            ? HINTS_READ : HINTS_WRITE, q->wait_ms,
                            &absent, &busy, eb);
    return *db != NULL || absent ? 0 : -1;
}

/* a main-log line for msg, which may hold a key made of client data */
static void log_escaped(const char *msg, const char *tail)
{
    struct strbuf sb;

    sb_init(&sb);
    logfile_escape_str(&sb, msg);
    log_main("%s%s", sb_str(&sb), tail);
    sb_free(&sb);
}

/* ratelimitdb_update - see ratelimitdb.h */
int ratelimitdb_update(const struct rl_query *q, double *rate,
                       struct errbuf *eb)
{
    struct rl_rec *r = xcalloc(1, sizeof(*r));
    struct hintsdb *db = NULL;
    struct strbuf v;
    struct errbuf web;          /* write errors: logged, not returned */
    int found = 0, rc = 0;

    if (open_for(q, &db, eb) < 0) {
        free(r);
        return -1;
    }
    if (db != NULL && (found = fetch(db, q->key, r, eb)) < 0)
        rc = -1;
    if (rc == 0) {
        compute(q, r, found);
        *rate = r->rate;
    }
    if (rc == 0 && (q->update == RL_STRICT
                    || (q->update == RL_LEAKY && r->rate < q->limit))) {
        sb_init(&v);
        rl_encode(r, &v);
        if (hintsdb_store(db, q->key, sb_str(&v), sb_len(&v), &web) != 0)
            log_escaped(web.msg, " (a rate is not recorded)");
        sb_free(&v);
    }
    if (hintsdb_close(db, &web) < 0)
        log_escaped(web.msg, "");
    free(r);
    return rc;
}

struct raw {
    char *key;
    struct strbuf val;
};

static int raw_cmp(const void *a, const void *b)
{
    return strcmp(((const struct raw *)a)->key, ((const struct raw *)b)->key);
}

/* every key and stored value of db, sorted; the file is closed */
static int read_all(struct hintsdb *db, struct raw **v, size_t *n,
                    struct errbuf *eb)
{
    char **keys = NULL;
    size_t nkeys = 0;
    int rc = hintsdb_keys(db, &keys, &nkeys, eb);

    *v = xcalloc(nkeys + 1, sizeof(**v));
    *n = 0;
    for (size_t i = 0; rc == 0 && i < nkeys; i++) {
        struct raw *e = &(*v)[*n];
        sb_init(&e->val);
        int f = hintsdb_fetch(db, keys[i], &e->val, eb);
        if (f < 0)
            rc = -1;
        if (f == 1) {
            e->key = keys[i];
            keys[i] = NULL;
            (*n)++;
        } else {
            sb_free(&e->val);
        }
    }
    hintsdb_keys_free(keys, nkeys);
    if (hintsdb_close(db, eb) < 0)
        rc = -1;
    qsort(*v, *n, sizeof(**v), raw_cmp);
    return rc;
}

/* ratelimitdb_walk - see ratelimitdb.h */
int ratelimitdb_walk(const char *spool,
                     int (*fn)(const char *key, const struct rl_rec *r,
                               void *arg),
                     void *arg, struct errbuf *eb)
{
    struct rl_rec *r;
    struct hintsdb *db;
    struct raw *v;
    size_t n;
    int absent = 0, rc;

    if ((rc = hintsdb_exists(spool, RL_DB, eb)) <= 0)
        return rc;
    db = hintsdb_open(spool, RL_DB, HINTS_READ, &absent, eb);
    if (db == NULL)
        return absent ? 0 : -1;
    rc = read_all(db, &v, &n, eb);
    r = xcalloc(1, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        if (rc != 0)
            ;
        else if (rl_decode(sb_str(&v[i].val), sb_len(&v[i].val), r) != 0)
            log_warn("ratelimit database: damaged record for %s ignored",
                     v[i].key);
        else if (fn(v[i].key, r, arg) != 0)
            rc = 1;
        free(v[i].key);
        sb_free(&v[i].val);
    }
    free(r);
    free(v);
    return rc < 0 ? -1 : 0;
}
