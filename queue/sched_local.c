/*
 * sched_local.c - local deliveries: which identity each batch runs as,
 *                 and which helper process delivers it.
 *
 * PURPOSE: a local batch (maildir, mbox, pipe, lmtp) runs outside the
 * scheduler, so that a slow mailbox never blocks its loop and so that it
 * can take the recipient's identity. Batches wait in a queue per
 * identity; a helper of that identity (lhelper.h), a process forked once
 * and kept, takes up to LW_BATCH_MAX of them as one job, and a driver
 * with local_group_end (maildir) makes the job's copies durable with one
 * sync. While an identity's helpers are busy its queue grows, so the next
 * job is larger: under load one fork serves thousands of messages and
 * one sync serves many. An identity gets a second helper while its first
 * is busy (LH_PER_ID); at most local_helper_max helpers live at once (an
 * idle one of another identity is retired to make room); a helper left
 * without work for local_helper_idle, or that has served LH_MAX_JOBS
 * jobs, exits. Jobs are handed out in slices of SCHED_SLICE_MS.
 * INTERFACE: slocal_start, slocal_flush, slocal_reopen, slocal_free
 *            (sched_impl.h).
 * SECURITY: when tern runs as root (the scheduler keeps a saved uid of 0)
 * a helper becomes, for good, the transport's user, or the system
 * account of the recipient (check_local_user or local_user routers) for
 * as_recipient drivers, or the tern user: setgroups/initgroups, setgid,
 * setuid, checked. A delivery that would run as uid 0 is deferred (Exim's
 * never_users = root, with no way to lift it), and one with no user to
 * run as (tern_user unset) too: a root tern never delivers as root, and
 * a helper only delivers for the identity it was forked for.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/hash.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/pwcache.h"
#include "queue/sched_impl.h"
#include "queue/lhelper.h"
#include "queue/lwire.h"

#define LH_PER_ID 2             /* helpers of one identity */
#define LH_MAX_JOBS 1000        /* jobs before a helper is replaced */

struct lident;

/* one helper */
struct lslot {
    struct slocal *sl;
    struct lhelper *h;
    struct lident *id;          /* NULL once retired */
    struct ev_timer *idle;
    unsigned jobs;
    unsigned gen;               /* sl->gen when spawned (log reopening) */
};

/* an identity: who its deliveries run as, the batches waiting for one
 * of its helpers, and its helpers */
struct lident {
    char *key;
    struct lh_who w;
    struct sbatch **q;          /* a ring: head, len, cap */
    size_t head, len, cap;
    struct lslot *slots[LH_PER_ID];
    size_t nslots;
    int ready;                  /* in sl->ready */
    struct lident *next_ready;
};

struct slocal {
    struct sched *s;
    struct hash *ids;           /* key -> struct lident */
    struct lident *ready, *ready_tail;  /* identities with batches waiting,
                                           first come first served */
    struct lslot **live;        /* every helper not retired */
    size_t nlive, max;
    long idle_ms;
    struct ev_timer *timer;     /* the next dispatch */
    unsigned gen;
    int closing;                /* sched_flush: retire helpers when idle */
    int privileged;             /* root as a saved uid: helpers switch */
    uid_t euid;                 /* what they run as otherwise */
    gid_t egid;
};

/* ---- identity of a batch ------------------------------------------------ */

static int privileged(void)
{
    uid_t r, e, s;

    return getresuid(&r, &e, &s) == 0 && (r == 0 || e == 0 || s == 0);
}

/* the user a privileged scheduler delivers b as: the transport's user,
 * the recipient's system account (as_recipient drivers, routed by a
 * check_local_user or local_user router), else tern_user. -1 for an
 * unknown user, or none at all (tern_user unset): a root tern never
 * delivers as the user it runs as. */
static int identity(const struct dlv_batch *b, uid_t *uid, gid_t *gid,
                    const char **who)
{
    const struct transport *t = b->tp;
    const struct dlv_rcpt *r = &b->rcpts[0];
    const struct pw_entry *pw;
    int tempfail = 0;

    *who = t->user;
    if (*who == NULL && t->drv->as_recipient && r->router != NULL
        && (r->router->check_local_user
            || strcmp(r->router->drv->name, "local_user") == 0)) {
        const struct pw_entry *e = pw_lookup(r->local_part, &tempfail);
        if (e != NULL) {
            *uid = e->uid;
            *gid = e->gid;
            *who = e->name;
            return 0;
        }
        if (r->router->check_local_user || tempfail) {
            *who = r->local_part;
            return -1;
        }                       /* a virtual user: as tern_user */
    }
    if (*who == NULL)
        *who = b->conf->main.tern_user;
    if (*who == NULL || (*who)[0] == '\0') {
        *who = "(tern_user unset)";
        return -1;
    }
    if ((pw = pw_lookup(*who, &tempfail)) == NULL)
        return -1;
    *uid = pw->uid;
    *gid = pw->gid;
    return 0;
}

