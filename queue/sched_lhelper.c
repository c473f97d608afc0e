/*
 * sched_lhelper.c - the scheduler's end of a local delivery helper
 *                   (lhelper.h): fork it, send it jobs, read its results.
 *
 * PURPOSE: a job is written without blocking (the rest waits for the
 * socket to drain); results are read on the loop, and a batch goes to
 * sres_batch as soon as each of its recipients has a result, so a batch
 * a helper reports early is settled early. The "." line ends the job: a
 * recipient without a result then is deferred. End of file means the
 * helper has exited: it is reaped, a job in flight is deferred with how
 * it ended ("local delivery process killed by signal 9"), and an end
 * nobody asked for (not retired) is logged.
 * INTERFACE: lh_spawn, lh_send, lh_busy, lh_pid, lh_retire, lh_free_all.
 * ERRORS: lh_spawn returns NULL with errno; a job that cannot be written
 * (the helper is gone) is settled when its end of file arrives.
 * SECURITY: the child closes, before running anything, the spool locks of
 * the messages in delivery and the sockets of the other helpers, so a
 * helper holds no lock but those of its own jobs and a retired helper
 * sees its end of file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "core/mail/logfile.h"
#include "queue/sched_impl.h"
#include "queue/lhelper.h"
#include "queue/lwire.h"

struct lhelper {
    struct sched *s;
    struct lhelper *next, *prev;    /* in s->helpers */
    pid_t pid;
    int fd;
    char *who;
    lh_event_fn cb;
    void *arg;
    int retiring;                   /* no more jobs: shut down when the
                                       job's bytes are written */
    struct sbatch *job[LW_BATCH_MAX];   /* NULL once settled */
    size_t njob, open;              /* in the job, not settled yet */
    struct strbuf in;               /* results not parsed yet */
    struct strbuf out;              /* the job being written */
    size_t off;
    int fds[LW_BATCH_MAX];
    size_t nfds;
    int fds_sent;
};

static void io_cb(int fd, unsigned events, void *arg);

static void link_helper(struct lhelper *h)
{
    h->next = h->s->helpers;
    if (h->next != NULL)
        h->next->prev = h;
    h->s->helpers = h;
}

static void unlink_helper(struct lhelper *h)
{
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        h->s->helpers = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
}

static void free_helper(struct lhelper *h)
{
    sb_free(&h->in);
    sb_free(&h->out);
    free(h->who);
    free(h);
}

/* in the child: nothing of the scheduler's but its own socket */
static void __attribute__((noreturn)) child(struct sched *s, int fd,
                                            const struct lh_who *w)
{
    for (struct lhelper *o = s->helpers; o != NULL; o = o->next)
        (void)close(o->fd);
    smsg_close_locks(s, NULL, 0);
    lhelper_run(s, fd, w);
}

/* lh_spawn - see lhelper.h */
struct lhelper *lh_spawn(struct sched *s, const struct lh_who *w,
                         lh_event_fn cb, void *arg)
{
    struct lhelper *h;
    int sv[2], err;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    if ((pid = fork()) == 0) {
        (void)close(sv[0]);
        child(s, sv[1], w);
    }
    err = errno;
    (void)close(sv[1]);
    if (pid < 0) {
        (void)close(sv[0]);
        errno = err;
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    *h = (struct lhelper){ .s = s, .pid = pid, .fd = sv[0], .cb = cb,
                           .arg = arg, .who = xstrdup(w->who) };
    sb_init(&h->in);
    sb_init(&h->out);
    (void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
    link_helper(h);
    if (ev_io_set(s->ev, h->fd, EV_READ, io_cb, h) != 0)
        log_panic("local delivery process %ld: cannot watch its socket: %s",
                  (long)pid, strerror(errno));
    return h;
}

/* ---- sending a job ----------------------------------------------------- */

/* the first bytes go with the message descriptors */
static ssize_t send_first(struct lhelper *h)
{
    char cbuf[CMSG_SPACE(sizeof(int) * LW_BATCH_MAX)];
    struct iovec iov = { h->out.data, sb_len(&h->out) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cm;

    if (h->nfds > 0) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * h->nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * h->nfds);
        memcpy(CMSG_DATA(cm), h->fds, sizeof(int) * h->nfds);
    }
    return sendmsg(h->fd, &mh, MSG_NOSIGNAL);
}

static void flush_out(struct lhelper *h)
{
    while (h->off < sb_len(&h->out)) {
        ssize_t n = h->fds_sent
            ? send(h->fd, h->out.data + h->off, sb_len(&h->out) - h->off,
                   MSG_NOSIGNAL)
            : send_first(h);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            (void)ev_io_set(h->s->ev, h->fd, EV_READ | EV_WRITE, io_cb, h);
            return;
        }
        if (n < 0) {            /* gone: its end of file settles the job */
            h->off = sb_len(&h->out);
            break;
        }
        h->fds_sent = 1;
        h->off += (size_t)n;
    }
    (void)ev_io_set(h->s->ev, h->fd, EV_READ, io_cb, h);
    if (h->retiring)
        (void)shutdown(h->fd, SHUT_WR);
}

