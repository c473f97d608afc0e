/*
 * sched_local.c - local deliveries in short-lived child processes.
 *
 * PURPOSE: a local batch (maildir, mbox, pipe, lmtp) runs in a child so
 * that a slow or stuck mailbox never blocks the scheduler's loop, and so
 * that the child can take the recipient's identity. The child calls the
 * driver's deliver_local and writes one result line per recipient to a
 * pipe ("BATCH INDEX STATUS CODE ERRTYPE\tMESSAGE\n"); the parent reads
 * them on its loop. The local batches started in one loop turn that share
 * a transport and an identity go to one child (up to LGROUP_MAX), which
 * delivers them one after the other: under load a fork serves many
 * messages. A child that dies without a result defers the recipients.
 * The children are forked in slices of SCHED_SLICE_MS: a 100,000-address
 * alias to local mailboxes never keeps the scheduler's loop waiting.
 * SECURITY: when tern runs as root (the scheduler keeps a saved uid of 0)
 * the child becomes, for good, the transport's user, or the system
 * account of the recipient (check_local_user or local_user routers) for
 * as_recipient drivers, or the
 * tern user: setgroups/initgroups, setgid, setuid, checked. A delivery
 * that would run as uid 0 is deferred (Exim's never_users = root, with no
 * way to lift it), and one with no user to run as (tern_user unset) too:
 * a root tern never delivers as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/pwcache.h"
#include "queue/sched_impl.h"

#define LGROUP_MAX 32           /* batches one child delivers */

/* one child delivering a group of batches one after the other */
struct lchild {
    struct sbatch *sbs[LGROUP_MAX];
    size_t n;
    pid_t pid;
    int fd;
    struct strbuf out;
};

/* a batch started in this loop turn, waiting for its group */
struct lwait {
    struct sbatch *sb;
    int switch_user;
    const char *who;
};

/* The batches started in one loop turn (a scheduler per process, like the
 * connection cache of the smtp transport): at the end of the turn those
 * with the same transport and identity go to one child, so a burst of
 * messages costs a fork per LGROUP_MAX batches, not one per message. */
static struct {
    struct lwait *w;
    size_t n, cap;
    size_t next;                /* the first one not handed to a child */
    struct ev *ev;
    struct ev_timer *timer;
} pend;

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

/* in the child: become uid/gid for good */
static int become(uid_t uid, gid_t gid, const char *who)
{
    if (geteuid() != 0 && seteuid(0) != 0)
        return -1;
    if (initgroups(who, gid) != 0 && setgroups(1, &gid) != 0)
        return -1;
    if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        return -1;
    return getuid() == uid && geteuid() == uid ? 0 : -1;
}

