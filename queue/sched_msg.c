/*
 * sched_msg.c - one delivery attempt of one message: lock it, read it and
 *               its journal, route the pending recipients, group the
 *               accepted addresses into batches and start them.
 *
 * PURPOSE: the journal says what earlier attempts settled: "D\tADDR\tTOP"
 * delivered, "F\tADDR\tTOP\tWHY" failed, "T\tTOP" an envelope recipient
 * finished, "B" the failures so far were bounced, "Z\t1"/"Z\t0" frozen or
 * thawed, "W" a delay warning went out. Recipients it settled are not
 * delivered again. A final address is delivered once per message, as in
 * Exim: one that routes to the same place as one already batched (100
 * identical RCPTs, alice and Alice@DOMAIN, two aliases of alice) is a
 * duplicate, not delivered; it follows the first one's outcome. A
 * message -Mg gives up (sched_opts.give_up) is not routed: every
 * envelope recipient not finished fails, "delivery cancelled by
 * administrator" (give_up).
 * SECURITY: the spool lock (flock) keeps two processes (the daemon's
 * scheduler, tern -q, tern -M) from delivering one message at once. A
 * message locked by another process is tried again LOCKED_RETRY seconds
 * later by the daemon's scheduler (a one-shot one forgets it): the holder
 * may be a local delivery child orphaned by a killed scheduler, whose
 * outcome nobody journals. Local children keep only their own message's
 * lock (smsg_close_locks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/hash.h"
#include "core/base/log.h"
#include "core/base/pool.h"
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/hints/poisondb.h"
#include "core/net/dns.h"
#include "core/mail/expand.h"
#include "core/mail/logfile.h"
#include "route/route.h"
#include "queue/queue_impl.h"
#include "queue/sched_impl.h"

/* seconds before a message locked by another process is tried again */
#define LOCKED_RETRY 5

/* smsg_age - seconds since the message was received */
long long smsg_age(const struct smsg *m)
{
    return (long long)time(NULL) - m->msg.env.received_sec;
}

/* the lock is held: link m into s->locked */
static void locked(struct smsg *m)
{
    m->lprev = NULL;
    m->lnext = m->s->locked;
    if (m->lnext != NULL)
        m->lnext->lprev = m;
    m->s->locked = m;
}

static void unlock(struct smsg *m)
{
    if (m->lockfd < 0)
        return;
    (void)close(m->lockfd);
    m->lockfd = -1;
    if (m->lprev != NULL)
        m->lprev->lnext = m->lnext;
    else
        m->s->locked = m->lnext;
    if (m->lnext != NULL)
        m->lnext->lprev = m->lprev;
}

/* smsg_close_locks - in a local delivery child: close the lock
 * descriptors of every message but those of its own batches (keep). A flock belongs to the open
 * file, so a child would otherwise hold the locks of every message in
 * delivery when it forked for as long as it runs (a slow pipe: up to its
 * timeout), and those messages could not be tried again meanwhile. The
 * child keeps its own messages' locks: if the scheduler is killed, no new
 * one delivers them while the child may still be delivering. */
void smsg_close_locks(struct sched *s, struct sbatch *const *keep, size_t n)
{
    for (struct smsg *m = s->locked; m != NULL; m = m->lnext) {
        size_t k = 0;
        while (k < n && keep[k]->m != m)
            k++;
        if (k == n)
            (void)close(m->lockfd);
    }
}

/* smsg_free - release an attempt (unlocks the message) */
void smsg_free(struct smsg *m)
{
    for (struct sbatch *b = m->batches, *n; b != NULL; b = n) {
        n = b->next;
        ev_timer_cancel(m->s->ev, b->timer);
        free(b->b.rcpts);
        free(b->b.hostres);
        free(b->keys);
        free(b->skip);
        free(b);
    }
    for (size_t i = 0; i < m->ntops; i++)
        route_top_release(m->tops[i]);
    route_run_free(m->rr);
    dns_cache_free(m->cache);
    ev_timer_cancel(m->s->ev, m->timer);
    hash_free(m->done, NULL);
    hash_free(m->uniq, NULL);
    hash_free(m->tops_done, NULL);
    hash_free(m->top_open, NULL);
    hash_free(m->groups, NULL);
    free(m->leaves);
    spool_msg_free(&m->msg);
    unlock(m);
    free(m->tops);
    free(m->fails);
    free(m->fail_to);
    free(m->delays);
    free(m->jl);
    pool_free(m->pool);
    free(m);
}

