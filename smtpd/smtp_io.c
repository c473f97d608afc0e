/*
 * smtp_io.c - SMTP sessions: creation, non-blocking reads and writes,
 *             reply batching for PIPELINING, timeouts and closing,
 *             and the one setter of the session state.
 *
 * PURPOSE: the input loop hands complete command lines to smtp_cmd.c and
 * DATA/BDAT bytes to smtp_msg.c; replies accumulate in s->out and are
 * written when no complete command is left in the input (so a pipelined
 * group gets its replies in one write) or when an asynchronous step
 * starts. While output is blocked, input is not read (back-pressure).
 * SECURITY: every byte from the client is bounded by SESS_IN_MAX; a line
 * longer than that is refused and skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/log.h"
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "core/spool/notify.h"
#include "route/route_verify.h"
#include "smtpd/smtp_sess.h"
#include "smtpd/smtp_tls.h"

static void sess_io_cb(int fd, unsigned events, void *arg);
static void process_input(struct sess *s);

/* Trace names, indexed by enum sess_state; the size check below fails the
 * build when a state is added without a name. */
static const char *const state_names[] = {
    [SS_START] = "START", [SS_CMD] = "CMD", [SS_DATA] = "DATA",
    [SS_BDAT] = "BDAT", [SS_AUTH] = "AUTH", [SS_CLOSING] = "CLOSING",
};
_Static_assert(sizeof(state_names) / sizeof(state_names[0]) == SS_NSTATES,
               "state_names must name every enum sess_state value");

static const char *state_name(enum sess_state st)
{
    /* a hole (a state inserted without a name) shows, it does not crash */
    if ((unsigned)st >= SS_NSTATES || state_names[st] == NULL)
        return "?";
    return state_names[st];
}

/* smtpin_set_state - change the session state, traced under -dsmtp */
void smtpin_set_state(struct sess *s, enum sess_state st)
{
    if (s->state == st)
        return;                 /* not a change: no trace line */
    log_debug(DBG_SMTP, "smtp: [%s]:%d state %s -> %s", s->ip, s->port,
              state_name(s->state), state_name(st));
    s->state = st;
}

/* sess_reply - queue "CODE STATUS text" (status may be NULL) */
void sess_reply(struct sess *s, int code, const char *status,
                const char *fmt, ...)
{
    va_list ap;

    sb_printf(&s->out, "%d ", code);
    if (status != NULL)
        sb_printf(&s->out, "%s ", status);
    va_start(ap, fmt);
    sb_vprintf(&s->out, fmt, ap);
    va_end(ap);
    sb_puts(&s->out, "\r\n");
}

/* sess_reply_multi - a reply whose text may hold several lines ("\n") */
void sess_reply_multi(struct sess *s, int code, const char *status,
                      const char *text)
{
    while (*text != '\0') {
        size_t n = strcspn(text, "\n");
        int last = text[n] == '\0' || text[n + 1] == '\0';
        sb_printf(&s->out, "%d%c", code, last ? ' ' : '-');
        if (status != NULL)
            sb_printf(&s->out, "%s ", status);
        for (size_t i = 0; i < n; i++)      /* no CR/LF/control from data */
            sb_putc(&s->out, (unsigned char)text[i] < 0x20 ? ' ' : text[i]);
        sb_puts(&s->out, "\r\n");
        text += n + (text[n] != '\0');
    }
}

/* watch_fds - ask the loop for want on the session's descriptor(s) */
static int watch_fds(struct sess *s, unsigned want)
{
    struct ev *ev = s->srv->o.ev;

    if (s->fd_in == s->fd_out)
        return ev_io_set(ev, s->fd_in, want, sess_io_cb, s);
    if (ev_io_set(ev, s->fd_in, want & EV_READ, sess_io_cb, s) != 0)
        return -1;
    return ev_io_set(ev, s->fd_out, want & EV_WRITE, sess_io_cb, s);
}