static int group_override(const struct transport *t, gid_t *gid)
{
    struct group *gr;

    if (t->group == NULL)
        return 0;
    if ((gr = getgrnam(t->group)) == NULL)
        return -1;
    *gid = gr->gr_gid;
    return 0;
}

/* every recipient in an address retry wait: 1 (then all are deferred) */
static int all_waiting(struct sbatch *sb)
{
    struct sched *s = sb->m->s;
    long long now = time(NULL);
    char key[600];

    if (s->o.force)
        return 0;
    sretry_refresh(s);
    for (size_t i = 0; i < sb->b.nrcpt; i++) {
        const struct retry_rec *r;
        sretry_addr_key(key, sizeof(key), sb->b.rcpts[i].address);
        r = sretry_get(s, key);
        if (r == NULL || r->next_try <= now || r->expired)
            return 0;
    }
    return 1;
}

/* Exim's never_users, fixed to root: the delivery is deferred and the
 * reason logged on a line of its own, as Exim does ("defer (-29)"). No
 * option lifts it: a root tern never runs a pipe or writes a file as 0. */
static int never_root(struct sbatch *sb)
{
    struct dlv_batch *b = &sb->b;

    if (b->uid != 0)
        return 0;
    slog_line(sb->m, "User 0 set for %s transport is on the never_users "
              "list", b->tp->name);
    dlv_set_all(b, DLV_DEFER, 0, "never_users", "User 0 set for %s "
                "transport is on the never_users list", b->tp->name);
    return -1;
}

static struct slocal *state(struct sched *s)
{
    struct slocal *sl = s->local;

    if (sl != NULL)
        return sl;
    sl = s->local = xcalloc(1, sizeof(*sl));
    sl->s = s;
    sl->ids = hash_new(16);
    sl->max = s->conf->main.local_helper_max > 0
              ? (size_t)s->conf->main.local_helper_max : 1;
    sl->idle_ms = s->conf->main.local_helper_idle * 1000;
    sl->live = xcalloc(sl->max, sizeof(*sl->live));
    sl->privileged = privileged();  /* a scheduler keeps its ids */
    sl->euid = geteuid();
    sl->egid = getegid();
    return sl;
}

static int prepare(struct slocal *sl, struct sbatch *sb, struct lh_who *w)
{
    struct dlv_batch *b = &sb->b;

    b->uid = sl->euid;
    b->gid = sl->egid;
    w->who = "";
    w->switch_user = sl->privileged;
    if (w->switch_user
        && (identity(b, &b->uid, &b->gid, &w->who) != 0
            || group_override(b->tp, &b->gid) != 0)) {
        dlv_set_all(b, DLV_DEFER, 0, NULL, "unknown user or group for "
                    "transport %s (%s)", b->tp->name, w->who);
        return -1;
    }
    w->uid = b->uid;
    w->gid = b->gid;
    return w->switch_user ? never_root(sb) : 0;
}

/* ---- identities and their queues --------------------------------------- */

static struct lident *ident_of(struct slocal *sl, const struct lh_who *w)
{
    struct strbuf k;
    struct lident *id;

    sb_init(&k);
    sb_printf(&k, "%d %ld %ld %s", w->switch_user, (long)w->uid,
              (long)w->gid, w->who);
    id = hash_get(sl->ids, sb_str(&k), sb_len(&k));
    if (id == NULL) {
        id = xcalloc(1, sizeof(*id));
        id->key = xstrdup(sb_str(&k));
        id->w = *w;
        id->w.who = xstrdup(w->who);
        hash_put(sl->ids, id->key, strlen(id->key), id);
    }
    sb_free(&k);
    return id;
}

static void free_ident(void *v)
{
    struct lident *id = v;

    free(id->q);
    free((char *)id->w.who);
    free(id->key);
    free(id);
}

static void push(struct lident *id, struct sbatch *sb)
{
    if (id->len == id->cap) {
        size_t cap = id->cap ? id->cap * 2 : 16;
        struct sbatch **q = xreallocarray(NULL, cap, sizeof(*q));
        for (size_t i = 0; i < id->len; i++)
            q[i] = id->q[(id->head + i) % id->cap];
        free(id->q);
        id->q = q;
        id->head = 0;
        id->cap = cap;
    }
    id->q[(id->head + id->len++) % id->cap] = sb;
}

/* up to max batches from the head of the queue */
static size_t take(struct lident *id, struct sbatch **out, size_t max)
{
    size_t n = 0;

    while (n < max && id->len > 0) {
        out[n++] = id->q[id->head];
        id->head = (id->head + 1) % id->cap;
        id->len--;
    }
    return n;
}