/* lh_send - see lhelper.h */
void lh_send(struct lhelper *h, struct sbatch *const *sbs, size_t n)
{
    memcpy(h->job, sbs, n * sizeof(*sbs));
    h->njob = h->open = n;
    sb_reset(&h->out);
    h->off = 0;
    h->fds_sent = 0;
    lw_encode(sbs, n, &h->out, h->fds, &h->nfds);
    flush_out(h);
}

/* ---- results ----------------------------------------------------------- */

static void settle(struct lhelper *h, size_t k)
{
    struct sbatch *sb = h->job[k];

    h->job[k] = NULL;
    h->open--;
    watchdog_note(WD_MESSAGE, sb->m->id);
    sres_batch(sb);
}

/* batches whose every recipient has a result */
static void settle_answered(struct lhelper *h)
{
    for (size_t k = 0; k < h->njob; k++) {
        const struct dlv_batch *b;
        size_t i = 0;
        if (h->job[k] == NULL)
            continue;
        b = &h->job[k]->b;
        while (i < b->nrcpt && b->rcpts[i].status != DLV_PENDING)
            i++;
        if (i == b->nrcpt)
            settle(h, k);
    }
}

/* the job is over: what has no result is deferred with why */
static void job_over(struct lhelper *h, const char *why)
{
    for (size_t k = 0; k < h->njob; k++) {
        if (h->job[k] == NULL)
            continue;
        dlv_set_all(&h->job[k]->b, DLV_DEFER, 0, NULL, "%s", why);
        settle(h, k);
    }
    h->njob = 0;
}

/* complete lines of h->in; 1 when "." ended the job */
static int parse_lines(struct lhelper *h)
{
    char *p = h->in.data, *nl;
    int over = 0;

    while (!over && (nl = memchr(p, '\n', sb_len(&h->in)
                                 - (size_t)(p - h->in.data))) != NULL) {
        *nl = '\0';
        if (strcmp(p, ".") == 0)
            over = 1;
        else if (h->njob > 0)
            lw_result_parse(p, h->job, h->njob);
        p = nl + 1;
    }
    memmove(h->in.data, p, sb_len(&h->in) - (size_t)(p - h->in.data));
    sb_truncate(&h->in, sb_len(&h->in) - (size_t)(p - h->in.data));
    return over;
}

static void status_text(int st, char *buf, size_t size)
{
    if (WIFSIGNALED(st))
        snprintf(buf, size, "local delivery process killed by signal %d",
                 WTERMSIG(st));
    else
        snprintf(buf, size, "local delivery process exited with status %d",
                 WEXITSTATUS(st));
}

/* the helper closed its end: reap it, settle its job, tell the owner */
static void gone(struct lhelper *h)
{
    char why[128];
    int st = 0;

    ev_io_del(h->s->ev, h->fd);
    (void)close(h->fd);
    while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
        ;
    status_text(st, why, sizeof(why));
    if (!h->retiring || h->njob > 0 || st != 0)
        log_main("%s (pid %ld, user %s)%s", why, (long)h->pid, h->who,
                 h->njob > 0 ? " during a delivery" : "");
    job_over(h, why);
    unlink_helper(h);
    h->cb(h, LH_GONE, h->arg);
    free_helper(h);
}

static void read_in(struct lhelper *h)
{
    char buf[8192];
    ssize_t n;

    for (;;) {
        n = read(h->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            gone(h);
            return;
        }
        sb_append(&h->in, buf, (size_t)n);
        if (parse_lines(h)) {
            job_over(h, "local delivery process sent no result");
            h->cb(h, LH_IDLE, h->arg);
        } else {
            settle_answered(h);
        }
    }
}

static void io_cb(int fd, unsigned events, void *arg)
{
    struct lhelper *h = arg;

    (void)fd;
    if (events & EV_WRITE)
        flush_out(h);
    if (events & EV_READ)
        read_in(h);
}

/* ---- the rest ---------------------------------------------------------- */

/* lh_busy - see lhelper.h */
int lh_busy(const struct lhelper *h)
{
    return h->njob > 0;
}

pid_t lh_pid(const struct lhelper *h)
{
    return h->pid;
}

/* lh_retire - see lhelper.h */
void lh_retire(struct lhelper *h)
{
    h->retiring = 1;
    if (h->off >= sb_len(&h->out))
        (void)shutdown(h->fd, SHUT_WR);
}

/* lh_free_all - see lhelper.h */
void lh_free_all(struct sched *s)
{
    while (s->helpers != NULL) {
        struct lhelper *h = s->helpers;
        ev_io_del(s->ev, h->fd);
        (void)close(h->fd);
        unlink_helper(h);
        h->cb(h, LH_GONE, h->arg);
        free_helper(h);
    }
}