/* watch - register the events the session waits for. lazy: while a step
 * runs (an ACL, a commit) the session wants no input, but most steps end
 * within a turn or two and the client, waiting for the reply, sends
 * nothing: the fd stays watched for reading, and sess_io_cb stops
 * watching it only if input does arrive meanwhile. That saves two
 * epoll_ctl calls per command. */
static void watch(struct sess *s, int lazy)
{
    unsigned want = 0;

    if (s->closed || s->handshaking)    /* smtp_tls.c watches the fd */
        return;
    if (sb_len(&s->out) > 0)
        want |= EV_WRITE;
    else if (!s->busy && s->state != SS_CLOSING && !s->eof)
        want |= EV_READ;
    if (want == s->watching && s->watching != (unsigned)-1)
        return;                 /* unchanged: no epoll_ctl */
    if (lazy && want == 0 && s->busy && s->watching == EV_READ
        && s->state != SS_CLOSING && !s->eof)
        return;                 /* see above */
    s->watching = want;
    if (watch_fds(s, want) != 0) {
        /* nobody would ever wake this session: end it, say why */
        log_main("SMTP connection from [%s]:%d: cannot wait for I/O: %s",
                 s->ip, s->port, strerror(errno));
        sess_close(s, NULL);
    }
}

static ssize_t raw_write(struct sess *s, const char *p, size_t n)
{
    if (s->tls != NULL)
        return stls_write(s, p, n);
    ssize_t w = s->fd_out == s->fd_in
                ? send(s->fd_out, p, n, MSG_NOSIGNAL) : write(s->fd_out, p, n);
    return w;
}

/* sess_flush - write what is queued; the rest waits for EV_WRITE */
void sess_flush(struct sess *s)
{
    while (sb_len(&s->out) > 0) {
        ssize_t w = raw_write(s, sb_str(&s->out), sb_len(&s->out));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            sb_reset(&s->out);
            sess_close(s, "connection lost while writing");
            return;
        }
        memmove(s->out.data, s->out.data + w, sb_len(&s->out) - (size_t)w);
        sb_truncate(&s->out, sb_len(&s->out) - (size_t)w);
    }
    if (sb_len(&s->out) == 0 && s->state == SS_CLOSING) {
        sess_close(s, NULL);
        return;
    }
    watch(s, 1);
}

static void sess_free(struct sess *s)
{
    struct smtp_server *srv = s->srv;

    sess_reset_txn(s);
    sb_free(&s->txn.msg);
    sb_free(&s->txn.added);
    sb_free(&s->out);
    acl_vars_free(&s->conn_vars);
    acl_vars_free(&s->conn_rates);
    free(s->name);
    free(s->helo);
    free(s->auth_id);
    free(s->sasl);
    sess_rejlog_free(s);
    if (srv->o.on_close != NULL && s->fd_in > 2)
        srv->o.on_close(s->ip, srv->o.on_close_arg);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
    srv->nsessions--;
}

static void free_cb(void *arg)
{
    sess_free(arg);
}

/* sess_close - end the session now (why: logged unless NULL) */
void sess_close(struct sess *s, const char *why)
{
    struct ev *ev = s->srv->o.ev;

    if (s->closed)
        return;
    s->closed = 1;
    sess_reject_summary(s);
    if (why != NULL && s->ip[0] != '\0')
        log_main("SMTP connection from [%s]:%d lost: %s", s->ip, s->port,
                 why);
    if (!s->quit_seen && s->state != SS_START)
        sess_notquit(s, why ? why : "connection closed");
    acl_cancel(s->acl);
    s->acl = NULL;
    route_verify_cancel(s->verify);
    s->verify = NULL;
    ev_timer_cancel(ev, s->timer);
    ev_timer_cancel(ev, s->delay);
    s->timer = s->delay = NULL;
    stls_free(s);
    ev_io_del(ev, s->fd_in);
    if (s->fd_out != s->fd_in)
        ev_io_del(ev, s->fd_out);
    if (s->fd_in > 2)
        close(s->fd_in);
    if (s->fd_out > 2 && s->fd_out != s->fd_in)
        close(s->fd_out);
    /* freed from the loop, after the callback that closed it returns;
     * a spool commit in progress frees it when it calls back */
    if (!s->committing)
        ev_timer_add(ev, 0, free_cb, s);
}