static void dispatch_cb(void *arg);

static void dispatch_soon(struct slocal *sl)
{
    if (sl->timer == NULL)
        sl->timer = ev_timer_add(sl->s->ev, 0, dispatch_cb, sl);
}

static void make_ready(struct slocal *sl, struct lident *id)
{
    if (!id->ready) {
        id->ready = 1;
        id->next_ready = NULL;
        if (sl->ready_tail != NULL)
            sl->ready_tail->next_ready = id;
        else
            sl->ready = id;
        sl->ready_tail = id;
    }
    dispatch_soon(sl);
}

/* ---- helpers ------------------------------------------------------------ */

static void live_del(struct slocal *sl, struct lslot *slot)
{
    for (size_t i = 0; i < sl->nlive; i++)
        if (sl->live[i] == slot) {
            sl->live[i] = sl->live[--sl->nlive];
            return;
        }
}

/* no more jobs for it: it exits when done (LH_GONE frees the slot) */
static void retire(struct lslot *slot)
{
    struct lident *id = slot->id;

    if (id == NULL)
        return;
    for (size_t i = 0; i < id->nslots; i++)
        if (id->slots[i] == slot)
            id->slots[i] = id->slots[--id->nslots];
    slot->id = NULL;
    live_del(slot->sl, slot);
    ev_timer_cancel(slot->sl->s->ev, slot->idle);
    slot->idle = NULL;
    lh_retire(slot->h);
}

static void idle_cb(void *arg)
{
    struct lslot *slot = arg;

    slot->idle = NULL;
    retire(slot);
}

static void send_job(struct lslot *slot)
{
    struct sbatch *sbs[LW_BATCH_MAX];
    size_t n = take(slot->id, sbs, LW_BATCH_MAX);

    ev_timer_cancel(slot->sl->s->ev, slot->idle);
    slot->idle = NULL;
    slot->jobs++;
    lh_send(slot->h, sbs, n);
}

/* an identity with no helper and nothing waiting is forgotten (a host
 * may have many users; their helpers come and go) */
static void maybe_drop(struct slocal *sl, struct lident *id)
{
    if (id == NULL || id->nslots > 0 || id->len > 0 || id->ready)
        return;
    hash_del(sl->ids, id->key, strlen(id->key));
    free_ident(id);
}

/* a job is over (LH_IDLE) or the helper has exited (LH_GONE) */
static void event_cb(struct lhelper *h, enum lh_event e, void *arg)
{
    struct lslot *slot = arg;
    struct slocal *sl = slot->sl;
    struct lident *id = slot->id;

    (void)h;
    if (e == LH_GONE) {
        retire(slot);           /* died unasked: no longer one of id's */
        free(slot);
        maybe_drop(sl, id);
    } else if (id == NULL) {
        return;                 /* retired: it exits */
    } else if (slot->jobs >= LH_MAX_JOBS || slot->gen != sl->gen
               || sl->closing) {
        retire(slot);
    } else if (id->len > 0) {
        send_job(slot);         /* what waited meanwhile: a larger job */
    } else if (sl->idle_ms <= 0) {
        retire(slot);
    } else {
        slot->idle = ev_timer_add(sl->s->ev, (uint64_t)sl->idle_ms,
                                  idle_cb, slot);
    }
    if (sl->ready != NULL)
        dispatch_soon(sl);      /* room for those waiting (make_room) */
}

static struct lslot *spawn(struct slocal *sl, struct lident *id)
{
    struct lslot *slot = xcalloc(1, sizeof(*slot));

    slot->sl = sl;
    slot->gen = sl->gen;
    if ((slot->h = lh_spawn(sl->s, &id->w, event_cb, slot)) == NULL) {
        free(slot);
        return NULL;
    }
    slot->id = id;
    id->slots[id->nslots++] = slot;
    sl->live[sl->nlive++] = slot;
    return slot;
}

/* room for one more helper: retire an idle one of another identity if
 * the limit is reached; 0 if every helper is busy */
static int make_room(struct slocal *sl)
{
    if (sl->nlive < sl->max)
        return 1;
    for (size_t i = 0; i < sl->nlive; i++)
        if (!lh_busy(sl->live[i]->h)) {
            retire(sl->live[i]);
            return 1;
        }
    return 0;
}

/* the batches of one job could not get a helper: defer them */
static void spawn_failed(struct lident *id, int err)
{
    struct sbatch *sbs[LW_BATCH_MAX];
    size_t n = take(id, sbs, LW_BATCH_MAX);

    for (size_t k = 0; k < n; k++) {
        dlv_set_all(&sbs[k]->b, DLV_DEFER, 0, NULL, "cannot start a local "
                    "delivery process: %s", strerror(err));
        sres_batch(sbs[k]);
    }
}

