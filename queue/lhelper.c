/*
 * lhelper.c - the helper's end of a local delivery helper (lhelper.h):
 *             the child the scheduler forked, serving jobs until the
 *             scheduler closes the socket.
 *
 * PURPOSE: a job (lwire.h) is read from the socket with the lock
 * descriptors of its messages; each message is read once through its
 * descriptor, each batch goes to its transport's deliver_local, a driver
 * with local_group_end makes the job's copies durable together, the
 * message descriptors (and with them this process's share of the spool
 * locks) are closed, and then the results are written, one line per
 * recipient and "." at the end. A driver without local_group_end has its
 * batch's results written as soon as it is done.
 * INTERFACE: lhelper_run.
 * ERRORS: a helper that cannot become its user, or cannot chdir to /,
 * answers its first job with the reason (every recipient deferred) and
 * exits; a job that does not decode makes it exit (the scheduler defers
 * the job's recipients). A write to a scheduler that is gone fails
 * (EPIPE is ignored); the read that follows sees the end and the helper
 * exits.
 * SECURITY: before anything else the child drops what it inherited but
 * does not own: the spool locks of other messages and the other helpers'
 * sockets were closed by the scheduler's end; network sockets (remote
 * deliveries, DNS) are replaced by /dev/null here, so a connection the
 * scheduler closes is really closed and no library closes a reused
 * descriptor. Then it becomes its user for good (initgroups or
 * setgroups, setresgid, setresuid, checked): it never runs as root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "queue/sched_impl.h"
#include "queue/lhelper.h"
#include "queue/lwire.h"

/* become uid/gid for good */
static int become(uid_t uid, gid_t gid, const char *who)
{
    if (geteuid() != 0 && seteuid(0) != 0)
        return -1;
    if (initgroups(who, gid) != 0 && setgroups(1, &gid) != 0)
        return -1;
    if (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        return -1;
    return getuid() == uid && geteuid() == uid && uid != 0 ? 0 : -1;
}

static int is_net_socket(int fd)
{
    int dom;
    socklen_t len = sizeof(dom);

    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0
           && (dom == AF_INET || dom == AF_INET6);
}

/* every AF_INET/AF_INET6 descriptor becomes /dev/null (see SECURITY) */
static void drop_net_sockets(int keep)
{
    DIR *d = opendir("/proc/self/fd");
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    struct dirent *e;

    while (d != NULL && null >= 0 && (e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd <= 2 || fd == keep || fd == null
            || fd == dirfd(d))
            continue;
        if (is_net_socket((int)fd))
            (void)dup3(null, (int)fd, O_CLOEXEC);
    }
    if (d != NULL)
        closedir(d);
    if (null >= 0)
        (void)close(null);
}

/* A helper copies each message it delivers (it reads the spool file,
 * then makes the copy with LF line ends). With glibc's defaults the heap
 * is given back to the system whenever more than 128 KiB is free at its
 * top, so each 100 KiB message grew the heap again and faulted its pages
 * in anew: 27 page faults a message and a fifth of a helper's time in
 * the e2e 100 KiB profile (5 faults with this). Keep up to LH_HEAP_KEEP
 * free, and take blocks up to LH_HEAP_BLOCK from the heap. */
#define LH_HEAP_KEEP (4 << 20)
#define LH_HEAP_BLOCK (1 << 20)

static void keep_heap(void)
{
    (void)mallopt(M_MMAP_THRESHOLD, LH_HEAP_BLOCK);
    (void)mallopt(M_TRIM_THRESHOLD, LH_HEAP_KEEP);
}

static void reset_signals(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);       /* a scheduler gone: EPIPE */
}

/* ---- reading a job ----------------------------------------------------- */

