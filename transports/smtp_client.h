/*
 * smtp_client.h - private interface of the smtp transport's asynchronous
 *                 client, shared by its files only (not a public header).
 *
 * PURPOSE: smtp.c (options, driver struct) -> smtp_client.c (one batch:
 * hosts in order, greeting, EHLO/HELO, STARTTLS, AUTH) -> smtp_client_txn.c
 * (MAIL/RCPT/DATA transactions, results) over smtp_conn.c (a non-blocking
 * connection: connect, buffered I/O, TLS, bounded reply parsing, timeouts)
 * and smtp_conn_cache.c (idle connections kept for reuse; the total and
 * per-host connection limits with a queue of waiting batches).
 * INTERFACE: struct smtp_opts, struct sconn + sconn_*, scache_*, sjob_*.
 * ERRORS: a connection reports one failure through ops->error(errtype,
 *         text) and then only sconn_close may be called on it.
 */
#ifndef TERN_SMTP_CLIENT_H
#define TERN_SMTP_CLIENT_H

#include <stddef.h>

#include "core/base/strbuf.h"
#include "transports/deliver.h"
#include "core/conf/driver.h"

struct ev;
struct ev_timer;
struct tls_conn;
struct tls_ctx;

struct smtp_opts {
    long port;
    struct mlist *hosts_require_tls;
    struct mlist *hosts_avoid_tls;
    struct mlist *tls_verify_hosts;
    const char *tls_verify_certificates;
    const char *tls_sni;
    struct mlist *hosts_require_auth;
    const char *auth_credentials;
    long connect_timeout;
    long command_timeout;
    long data_timeout;
    long max_rcpt;
    long connection_max_messages;
    long connection_max_per_host;
    struct xval helo_data;
};

#define SC_LINE_MAX 2048        /* one reply line, CRLF excluded */
#define SC_REPLY_LINES 100      /* lines of one multiline reply */
#define SC_IDLE_MS 5000         /* an idle cached connection lives this long */

/* EHLO capabilities */
enum {
    SC_PIPELINING = 1 << 0, SC_SIZE = 1 << 1, SC_8BITMIME = 1 << 2,
    SC_SMTPUTF8 = 1 << 3, SC_STARTTLS = 1 << 4, SC_AUTH_PLAIN = 1 << 5,
    SC_AUTH_LOGIN = 1 << 6, SC_AUTH = 1 << 7,
};

struct sc_reply {
    int code;                   /* 100..599 */
    unsigned nlines;
    struct strbuf text;         /* the lines as received, joined by '\n' */
};

struct sconn_ops {
    void (*ready)(void *owner);     /* connected / TLS handshake done */
    void (*reply)(void *owner, const struct sc_reply *r);
    void (*error)(void *owner, const char *errtype, const char *text);
};

/* fill - append the next piece of the data phase to out: 1 more to come,
 * 0 when the terminating ".\r\n" has been appended */
typedef int (*sconn_fill_fn)(void *owner, struct strbuf *out);

enum sconn_state { SC_CONNECTING, SC_HANDSHAKE, SC_OPEN, SC_DEAD };

struct sconn {
    struct ev *ev;
    int fd;
    struct tls_conn *tls;
    enum sconn_state st;
    const struct sconn_ops *ops;
    void *owner;
    sconn_fill_fn fill;
    struct strbuf out;
    size_t out_off;
    char in[SC_LINE_MAX + 64];
    size_t in_len;
    struct sc_reply rep;
    unsigned expect;            /* replies awaited */
    long timeout_s;
    struct ev_timer *timer;
    unsigned in_cb;             /* depth of callbacks running */
    int freed;                  /* sconn_close inside a callback */
    int want_write;             /* TLS read needs the fd writable */
    /* what the server said in EHLO */
    unsigned caps;
    unsigned long size_max;
    unsigned nmsgs;             /* transactions completed */
    /* cache identity and accounting */
    char tpname[64];
    char ip[64];
    int port;
    int counted;                /* holds a slot in the connection limits */
    struct ev_timer *idle_timer;
    struct sconn *next_idle;
};