/* an idle helper of id, or a new one; NULL when id has all it may have
 * (*full when no helper can be had for anyone until one is free); a
 * helper that cannot be started defers one job's worth of batches */
static struct lslot *helper_for(struct slocal *sl, struct lident *id,
                                int *full)
{
    struct lslot *slot;

    for (size_t i = 0; i < id->nslots; i++)
        if (!lh_busy(id->slots[i]->h))
            return id->slots[i];
    if (id->nslots >= LH_PER_ID)
        return NULL;
    if (!make_room(sl)) {
        *full = 1;
        return NULL;
    }
    if ((slot = spawn(sl, id)) == NULL)
        spawn_failed(id, errno);
    return slot;
}

/* unlink id from the ready list (prev is the one before it, or NULL) */
static void unready(struct slocal *sl, struct lident *prev,
                    struct lident *id)
{
    if (prev != NULL)
        prev->next_ready = id->next_ready;
    else
        sl->ready = id->next_ready;
    if (sl->ready_tail == id)
        sl->ready_tail = prev;
    id->ready = 0;
    id->next_ready = NULL;
}

/* one identity: jobs to its helpers while it has batches and helpers;
 * 1 when every helper is busy and no more may start */
static int serve(struct slocal *sl, struct lident *id)
{
    int full = 0;

    while (id->len > 0 && !full) {
        size_t had = id->len;
        struct lslot *slot = helper_for(sl, id, &full);
        if (slot != NULL)
            send_job(slot);
        else if (id->len == had)
            break;              /* busy, or no room: wait for an event */
    }
    return full;
}

/* hand the waiting batches to helpers, identity by identity, in slices;
 * an identity whose helpers are all busy keeps its place. Once no helper
 * can be started (every one busy, local_helper_max reached), only the
 * identities that have helpers of their own are looked at: one of them
 * may be idle; the others wait for an event_cb to call again. */
static void dispatch_cb(void *arg)
{
    struct slocal *sl = arg;
    long long start = sched_clock_ms();
    struct lident *prev = NULL, *id = sl->ready, *next;
    int full = 0;

    sl->timer = NULL;
    for (; id != NULL; id = next) {
        if (!full || id->nslots > 0)
            full |= serve(sl, id);
        next = id->next_ready;
        if (id->len == 0) {
            unready(sl, prev, id);
            maybe_drop(sl, id);
        } else {
            prev = id;
        }
        if (sched_slice_over(start)) {
            dispatch_soon(sl);
            return;
        }
    }
}

/* ---- the interface ------------------------------------------------------ */

/* slocal_start - queue a local batch for a helper of its identity;
 * sres_batch when done */
void slocal_start(struct sbatch *sb)
{
    struct slocal *sl;
    struct lident *id;
    struct lh_who w;

    if (all_waiting(sb)) {
        dlv_set_all(&sb->b, DLV_DEFER, 0, "retry_wait_addr",
                    "Retry time not yet reached");
        sres_batch(sb);
        return;
    }
    sl = state(sb->m->s);
    if (prepare(sl, sb, &w) != 0) {
        sres_batch(sb);
        return;
    }
    id = ident_of(sl, &w);
    push(id, sb);
    make_ready(sl, id);
}

/* retire every idle helper; busy ones when their job is over */
static void retire_idle(struct slocal *sl)
{
    for (size_t i = 0; i < sl->nlive; )
        if (!lh_busy(sl->live[i]->h))
            retire(sl->live[i]);        /* takes it out of live[] */
        else
            i++;
}

/* slocal_flush - the scheduler is stopping: no helper is kept */
void slocal_flush(struct sched *s)
{
    if (s->local == NULL)
        return;
    s->local->closing = 1;
    retire_idle(s->local);
}

/* slocal_reopen - the logs were reopened: helpers started before hold
 * the old files, so they are replaced (idle ones now, busy ones after
 * their job) */
void slocal_reopen(struct sched *s)
{
    if (s->local == NULL)
        return;
    s->local->gen++;
    retire_idle(s->local);
}

/* slocal_free - forget helpers and queues (nothing may be in delivery):
 * the helpers exit when they see their sockets close */
void slocal_free(struct sched *s)
{
    struct slocal *sl = s->local;

    if (sl != NULL) {
        sl->ready = sl->ready_tail = NULL;
        for (size_t i = 0; i < sl->nlive; i++) {
            ev_timer_cancel(s->ev, sl->live[i]->idle);
            sl->live[i]->idle = NULL;
        }
    }
    lh_free_all(s);             /* LH_GONE for each: their slots go */
    if (sl == NULL)
        return;
    ev_timer_cancel(s->ev, sl->timer);
    hash_free(sl->ids, free_ident);
    free(sl->live);
    free(sl);
    s->local = NULL;
}
