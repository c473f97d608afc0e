/*
 * dns.h - asynchronous DNS through c-ares on the event loop, plus the
 *         per-run answer cache that routers read.
 *
 * Routers never wait: route() reads dns_cache_get(); on a miss it names the
 * query it needs and returns RV_NEED_DNS. The runner calls dns_cache_want(),
 * which starts at most one query per (type, name) however many addresses
 * ask, and calls every waiter back when the answer is cached.
 *
 * INTERFACE: dns_new/dns_free (a resolver bound to an ev loop, servers
 *            "ip[:port], ..." or NULL for /etc/resolv.conf), dns_query (raw
 *            async query), dns_set_memo (answers remembered for their
 *            TTL), dns_get_stats (counters), dns_cache_new/free,
 *            dns_cache_set_ev (loop of a cache without resolver),
 *            dns_cache_get, dns_cache_put (tests pre-fill it),
 *            dns_cache_want, dns_cache_inflight, dns_type_name,
 *            dns_type_parse, dns_status_name.
 * ORDER:     free caches, then the resolver, then the loop. dns_free first
 *            is safe too: caches keep TEMPFAIL "resolver closed" for what
 *            was in flight and drop its waiters.
 * ERRORS:    NXDOMAIN and NODATA are answers (the name or the type does not
 *            exist); SERVFAIL, REFUSED, timeouts and malformed replies are
 *            DNS_TEMPFAIL and must become a deferral, never a failure.
 * SECURITY:  answers are hostile: an MX/PTR target longer than 255 or with
 *            a byte outside [A-Za-z0-9._-] (or an empty label) is skipped;
 *            if every record is, the answer is DNS_TEMPFAIL "bad name in
 *            answer" (never NODATA, which would invent an implicit MX).
 *            TXT is kept as bytes.
 */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <stddef.h>

struct ev;
struct errbuf;

enum dns_type {
    DNS_T_A = 1, DNS_T_PTR = 12, DNS_T_MX = 15, DNS_T_TXT = 16,
    DNS_T_AAAA = 28
};

enum dns_status { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL };

struct dns_rr {
    char *data;     /* A/AAAA: address text; MX/PTR: lowercased name without
                       trailing dot ("" for a null MX "."); TXT: the strings
                       of one record concatenated */
    int pref;       /* MX preference, else 0 */
    size_t len;     /* bytes of data: a TXT record may hold a NUL (answers
                       made by hand may leave it 0: use dns_rr_len) */
};

struct dns_answer {
    enum dns_status status;
    int type;
    size_t n;               /* records, 0 unless DNS_OK */
    struct dns_rr *rr;      /* in answer order */
    const char *why;        /* never NULL: dns_status_name() of status, or
                               for DNS_TEMPFAIL "SERVFAIL", "REFUSED",
                               "timeout", "connection refused", "bad
                               response", "bad name in answer", ... */
};

/* counters for tests and traces (dns_get_stats) */
struct dns_stats {
    unsigned long started;      /* queries handed to c-ares (wire queries) */
    unsigned long completed;    /* answers delivered to a callback */
    unsigned long inflight;     /* dns_query calls not delivered yet */
    unsigned long memo_hits;    /* answered from the memo (dns_set_memo) */
};

/* the answer lives until cb returns; copy what must outlive it */
typedef void (*dns_query_cb)(const struct dns_answer *ans, void *arg);
typedef void (*dns_ready_cb)(void *arg);

struct dns_ctx;
struct dns_cache;

/* dns_new - NULL with eb set on a bad servers value ("bad dns_servers
 * value ..."); timeout_ms and tries 0 keep the c-ares defaults */
struct dns_ctx *dns_new(struct ev *ev, const char *servers,
                        unsigned timeout_ms, unsigned tries,
                        struct errbuf *eb);
/* dns_set_memo - remember up to max definite answers (records, NXDOMAIN,
 * NODATA; never a temporary failure) for as long as their TTLs allow (a
 * negative answer: its SOA's negative TTL; at most an hour), and answer
 * dns_query from them; 0 turns it off (the default) */
void dns_set_memo(struct dns_ctx *dc, size_t max);
/* dns_free - cancel all queries: no callback runs after this (NULL ok) */
void dns_free(struct dns_ctx *dc);
/* dns_query - start a query; cb runs later on the loop (never inside this
 * call). For DNS_T_PTR, name is an IPv4/IPv6 address in text form. */
void dns_query(struct dns_ctx *dc, int type, const char *name,
               dns_query_cb cb, void *arg);
void dns_get_stats(const struct dns_ctx *dc, struct dns_stats *st);

struct dns_cache *dns_cache_new(struct dns_ctx *dc);    /* dc may be NULL */
/* dns_cache_set_ev - with dc NULL, the loop that runs want() callbacks;
 * without one they run inside want() (the only synchronous case) */
void dns_cache_set_ev(struct dns_cache *c, struct ev *ev);
/* dns_cache_free - in-flight queries are cancelled, their waiters dropped;
 * may be called from a waiter callback (NULL ok) */
void dns_cache_free(struct dns_cache *c);
/* dns_cache_get - the cached answer, or NULL on a miss or while in flight */
const struct dns_answer *dns_cache_get(struct dns_cache *c, int type,
                                       const char *name);
/* dns_cache_put - store an answer (copied); used by tests and by dns itself */
void dns_cache_put(struct dns_cache *c, int type, const char *name,
                   const struct dns_answer *ans);
/* dns_cache_want - ensure the answer will be cached and call cb(arg) once it
 * is (later, from the loop; cached already: from a 0 ms timer). With no
 * resolver the answer is DNS_TEMPFAIL "no resolver". */
void dns_cache_want(struct dns_cache *c, int type, const char *name,
                    dns_ready_cb cb, void *arg);
size_t dns_cache_inflight(const struct dns_cache *c);

/* dns_rr_len - the bytes of rr->data, NULs inside a TXT included */
size_t dns_rr_len(const struct dns_rr *rr);
const char *dns_type_name(int type);
int dns_type_parse(const char *s);          /* "mx" -> DNS_T_MX, -1 unknown */
const char *dns_status_name(enum dns_status st);

#endif
