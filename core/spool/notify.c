/*
 * notify.c - the scheduler's wake-up socket (see notify.h).
 *
 * A datagram carries one id or several back to back (MSGID_LEN bytes
 * each). The kernel queues only net.unix.max_dgram_qlen datagrams (10 by
 * default) per socket, so a busy SMTP worker (notifier_post) gathers the
 * ids of one loop turn into one datagram and keeps what the socket would
 * not take for a retry 10 ms later, instead of dropping it.
 * SECURITY: the socket lives in the spool directory (mode 0750, owned by
 * the tern user), so only tern's own processes can reach it; a datagram
 * is trusted only as far as msgid_valid() allows: the worst a forged one
 * can do is make the scheduler look at a message early.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/spool/notify.h"
#include "core/spool/spool.h"

static int sock_path(const char *spool_dir, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    return snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/notify.sock",
                    spool_dir) < (int)sizeof(sun->sun_path) ? 0 : -1;
}

/* notify_open - the scheduler's end */
int notify_open(const char *spool_dir, struct errbuf *eb)
{
    struct sockaddr_un sun;
    int fd;

    if (sock_path(spool_dir, &sun) != 0) {
        errbuf_set(eb, "spool directory path too long for notify.sock");
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        errbuf_set(eb, "socket: %s", strerror(errno));
        return -1;
    }
    (void)unlink(sun.sun_path);     /* a previous scheduler's */
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        errbuf_set(eb, "bind %s: %s", sun.sun_path, strerror(errno));
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* notify_read - one id, if one is waiting; a datagram of several ids is
 * kept and handed out one id per call */
int notify_read(int fd, char *id)
{
    static char buf[NOTIFY_DGRAM_MAX];
    static size_t len, off;
    ssize_t n;

    for (;;) {
        while (off + MSGID_LEN <= len) {
            memcpy(id, buf + off, MSGID_LEN);
            id[MSGID_LEN] = '\0';
            off += MSGID_LEN;
            if (msgid_valid(id))
                return 1;
        }
        len = off = 0;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0)
            return 0;           /* EAGAIN: drained (or an error: same) */
        if (n % MSGID_LEN == 0)
            len = (size_t)n;
    }
}

/* notify_send - one datagram to the scheduler */
int notify_send(const char *spool_dir, const char *id)
{
    static int fd = -1;
    struct sockaddr_un sun;

    if (sock_path(spool_dir, &sun) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (fd < 0)
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    return sendto(fd, id, MSGID_LEN, MSG_DONTWAIT, (struct sockaddr *)&sun,
                  sizeof(sun)) == MSGID_LEN ? 0 : -1;
}

static int flush(struct notifier *n);

struct notifier {
    struct ev *ev;
    char *spool_dir;
    int fd;
    struct strbuf pending;      /* ids not yet sent, back to back */
    struct ev_timer *timer;
};

/* notifier_new - a poster for a long-lived process on ev */
struct notifier *notifier_new(struct ev *ev, const char *spool_dir)
{
    struct notifier *n = xcalloc(1, sizeof(*n));

    n->ev = ev;
    n->spool_dir = xstrdup(spool_dir);
    n->fd = -1;
    sb_init(&n->pending);
    return n;
}

/* notifier_free - NULL ok; a last try to send what is pending, and what
 * the socket still refuses waits for a queue run */
void notifier_free(struct notifier *n)
{
    if (n == NULL)
        return;
    ev_timer_cancel(n->ev, n->timer);
    (void)flush(n);
    if (n->fd >= 0)
        (void)close(n->fd);
    sb_free(&n->pending);
    free(n->spool_dir);
    free(n);
}

/* send what is pending, NOTIFY_DGRAM_MAX bytes a datagram: 0 when all
 * went or the scheduler is not there (dropped), 1 when the socket is full */
static int flush(struct notifier *n)
{
    struct sockaddr_un sun;
    size_t off = 0, k;

    if (sock_path(n->spool_dir, &sun) != 0) {
        sb_reset(&n->pending);
        return 0;
    }
    if (n->fd < 0)
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    while (n->fd >= 0 && off < sb_len(&n->pending)) {
        k = sb_len(&n->pending) - off;
        if (k > NOTIFY_DGRAM_MAX)
            k = NOTIFY_DGRAM_MAX;
        if (sendto(n->fd, sb_str(&n->pending) + off, k, MSG_DONTWAIT,
                   (struct sockaddr *)&sun, sizeof(sun)) != (ssize_t)k) {
            if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
                break;
            off = sb_len(&n->pending);  /* no scheduler: queue runs */
            break;
        }
        off += k;
    }
    if (n->fd < 0)
        off = sb_len(&n->pending);
    if (off > 0) {
        size_t rest = sb_len(&n->pending) - off;
        memmove(n->pending.data, n->pending.data + off, rest);
        sb_truncate(&n->pending, rest);
    }
    return sb_len(&n->pending) > 0;
}

static void flush_cb(void *arg)
{
    struct notifier *n = arg;

    n->timer = NULL;
    if (flush(n))
        n->timer = ev_timer_add(n->ev, 10, flush_cb, n);
}

/* notifier_post - tell the scheduler about id at the end of this loop
 * turn, with the other ids of the turn; kept while the socket is full */
void notifier_post(struct notifier *n, const char *id)
{
    if (sb_len(&n->pending) >= NOTIFY_PENDING_MAX)
        return;                 /* the queue runs will find it */
    sb_append(&n->pending, id, MSGID_LEN);
    if (n->timer == NULL)
        n->timer = ev_timer_add(n->ev, 0, flush_cb, n);
}
