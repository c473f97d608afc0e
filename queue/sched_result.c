/*
 * sched_result.c - what happens to each recipient's outcome: the log
 *                  line, the journal line, the retry record, and the
 *                  failure list the bounce is made from.
 *
 * PURPOSE: outcomes are journalled ("D"/"F") as each batch finishes,
 * before anything else happens to the message, except on the fast path:
 * when the last batch of an attempt leaves nothing deferred, the message
 * is about to be removed (or bounced and removed) and the removal records
 * the outcome; the lines are kept and written if the message must stay
 * after all (a bounce that cannot be spooled, a frozen bounce).
 * Deferrals update the retry database: host records ("T:host:ip") from
 * what the transport tried, address records ("R:addr") for per-recipient
 * 4xx and local deferrals, domain records ("R:domain") for routing; a
 * record past its final cutoff turns the deferral into a failure,
 * "retry timeout exceeded", as in Exim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/ev.h"
#include "core/base/hash.h"
#include "core/base/pool.h"
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "queue/sched_impl.h"

static void note_fail(struct smsg *m, const char *addr, const char *top,
                      const char *why, const char *host, int code,
                      const char *reply, const char *to)
{
    struct bounce_rcpt *f;
    size_t cap = m->fails_cap;

    m->fails = sched_grow(m->fails, m->nfails, &cap, sizeof(*m->fails));
    m->fail_to = sched_grow(m->fail_to, m->nfails, &m->fails_cap,
                            sizeof(*m->fail_to));
    m->fail_to[m->nfails] = to != NULL ? pool_strdup(m->pool, to)
                                       : m->msg.env.sender;
    f = &m->fails[m->nfails++];
    f->address = pool_strdup(m->pool, addr);
    f->top = top != NULL && strcmp(addr, top) != 0
             ? pool_strdup(m->pool, top) : NULL;
    f->reason = pool_strdup(m->pool, why);
    f->host = host ? pool_strdup(m->pool, host) : NULL;
    f->code = code;
    f->reply = NULL;
    if (code > 0 && reply != NULL) {
        char c[16];
        snprintf(c, sizeof(c), "%d", code);
        for (const char *p = strstr(f->reason, c); p; p = strstr(p + 1, c))
            if (p == f->reason || p[-1] == ' ') {
                f->reply = p;
                break;
            }
    }
}

static void note_delay(struct smsg *m, const char *addr, const char *top,
                       const char *why, long long next_try)
{
    struct bounce_rcpt *d;

    hash_put(m->top_open, top, strlen(top), m);
    m->delays = sched_grow(m->delays, m->ndelays, &m->delays_cap,
                           sizeof(*m->delays));
    d = &m->delays[m->ndelays++];
    memset(d, 0, sizeof(*d));
    d->address = pool_strdup(m->pool, addr);
    d->top = strcmp(addr, top) != 0 ? pool_strdup(m->pool, top) : NULL;
    d->reason = pool_strdup(m->pool, why);
    if (m->next_try == 0 || next_try < m->next_try)
        m->next_try = next_try;
}

/* sres_journal - append lines now (the attempt's record of outcomes) */
void sres_journal(struct smsg *m, const char *const *lines, size_t n)
{
    struct errbuf eb;

    if (n == 0)
        return;
    if (spool_journal_append_v(m->s->sp, m->id, lines, n, &eb) != 0)
        log_panic("%s: cannot journal delivery results: %s", m->id, eb.msg);
}

static void jline(struct smsg *m, char type, const char *addr,
                  const char *top, const char *why, const char *to)
{
    char *w = why != NULL ? pool_strdup(m->pool, why) : NULL;
    const char *l;

    for (char *p = w; p != NULL && *p != '\0'; p++)
        if (*p == '\t' || *p == '\n')
            *p = ' ';
    l = w == NULL ? pool_printf(m->pool, "%c\t%s\t%s", type, addr, top)
        : to == NULL ? pool_printf(m->pool, "%c\t%s\t%s\t%s", type, addr,
                                   top, w)
        : pool_printf(m->pool, "%c\t%s\t%s\t%s\t%s", type, addr, top, w,
                      to);

    m->jl = sched_grow(m->jl, m->njl, &m->jl_cap, sizeof(*m->jl));
    m->jl[m->njl++] = l;
    addr = smsg_unique(m, addr);
    hash_put(m->done, addr, strlen(addr), m);
}

