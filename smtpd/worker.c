/*
 * worker.c - an SMTP worker: accepts connections on the inherited
 *            listening sockets and serves them on one event loop.
 *
 * PURPOSE: each accepted connection is checked against the shared limits
 * (refused with 421 and a log line when over), then handed to
 * smtp_session_start. Out of descriptors (EMFILE/ENFILE, or fewer than
 * FD_SPARE left for the open sessions' spool files), it stops accepting
 * for ACCEPT_PAUSE_MS and says so at most once a minute, rather than spin
 * on a listener that stays readable. SIGTERM: stop accepting, let
 * sessions finish for at most shutdown_timeout, then exit.
 * SIGUSR1/SIGHUP: reopen the logs. The worker dies with the master
 * (PR_SET_PDEATHSIG), so a killed master leaves no orphan serving an old
 * configuration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/net/dns.h"
#include "core/conf/resolver.h"
#include "smtpd/limits.h"
#include "smtpd/listen.h"
#include "core/mail/logfile.h"
#include "smtpd/smtp_in.h"
#include "core/spool/spool.h"
#include "core/net/tls.h"
#include "smtpd/worker.h"

#define ACCEPT_PAUSE_MS 250        /* out of descriptors: stop accepting */
#define ACCEPT_LOG_EVERY_MS 60000   /* at most one line a minute about it */
#define FD_SPARE 32                 /* kept for spool files, logs, DNS */

struct worker {
    struct conf *conf;
    const struct listeners *ls;
    struct limits *lim;
    int index;
    struct ev *ev;
    struct smtp_server *srv;
    int stopping;
    int sigfd;
    struct ev_timer *resume;    /* accepting paused until it fires */
    uint64_t logged_at;         /* last "cannot accept" line (ev ms) */
    unsigned long pauses;       /* pauses since that line */
    long fd_limit;              /* RLIMIT_NOFILE, 0 if unknown */
};

static void accept_cb(int fd, unsigned events, void *arg);

static void refuse(struct worker *w, int fd, const char *ip, const char *why)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "421 4.7.0 %s: %s\r\n",
                     w->conf->main.primary_hostname, why);

    if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        n = 0;
    close(fd);
    log_reject("Connection from [%s] refused: %s", ip, why);
}

static void ip_of(const struct sockaddr_storage *ss, char *ip, size_t size)
{
    const void *a = ss->ss_family == AF_INET
                    ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                    : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

    if (inet_ntop(ss->ss_family, a, ip, (socklen_t)size) == NULL)
        ip[0] = '\0';
    if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip, '.') != NULL)
        memmove(ip, ip + 7, strlen(ip + 7) + 1);
}

/* (Re)watch every listening socket, or stop watching them (events 0). */
/* watch (or stop watching: events 0) the listening sockets; -1 when one
 * cannot be watched */
static int watch_listeners(struct worker *w, unsigned events)
{
    for (size_t i = 0; i < w->ls->n; i++)
        if (ev_io_set(w->ev, w->ls->v[i].fd, events, accept_cb, w) != 0)
            return -1;
    return 0;
}

static void resume_cb(void *arg)
{
    struct worker *w = arg;

    w->resume = NULL;
    if (!w->stopping && watch_listeners(w, EV_READ) != 0)
        log_panic("SMTP worker: cannot watch a listening socket again: %s",
                  strerror(errno));
}

/* accept() failed for want of descriptors or memory. The connection stays
 * in the kernel's queue, so the listener stays readable: watching it would
 * spin the loop. Stop watching it for a moment instead, keep serving the
 * open sessions (which free descriptors as they end), and say so in the
 * log at most once a minute. */
static void pause_accepting(struct worker *w, const char *why)
{
    uint64_t now = ev_now_ms(w->ev);

    if (w->resume != NULL)
        return;
    w->pauses++;
    if (w->logged_at == 0 || now - w->logged_at >= ACCEPT_LOG_EVERY_MS) {
        log_main("worker %d: cannot accept connections: %s (%u sessions "
                 "open); pausing accepting for %d ms (%lu pause%s since "
                 "the last such line)", w->index, why,
                 smtp_server_count(w->srv), ACCEPT_PAUSE_MS, w->pauses,
                 w->pauses == 1 ? "" : "s");
        w->logged_at = now;
        w->pauses = 0;
    }
    (void)watch_listeners(w, 0);   /* removing interest does not fail */
    w->resume = ev_timer_add(w->ev, ACCEPT_PAUSE_MS, resume_cb, w);
}

/* The connection got one of the last FD_SPARE descriptors: the sessions
 * already open need those for their spool files, so it gets a 421 (not
 * logged one by one) and accepting pauses. */
static int fd_spare_low(struct worker *w, int fd)
{
    static const char msg[] = "421 4.3.2 Too many concurrent SMTP "
                              "connections; please try again later\r\n";

    if (w->fd_limit <= 0 || fd < w->fd_limit - FD_SPARE)
        return 0;
    /* the client is told if its socket takes it; no retry */
    (void)send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
    pause_accepting(w, "too few file descriptors left");
    return 1;
}