/* one batch being delivered (smtp_client.c, smtp_client_txn.c) */
enum sjob_step {
    SJ_CONNECT, SJ_GREET, SJ_EHLO, SJ_HELO, SJ_STARTTLS, SJ_TLS,
    SJ_AUTH_PLAIN, SJ_AUTH_LOGIN1, SJ_AUTH_LOGIN2, SJ_AUTH_LOGIN3,
    SJ_TXN, SJ_DATA_END, SJ_RSET, SJ_WAIT,
};

struct sjob {
    struct transport *tp;
    struct smtp_opts *o;
    struct dlv_batch *b;
    struct ev *ev;
    dlv_done_fn done;
    void *arg;
    struct pool *pool;
    struct ev_timer *start;
    struct sjob *qnext;         /* in the cache's wait queue */
    size_t h;                   /* current host */
    int port;
    const char *helo;
    struct sconn *c;
    enum sjob_step step;
    int reused;                 /* c came from the cache */
    int retried;                /* transparent reconnect used */
    int no_tls;                 /* clear-text retry after a TLS failure */
    int need_tls, avoid_tls, verify, need_auth, loopback;
    const char *user, *pass;    /* AUTH credentials, NULL: none */
    int used;                   /* the host gave a usable session */
    /* the message as sent */
    struct strbuf hdr;
    size_t body_off;
    size_t msg_size;
    int dphase;                 /* data fill: 0 hdr, 1 body, 2 done */
    size_t dpos;
    int bol;
    /* the current transaction */
    size_t *tx;
    size_t ntx;
    size_t rpos;                /* next reply: 0 MAIL, 1..ntx RCPT, DATA */
    int mail_code;
    struct strbuf mail_reply;
    size_t naccepted, n4xx;
    int pipelined;
    int broken;                 /* do not reuse the connection */
    /* the last host failure, for the recipients left over */
    int tried;
    char errtype[DLV_ERR_MAX];
    char errmsg[DLV_MSG_MAX];
};

/* smtp_conn.c */
struct sconn *sconn_open(struct ev *ev, const char *ip, int port,
                         long timeout_s, const struct sconn_ops *ops,
                         void *owner);
void sconn_set_owner(struct sconn *c, const struct sconn_ops *ops,
                     void *owner);
void sconn_write(struct sconn *c, const char *p, size_t n);
void sconn_printf(struct sconn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sconn_expect(struct sconn *c, unsigned n, long timeout_s);
void sconn_set_fill(struct sconn *c, sconn_fill_fn fill, long timeout_s);
int sconn_starttls(struct sconn *c, struct tls_ctx *ctx, const char *sni,
                   const char *verify_name);
void sconn_close(struct sconn *c, int quit);
const char *sconn_cipher(struct sconn *c);
int sconn_parse_line(struct sc_reply *r, const char *line, size_t n);
struct tls_ctx *sconn_tls_ctx(const char *ca_file, int verify,
                              struct errbuf *eb);

/* smtp_conn_cache.c */
struct sjob;
int scache_acquire(struct sjob *j, struct ev *ev, const char *tpname,
                   const char *ip, int port, int tls_only, long max_total,
                   long max_host, struct sconn **out);
void scache_counted(struct sconn *c);
void scache_gone(struct sconn *c);
void scache_put(struct sconn *c);
void scache_flush(void);
unsigned scache_open_count(void);

/* smtp_client.c */
void smtp_deliver_remote(struct transport *t, struct dlv_batch *b,
                         struct ev *ev, dlv_done_fn done, void *arg);
void smtp_flush(struct ev *ev);
void sjob_resume(struct sjob *j);
void sjob_host_fail(struct sjob *j, const char *errtype, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sjob_host_done(struct sjob *j);
void sjob_reconnect(struct sjob *j);

/* smtp_client_txn.c */
void stxn_start(struct sjob *j);
void stxn_reply(struct sjob *j, const struct sc_reply *r);
int stxn_lost(struct sjob *j);
const char *stxn_doing(struct sjob *j, char *buf, size_t size);
void sjob_data_prepare(struct sjob *j);

#endif
