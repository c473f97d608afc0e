/*
 * sched_retry.c - the scheduler's view of the retry database: a cache of
 *                 every record, reloaded when the file changes, so that
 *                 deciding whether a host is in a retry wait costs a
 *                 stat() and a hash lookup, not a GDBM open.
 *
 * PURPOSE: records are written through (retrydb_fail/clear) and the cache
 * updated with what was stored; a record another process wrote (tern -q,
 * tern_fixdb) is seen at the next refresh.
 * ERRORS: a database that cannot be used is logged once (panic log) and
 * not tried again for RETRY_DOWN_SECS; meanwhile the cache alone holds
 * the retry times, computed by the same rules. So a broken file costs one
 * panic line a minute, not one per deferred recipient.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/base/errbuf.h"
#include "core/base/hash.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "queue/sched_impl.h"

#define RETRY_DOWN_SECS 60

static long long db_mtime(const struct sched *s)
{
    char path[1200];
    struct stat st;

    snprintf(path, sizeof(path), "%s/db/retry", s->conf->main.spool_directory);
    if (stat(path, &st) != 0)
        return 0;
    return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec
           + (long long)st.st_size;
}

static int load_one(const char *key, const struct retry_rec *r, void *arg)
{
    struct hash *h = arg;

    free(hash_put(h, key, strlen(key), xmemdup(r, sizeof(*r))));
    return 0;
}

/* The database failed (it cannot be opened or written: permissions, a
 * full disk, a lock held too long). Say so once, then leave it alone for
 * RETRY_DOWN_SECS: the cache carries the records meanwhile, since hints
 * are disposable. A damaged file is not such a failure: hintsdb moves it
 * aside and starts a new one. */
static void db_failed(struct sched *s, const char *why)
{
    log_panic("retry database: %s (retry times kept in memory for %d s)",
              why, RETRY_DOWN_SECS);
    s->retry_down_until = (long long)time(NULL) + RETRY_DOWN_SECS;
}

static int db_down(const struct sched *s)
{
    return (long long)time(NULL) < s->retry_down_until;
}

/* sretry_refresh - reload the cache if the database changed */
void sretry_refresh(struct sched *s)
{
    long long mt = db_mtime(s);
    struct errbuf eb;
    struct hash *h;

    if (mt == s->retry_mtime || db_down(s))
        return;
    h = hash_new(64);
    if (mt != 0 && retrydb_walk(s->conf->main.spool_directory, load_one, h,
                                &eb) != 0) {
        hash_free(h, free);     /* keep what the cache knows */
        db_failed(s, eb.msg);
        return;
    }
    hash_free(s->retry, free);
    s->retry = h;
    s->retry_mtime = mt;
}

/* sretry_get - the cached record of key, or NULL */
const struct retry_rec *sretry_get(struct sched *s, const char *key)
{
    return hash_get(s->retry, key, strlen(key));
}

/* sretry_fail - record a failure; *out (may be NULL) gets the record */
void sretry_fail(struct sched *s, const char *key, const char *subject,
                 const char *errtype, const char *text,
                 struct retry_rec *out)
{
    const struct retry_rec *old = sretry_get(s, key);
    struct retry_rec rec;
    struct errbuf eb;
    long long now = time(NULL);

    if (db_down(s) || retrydb_fail(s->conf->main.spool_directory, s->conf,
                                   key, subject, errtype, text, now, &rec,
                                   &eb) != 0) {
        if (!db_down(s))
            db_failed(s, eb.msg);
        if (old != NULL)
            rec = *old;
        retrydb_failure(&rec, old != NULL, s->conf, subject, errtype, text,
                        now);
    } else {
        s->retry_mtime = db_mtime(s);
    }
    free(hash_put(s->retry, key, strlen(key), xmemdup(&rec, sizeof(rec))));
    if (out != NULL)
        *out = rec;
}

/* sretry_clear - forget key after a success (only if a record exists) */
void sretry_clear(struct sched *s, const char *key)
{
    struct errbuf eb;

    if (s->retry_mtime == -1)   /* never loaded (a forced run): load once;
                                   batch starts refresh it otherwise */
        sretry_refresh(s);
    if (hash_get(s->retry, key, strlen(key)) == NULL)
        return;
    if (!db_down(s)
        && retrydb_clear(s->conf->main.spool_directory, key, &eb) != 0)
        db_failed(s, eb.msg);
    free(hash_del(s->retry, key, strlen(key)));
    s->retry_mtime = db_mtime(s);
}

/* sretry_addr_key - "R:address" (or "R:domain" for routing) */
void sretry_addr_key(char *out, size_t size, const char *addr)
{
    snprintf(out, size, "R:%s", addr);
}

/* sretry_host_key - "T:name:ip", or "T:name:ip:port" for a port other
 * than 25 (the host's own or the transport's: dlv_host_port). Every host
 * record is written and looked up through this one function. */
void sretry_host_key(char *out, size_t size, const struct dlv_batch *b,
                     size_t i)
{
    const struct route_host *h = &b->hosts[i];
    int port = dlv_host_port(b, i);

    if (port != 25)
        snprintf(out, size, "T:%s:%s:%d", h->name, h->ip ? h->ip : "",
                 port);
    else
        snprintf(out, size, "T:%s:%s", h->name, h->ip ? h->ip : "");
}
