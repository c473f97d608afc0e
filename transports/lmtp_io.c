/*
 * lmtp_io.c - a blocking LMTP client connection with timeouts: connect to
 *             a unix socket or host:port, buffered command and message
 *             output, bounded reply parsing.
 *
 * PURPOSE: the I/O half of the lmtp transport; lmtp.c speaks the protocol.
 * INTERFACE: see lmtp_io.h.
 * ERRORS: -1 with c->errtype/c->err (connects: *errtype and eb). Every
 *         wait is a poll() bounded by the timeout: a connect, each reply
 *         (all its lines together) and each stall of a write.
 * SECURITY: the peer's replies are bounded (line length, line count) and
 *           must be well formed; output never contains a bare CR or LF
 *           inside a command line.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "transports/lmtp_io.h"

#define OUT_FLUSH_AT 65536

struct lmtp_conn {
    int fd;
    long timeout_ms;
    struct strbuf out;
    char in[LMTP_LINE_MAX + 2];
    size_t in_start, in_end;
    int failed;
    const char *errtype;
    char err[256];
};

static void fail(struct lmtp_conn *c, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct lmtp_conn *c, const char *type, const char *fmt, ...)
{
    va_list ap;

    c->failed = 1;
    c->errtype = type;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd - poll fd for events until deadline: 1 ready, 0 timed out,
 * -1 error (errno) */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd p = { fd, events, 0 };
        int n;

        if (left <= 0)
            return 0;
        n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* connect_fd - non-blocking connect bounded by timeout_ms; -1 errno */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len,
                      long timeout_ms)
{
    int err = 0;
    socklen_t elen = sizeof(err);
    int rc;

    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    rc = wait_fd(fd, POLLOUT, now_ms() + timeout_ms);
    if (rc <= 0) {
        if (rc == 0)
            errno = ETIMEDOUT;
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return -1;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

static struct lmtp_conn *conn_new(int fd, long timeout)
{
    struct lmtp_conn *c = xcalloc(1, sizeof(*c));

    c->fd = fd;
    c->timeout_ms = timeout > 0 ? timeout * 1000 : 1000;
    sb_init(&c->out);
    return c;
}

static const char *connect_errtype(int err)
{
    return err == ETIMEDOUT ? "timeout" : "refused";
}

/* lmtp_connect_unix - connect to the stream socket at path */
struct lmtp_conn *lmtp_connect_unix(const char *path, long timeout,
                                    const char **errtype, struct errbuf *eb)
{
    struct sockaddr_un sun;
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (bsnprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) < 0) {
        *errtype = "refused";
        errbuf_set(eb, "socket path too long: %s", path);
        return NULL;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun),
                             timeout * 1000) != 0) {
        int e = errno;
        *errtype = connect_errtype(e);
        errbuf_set(eb, "connect to %s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    return conn_new(fd, timeout);
}

static int try_addr(const struct addrinfo *ai, long timeout, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK
                    | SOCK_CLOEXEC, ai->ai_protocol);

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect_fd(fd, ai->ai_addr, ai->ai_addrlen, timeout * 1000) != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* lmtp_connect_inet - connect to host:port, each address in turn */
struct lmtp_conn *lmtp_connect_inet(const char *host, int port, long timeout,
                                    const char **errtype, struct errbuf *eb)
{
    struct addrinfo hints, *res = NULL;
    char serv[16];
    int fd = -1, err = ECONNREFUSED, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(serv, sizeof(serv), "%d", port);
    rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0) {
        *errtype = "refused";
        errbuf_set(eb, "host lookup for %s failed: %s", host,
                   gai_strerror(rc));
        return NULL;
    }
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = try_addr(ai, timeout, &err);
    freeaddrinfo(res);
    if (fd < 0) {
        *errtype = connect_errtype(err);
        errbuf_set(eb, "connect to %s port %d: %s", host, port,
                   strerror(err));
        return NULL;
    }
    return conn_new(fd, timeout);
}

/* lmtp_close - close the socket and free */
void lmtp_close(struct lmtp_conn *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    sb_free(&c->out);
    free(c);
}

/* lmtp_flush - send everything buffered; each stall waits up to timeout */
int lmtp_flush(struct lmtp_conn *c)
{
    size_t off = 0;

    if (c->failed)
        return -1;
    while (off < sb_len(&c->out)) {
        ssize_t n = send(c->fd, sb_str(&c->out) + off, sb_len(&c->out) - off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            fail(c, "lost_connection", "write: %s", strerror(errno));
            return -1;
        }
        if (wait_fd(c->fd, POLLOUT, now_ms() + c->timeout_ms) != 1) {
            fail(c, "timeout", "timeout writing to the LMTP server");
            return -1;
        }
    }
    sb_reset(&c->out);
    return 0;
}

/* lmtp_put - buffer raw bytes */
int lmtp_put(struct lmtp_conn *c, const void *p, size_t n)
{
    if (c->failed)
        return -1;
    sb_append(&c->out, p, n);
    return sb_len(&c->out) >= OUT_FLUSH_AT ? lmtp_flush(c) : 0;
}

/* lmtp_put_stuffed - message bytes with a dot doubled at line starts */
int lmtp_put_stuffed(struct lmtp_conn *c, const char *p, size_t n, int *bol)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl != NULL ? (size_t)(nl - p) + 1 : n;

        if (*bol && p[0] == '.' && lmtp_put(c, ".", 1) != 0)
            return -1;
        if (lmtp_put(c, p, k) != 0)
            return -1;
        *bol = nl != NULL;
        p += k;
        n -= k;
    }
    return c->failed ? -1 : 0;
}

