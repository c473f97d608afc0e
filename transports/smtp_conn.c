/*
 * smtp_conn.c - one outgoing SMTP connection on the event loop: a
 *               non-blocking connect, buffered writes, reads split into
 *               bounded replies, STARTTLS, a timeout on every wait.
 *
 * INTERFACE: sconn_open, sconn_set_owner, sconn_write, sconn_printf,
 *            sconn_expect (n more replies, within timeout_s),
 *            sconn_set_fill (stream the data phase), sconn_starttls,
 *            sconn_close, sconn_cipher, sconn_parse_line, sconn_tls_ctx.
 * ERRORS: every failure reaches the owner once through ops->error with
 *         an errtype ("refused", "timeout_connect", "timeout",
 *         "lost_connection", "tls") and a text; the connection is then
 *         dead and only sconn_close may be called.
 * SECURITY: replies are hostile input: lines are bounded (SC_LINE_MAX),
 *           multiline replies too (SC_REPLY_LINES), codes must be three
 *           digits and agree across lines, and a reply nobody asked for is
 *           an error. Plain text buffered after "220" to STARTTLS is
 *           dropped before the handshake (tls.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/base/xalloc.h"
#include "core/net/tls.h"
#include "transports/smtp_client.h"

#define SC_FILL_LOW 16384       /* refill the data phase below this */

static void io_cb(int fd, unsigned events, void *arg);
static void watch(struct sconn *c);

static void sconn_free(struct sconn *c)
{
    ev_timer_cancel(c->ev, c->timer);
    ev_timer_cancel(c->ev, c->idle_timer);
    if (c->fd >= 0) {
        ev_io_del(c->ev, c->fd);
        if (c->tls != NULL)
            (void)tls_shutdown(c->tls);
        (void)close(c->fd);
    }
    tls_conn_free(c->tls);
    sb_free(&c->out);
    sb_free(&c->rep.text);
    scache_gone(c);
    free(c);
}

/* fail - report the one error, stop all I/O */
static void fail(struct sconn *c, const char *errtype, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct sconn *c, const char *errtype, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    if (c->st == SC_DEAD)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    c->st = SC_DEAD;
    ev_timer_cancel(c->ev, c->timer);
    c->timer = NULL;
    if (c->fd >= 0)
        ev_io_del(c->ev, c->fd);
    c->ops->error(c->owner, errtype, text);
}

static void timeout_cb(void *arg)
{
    struct sconn *c = arg;

    c->timer = NULL;
    c->in_cb++;
    if (c->st == SC_CONNECTING)
        fail(c, "timeout_connect", "connection timed out");
    else
        fail(c, "timeout", "timed out");
    if (--c->in_cb == 0 && c->freed)
        sconn_free(c);
}

/* arm - (re)start the timer while something is awaited; called on
 * progress, so a slow but moving peer is not cut off mid-data */
static void arm(struct sconn *c)
{
    int waiting = c->st == SC_CONNECTING || c->st == SC_HANDSHAKE ||
                  c->expect > 0 || c->out_off < sb_len(&c->out) ||
                  c->fill != NULL;

    ev_timer_cancel(c->ev, c->timer);
    c->timer = NULL;
    if (waiting && c->st != SC_DEAD)
        c->timer = ev_timer_add(c->ev, (uint64_t)c->timeout_s * 1000,
                                timeout_cb, c);
}

static int connect_fd(const char *ip, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
            return errno = EINVAL, -1;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
            return errno = EINVAL, -1;
        len = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* commands and data are gathered in c->out and written whole: Nagle
     * would only hold the last segment (the final "." or QUIT) back for
     * the server's delayed ACK, 40 ms a message */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 &&
        errno != EINPROGRESS) {
        int e = errno;
        (void)close(fd);
        return errno = e, -1;
    }
    return fd;
}