/* smsg_abandon - end the attempt: free it, tell the queue */
void smsg_abandon(struct smsg *m, long long next_try)
{
    struct sched *s = m->s;
    struct sq *q = m->q;

    smsg_free(m);
    sched_msg_done(s, q, next_try);
}

/* lock and read the message: 0, -1, or 1 when another process holds
 * the lock (a tern -q or -M, or the local delivery child of a scheduler
 * that was killed: it may still be delivering) */
static int lock_and_read(struct smsg *m)
{
    struct errbuf eb;

    if ((m->lockfd = spool_lock(m->s->sp, m->id, &eb)) < 0) {
        if (errno == EWOULDBLOCK)
            return 1;
        if (errno != ENOENT)
            log_panic("%s", eb.msg);
        return -1;
    }
    locked(m);
    if (spool_read_fd(m->lockfd, m->id, &m->msg, &eb) == 0)
        return 0;
    if (errno == EBADMSG) {
        log_panic("%s: moved to corrupt/", eb.msg);
        if (spool_quarantine(m->s->sp, m->id, &eb) != 0)
            log_panic("%s", eb.msg);
    } else {
        log_panic("%s", eb.msg);
    }
    return -1;
}

static void add_fail(struct smsg *m, const char *addr, const char *top,
                     const char *why, const char *to)
{
    struct bounce_rcpt *f;
    size_t cap = m->fails_cap;

    m->fails = sched_grow(m->fails, m->nfails, &cap, sizeof(*m->fails));
    m->fail_to = sched_grow(m->fail_to, m->nfails, &m->fails_cap,
                            sizeof(*m->fail_to));
    m->fail_to[m->nfails] = to != NULL && to[0] != '\0'
                            ? pool_strdup(m->pool, to) : m->msg.env.sender;
    f = &m->fails[m->nfails++];
    memset(f, 0, sizeof(*f));
    f->address = pool_strdup(m->pool, addr);
    f->top = strcmp(addr, top) != 0 ? pool_strdup(m->pool, top) : NULL;
    f->reason = pool_strdup(m->pool, why);
}

/* one journal line: fields split on tabs (in place) */
static void journal_line(struct smsg *m, char *line)
{
    char *f[5] = { NULL, NULL, NULL, NULL, NULL };
    size_t n = 0;

    for (char *p = line; n < 5; ) {
        f[n++] = p;
        if ((p = strchr(p, '\t')) == NULL)
            break;
        *p++ = '\0';
    }
    if ((f[0][0] == 'D' || f[0][0] == 'F') && n >= 3) {
        const char *u = smsg_unique(m, f[1]);
        hash_put(m->done, u, strlen(u), m);
        if (f[0][0] == 'F')
            add_fail(m, f[1], f[2], n >= 4 ? f[3] : "failed", f[4]);
    } else if (f[0][0] == 'T' && n == 2) {
        hash_put(m->tops_done, f[1], strlen(f[1]), m);
    } else if (f[0][0] == 'B') {
        m->nfails = 0;
    } else if (f[0][0] == 'Z' && n == 2) {
        m->frozen = f[1][0] == '1';
    } else if (f[0][0] == 'W') {
        m->warnings++;
    }
}

static int read_journal(struct smsg *m)
{
    char **lines;
    size_t n;
    struct errbuf eb;

    m->frozen = m->msg.env.frozen;
    if (spool_journal_read(m->s->sp, m->id, &lines, &n, &eb) != 0) {
        log_panic("%s journal: %s", m->id, eb.msg);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        journal_line(m, lines[i]);
        free(lines[i]);
    }
    free(lines);
    return 0;
}

static void route_all(struct smsg *m);
static void give_up(struct smsg *m);

/* a frozen message, in Exim's order: past timeout_frozen_after it is
 * cancelled (what is left fails, -qff or not); a bounce past
 * ignore_bounce_errors_after is tried once more (a failure then drops
 * it); a forced delivery (-qff, -M) thaws it; else it stays frozen (1) */