/* flush the journal lines gathered, unless the fast path applies */
static void journal_or_hold(struct smsg *m, int last)
{
    int hold = last && m->ndelays == 0 && m->msg.env.sender[0] != '\0';

    if (hold || m->njl == m->njl_written)
        return;
    sres_journal(m, m->jl + m->njl_written, m->njl - m->njl_written);
    m->njl_written = m->njl;
}

/* sres_flush_journal - write every held line (the message stays) */
void sres_flush_journal(struct smsg *m)
{
    journal_or_hold(m, 0);
}

/* ---- routing outcomes ---------------------------------------------------- */

/* "ADDR" or "ADDR <TOP>" for a log line (pool string) */
static const char *shown(struct smsg *m, const struct sres_who *w)
{
    if (strcmp(w->shown, w->top) == 0)
        return slog_esc(m, w->shown);
    return pool_printf(m->pool, "%s <%s>", slog_esc(m, w->shown),
                       slog_esc(m, w->top));
}

/* sres_route_fail - a permanent routing failure */
void sres_route_fail(struct smsg *m, const struct sres_who *w,
                     const char *router, const char *why,
                     const char *errors_to)
{
    slog_line(m, "** %s%s%s: %s", shown(m, w),
              router != NULL && router[0] ? " R=" : "",
              router != NULL ? router : "", slog_esc(m, why));
    jline(m, 'F', w->key, w->top, why, errors_to);
    note_fail(m, w->shown, w->top, why, NULL, 0, NULL, errors_to);
}

/* sres_route_defer - routing deferred: a domain retry record */
void sres_route_defer(struct smsg *m, const struct sres_who *w,
                      const char *domain, const char *router,
                      const char *why)
{
    const char *subject = domain[0] ? domain : w->key;
    struct retry_rec rec;
    char key[600];

    sretry_addr_key(key, sizeof(key), subject);
    sretry_fail(m->s, key, subject, "", why, &rec);
    if (rec.expired) {
        sres_route_fail(m, w, router, "retry timeout exceeded", NULL);
        return;
    }
    slog_line(m, "== %s R=%s defer (-1): %s", shown(m, w), router,
              slog_esc(m, why));
    note_delay(m, w->shown, w->top, why, rec.next_try);
}

/* sres_discard - a redirection to nothing (:blackhole:) */
void sres_discard(struct smsg *m, const struct sres_who *w,
                  const char *router)
{
    slog_line(m, "=> :blackhole: <%s> R=%s", slog_esc(m, w->shown), router);
    jline(m, 'D', w->key, w->top, NULL, NULL);
}

/* sres_suppress - -N: log what would have been delivered */
void sres_suppress(struct smsg *m, const struct sres_who *w,
                   const char *router, const char *transport)
{
    slog_line(m, "*> %s R=%s T=%s", shown(m, w), router, transport);
    jline(m, 'D', w->key, w->top, NULL, NULL);
}

/* ---- transport outcomes ------------------------------------------------- */

static void host_records(struct sbatch *sb)
{
    struct dlv_batch *b = &sb->b;
    const char *subject = b->nrcpt > 0 ? b->rcpts[0].domain : "";
    char key[600];

    for (size_t i = 0; i < b->nhostres; i++) {
        const struct dlv_hostres *h = &b->hostres[i];
        if (h->host < 0 || (size_t)h->host >= b->nhosts)
            continue;
        sretry_host_key(key, sizeof(key), b, (size_t)h->host);
        if (h->status == DLV_DEFER)
            sretry_fail(sb->m->s, key, subject, h->errtype, h->msg, NULL);
        else
            sretry_clear(sb->m->s, key);
    }
}

/* the retry state of the hosts a failed remote attempt tried: 1 when
 * every one of them is past its final cutoff */
static int hosts_expired(struct sbatch *sb, long long *next_try)
{
    struct dlv_batch *b = &sb->b;
    int any = 0, all = 1;
    char key[600];

    *next_try = 0;
    for (size_t i = 0; i < b->nhosts; i++) {
        const struct retry_rec *r;
        sretry_host_key(key, sizeof(key), b, i);
        if ((r = sretry_get(sb->m->s, key)) == NULL)
            continue;
        any = 1;
        all &= r->expired;
        if (*next_try == 0 || r->next_try < *next_try)
            *next_try = r->next_try;
    }
    return any && all;
}

/* an address record: local deferrals and a host's 4xx to one RCPT; a
 * host that failed as a whole has host records only */
static int addr_level(const struct dlv_batch *b, const struct dlv_rcpt *r)
{
    return b->tp->drv->deliver_remote == NULL
           || strncmp(r->errtype, "rcpt_", 5) == 0;
}

