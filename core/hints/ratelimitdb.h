/*
 * ratelimitdb.h - the ratelimit hints database, SPOOL/db/ratelimit: the
 *                 smoothed sending rates of the ratelimit ACL condition
 *                 (Exim's semantics; acl/acl_ratelimit.c).
 *
 * Keys are Exim's: "PERIOD/per_WHAT/[unique/]KEY", e.g.
 * "1h/per_rcpt/192.0.2.1" (PERIOD as the configuration wrote it). A
 * record is text, "1 SEC USEC RATE" or, for unique= counters,
 * "1 SEC USEC RATE EPOCH HEXBLOOM": the time of the last counted event,
 * the rate at that time, and the Bloom filter of the events seen since
 * EPOCH. Records are validated on read; a damaged or hostile one is as
 * good as none.
 *
 * The rate is Exim's exponentially weighted moving average over a
 * variable interval: with i the time since the last event and p the
 * period, a = exp(-i/p) and rate = (1 - a) * count / (i/p) + a * old; a
 * rate below count is raised to count (an isolated event counts as
 * count per period); the first event of a key has rate = count.
 *
 * INTERFACE: struct rl_rec, rl_smooth, rl_decode, rl_encode,
 *            rl_bloom_seen, struct rl_query, ratelimitdb_update,
 *            ratelimitdb_walk.
 * ERRORS:    -1 with eb (hintsdb.h's words) when the file cannot be used
 *            in time: the caller defers, as Exim does when its database
 *            is not available.
 */
#ifndef TERN_RATELIMITDB_H
#define TERN_RATELIMITDB_H

#include <stddef.h>

struct errbuf;
struct strbuf;

#define RL_DB "ratelimit"
#define RL_BLOOM_MIN 40         /* bytes, as Exim's smallest filter */
#define RL_BLOOM_MAX 4096       /* bytes: a record stays small */

struct rl_rec {
    long long sec;              /* time of the last update */
    long usec;
    double rate;
    int has_bloom;
    long long bloom_epoch;      /* when the filter was started */
    size_t bloom_size;          /* bytes used in bloom */
    unsigned char bloom[RL_BLOOM_MAX];
};

/* rl_smooth - the new rate after an event of count, interval seconds
 * after the last one, with smoothing period period (> 0); see above */
double rl_smooth(double old_rate, double interval, double period,
                 double count);
/* rl_decode - parse a stored record (len bytes, not NUL-terminated);
 * 0 or -1 (damaged) */
int rl_decode(const char *s, size_t len, struct rl_rec *r);
void rl_encode(const struct rl_rec *r, struct strbuf *out);
/* rl_bloom_seen - add event to r's filter: 1 if it was already there */
int rl_bloom_seen(struct rl_rec *r, const char *event);
/* the bloom size Exim chooses for limit: 2 bytes per event, bounded */
size_t rl_bloom_size(double limit);

enum rl_update { RL_LEAKY, RL_STRICT, RL_READONLY };

struct rl_query {
    const char *spool;
    const char *key;            /* the full key (see above) */
    double limit, period, count;
    const char *unique;         /* NULL, or the event to count once */
    enum rl_update update;
    long long now_sec;
    long now_usec;
    int wait_ms;                /* longest wait for the file's lock */
};

/* ratelimitdb_update - compute the rate of q->key at q->now counting
 * q->count, store it as Exim does (leaky: only while under the limit;
 * strict: always; readonly: never); the rate into *rate. 0 or -1. */
int ratelimitdb_update(const struct rl_query *q, double *rate,
                       struct errbuf *eb);
/* ratelimitdb_walk - every decodable record in key order to fn (the file
 * is closed by then); fn returns nonzero to stop. No file: 0. */
int ratelimitdb_walk(const char *spool,
                     int (*fn)(const char *key, const struct rl_rec *r,
                               void *arg),
                     void *arg, struct errbuf *eb);

#endif