static int stay_frozen(struct smsg *m)
{
    const struct conf_main *mc = &m->s->conf->main;
    const char *thaw = "Z\t0";

    if (mc->timeout_frozen_after > 0
        && smsg_age(m) >= mc->timeout_frozen_after) {
        slog_line(m, "cancelled by timeout_frozen_after");
        m->cancelled = 1;       /* what is left fails */
        m->frozen = 0;
        return 0;
    }
    if (m->msg.env.sender[0] == '\0' && mc->ignore_bounce_errors_after > 0
        && smsg_age(m) >= mc->ignore_bounce_errors_after)
        slog_line(m, "Unfrozen by errmsg timer");
    else if (m->s->o.thaw)
        slog_line(m, "Unfrozen by forced delivery");
    else
        return 1;
    sres_journal(m, &thaw, 1);  /* a deferral must not leave it frozen */
    m->frozen = 0;
    return 0;
}

/* the daemon's scheduler died over this message POISON_STRIKES times (a
 * crash, or killed for a stall): freeze it, unless -qff / -M force it */
static int poisoned(struct smsg *m)
{
    int n = sched_strikes(m->s, m->id);
    const char *line = "Z\t1";

    if (n < POISON_STRIKES || m->s->o.thaw)
        return 0;
    sres_journal(m, &line, 1);
    slog_line(m, "Frozen (the scheduler died %d times while delivering it)",
              n);
    return 1;
}

/* to_give_up - is id one of -Mg's messages */
static int to_give_up(const struct sched *s, const char *id)
{
    for (int i = 0; i < s->o.ngive_up; i++)
        if (strcmp(s->o.give_up[i], id) == 0)
            return 1;
    return 0;
}

/* smsg_start - begin the attempt of q */
void smsg_start(struct sched *s, struct sq *q)
{
    struct smsg *m = xcalloc(1, sizeof(*m));
    int rc;

    m->s = s;
    m->q = q;
    memcpy(m->id, q->id, sizeof(m->id));
    watchdog_note(WD_MESSAGE, m->id);   /* routing notes it again */
    m->lockfd = -1;
    m->pool = pool_new();
    m->done = hash_new(16);
    m->uniq = hash_new(16);
    m->tops_done = hash_new(16);
    m->top_open = hash_new(16);
    m->groups = hash_new(16);
    if ((rc = lock_and_read(m)) != 0 || read_journal(m) != 0) {
        /* locked: try again soon (the daemon's scheduler; a one-shot
         * one leaves it to the process that holds it) */
        smsg_abandon(m, rc > 0 ? (long long)time(NULL) + LOCKED_RETRY : 0);
        return;
    }
    if (m->frozen ? stay_frozen(m) : poisoned(m)) {
        smsg_abandon(m, SCHED_FROZEN);
        return;
    }
    if (to_give_up(s, m->id))
        give_up(m);
    else
        route_all(m);
}

/* ---- routing ------------------------------------------------------------ */

static void step_cb(void *arg);

static void wake(void *arg)
{
    struct smsg *m = arg;

    if (m->timer == NULL)
        m->timer = ev_timer_add(m->s->ev, 0, step_cb, m);
}

static void top_done(struct route_top *top, void *arg)
{
    (void)top;
    ((struct smsg *)arg)->tops_routing--;
}

static void dispatch(struct smsg *m);

static void step_cb(void *arg)
{
    struct smsg *m = arg;

    m->timer = NULL;
    route_step(m->rr);
    if (m->tops_routing == 0)
        dispatch(m);
}

/* route every envelope recipient not finished; one given several times
 * (RCPT TO:<a> twice) is routed once: its copies share its outcome */
static void route_all(struct smsg *m)
{
    const struct spool_env *e = &m->msg.env;
    struct hash *seen = hash_new(e->nrcpt + 1);

    m->tops = xcalloc(e->nrcpt + 1, sizeof(*m->tops));
    m->cache = dns_cache_new(m->s->dns);
    m->rr = route_run_new(m->s->conf, m->cache, e->sender, e->client_ip, 0);
    route_set_wakeup(m->rr, wake, m);
    for (size_t i = 0; i < e->nrcpt; i++) {
        const char *r = e->rcpts[i];
        if (hash_get(m->tops_done, r, strlen(r)) != NULL
            || hash_put(seen, r, strlen(r), m) != NULL)
            continue;
        m->tops_routing++;
        m->tops[m->ntops++] = route_add(m->rr, r, top_done, m);
    }
    hash_free(seen, NULL);
    wake(m);
}

static void give_up_cb(void *arg)
{
    struct smsg *m = arg;

    m->timer = NULL;
    dispatch(m);                /* nothing routed: straight to the end */
}