/* One connection from l: 1 = accepted (or refused), 0 = none waiting or
 * accepting is paused. */
static int accept_one(struct worker *w, const struct listener *l)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const char *why;
    char ip[64];
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
            || errno == ENOMEM) {
            pause_accepting(w, strerror(errno));
            return 0;
        }
        /* ECONNABORTED, EPERM (firewall), EINTR: try the next one */
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
    if (fd_spare_low(w, fd))
        return 0;
    ip_of(&ss, ip, sizeof(ip));
    if (limits_enter(w->lim, w->index, ip, &w->conf->main, &why) != 0) {
        refuse(w, fd, ip, why);
        return 1;
    }
    smtp_session_start(w->srv, fd, (struct sockaddr *)&ss, len, l->port,
                       l->tls_on_connect);
    return 1;
}

static void accept_cb(int fd, unsigned events, void *arg)
{
    struct worker *w = arg;

    (void)events;
    for (size_t i = 0; i < w->ls->n; i++)
        if (w->ls->v[i].fd == fd)
            for (int k = 0; k < 64 && !w->stopping && w->resume == NULL;
                 k++)
                if (!accept_one(w, &w->ls->v[i]))
                    break;
}

static void session_gone(const char *ip, void *arg)
{
    struct worker *w = arg;

    limits_leave(w->lim, w->index, ip);
}

static void stop_listening(struct worker *w)
{
    w->stopping = 1;
    ev_timer_cancel(w->ev, w->resume);
    w->resume = NULL;
    for (size_t i = 0; i < w->ls->n; i++) {
        ev_io_del(w->ev, w->ls->v[i].fd);
        close(w->ls->v[i].fd);  /* the socket closes with the last copy */
    }
    smtp_server_drain(w->srv);
}

static void shutdown_cb(void *arg)
{
    struct worker *w = arg;

    log_main("worker %d: %u session(s) still open at shutdown; closing",
             w->index, smtp_server_count(w->srv));
    exit(0);
}

static void signal_cb(int fd, unsigned events, void *arg)
{
    struct worker *w = arg;
    struct signalfd_siginfo si;

    (void)events;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM && !w->stopping) {
            stop_listening(w);
            ev_timer_add(w->ev, (uint64_t)w->conf->main.shutdown_timeout
                         * 1000, shutdown_cb, w);
        } else if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGHUP) {
            logfile_reopen();
        }
    }
}

static int setup_signals(struct worker *w)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    w->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return w->sigfd < 0 ? -1 : ev_io_set(w->ev, w->sigfd, EV_READ,
                                         signal_cb, w);
}

static struct tls_ctx *server_tls(const struct conf *c)
{
    struct tls_config tc = { 0 };
    struct errbuf eb;
    struct tls_ctx *ctx;

    if (c->main.tls_certificate == NULL)
        return NULL;
    tc.certificate = c->main.tls_certificate;
    tc.privatekey = c->main.tls_privatekey ? c->main.tls_privatekey
                                           : c->main.tls_certificate;
    tc.chain = c->main.tls_chain;
    tc.ciphers = c->main.tls_ciphers;
    tc.min_protocol = c->main.tls_min_protocol;
    ctx = tls_server_ctx_new(&tc, &eb);
    if (ctx == NULL)
        log_panic("TLS disabled: %s", eb.msg);
    return ctx;
}

static void serve(struct worker *w)
{
    struct errbuf eb;
    struct smtp_server_opts o = { 0 };

    o.conf = w->conf;
    o.ev = w->ev;
    o.dns = conf_resolver(w->conf, w->ev, &eb);
    if (o.dns == NULL)
        log_panic("worker %d: no DNS resolver: %s", w->index, eb.msg);
    o.spool = spool_open(w->conf->main.spool_directory, w->ev, &eb);
    if (o.spool == NULL) {
        log_panic("worker %d: cannot open the spool: %s", w->index, eb.msg);
        exit(75);
    }
    o.tls = server_tls(w->conf);
    o.limits = w->lim;
    o.on_close = session_gone;
    o.on_close_arg = w;
    w->srv = smtp_server_new(&o);
}

/* worker_main - serve until stopped */
void worker_main(struct conf *c, const struct listeners *ls,
                 struct limits *lim, int index)
{
    struct worker w = { c, ls, lim, index, NULL, NULL, 0, -1, NULL, 0, 0,
                        0 };
    struct rlimit rl;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        exit(0);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        w.fd_limit = (long)rl.rlim_cur;
    w.ev = ev_new();
    if (setup_signals(&w) != 0)
        exit(71);
    serve(&w);
    if (watch_listeners(&w, EV_READ) != 0) {
        log_panic("SMTP worker %d: cannot watch a listening socket: %s",
                  index, strerror(errno));
        exit(71);
    }
    while (!(w.stopping && smtp_server_done(w.srv)))
        ev_run_once(w.ev, -1);
    exit(0);
}
