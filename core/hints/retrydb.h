/*
 * retrydb.h - the retry hints database (Exim's "retry" hints, DESIGN §6):
 *             host and address retry records in a hints file (hintsdb.h)
 *             under the spool, SPOOL/db/retry, and the retry rules that
 *             schedule them.
 *
 * Keys, as Exim's: "T:host.name:ip" (a host, for remote delivery) and
 * "T:host.name:ip:port" when the port is not 25; "R:local@domain" (an
 * address, for local deliveries and per-recipient 4xx); "R:domain" (a
 * routing deferral of a domain).
 * Several processes (the daemon's scheduler, tern -q, tern_fixdb) use the
 * file: each call opens it, works, and closes it, so a writer's lock is
 * held only for one update (GDBM_WRCREAT with its lock; a busy file is
 * retried for up to 2 seconds).
 *
 * INTERFACE: retrydb_get, retrydb_fail (record a temporary failure and
 *            compute the next try from the rules), retrydb_clear (a
 *            success), retrydb_delete and retrydb_delete_all
 *            (tern_fixdb), retrydb_walk (tern_dumpdb), retrydb_encode/
 *            retrydb_decode (the stored form), retrydb_failure (the
 *            arithmetic of retrydb_fail alone), retry_rule_find, retry_next.
 * ERRORS: -1 with eb (the file cannot be opened or written, a record is
 *         damaged: damaged records read as absent and are logged).
 */
#ifndef TERN_RETRYDB_H
#define TERN_RETRYDB_H

#include <stddef.h>

struct conf;
struct errbuf;
struct retry_def;
struct strbuf;

#define RETRY_TEXT_MAX 512

struct retry_rec {
    long long first_failed;     /* time of the first failure in this run */
    long long last_try;         /* time of the latest failure */
    long long next_try;         /* do not try before this */
    int expired;                /* past the last rule's cutoff: give up */
    char errtype[32];
    char text[RETRY_TEXT_MAX];  /* the latest error */
};

/* retry_rule_find - the first retry definition of c whose pattern matches
 * (pattern as Exim: "*", a domain, "*.domain", "local@domain",
 * "*@domain", a regex "^...") the subject and whose error type matches
 * errtype ("*" matches all; "rcpt_4xx" matches "rcpt_451"...); NULL if
 * none (then the item is not retried: a failure is final). subject is an
 * address or a domain or host name. */
const struct retry_def *retry_rule_find(const struct conf *c,
                                        const char *subject,
                                        const char *errtype);

/* retry_next - fill rec->next_try / rec->expired for a failure at now,
 * from the rules of def, as Exim computes them (F: fixed interval; G:
 * interval grows by the factor from the previous interval; H: random
 * between the previous and the geometric value) */
void retry_next(const struct retry_def *def, struct retry_rec *rec,
                long long now);

/* retrydb_get - the record of key: 1 found, 0 none, -1 error */
int retrydb_get(const char *spool_dir, const char *key,
                struct retry_rec *out, struct errbuf *eb);
/* retrydb_fail - record a failure of key at now (first_failed kept from
 * an existing record), scheduled by the rule retry_rule_find(c, subject,
 * errtype) gives; no rule: expired at once. The stored record is copied
 * to out. 0 or -1. */
int retrydb_fail(const char *spool_dir, const struct conf *c,
                 const char *key, const char *subject, const char *errtype,
                 const char *text, long long now, struct retry_rec *out,
                 struct errbuf *eb);
/* retrydb_failure - update r (found: it holds the previous record) for a
 * failure at now, as retrydb_fail does, without touching the file */
void retrydb_failure(struct retry_rec *r, int found, const struct conf *c,
                     const char *subject, const char *errtype,
                     const char *text, long long now);
/* retrydb_clear - forget key (a success); 0 (also when absent) or -1 */
int retrydb_clear(const char *spool_dir, const char *key,
                  struct errbuf *eb);
/* retrydb_delete - remove key: 1 removed, 0 there was none, -1 error */
int retrydb_delete(const char *spool_dir, const char *key,
                   struct errbuf *eb);
/* retrydb_delete_all - remove every record (damaged ones too), *n of
 * them; 0 or -1 */
int retrydb_delete_all(const char *spool_dir, size_t *n, struct errbuf *eb);
/* retrydb_walk - call fn for every record, in key order; fn returns
 * nonzero to stop. 0 or -1. */
int retrydb_walk(const char *spool_dir,
                 int (*fn)(const char *key, const struct retry_rec *r,
                           void *arg),
                 void *arg, struct errbuf *eb);

/* retrydb_encode - the stored form of r ("1 FIRST LAST NEXT EXPIRED
 * ERRTYPE TEXT"); retrydb_decode - parse it back: 0, or -1 if damaged */
void retrydb_encode(const struct retry_rec *r, struct strbuf *out);
int retrydb_decode(const char *p, size_t len, struct retry_rec *r);

#endif