/* give_up - -Mg, as Exim's RECIP_FAIL: every envelope recipient not
 * finished fails unrouted, "delivery cancelled by administrator"; the
 * end of the attempt bounces them (a bounce's own are discarded) */
static void give_up(struct smsg *m)
{
    const struct spool_env *e = &m->msg.env;
    struct hash *seen = hash_new(e->nrcpt + 1);

    slog_line(m, "cancelled by %s", queue_caller());
    m->cancelled = m->given_up = 1;
    for (size_t i = 0; i < e->nrcpt; i++) {
        const char *r = e->rcpts[i], *u = smsg_unique(m, r);
        struct sres_who who = { r, r, r };
        if (hash_get(m->tops_done, r, strlen(r)) != NULL
            || hash_get(m->done, u, strlen(u)) != NULL
            || hash_put(seen, r, strlen(r), m) != NULL)
            continue;
        sres_route_fail(m, &who, NULL, "delivery cancelled by "
                        "administrator", NULL);
    }
    hash_free(seen, NULL);
    m->timer = ev_timer_add(m->s->ev, 0, give_up_cb, m);
}

/* ---- batching ----------------------------------------------------------- */

struct walk {
    struct smsg *m;
    const char *top;
};

static const char *addr_key(struct smsg *m, const struct raddr *a)
{
    if (a->kind == CHILD_ADDRESS || a->parent == NULL)
        return a->address;
    return pool_printf(m->pool, "%s %s", a->parent->address, a->address);
}

/* smsg_unique - what makes two final addresses one delivery: the journal
 * key (addr_key) with ASCII letters in lower case, since domains are
 * caseless and local parts are compared caselessly, as Exim does without
 * caseful_local_part. A pipe or file key ("parent |command") contains a
 * blank and is kept as it is: commands and paths are caseful, and the
 * same one from two parents is two deliveries (Exim's rule). */