static void write_results(int fd, size_t k, const struct dlv_batch *b)
{
    struct strbuf sb;

    sb_init(&sb);
    for (size_t i = 0; i < b->nrcpt; i++) {
        const struct dlv_rcpt *r = &b->rcpts[i];
        sb_printf(&sb, "%zu %zu %d %d %s\t%s\n", k, i, (int)r->status, r->code,
                  r->errtype[0] ? r->errtype : "-", r->msg);
    }
    (void)!write(fd, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
}

/* in the child: deliver every batch of the group (all share a transport);
 * a driver with local_group_end syncs once for the group, and results
 * are written only after that, else each batch's as soon as it is done */
static void deliver_group(struct lchild *lc, int fd, int err, const char *who)
{
    const struct transport_driver *d = lc->sbs[0]->b.tp->drv;
    int grouped = d->local_group_end != NULL && err == 0;

    for (size_t k = 0; k < lc->n; k++) {
        struct dlv_batch *b = &lc->sbs[k]->b;
        b->group_sync = grouped;
        if (err > 0)
            dlv_set_all(b, DLV_DEFER, 0, NULL, "cannot switch to user %s "
                        "(uid %ld): %s", who, (long)b->uid, strerror(err));
        else if (err < 0)
            dlv_set_all(b, DLV_DEFER, 0, NULL, "chdir /: %s",
                        strerror(-err));
        else
            d->deliver_local(b->tp, b);
        if (!grouped)
            write_results(fd, k, b);
    }
    if (!grouped)
        return;
    d->local_group_end();
    for (size_t k = 0; k < lc->n; k++)
        write_results(fd, k, &lc->sbs[k]->b);
}

static void __attribute__((noreturn)) child(struct lchild *lc, int fd,
                                            int switch_user, const char *who)
{
    struct dlv_batch *b0 = &lc->sbs[0]->b;
    sigset_t none;
    int err = 0;

    smsg_close_locks(lc->sbs[0]->m->s, lc->sbs, lc->n);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (switch_user && become(b0->uid, b0->gid, who) != 0)
        err = errno ? errno : EPERM;
    else if (chdir("/") != 0)
        err = -(errno ? errno : EIO);
    deliver_group(lc, fd, err, who);
    _exit(0);
}

/* "K INDEX STATUS CODE ERRTYPE\tMESSAGE": one recipient of batch K */
static void parse_line(struct lchild *lc, char *p)
{
    char *tab = strchr(p, '\t'), errtype[DLV_ERR_MAX];
    struct dlv_batch *b;
    size_t k, idx;
    int st, code;

    if (tab == NULL)
        return;
    *tab = '\0';
    if (sscanf(p, "%zu %zu %d %d %31s", &k, &idx, &st, &code, errtype) != 5
        || k >= lc->n)
        return;
    b = &lc->sbs[k]->b;
    if (idx >= b->nrcpt || st < DLV_OK || st > DLV_FAIL)
        return;
    dlv_set(&b->rcpts[idx], (enum dlv_status)st, code,
            strcmp(errtype, "-") ? errtype : NULL, "%s", tab + 1);
}

static void parse_results(struct lchild *lc)
{
    char *p = lc->out.data, *nl;

    for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        parse_line(lc, p);
    }
}

static void child_done(struct lchild *lc)
{
    int status = 0;

    while (waitpid(lc->pid, &status, 0) < 0 && errno == EINTR)
        ;
    parse_results(lc);
    for (size_t k = 0; k < lc->n; k++) {
        if (WIFSIGNALED(status))
            dlv_set_all(&lc->sbs[k]->b, DLV_DEFER, 0, NULL, "local delivery "
                        "process killed by signal %d", WTERMSIG(status));
        else
            dlv_set_all(&lc->sbs[k]->b, DLV_DEFER, 0, NULL, "local delivery "
                        "process exited with status %d", WEXITSTATUS(status));
    }
    sb_free(&lc->out);
    for (size_t k = 0; k < lc->n; k++) {
        watchdog_note(WD_MESSAGE, lc->sbs[k]->m->id);
        sres_batch(lc->sbs[k]);
    }
    free(lc);
}