/* sess_commit_done - a commit called back; 1 if the session is gone (and
 * freed), so the caller must not touch it */
int sess_commit_done(struct sess *s)
{
    s->committing = 0;
    if (!s->closed)
        return 0;
    sess_free(s);
    return 1;
}

static void timeout_cb(void *arg)
{
    struct sess *s = arg;
    struct ev *ev = s->srv->o.ev;

    s->timer = NULL;
    if (ev_now_ms(ev) < s->timeout_at) {    /* re-armed since: wait on */
        s->timer_due = s->timeout_at;
        s->timer = ev_timer_add(ev, s->timeout_at - ev_now_ms(ev),
                                timeout_cb, s);
        return;
    }
    sess_note(s);
    sess_reply(s, 421, "4.4.2", "%s: SMTP %s timeout - closing connection",
               s->srv->o.conf->main.primary_hostname,
               s->state == SS_DATA || s->state == SS_BDAT ? "incoming data"
                                                          : "command");
    log_main("SMTP %s timeout on connection from [%s]:%d",
             s->state == SS_DATA || s->state == SS_BDAT ? "data" : "command",
             s->ip, s->port);
    smtpin_set_state(s, SS_CLOSING);
    sess_flush(s);
}

/* sess_arm_timeout - (re)start the command or data timeout. Every
 * command restarts it, so it only moves the deadline; the timer, when it
 * fires early, waits on (a heap removal and insertion per command
 * saved). A deadline earlier than the armed timer re-arms it. */
void sess_arm_timeout(struct sess *s)
{
    const struct conf_main *m = &s->srv->o.conf->main;
    struct ev *ev = s->srv->o.ev;
    long secs = s->state == SS_DATA || s->state == SS_BDAT
                ? m->smtp_data_timeout : m->smtp_receive_timeout;

    if (secs <= 0) {
        ev_timer_cancel(ev, s->timer);
        s->timer = NULL;
        return;
    }
    s->timeout_at = ev_now_ms(ev) + (uint64_t)secs * 1000;
    if (s->timer != NULL && s->timer_due <= s->timeout_at)
        return;
    ev_timer_cancel(ev, s->timer);
    s->timer_due = s->timeout_at;
    s->timer = ev_timer_add(ev, (uint64_t)secs * 1000, timeout_cb, s);
}

/* sess_resume - an asynchronous step finished: go on with the input */
void sess_resume(struct sess *s)
{
    s->busy = 0;
    if (!s->closed)
        process_input(s);
}

static void consume(struct sess *s, size_t n)
{
    memmove(s->in, s->in + n, s->in_len - n);
    s->in_len -= n;
}

/* One complete line (LF-terminated; a CR before it is dropped). */
static int next_line(struct sess *s)
{
    char *lf = memchr(s->in, '\n', s->in_len);
    size_t len;

    if (lf == NULL) {
        if (s->in_len < SESS_IN_MAX)
            return 0;
        if (!s->skip_line) {
            sess_reply(s, 500, "5.5.2", "Line too long");
            s->bad_commands++;
        }
        s->skip_line = 1;       /* the rest of the line is dropped too */
        s->in_len = 0;
        return 0;
    }
    len = (size_t)(lf - s->in);
    if (s->skip_line) {         /* the tail of an overlong line */
        s->skip_line = 0;
        consume(s, len + 1);
        return 1;
    }
    if (len > 0 && s->in[len - 1] == '\r')
        len--;
    size_t used = (size_t)(lf - s->in) + 1;

    s->in_next = used;          /* what follows the line: smtp_sync.c */
    if (s->state == SS_AUTH)
        sess_auth_line(s, s->in, len);
    else
        sess_command_line(s, s->in, len);
    /* STARTTLS empties the buffer: pipelined plain text is discarded */
    if (!s->closed && s->in_len >= used)
        consume(s, used);
    return 1;
}

/* Why input that ended here was cut short, or NULL when it ended between
 * commands: an unfinished command line (or AUTH response, or the tail of
 * an overlong line) or unfinished message data can never be completed. */