const char *smsg_unique(struct smsg *m, const char *key)
{
    char *u;

    if (strchr(key, ' ') != NULL)
        return key;
    u = pool_strdup(m->pool, key);
    for (char *p = u; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return u;
}

/* smsg_dup_key - the key of m->uniq: smsg_unique and the router that
 * accepted the address, so the copy an unseen router lets go on is not a
 * duplicate (Exim's rule, and -bt's: bt_print.c) */
const char *smsg_dup_key(struct smsg *m, const char *key,
                         const struct router *r)
{
    return pool_printf(m->pool, "%s\n%s", smsg_unique(m, key),
                       r != NULL ? r->name : "");
}

/* is_duplicate - 1 if a final address like a (journal key key) was
 * batched already in this attempt (top is then one of its duplicates),
 * else 0 and it is recorded as batched */
static int is_duplicate(struct smsg *m, const struct raddr *a,
                        const char *key, const char *top)
{
    const char *u = smsg_dup_key(m, key, a->router);
    struct sprimary *p = hash_get(m->uniq, u, strlen(u));
    struct sdup *d;

    if (p == NULL) {
        p = pool_alloc(m->pool, sizeof(*p));
        p->dups = NULL;
        hash_put(m->uniq, u, strlen(u), p);
        return 0;
    }
    d = pool_alloc(m->pool, sizeof(*d));
    d->top = top;
    d->next = p->dups;
    p->dups = d;
    log_debug(DBG_ROUTE, "%s is a duplicate address: discarded",
              a->address);
    return 1;
}

/* smsg_errors_to - where a's bounces go: the errors_to of the router
 * that accepted it or of the nearest redirecting router that has one
 * (a string with variables); NULL for the envelope sender */
const char *smsg_errors_to(struct smsg *m, const struct raddr *a)
{
    struct errbuf eb;
    struct xvars v;
    const char *out;

    for (; a != NULL; a = a->parent) {
        const struct router *r = a->router ? a->router : a->redirected_by;
        if (r == NULL || r->errors_to.str == NULL)
            continue;
        memset(&v, 0, sizeof(v));
        v.local_part = a->local_part;
        v.domain = a->domain;
        v.address = a->address;
        v.sender_address = m->msg.env.sender;
        v.primary_hostname = m->s->conf->main.primary_hostname;
        v.qualify_domain = m->s->conf->main.qualify_domain;
        if (expand_string(r->errors_to.str, &v, m->pool, &out, &eb) != 0) {
            log_panic("%s: errors_to of router %s: %s", m->id, r->name,
                      eb.msg);
            return NULL;
        }
        return out[0] != '\0' ? out : NULL;
    }
    return NULL;
}

static const char *group_key(struct smsg *m, const struct raddr *a,
                             const char *key, const char *errors_to)
{
    struct strbuf sb;
    const char *g;

    sb_init(&sb);
    sb_printf(&sb, "%s\n%s\n", a->transport->name,
              errors_to ? errors_to : "");
    if (a->transport->drv->local && a->transport->drv->as_recipient)
        sb_printf(&sb, "%s\n", key);
    for (size_t i = 0; i < a->nhosts; i++)
        sb_printf(&sb, "%s/%s/%d ", a->hosts[i].name,
                  a->hosts[i].ip ? a->hosts[i].ip : "", a->hosts[i].port);
    g = pool_strdup(m->pool, sb_str(&sb));
    sb_free(&sb);
    return g;
}

static struct sbatch *batch_for(struct smsg *m, const struct raddr *a,
                                const char *key)
{
    const char *et = smsg_errors_to(m, a);
    const char *g = group_key(m, a, key, et);
    struct sbatch *sb = hash_get(m->groups, g, strlen(g));

    if (sb != NULL)
        return sb;
    sb = xcalloc(1, sizeof(*sb));
    hash_put(m->groups, g, strlen(g), sb);
    sb->m = m;
    sb->group = g;
    sb->b.conf = m->s->conf;
    sb->b.tp = a->transport;
    sb->b.msg = &m->msg;
    sb->errors_to = et;
    sb->b.return_path = et != NULL ? et : m->msg.env.sender;
    sb->b.nhosts = a->nhosts;
    sb->b.hosts = a->hosts;
    sb->b.priv = sb;
    sb->next = m->batches;
    m->batches = sb;
    return sb;
}

static const char *strip_affixes(struct smsg *m, const struct raddr *a)
{
    const char *lp = a->local_part;
    size_t n = strlen(lp), pre = a->prefix ? strlen(a->prefix) : 0,
           suf = a->suffix ? strlen(a->suffix) : 0;

    if (pre + suf > n)
        return lp;
    return pool_strndup(m->pool, lp + pre, n - pre - suf);
}

static void fill_rcpt(struct smsg *m, struct dlv_rcpt *r,
                      const struct raddr *a, const char *top)
{
    const struct raddr *who = a->kind == CHILD_ADDRESS || a->parent == NULL
                              ? a : a->parent;

    memset(r, 0, sizeof(*r));
    r->address = a->address;
    r->top = top;
    r->local_part = strip_affixes(m, who);
    r->domain = who->domain;
    r->prefix = who->prefix;
    r->suffix = who->suffix;
    r->home = a->home ? a->home : who->home ? who->home : "";
    r->address_data = a->address_data ? a->address_data : "";
    r->kind = a->kind;
    r->text = a->kind == CHILD_ADDRESS ? NULL : a->address;
    r->router = a->router;
    r->host = -1;
}

static void add_to_batch(struct smsg *m, const struct raddr *a,
                         const char *top, const char *key)
{
    struct sbatch *sb = batch_for(m, a, key);
    struct dlv_batch *b = &sb->b;
    size_t cap = sb->cap;

    b->rcpts = sched_grow(b->rcpts, b->nrcpt, &cap, sizeof(*b->rcpts));
    sb->keys = sched_grow(sb->keys, b->nrcpt, &sb->cap, sizeof(*sb->keys));
    sb->keys[b->nrcpt] = key;
    fill_rcpt(m, &b->rcpts[b->nrcpt++], a, top);
}

static void walk_cb(struct raddr *a, void *arg)
{
    struct walk *w = arg;
    struct smsg *m = w->m;
    const char *rname = a->router ? a->router->name : "";
    struct sres_who who = { addr_key(m, a), a->address, w->top };
    const char *u = smsg_unique(m, who.key);

    if (hash_get(m->done, u, strlen(u)) != NULL)
        return;
    if (m->cancelled) {
        sres_route_fail(m, &who, NULL, "message frozen too long "
                        "(timeout_frozen_after)", NULL);
        return;
    }
    switch (a->state) {
    case RA_ACCEPTED:
        if (is_duplicate(m, a, who.key, w->top))
            break;
        if (m->s->o.dont_deliver)
            sres_suppress(m, &who, rname, a->transport->name);
        else
            add_to_batch(m, a, w->top, who.key);
        break;
    case RA_FAILED:
        sres_route_fail(m, &who, rname, a->message ? a->message
                        : "Unrouteable address", smsg_errors_to(m, a));
        break;
    case RA_DISCARDED:
        sres_discard(m, &who, rname);
        break;
    default:
        sres_route_defer(m, &who, a->domain, rname,
                         a->message ? a->message : "routing deferred");
        break;
    }
}

static void start_batch(struct sbatch *sb);

static void collect_cb(struct raddr *a, void *arg)
{
    struct walk *w = arg;
    struct smsg *m = w->m;

    if ((m->nleaves & (m->nleaves - 1)) == 0)       /* 0, 1, 2, 4, ... */
        m->leaves = xreallocarray(m->leaves, m->nleaves ? m->nleaves * 2
                                  : 1, sizeof(*m->leaves));
    m->leaves[m->nleaves++] = (struct sleaf){ a, w->top };
}

/* One slice of the outcomes of routing, then one of starting batches;
 * 1 when everything is done. */
static int dispatch_slice(struct smsg *m)
{
    long long start = sched_clock_ms();

    while (m->next_leaf < m->nleaves) {
        struct walk w = { m, m->leaves[m->next_leaf].top };
        if (sched_slice_over(start))
            return 0;
        walk_cb(m->leaves[m->next_leaf++].a, &w);
    }
    if (!m->walked) {
        m->walked = 1;
        m->next_batch = m->batches;
    }
    while (m->next_batch != NULL) {
        struct sbatch *sb = m->next_batch;
        if (sched_slice_over(start))
            return 0;
        m->next_batch = sb->next;
        m->running++;
        start_batch(sb);
    }
    return 1;
}

static void dispatch_cb(void *arg)
{
    struct smsg *m = arg;

    m->timer = NULL;
    watchdog_note(WD_MESSAGE, m->id);
    if (!dispatch_slice(m)) {
        m->timer = ev_timer_add(m->s->ev, 0, dispatch_cb, m);
        return;
    }
    if (--m->running == 0)      /* dispatching is over */
        smsg_end(m);
}

/* every address is routed: log and journal the outcomes, group the
 * deliveries into batches and start them, in slices */
static void dispatch(struct smsg *m)
{
    struct walk w = { m, NULL };

    m->running = 1;             /* dispatching, until its last slice */
    for (size_t i = 0; i < m->ntops; i++) {
        w.top = route_top_addr(m->tops[i])->address;
        route_walk(m->tops[i], collect_cb, &w);
    }
    dispatch_cb(m);
}

/* ---- starting batches --------------------------------------------------- */

static void remote_done(struct dlv_batch *b, void *arg)
{
    (void)b;
    watchdog_note(WD_MESSAGE, ((struct sbatch *)arg)->m->id);
    sres_batch(arg);
}

/* hosts in a retry wait are skipped; 1 if every host is */
static int mark_skips(struct sbatch *sb)
{
    struct dlv_batch *b = &sb->b;
    long long now = time(NULL);
    size_t waiting = 0;
    char key[600];

    sb->skip = xcalloc(b->nhosts + 1, 1);
    b->host_skip = sb->skip;
    if (b->tp->drv->default_port != NULL)
        b->default_port = b->tp->drv->default_port(b->tp);
    if (sb->m->s->o.force)
        return 0;
    sretry_refresh(sb->m->s);
    for (size_t i = 0; i < b->nhosts; i++) {
        const struct retry_rec *r;
        sretry_host_key(key, sizeof(key), b, i);
        r = sretry_get(sb->m->s, key);
        if (r != NULL && r->next_try > now && !r->expired) {
            sb->skip[i] = 1;
            waiting++;
        }
    }
    return b->nhosts > 0 && waiting == b->nhosts;
}

static void start_batch(struct sbatch *sb)
{
    struct dlv_batch *b = &sb->b;
    const struct transport_driver *d = b->tp->drv;

    if (d->deliver_remote != NULL) {
        if (mark_skips(sb)) {
            dlv_set_all(b, DLV_DEFER, 0, "retry_wait",
                        "retry time not reached for any host");
            sres_batch(sb);
            return;
        }
        d->deliver_remote(b->tp, b, sb->m->s->ev, remote_done, sb);
    } else if (d->deliver_local != NULL) {
        slocal_start(sb);
    } else {
        dlv_set_all(b, DLV_DEFER, 0, NULL, "transport %s cannot deliver",
                    b->tp->name);
        sres_batch(sb);
    }
}