/* lmtp_cmd - buffer one command line */
int lmtp_cmd(struct lmtp_conn *c, const char *fmt, ...)
{
    struct strbuf line;
    va_list ap;
    int rc;

    if (c->failed)
        return -1;
    sb_init(&line);
    va_start(ap, fmt);
    sb_vprintf(&line, fmt, ap);
    va_end(ap);
    if (strpbrk(sb_str(&line), "\r\n") != NULL
        || strlen(sb_str(&line)) != sb_len(&line)) {
        fail(c, "protocol", "refusing to send a command with CR, LF or NUL");
        rc = -1;
    } else {
        sb_puts(&line, "\r\n");
        rc = lmtp_put(c, sb_str(&line), sb_len(&line));
    }
    sb_free(&line);
    return rc;
}

/* fill - read more bytes into c->in; -1 on EOF, error or deadline */
static int fill(struct lmtp_conn *c, long long deadline)
{
    ssize_t n;

    if (c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_end >= sizeof(c->in)) {
        fail(c, "protocol", "reply line longer than %d bytes", LMTP_LINE_MAX);
        return -1;
    }
    for (;;) {
        if (wait_fd(c->fd, POLLIN, deadline) != 1) {
            fail(c, "timeout", "timeout waiting for the LMTP server's reply");
            return -1;
        }
        n = recv(c->fd, c->in + c->in_end, sizeof(c->in) - c->in_end, 0);
        if (n > 0) {
            c->in_end += (size_t)n;
            return 0;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            fail(c, "lost_connection", "connection closed by the LMTP server%s%s",
                 n == 0 ? "" : ": ", n == 0 ? "" : strerror(errno));
            return -1;
        }
    }
}

/* read_line - one line without its CR LF into line (LMTP_LINE_MAX + 1);
 * NUL bytes become '?' so the text stays a C string */
static int read_line(struct lmtp_conn *c, char *line, long long deadline)
{
    for (;;) {
        char *s = c->in + c->in_start;
        char *nl = memchr(s, '\n', c->in_end - c->in_start);

        if (nl != NULL) {
            size_t len = (size_t)(nl - s);
            if (len > 0 && s[len - 1] == '\r')
                len--;
            if (len > LMTP_LINE_MAX) {
                fail(c, "protocol", "reply line longer than %d bytes",
                     LMTP_LINE_MAX);
                return -1;
            }
            for (size_t i = 0; i < len; i++)
                line[i] = s[i] != '\0' ? s[i] : '?';
            line[len] = '\0';
            c->in_start += (size_t)(nl - s) + 1;
            return 0;
        }
        if (fill(c, deadline) != 0)
            return -1;
    }
}

static unsigned cap_of(const char *kw)
{
    static const struct { const char *name; unsigned bit; } caps[] = {
        { "PIPELINING", LMTP_CAP_PIPELINING },
        { "8BITMIME", LMTP_CAP_8BITMIME },
        { "SMTPUTF8", LMTP_CAP_SMTPUTF8 },
    };
    size_t n = strcspn(kw, " ");

    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        if (strlen(caps[i].name) == n && strncasecmp(kw, caps[i].name, n) == 0)
            return caps[i].bit;
    return 0;
}

/* append_cut - copy s to text at tl, cut to fit; returns the new length */
static size_t append_cut(char *text, size_t tl, const char *s)
{
    size_t n = strlen(s);

    if (tl >= LMTP_TEXT_MAX - 1)
        return tl;
    if (n > LMTP_TEXT_MAX - 1 - tl)
        n = LMTP_TEXT_MAX - 1 - tl;
    memcpy(text + tl, s, n);
    text[tl + n] = '\0';
    return tl + n;
}

/* parse_line - check the code of line number i and add it to r;
 * returns 1 if more lines follow, 0 at the last, -1 if malformed */
static int parse_line(struct lmtp_reply *r, const char *line, int i)
{
    size_t len = strlen(line), tl = strlen(r->text);
    int code;

    if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0'
        || line[1] > '9' || line[2] < '0' || line[2] > '9'
        || (len > 3 && line[3] != ' ' && line[3] != '-'))
        return -1;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (i > 0 && code != r->code)
        return -1;
    r->code = code;
    if (i == 0) {
        append_cut(r->text, 0, line);
    } else if (len > 4) {
        append_cut(r->text, append_cut(r->text, tl, " "), line + 4);
        r->caps |= cap_of(line + 4);
    }
    return len > 3 && line[3] == '-';
}

/* lmtp_read_reply - flush, then read one reply within the timeout */
int lmtp_read_reply(struct lmtp_conn *c, struct lmtp_reply *r)
{
    char line[LMTP_LINE_MAX + 1];
    long long deadline;
    int more = 1;

    memset(r, 0, sizeof(*r));
    if (lmtp_flush(c) != 0)
        return -1;
    deadline = now_ms() + c->timeout_ms;
    for (int i = 0; more; i++) {
        if (i >= LMTP_REPLY_LINES) {
            fail(c, "protocol", "reply of more than %d lines",
                 LMTP_REPLY_LINES);
            return -1;
        }
        if (read_line(c, line, deadline) != 0)
            return -1;
        more = parse_line(r, line, i);
        if (more < 0) {
            fail(c, "protocol", "malformed reply line: %.100s", line);
            return -1;
        }
    }
    return 0;
}

const char *lmtp_errtype(const struct lmtp_conn *c)
{
    return c->errtype != NULL ? c->errtype : "";
}

const char *lmtp_errmsg(const struct lmtp_conn *c)
{
    return c->err;
}
