/*
 * smtp_in.h - the SMTP server side: sessions on a worker's event loop.
 *
 * A worker creates one smtp_server (its configuration, loop, spool,
 * resolver and TLS context) and hands it every accepted connection. Each
 * session is a non-blocking state machine; nothing a session does blocks
 * the others.
 *
 * INTERFACE: smtp_server_new/free, smtp_session_start (a connection),
 *            smtp_session_stdio (-bs, -bh on stdin/stdout),
 *            smtp_server_count (open sessions), smtp_server_drain (stop
 *            reading new commands; close idle sessions), smtp_server_on_idle
 *            (callback when the last session is gone).
 * ERRORS: per session; a session that cannot proceed answers 421 and
 *         closes. Nothing here exits the process.
 */
#ifndef TERN_SMTP_IN_H
#define TERN_SMTP_IN_H

#include <sys/socket.h>

struct conf;
struct ev;
struct spool;
struct dns_ctx;
struct tls_ctx;
struct limits;

struct smtp_server_opts {
    struct conf *conf;
    struct ev *ev;
    struct spool *spool;        /* NULL with fake (-bh) */
    struct dns_ctx *dns;
    struct tls_ctx *tls;        /* NULL: no STARTTLS */
    struct limits *limits;      /* NULL: no cross-process limits */
    int fake;                   /* -bh: trace ACLs, spool nothing */
    int exit_when_idle;         /* -bs/-bh: stop the loop after QUIT */
    /* a session ended (limits bookkeeping); ip as given by the peer */
    void (*on_close)(const char *ip, void *arg);
    void *on_close_arg;
};

struct smtp_server;

struct smtp_server *smtp_server_new(const struct smtp_server_opts *o);
void smtp_server_free(struct smtp_server *srv);
/* smtp_session_start - serve an accepted, non-blocking socket */
void smtp_session_start(struct smtp_server *srv, int fd,
                        const struct sockaddr *peer, socklen_t peerlen,
                        int local_port, int tls_on_connect);
/* smtp_session_stdio - serve stdin/stdout as one session from client_ip
 * ("" for -bs: local submission) */
void smtp_session_stdio(struct smtp_server *srv, const char *client_ip);
unsigned smtp_server_count(const struct smtp_server *srv);
/* smtp_server_drain - finish: no new commands after the current one,
 * idle sessions get 421 and close */
void smtp_server_drain(struct smtp_server *srv);
int smtp_server_done(const struct smtp_server *srv);

#endif