/* the retry time of an address record (a local retry wait) */
static int addr_wait(struct sched *s, const char *addr, long long *next)
{
    const struct retry_rec *r;
    char key[600];

    sretry_addr_key(key, sizeof(key), addr);
    r = sretry_get(s, key);
    *next = r != NULL ? r->next_try : 0;
    return r != NULL && r->expired;
}

static void defer_one(struct sbatch *sb, struct dlv_rcpt *r)
{
    struct smsg *m = sb->m;
    int waiting = strncmp(r->errtype, "retry_wait", 10) == 0;
    struct retry_rec rec;
    long long next = 0;
    char key[600];
    int expired;

    if (waiting && sb->b.nhosts == 0) {
        expired = addr_wait(m->s, r->address, &next);
    } else if (waiting) {
        expired = hosts_expired(sb, &next);
    } else if (addr_level(&sb->b, r)) {
        sretry_addr_key(key, sizeof(key), r->address);
        sretry_fail(m->s, key, r->address, r->errtype, r->msg, &rec);
        expired = rec.expired;
        next = rec.next_try;
    } else {
        expired = hosts_expired(sb, &next);
    }
    if (next == 0)
        next = (long long)time(NULL) + 15 * 60;
    if (expired) {
        r->status = DLV_FAIL;
        snprintf(r->msg + strlen(r->msg), sizeof(r->msg) - strlen(r->msg),
                 "%sretry timeout exceeded", r->msg[0] ? ": " : "");
        return;
    }
    slog_delivery(m, &sb->b, r);    /* a retry wait too, as Exim logs it:
                                       "defer (-53): retry time not
                                       reached for any host" */
    note_delay(m, r->address, r->top, r->msg, next);
}

/* dups_stay_open - r (journal key key) was deferred: the envelope
 * recipients of its duplicates are not finished either (as in Exim, a
 * duplicate is done when the address it duplicates is) */
static void dups_stay_open(struct smsg *m, const char *key,
                           const struct dlv_rcpt *r)
{
    const char *u = smsg_dup_key(m, key, r->router);
    const struct sprimary *p = hash_get(m->uniq, u, strlen(u));

    for (const struct sdup *d = p ? p->dups : NULL; d != NULL; d = d->next)
        hash_put(m->top_open, d->top, strlen(d->top), m);
}

static void settle(struct sbatch *sb, size_t i)
{
    struct dlv_rcpt *r = &sb->b.rcpts[i];
    const char *key = sb->keys[i];
    struct smsg *m = sb->m;
    const struct dlv_batch *b = &sb->b;
    char rkey[600];

    if (r->status == DLV_PENDING)
        dlv_set(r, DLV_DEFER, 0, NULL, "transport %s gave no result",
                b->tp->name);
    if (r->status == DLV_DEFER)
        defer_one(sb, r);
    if (r->status == DLV_DEFER)
        dups_stay_open(m, key, r);
    if (r->status == DLV_OK) {
        slog_delivery(m, b, r);
        jline(m, 'D', key, r->top, NULL, NULL);
        sretry_addr_key(rkey, sizeof(rkey), r->address);
        sretry_clear(m->s, rkey);
    } else if (r->status == DLV_FAIL) {
        slog_delivery(m, b, r);
        jline(m, 'F', key, r->top, r->msg, sb->errors_to);
        note_fail(m, r->address, r->top, r->msg,
                  r->host >= 0 ? b->hosts[r->host].name : NULL, r->code,
                  r->msg, sb->errors_to);
    }
}

/* settle the recipients of sb in slices; then the batch is over */
static void settle_cb(void *arg)
{
    struct sbatch *sb = arg;
    struct smsg *m = sb->m;
    long long start = sched_clock_ms();

    sb->timer = NULL;
    watchdog_note(WD_MESSAGE, m->id);
    while (sb->settled < sb->b.nrcpt) {
        if (sched_slice_over(start)) {
            sb->timer = ev_timer_add(m->s->ev, 0, settle_cb, sb);
            return;
        }
        settle(sb, sb->settled++);
    }
    journal_or_hold(m, m->running == 1);
    if (--m->running == 0)
        smsg_end(m);
}

/* sres_batch - a batch finished: settle each recipient, then end the
 * attempt if it was the last batch */
void sres_batch(struct sbatch *sb)
{
    if (sb->b.tp->drv->deliver_remote != NULL)
        host_records(sb);
    sb->settled = 0;
    settle_cb(sb);
}