static void read_cb(int fd, unsigned events, void *arg)
{
    struct lchild *lc = arg;
    char buf[8192];
    ssize_t n;

    (void)events;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (lc->out.len < 4 << 20)
            sb_append(&lc->out, buf, (size_t)n);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    ev_io_del(lc->sbs[0]->m->s->ev, fd);
    (void)close(fd);
    child_done(lc);
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

static int prepare(struct sbatch *sb, int *switch_user, const char **who)
{
    struct dlv_batch *b = &sb->b;

    b->uid = geteuid();
    b->gid = getegid();
    *who = "";
    *switch_user = privileged();
    if (!*switch_user)
        return 0;
    if (identity(b, &b->uid, &b->gid, who) != 0
        || group_override(b->tp, &b->gid) != 0) {
        dlv_set_all(b, DLV_DEFER, 0, NULL, "unknown user or group for "
                    "transport %s (%s)", b->tp->name, *who);
        return -1;
    }
    return never_root(sb);
}

/* every batch of lc failed to start: defer them */
static void start_failed(struct lchild *lc, const char *what)
{
    for (size_t k = 0; k < lc->n; k++) {
        dlv_set_all(&lc->sbs[k]->b, DLV_DEFER, 0, NULL, "%s: %s", what,
                    strerror(errno));
        sres_batch(lc->sbs[k]);
    }
    free(lc);
}

/* fork the child of lc; results come back on the loop */
static void run_group(struct lchild *lc, int switch_user, const char *who)
{
    struct ev *ev = lc->sbs[0]->m->s->ev;
    int p[2];

    if (pipe2(p, O_CLOEXEC) != 0) {
        start_failed(lc, "pipe");
        return;
    }
    if ((lc->pid = fork()) == 0)
        child(lc, p[1], switch_user, who);
    (void)close(p[1]);
    if (lc->pid < 0) {
        (void)close(p[0]);
        start_failed(lc, "fork");
        return;
    }
    sb_init(&lc->out);
    lc->fd = p[0];
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    if (ev_io_set(ev, p[0], EV_READ, read_cb, lc) != 0) {
        (void)fcntl(p[0], F_SETFL, 0);  /* degrade: wait in read */
        read_cb(p[0], EV_READ, lc);
    }
}

static int same_group(const struct lwait *a, const struct lwait *b)
{
    return a->sb->b.tp == b->sb->b.tp && a->switch_user == b->switch_user
        && a->sb->b.uid == b->sb->b.uid && a->sb->b.gid == b->sb->b.gid
        && strcmp(a->who ? a->who : "", b->who ? b->who : "") == 0;
}

/* the group of pend.w[i] (it is not NULL): up to LGROUP_MAX batches */
static struct lchild *take_group(size_t i)
{
    struct lwait *w = pend.w, first = pend.w[i];
    struct lchild *lc = xcalloc(1, sizeof(*lc));

    for (size_t j = i; j < pend.n && lc->n < LGROUP_MAX; j++)
        if (w[j].sb != NULL && same_group(&first, &w[j])) {
            lc->sbs[lc->n++] = w[j].sb;
            w[j].sb = NULL;
        }
    return lc;
}

/* end of the loop turn: one child per group of waiting batches, for one
 * slice; the rest in the next turn */
static void flush_cb(void *arg)
{
    long long start = sched_clock_ms();

    (void)arg;
    pend.timer = NULL;
    while (pend.next < pend.n) {
        size_t i = pend.next;
        struct lwait w = pend.w[i];
        if (w.sb == NULL) {
            pend.next++;
            continue;
        }
        if (sched_slice_over(start)) {
            pend.timer = ev_timer_add(pend.ev, 0, flush_cb, NULL);
            return;
        }
        run_group(take_group(i), w.switch_user, w.who);
    }
    free(pend.w);
    pend.w = NULL;
    pend.n = pend.cap = pend.next = 0;
}

/* slocal_start - run a local batch in a child (with the other local
 * batches of this loop turn that share its transport and identity);
 * sres_batch when done */
void slocal_start(struct sbatch *sb)
{
    const char *who;
    int switch_user;

    if (all_waiting(sb)) {
        dlv_set_all(&sb->b, DLV_DEFER, 0, "retry_wait_addr",
                    "Retry time not yet reached");
        sres_batch(sb);
        return;
    }
    if (prepare(sb, &switch_user, &who) != 0) {
        sres_batch(sb);
        return;
    }
    if (pend.n == pend.cap) {
        pend.cap = pend.cap ? pend.cap * 2 : 64;
        pend.w = xreallocarray(pend.w, pend.cap, sizeof(*pend.w));
    }
    pend.w[pend.n++] = (struct lwait){ sb, switch_user, who };
    pend.ev = sb->m->s->ev;
    if (pend.timer == NULL)
        pend.timer = ev_timer_add(pend.ev, 0, flush_cb, NULL);
}