/* sconn_open - start connecting; NULL with errno when that fails at once */
struct sconn *sconn_open(struct ev *ev, const char *ip, int port,
                         long timeout_s, const struct sconn_ops *ops,
                         void *owner)
{
    struct sconn *c;
    int fd = connect_fd(ip, port);

    if (fd < 0)
        return NULL;
    c = xcalloc(1, sizeof(*c));
    c->ev = ev;
    c->fd = fd;
    c->st = SC_CONNECTING;
    c->ops = ops;
    c->owner = owner;
    c->timeout_s = timeout_s > 0 ? timeout_s : 1;
    sb_init(&c->out);
    sb_init(&c->rep.text);
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    c->port = port;
    if (ev_io_set(ev, fd, EV_WRITE, io_cb, c) != 0) {
        int e = errno;
        (void)close(fd);
        c->fd = -1;
        sconn_free(c);
        errno = e;
        return NULL;
    }
    arm(c);
    return c;
}

/* sconn_set_owner - hand the connection to another owner (the cache) */
void sconn_set_owner(struct sconn *c, const struct sconn_ops *ops,
                     void *owner)
{
    c->ops = ops;
    c->owner = owner;
}

/* sconn_write - queue bytes for the server */
void sconn_write(struct sconn *c, const char *p, size_t n)
{
    if (c->st == SC_DEAD)
        return;
    sb_append(&c->out, p, n);
    watch(c);
    arm(c);
}

/* sconn_printf - queue a formatted command */
void sconn_printf(struct sconn *c, const char *fmt, ...)
{
    va_list ap;

    if (c->st == SC_DEAD)
        return;
    va_start(ap, fmt);
    sb_vprintf(&c->out, fmt, ap);
    va_end(ap);
    watch(c);
    arm(c);
}

/* sconn_expect - n more replies are awaited, each within timeout_s */
void sconn_expect(struct sconn *c, unsigned n, long timeout_s)
{
    c->expect += n;
    c->timeout_s = timeout_s > 0 ? timeout_s : 1;
    arm(c);
}

/* sconn_set_fill - stream the data phase from fill, timeout_s per step */
void sconn_set_fill(struct sconn *c, sconn_fill_fn fill, long timeout_s)
{
    c->fill = fill;
    c->timeout_s = timeout_s > 0 ? timeout_s : 1;
    watch(c);
    arm(c);
}

static void connected(struct sconn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        fail(c, err == ECONNREFUSED ? "refused" : "connect", "%s",
             strerror(err));
        return;
    }
    c->st = SC_OPEN;
    arm(c);
    c->ops->ready(c->owner);
}

static void handshake(struct sconn *c)
{
    switch (tls_handshake(c->tls)) {
    case TLS_OK:
        c->st = SC_OPEN;
        c->want_write = 0;
        arm(c);
        c->ops->ready(c->owner);
        return;
    case TLS_WANT_READ:
        c->want_write = 0;
        return;
    case TLS_WANT_WRITE:
        c->want_write = 1;
        return;
    default:
        fail(c, "tls", "TLS handshake failed: %s", tls_error(c->tls));
    }
}

/* sconn_starttls - drop buffered plain text and start the handshake;
 * -1 when no TLS state could be made (nothing happened then) */
int sconn_starttls(struct sconn *c, struct tls_ctx *ctx, const char *sni,
                   const char *verify_name)
{
    c->tls = tls_conn_new(ctx, c->fd, 0, sni);
    if (c->tls == NULL)
        return -1;
    if (verify_name != NULL && tls_verify_name(c->tls, verify_name) != 0) {
        tls_conn_free(c->tls);
        c->tls = NULL;
        return -1;
    }
    c->in_len = 0;              /* never hand plain text to TLS */
    sb_reset(&c->rep.text);
    c->rep.nlines = 0;
    c->st = SC_HANDSHAKE;
    arm(c);
    handshake(c);
    watch(c);
    return 0;
}

/* sconn_cipher - Exim's X= text, "" in clear */
const char *sconn_cipher(struct sconn *c)
{
    return c->tls != NULL ? tls_cipher(c->tls) : "";
}