/* the header and the descriptors that came with it; -1 at the end */
static int recv_head(int fd, unsigned char *head, int *fds, size_t *nfds)
{
    char cbuf[CMSG_SPACE(sizeof(int) * LW_BATCH_MAX)];
    struct iovec iov = { head, LW_HEAD_LEN };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
    struct cmsghdr *cm;
    ssize_t n;

    *nfds = 0;
    while ((n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return -1;
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
            *nfds = k;
        }
    if ((size_t)n < LW_HEAD_LEN
        && safe_read_full(fd, head + n, LW_HEAD_LEN - (size_t)n)
           != (ssize_t)(LW_HEAD_LEN - (size_t)n))
        return -1;
    return (mh.msg_flags & MSG_CTRUNC) ? -1 : 0;
}

static int recv_job(int fd, struct conf *c, struct lw_job *j)
{
    unsigned char head[LW_HEAD_LEN];
    int fds[LW_BATCH_MAX];
    size_t nfds;
    uint32_t len, nm;
    char *p = NULL;
    int rc = -1;

    if (recv_head(fd, head, fds, &nfds) != 0
        || lw_head(head, &len, &nm) != 0 || nm != nfds)
        goto fail;
    p = xmalloc(len + 1);
    if (safe_read_full(fd, p, len) != (ssize_t)len)
        goto fail;
    rc = lw_decode(p, len, c, fds, nfds, j);
    free(p);
    if (rc != 0)
        lw_job_free(j);
    return rc;
fail:
    free(p);
    for (size_t i = 0; i < nfds; i++)
        (void)close(fds[i]);
    return -1;
}

/* ---- delivering it ----------------------------------------------------- */

static void read_msgs(struct lw_job *j)
{
    struct errbuf eb;

    for (size_t i = 0; i < j->nmsgs; i++) {
        struct lw_msg *m = &j->msgs[i];
        if (spool_read_fd(m->fd, m->id, &m->msg, &eb) == 0)
            m->read = 1;
        else
            snprintf(m->why, sizeof(m->why), "%s", eb.msg);
    }
}

/* the results of batch k, or with k == nb those of every batch that
 * waited for the group's end and the job's end: one write */
static void send_results(int fd, const struct lw_job *j, size_t k)
{
    struct strbuf out;

    sb_init(&out);
    if (k < j->nb) {
        lw_result_lines(&out, k, &j->bs[k]);
    } else {
        for (size_t i = 0; i < j->nb; i++)
            if (j->bs[i].group_sync)
                lw_result_lines(&out, i, &j->bs[i]);
        sb_puts(&out, ".\n");
    }
    (void)safe_write_all(fd, sb_str(&out), sb_len(&out));
    sb_free(&out);
}

static void deliver_one(struct lw_job *j, size_t k, int err,
                        const struct lh_who *w)
{
    struct dlv_batch *b = &j->bs[k];
    const struct lw_msg *m = &j->msgs[j->msgof[k]];

    b->msg = &m->msg;
    b->group_sync = b->tp->drv->local_group_end != NULL && err == 0
                    && m->read;
    if (err > 0)
        dlv_set_all(b, DLV_DEFER, 0, NULL, "cannot switch to user %s "
                    "(uid %ld): %s", w->who, (long)w->uid, strerror(err));
    else if (err < 0)
        dlv_set_all(b, DLV_DEFER, 0, NULL, "chdir /: %s", strerror(-err));
    else if (!m->read)
        dlv_set_all(b, DLV_DEFER, 0, NULL, "%s", m->why);
    else
        b->tp->drv->deliver_local(b->tp, b);
}

/* each driver's local_group_end once, for the batches that left it
 * their syncs */
static void group_ends(struct lw_job *j)
{
    void (*done[LW_BATCH_MAX])(void);
    size_t n = 0;

    for (size_t k = 0; k < j->nb; k++) {
        void (*end)(void) = j->bs[k].tp->drv->local_group_end;
        size_t i = 0;
        if (!j->bs[k].group_sync)
            continue;
        while (i < n && done[i] != end)
            i++;
        if (i == n)
            done[n++] = end;
    }
    for (size_t i = 0; i < n; i++)
        done[i]();
}

static void run_job(int fd, struct lw_job *j, int err, const struct lh_who *w)
{
    read_msgs(j);
    for (size_t k = 0; k < j->nb; k++) {
        deliver_one(j, k, err, w);
        if (!j->bs[k].group_sync)
            send_results(fd, j, k);
    }
    group_ends(j);
    for (size_t i = 0; i < j->nmsgs; i++) {
        (void)close(j->msgs[i].fd);     /* the lock: delivered, or not */
        j->msgs[i].fd = -1;
    }
    send_results(fd, j, j->nb);
}

/* lhelper_run - see lhelper.h */
void lhelper_run(struct sched *s, int fd, const struct lh_who *w)
{
    struct conf *c = s->conf;
    struct lw_job j;
    int err = 0;

    drop_net_sockets(fd);
    reset_signals();
    keep_heap();
    errno = 0;
    if (w->switch_user && become(w->uid, w->gid, w->who) != 0)
        err = errno ? errno : EPERM;
    else if (chdir("/") != 0)
        err = -(errno ? errno : EIO);
    while (recv_job(fd, c, &j) == 0) {
        run_job(fd, &j, err, w);
        lw_job_free(&j);
        if (err != 0)
            break;
    }
    _exit(0);
}
