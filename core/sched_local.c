/*
 * sched_local.c - local deliveries in short-lived child processes.
 *
 * PURPOSE: a local batch (maildir, mbox, pipe, lmtp) runs in a child so
 * that a slow or stuck mailbox never blocks the scheduler's loop, and so
 * that the child can take the recipient's identity. The child calls the
 * driver's deliver_local and writes one result line per recipient to a
 * pipe ("INDEX STATUS CODE ERRTYPE\tMESSAGE\n"); the parent reads them on
 * its loop. A child that dies without a result defers the recipients.
 * SECURITY: when tern runs as root (the scheduler keeps a saved uid of 0)
 * the child becomes, for good, the transport's user, or the system
 * account of the recipient (check_local_user or local_user routers) for
 * as_recipient drivers, or the
 * tern user: setgroups/initgroups, setgid, setuid, checked; uid 0 is
 * never switched to (Exim's never_users = root). With tern_user unset, a
 * root tern delivers as root, like the rest of it.
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
#include "core/base/xalloc.h"
#include "core/conf.h"
#include "core/pwcache.h"
#include "core/sched_impl.h"

struct lchild {
    struct sbatch *sb;
    pid_t pid;
    int fd;
    struct strbuf out;
};

static int privileged(void)
{
    uid_t r, e, s;

    return getresuid(&r, &e, &s) == 0 && (r == 0 || e == 0 || s == 0);
}

/* the user a privileged scheduler delivers b as: the transport's user,
 * the recipient's system account (as_recipient drivers, routed by a
 * check_local_user or local_user router), else
 * tern_user; *switch_user 0 when none applies (tern_user unset: deliver
 * as the user tern runs as). -1 for an unknown user. */
static int identity(const struct dlv_batch *b, uid_t *uid, gid_t *gid,
                    const char **who, int *switch_user)
{
    const struct transport *t = b->tp;
    const struct dlv_rcpt *r = &b->rcpts[0];
    struct passwd *pw = NULL;
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
    if (*who == NULL) {
        *switch_user = 0;
        return 0;
    }
    if ((pw = getpwnam(*who)) == NULL)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
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

static void write_results(int fd, const struct dlv_batch *b)
{
    struct strbuf sb;

    sb_init(&sb);
    for (size_t i = 0; i < b->nrcpt; i++) {
        const struct dlv_rcpt *r = &b->rcpts[i];
        sb_printf(&sb, "%zu %d %d %s\t%s\n", i, (int)r->status, r->code,
                  r->errtype[0] ? r->errtype : "-", r->msg);
    }
    (void)!write(fd, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
}

static void __attribute__((noreturn)) child(struct sbatch *sb, int fd,
                                            int switch_user, const char *who)
{
    struct dlv_batch *b = &sb->b;
    sigset_t none;

    smsg_close_locks(sb->m->s, sb->m);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (switch_user && become(b->uid, b->gid, who) != 0) {
        dlv_set_all(b, DLV_DEFER, 0, NULL, "cannot switch to user %s (uid "
                    "%ld): %s", who, (long)b->uid, strerror(errno));
    } else if (chdir("/") != 0) {
        dlv_set_all(b, DLV_DEFER, 0, NULL, "chdir /: %s", strerror(errno));
    } else {
        b->tp->drv->deliver_local(b->tp, b);
    }
    write_results(fd, b);
    _exit(0);
}

static void parse_results(struct lchild *lc)
{
    struct dlv_batch *b = &lc->sb->b;
    char *p = lc->out.data, *nl, *tab, errtype[DLV_ERR_MAX];
    size_t idx;
    int st, code;

    for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        if ((tab = strchr(p, '\t')) == NULL)
            continue;
        *tab = '\0';
        if (sscanf(p, "%zu %d %d %31s", &idx, &st, &code, errtype) != 4
            || idx >= b->nrcpt || st < DLV_OK || st > DLV_FAIL)
            continue;
        dlv_set(&b->rcpts[idx], (enum dlv_status)st, code,
                strcmp(errtype, "-") ? errtype : NULL, "%s", tab + 1);
    }
}

static void child_done(struct lchild *lc)
{
    int status = 0;

    while (waitpid(lc->pid, &status, 0) < 0 && errno == EINTR)
        ;
    parse_results(lc);
    if (WIFSIGNALED(status))
        dlv_set_all(&lc->sb->b, DLV_DEFER, 0, NULL, "local delivery process "
                    "killed by signal %d", WTERMSIG(status));
    else
        dlv_set_all(&lc->sb->b, DLV_DEFER, 0, NULL, "local delivery process "
                    "exited with status %d", WEXITSTATUS(status));
    sb_free(&lc->out);
    sres_batch(lc->sb);
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
    ev_io_del(lc->sb->m->s->ev, fd);
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
        snprintf(key, sizeof(key), "R:%s", sb->b.rcpts[i].address);
        r = sretry_get(s, key);
        if (r == NULL || r->next_try <= now || r->expired)
            return 0;
    }
    return 1;
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
    if (identity(b, &b->uid, &b->gid, who, switch_user) != 0
        || group_override(b->tp, &b->gid) != 0) {
        dlv_set_all(b, DLV_DEFER, 0, NULL, "unknown user or group for "
                    "transport %s (%s)", b->tp->name, *who);
        return -1;
    }
    if (*switch_user && b->uid == 0) {
        dlv_set_all(b, DLV_FAIL, 0, NULL, "User 0 set for %s transport is "
                    "on the never_users list", b->tp->name);
        return -1;
    }
    return 0;
}

/* slocal_start - run a local batch in a child; sres_batch when done */
void slocal_start(struct sbatch *sb)
{
    struct lchild *lc;
    const char *who;
    int p[2], switch_user;

    if (all_waiting(sb)) {
        dlv_set_all(&sb->b, DLV_DEFER, 0, "retry_wait",
                    "retry time not reached");
        sres_batch(sb);
        return;
    }
    if (prepare(sb, &switch_user, &who) != 0 || pipe2(p, O_CLOEXEC) != 0) {
        dlv_set_all(&sb->b, DLV_DEFER, 0, NULL, "pipe: %s", strerror(errno));
        sres_batch(sb);
        return;
    }
    lc = xcalloc(1, sizeof(*lc));
    lc->sb = sb;
    sb_init(&lc->out);
    if ((lc->pid = fork()) == 0)
        child(sb, p[1], switch_user, who);
    (void)close(p[1]);
    if (lc->pid < 0) {
        (void)close(p[0]);
        dlv_set_all(&sb->b, DLV_DEFER, 0, NULL, "fork: %s", strerror(errno));
        sb_free(&lc->out);
        free(lc);
        sres_batch(sb);
        return;
    }
    lc->fd = p[0];
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    if (ev_io_set(sb->m->s->ev, p[0], EV_READ, read_cb, lc) != 0) {
        (void)fcntl(p[0], F_SETFL, 0);  /* degrade: wait in read */
        read_cb(p[0], EV_READ, lc);
    }
}