/* sconn_close - close now (quit: a best-effort QUIT first); safe inside
 * the connection's own callbacks */
void sconn_close(struct sconn *c, int quit)
{
    if (c == NULL)
        return;
    if (quit && c->st == SC_OPEN) {
        size_t done = 0;
        if (c->tls != NULL)
            (void)tls_write(c->tls, "QUIT\r\n", 6, &done);
        else if (write(c->fd, "QUIT\r\n", 6) < 0)
            done = 0;   /* best effort: the peer may be gone */
    }
    if (c->st != SC_DEAD) {
        c->st = SC_DEAD;
        if (c->fd >= 0)
            ev_io_del(c->ev, c->fd);
    }
    if (c->in_cb > 0)
        c->freed = 1;
    else
        sconn_free(c);
}

static ssize_t raw_write(struct sconn *c, const char *p, size_t n)
{
    size_t done = 0;
    enum tls_io r;

    if (c->tls == NULL)
        return write(c->fd, p, n);
    r = tls_write(c->tls, p, n, &done);
    if (done > 0)
        return (ssize_t)done;
    if (r == TLS_WANT_READ || r == TLS_WANT_WRITE)
        return errno = EAGAIN, -1;
    return errno = EPIPE, -1;
}

/* flush - write what is queued, refilling from the data source */
static void flush(struct sconn *c)
{
    for (;;) {
        size_t left = sb_len(&c->out) - c->out_off;
        if (c->fill != NULL && left < SC_FILL_LOW) {
            memmove(c->out.data, c->out.data + c->out_off, left);
            sb_truncate(&c->out, left);
            c->out_off = 0;
            if (c->fill(c->owner, &c->out) == 0)
                c->fill = NULL;
        }
        if (c->out_off >= sb_len(&c->out))
            break;
        ssize_t n = raw_write(c, c->out.data + c->out_off,
                              sb_len(&c->out) - c->out_off);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            fail(c, "lost_connection", "write failed: %s",
                 c->tls != NULL ? tls_error(c->tls) : strerror(errno));
            return;
        }
        c->out_off += (size_t)n;
        arm(c);
    }
    sb_reset(&c->out);
    c->out_off = 0;
}

/* sconn_parse_line - add one reply line (no CRLF) to r: 1 when the reply
 * is complete, 0 when more lines follow, -1 for garbage */
