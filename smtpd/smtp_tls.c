/*
 * smtp_tls.c - TLS for SMTP sessions: STARTTLS and implicit TLS (port 465)
 *              over core/net/tls.h, handshake driven by the event loop.
 *
 * PURPOSE: after "220 2.0.0 Ready to start TLS" the session discards any
 * plain text the client pipelined (RFC 3207 §5; it must never be
 * interpreted inside TLS), runs the handshake without blocking, and then
 * starts over: no HELO, no transaction, no authentication survive.
 * SECURITY: a handshake failure closes the connection and is logged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/ev.h"
#include "core/mail/logfile.h"
#include "smtpd/smtp_sess.h"
#include "smtpd/smtp_tls.h"
#include "core/net/tls.h"

static void handshake(struct sess *s);

static void handshake_cb(int fd, unsigned events, void *arg)
{
    (void)fd;
    (void)events;
    sess_note(arg);
    handshake(arg);
}

static void tls_ready(struct sess *s)
{
    int on_connect = s->state == SS_START;

    sess_set_greeting(s, NULL, 0);      /* RFC 3207: forget it all */
    free(s->auth_id);
    s->auth_id = NULL;
    sess_reset_txn(s);
    s->in_len = 0;
    ev_io_set(s->srv->o.ev, s->fd_in, 0, handshake_cb, s);
    s->watching = (unsigned)-1;
    s->handshaking = 0;
    s->busy = 0;
    if (on_connect)
        sess_greet(s);
    else
        sess_resume(s);
}

/* handshake_fail - a TLS error (why, for the log) ends the session */
static void handshake_fail(struct sess *s, const char *why)
{
    log_main("TLS error on connection from [%s]:%d (SSL_accept): %s",
             s->ip, s->port, why);
    s->handshaking = 0;
    s->busy = 0;
    sess_close(s, NULL);
}

static void handshake(struct sess *s)
{
    enum tls_io r = tls_handshake(s->tls);

    switch (r) {
    case TLS_OK:
        tls_ready(s);
        return;
    case TLS_WANT_READ:
    case TLS_WANT_WRITE:
        if (ev_io_set(s->srv->o.ev, s->fd_in,
                      r == TLS_WANT_READ ? EV_READ : EV_WRITE,
                      handshake_cb, s) != 0)
            handshake_fail(s, strerror(errno));
        return;
    default:
        handshake_fail(s, tls_error(s->tls));
    }
}

/* sess_start_tls - begin the handshake on the session's socket */
int sess_start_tls(struct sess *s)
{
    s->tls = tls_conn_new(s->srv->o.tls, s->fd_in, 1, NULL);
    if (s->tls == NULL) {
        log_main("TLS unavailable for [%s]:%d", s->ip, s->port);
        sess_close(s, NULL);
        return -1;
    }
    s->busy = 1;
    s->handshaking = 1;
    s->in_len = 0;
    sess_arm_timeout(s);
    handshake(s);
    return 0;
}

static ssize_t result(enum tls_io r, size_t n, int reading)
{
    switch (r) {
    case TLS_OK:
        return (ssize_t)n;
    case TLS_WANT_READ:
    case TLS_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case TLS_CLOSED:
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    default:
        errno = EIO;
        return -1;
    }
}

/* stls_read - read() semantics over TLS */
ssize_t stls_read(struct sess *s, char *p, size_t n)
{
    size_t got = 0;
    enum tls_io r = tls_read(s->tls, p, n, &got);

    return result(r, got, 1);
}

/* stls_write - write() semantics over TLS (partial writes reported) */
ssize_t stls_write(struct sess *s, const char *p, size_t n)
{
    size_t done = 0;
    enum tls_io r = tls_write(s->tls, p, n, &done);

    if (done > 0)
        return (ssize_t)done;
    return result(r, done, 0);
}

/* stls_pending - decrypted bytes wait inside OpenSSL */
int stls_pending(const struct sess *s)
{
    return s->tls != NULL && tls_pending(s->tls);
}

/* stls_free - close TLS state (the socket is closed by the caller) */
void stls_free(struct sess *s)
{
    if (s->tls == NULL)
        return;
    tls_shutdown(s->tls);
    tls_conn_free(s->tls);
    s->tls = NULL;
}

/* stls_cipher - Exim's X= text, or NULL without TLS */
const char *stls_cipher(const struct sess *s)
{
    const char *c = s->tls ? tls_cipher(s->tls) : NULL;

    return c && *c ? c : NULL;
}
