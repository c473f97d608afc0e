/*
 * notify.c - the scheduler's wake-up socket (see notify.h).
 *
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
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/notify.h"
#include "core/spool.h"

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

/* notify_read - one id, if one is waiting */
int notify_read(int fd, char *id)
{
    char buf[MSGID_LEN + 2];
    ssize_t n;

    for (;;) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0)
            return 0;           /* EAGAIN: drained (or an error: same) */
        if (n != MSGID_LEN)
            continue;
        buf[MSGID_LEN] = '\0';
        if (!msgid_valid(buf))
            continue;
        memcpy(id, buf, MSGID_LEN + 1);
        return 1;
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