int sconn_parse_line(struct sc_reply *r, const char *line, size_t n)
{
    int code;

    if (n < 3 || n > SC_LINE_MAX || line[0] < '1' || line[0] > '5' ||
        line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
        return -1;
    if (n > 3 && line[3] != ' ' && line[3] != '-')
        return -1;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (r->nlines > 0 && code != r->code)
        return -1;
    if (r->nlines >= SC_REPLY_LINES)
        return -1;
    if (memchr(line, '\0', n) != NULL)
        return -1;
    r->code = code;
    if (r->nlines++ > 0)
        sb_putc(&r->text, '\n');
    sb_append(&r->text, line, n);
    return n == 3 || line[3] == ' ';
}

/* one_line - handle the line at c->in (n bytes, without its LF) */
static void one_line(struct sconn *c, size_t n)
{
    size_t len = n > 0 && c->in[n - 1] == '\r' ? n - 1 : n;
    int rc = sconn_parse_line(&c->rep, c->in, len);

    memmove(c->in, c->in + n + 1, c->in_len - n - 1);
    c->in_len -= n + 1;
    if (rc < 0) {
        fail(c, "lost_connection", "malformed reply from the server");
        return;
    }
    if (rc == 0)
        return;
    if (c->expect == 0) {
        fail(c, "lost_connection", "unexpected reply: %.80s",
             sb_str(&c->rep.text));
        return;
    }
    c->expect--;
    arm(c);
    c->ops->reply(c->owner, &c->rep);
    sb_reset(&c->rep.text);
    c->rep.nlines = 0;
}

/* parse - dispatch every complete reply in the input buffer */
static void parse(struct sconn *c)
{
    while (c->st == SC_OPEN && !c->freed) {
        char *lf = memchr(c->in, '\n', c->in_len);
        if (lf == NULL) {
            if (c->in_len > SC_LINE_MAX + 2)
                fail(c, "lost_connection", "reply line too long");
            return;
        }
        one_line(c, (size_t)(lf - c->in));
    }
}

static ssize_t raw_read(struct sconn *c, char *p, size_t n, int *more)
{
    size_t got = 0;
    enum tls_io r;

    *more = 0;
    if (c->tls == NULL)
        return read(c->fd, p, n);
    r = tls_read(c->tls, p, n, &got);
    c->want_write = r == TLS_WANT_WRITE;
    switch (r) {
    case TLS_OK:
        *more = tls_pending(c->tls);
        return (ssize_t)got;
    case TLS_WANT_READ:
    case TLS_WANT_WRITE:
        return errno = EAGAIN, -1;
    case TLS_CLOSED:
        return 0;
    default:
        return errno = EIO, -1;
    }
}

/* input - read what the kernel (or OpenSSL) holds, dispatching replies */
static void input(struct sconn *c)
{
    int more = 1;

    while (more && c->st == SC_OPEN && !c->freed) {
        size_t room = sizeof(c->in) - c->in_len;
        ssize_t n = raw_read(c, c->in + c->in_len, room, &more);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n == 0) {
            fail(c, "lost_connection", "connection closed by the server");
            return;
        }
        if (n < 0) {
            fail(c, "lost_connection", "read failed: %s",
                 c->tls != NULL ? tls_error(c->tls) : strerror(errno));
            return;
        }
        c->in_len += (size_t)n;
        more = more || (size_t)n == room;
        parse(c);
    }
}

static void watch(struct sconn *c)
{
    unsigned want = EV_READ;

    if (c->st == SC_DEAD || c->fd < 0)
        return;
    if (c->st == SC_CONNECTING)
        want = EV_WRITE;
    else if (c->want_write || c->out_off < sb_len(&c->out) ||
             c->fill != NULL)
        want |= EV_WRITE;
    if (ev_io_set(c->ev, c->fd, want, io_cb, c) != 0)
        fail(c, "lost_connection", "cannot watch the socket: %s",
             strerror(errno));
}

static void io_cb(int fd, unsigned events, void *arg)
{
    struct sconn *c = arg;

    (void)fd;
    (void)events;
    c->in_cb++;
    if (c->st == SC_CONNECTING)
        connected(c);
    else if (c->st == SC_HANDSHAKE)
        handshake(c);
    else if (c->st == SC_OPEN) {
        flush(c);
        input(c);
    }
    if (!c->freed)
        watch(c);
    if (--c->in_cb == 0 && c->freed)
        sconn_free(c);
}

/* sconn_tls_ctx - a client context per (CA file, verify), kept for the
 * life of the process; NULL with eb */
struct tls_ctx *sconn_tls_ctx(const char *ca_file, int verify,
                              struct errbuf *eb)
{
    static struct { char *ca; int verify; struct tls_ctx *ctx; } tab[8];
    static size_t n;
    struct tls_config cfg;
    const char *ca = ca_file != NULL ? ca_file : "system";

    for (size_t i = 0; i < n; i++)
        if (tab[i].verify == verify && strcmp(tab[i].ca, ca) == 0)
            return tab[i].ctx;
    memset(&cfg, 0, sizeof(cfg));
    cfg.ca_file = ca;
    cfg.verify_peer = verify;
    struct tls_ctx *ctx = tls_client_ctx_new(&cfg, eb);
    if (ctx == NULL || n == sizeof(tab) / sizeof(tab[0]))
        return ctx;     /* XXX a ninth CA file is not cached (leaks) */
    tab[n].ca = xstrdup(ca);
    tab[n].verify = verify;
    tab[n].ctx = ctx;
    n++;
    return ctx;
}