static const char *unfinished_input(const struct sess *s)
{
    if (s->state == SS_CLOSING)
        return NULL;            /* after QUIT or 421: leftovers are junk */
    if (s->state == SS_DATA || s->state == SS_BDAT)
        return "unexpected disconnection while reading message data";
    if (s->in_len > 0 || s->skip_line)
        return "unexpected disconnection while reading SMTP command";
    return NULL;
}

/* The client will send nothing more and no step is running: answer what
 * is queued, then close at once, which also frees the session's
 * connection slot (a half-closed client must not hold it until
 * smtp_receive_timeout). */
static void input_ended(struct sess *s)
{
    const char *why = unfinished_input(s);

    if (sb_len(&s->out) == 0 && s->state != SS_CLOSING) {
        int quiet = s->srv->o.exit_when_idle && why == NULL;
        sess_close(s, quiet ? NULL : why ? why
                                         : "connection closed by client");
        return;
    }
    if (why != NULL && s->ip[0] != '\0')
        log_main("SMTP connection from [%s]:%d lost: %s", s->ip, s->port,
                 why);
    smtpin_set_state(s, SS_CLOSING);
    sess_flush(s);
}

static void process_input(struct sess *s)
{
    while (!s->busy && !s->closed && s->state != SS_CLOSING
           && s->in_len > 0) {
        size_t used;
        if (s->state == SS_DATA || s->state == SS_BDAT) {
            used = s->state == SS_DATA ? sess_data_input(s, s->in, s->in_len)
                                       : sess_bdat_input(s, s->in, s->in_len);
            if (s->closed)
                return;
            consume(s, used);
            if (used == 0)
                break;
            continue;
        }
        if (!next_line(s))
            break;
    }
    if (s->closed)
        return;
    if (s->eof && !s->busy && s->state != SS_CLOSING) {
        input_ended(s);         /* answer what was read, then close */
        return;
    }
    if (!s->busy)
        sess_arm_timeout(s);
    sess_flush(s);
}

static ssize_t raw_read(struct sess *s, char *p, size_t n)
{
    if (s->tls != NULL)
        return stls_read(s, p, n);
    return read(s->fd_in, p, n);
}

static void read_input(struct sess *s);

static void read_input(struct sess *s)
{
    ssize_t r = raw_read(s, s->in + s->in_len, SESS_IN_MAX - s->in_len);

    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (r == 0) {
        s->eof = 1;     /* a running step finishes first (half-close) */
        if (!s->busy)
            input_ended(s);
        return;
    }
    if (r < 0) {
        int quiet = s->state == SS_CLOSING || s->srv->o.exit_when_idle;
        sess_close(s, quiet ? NULL : strerror(errno));
        return;
    }
    s->in_len += (size_t)r;
    process_input(s);
    /* bytes OpenSSL already decrypted will not make the fd readable */
    if (!s->closed && !s->busy && stls_pending(s)
        && s->in_len < SESS_IN_MAX && sb_len(&s->out) == 0)
        read_input(s);
}

/* sess_note - see smtp_sess.h */
void sess_note(const struct sess *s)
{
    if (watchdog_active())
        watchdog_notef(WD_SESSION, "[%s]:%d", s->ip, s->port);
}

static void sess_io_cb(int fd, unsigned events, void *arg)
{
    struct sess *s = arg;

    (void)fd;
    sess_note(s);
    if ((events & EV_WRITE) && sb_len(&s->out) > 0) {
        sess_flush(s);
        if (s->closed)
            return;
    }
    if (!(events & EV_READ) || s->closed || sb_len(&s->out) > 0)
        return;
    if (s->busy)
        watch(s, 0);    /* input during a step: wait until it ends */
    else
        read_input(s);
}

static struct sess *sess_new(struct smtp_server *srv, int fd_in, int fd_out)
{
    struct sess *s = xcalloc(1, sizeof(*s));

    s->srv = srv;
    s->id = ++srv->next_id;
    s->fd_in = fd_in;
    s->fd_out = fd_out;
    s->watching = (unsigned)-1;
    /* state SS_START (0) from xcalloc: the session is born there, which
     * is not a change to trace */
    sb_init(&s->out);
    sb_init(&s->txn.msg);
    sb_init(&s->txn.added);
    s->next = srv->sessions;
    if (s->next != NULL)
        s->next->prev = s;
    srv->sessions = s;
    srv->nsessions++;
    return s;
}

static void peer_text(struct sess *s, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, s->ip, sizeof(s->ip));
        s->port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, s->ip, sizeof(s->ip));
        if (strncmp(s->ip, "::ffff:", 7) == 0 && strchr(s->ip, '.'))
            memmove(s->ip, s->ip + 7, strlen(s->ip + 7) + 1);
        s->port = ntohs(in6->sin6_port);
    }
}

/* smtp_session_start - serve an accepted, non-blocking socket */
void smtp_session_start(struct smtp_server *srv, int fd,
                        const struct sockaddr *peer, socklen_t peerlen,
                        int local_port, int tls_on_connect)
{
    struct sess *s = sess_new(srv, fd, fd);

    (void)peerlen;
    peer_text(s, peer);
    sess_note(s);
    s->local_port = local_port;
    sess_sync_init(s);
    if (tls_on_connect)
        sess_start_tls(s);      /* greets once the handshake is done */
    else
        sess_greet(s);
}

/* smtp_session_stdio - one session on stdin/stdout (-bs, -bh) */
void smtp_session_stdio(struct smtp_server *srv, const char *client_ip)
{
    struct sess *s = sess_new(srv, 0, 1);

    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
    snprintf(s->ip, sizeof(s->ip), "%s", client_ip ? client_ip : "");
    s->port = client_ip && *client_ip ? 1234 : 0;
    sess_greet(s);
}

/* smtp_server_new - the sessions of one worker */
struct smtp_server *smtp_server_new(const struct smtp_server_opts *o)
{
    struct smtp_server *srv = xcalloc(1, sizeof(*srv));

    srv->o = *o;
    if (!o->fake && o->ev != NULL)
        srv->notifier = notifier_new(o->ev, o->conf->main.spool_directory);
    return srv;
}

/* smtp_server_free - NULL ok; sessions must be gone */
void smtp_server_free(struct smtp_server *srv)
{
    if (srv != NULL)
        notifier_free(srv->notifier);
    free(srv);
}

/* smtp_server_count - sessions open */
unsigned smtp_server_count(const struct smtp_server *srv)
{
    return srv->nsessions;
}

/* smtp_server_drain - stop taking commands; see smtp_in.h */
void smtp_server_drain(struct smtp_server *srv)
{
    struct sess *s, *next;

    srv->draining = 1;
    for (s = srv->sessions; s != NULL; s = next) {
        next = s->next;
        if (s->busy || s->closed || s->state != SS_CMD
            || s->txn.sender != NULL || s->in_len > 0)
            continue;           /* busy ones are told after their step */
        sess_reply(s, 421, "4.3.2", "%s: service shutting down",
                   srv->o.conf->main.primary_hostname);
        smtpin_set_state(s, SS_CLOSING);
        sess_flush(s);
    }
}

/* smtp_server_done - nothing left to serve */
int smtp_server_done(const struct smtp_server *srv)
{
    return srv->nsessions == 0;
}

/* sess_host_text - "H=name (helo) [ip]:port" as Exim logs a host */
const char *sess_host_text(const struct sess *s, struct strbuf *sb)
{
    sb_puts(sb, "H=");
    return sess_host_ident(s, sb);
}

/* sess_host_ident - see smtp_sess.h */
const char *sess_host_ident(const struct sess *s, struct strbuf *sb)
{
    if (s->name != NULL) {
        logfile_escape_str(sb, s->name);
        sb_putc(sb, ' ');
    }
    if (s->helo != NULL) {
        sb_putc(sb, '(');
        logfile_escape_str(sb, s->helo);
        sb_puts(sb, ") ");
    }
    sb_printf(sb, "[%s]:%d", s->ip, s->port);
    return sb_str(sb);
}
