/*
 * lmtp.c - the lmtp transport: deliver by LMTP (RFC 2033) to a unix
 *          socket or host:port, e.g. Dovecot's lmtp service.
 *
 * PURPOSE: one connection per batch: greeting, LHLO, then for each group
 * of at most batch_max recipients a transaction MAIL, RCPT..., DATA, the
 * message (dot-stuffed), and one reply per accepted recipient; QUIT.
 * Commands are pipelined when the server offers PIPELINING.
 * Options: socket (a path, expanded with the first recipient's variables)
 * or host + port, timeout (each connect, reply and write stall), batch_max.
 * INTERFACE: tp_lmtp (deliver_local).
 * ERRORS (per recipient): a 2xx reply to the end of data is DLV_OK with
 * the reply as message; a 5xx to RCPT, DATA or the end of data is
 * DLV_FAIL ("LMTP error after RCPT TO:<a>: 550 ..."), a 4xx DLV_DEFER
 * (errtype rcpt_4NN, data_4NN); MAIL refused settles the whole group the
 * same way (mail_4NN). A failed connect, greeting or LHLO, a timeout, a
 * lost connection or a malformed reply defers every recipient not yet
 * settled (errtype refused, timeout, lost_connection, protocol, or
 * greeting_NNN, lhlo_NNN): a broken local server must not bounce mail.
 * SECURITY: runs as tern_user (as_recipient = 0); replies are parsed with
 * bounds in lmtp_io.c; addresses holding CR or LF are never sent.
 * XXX an SMTPUTF8 message goes without the SMTPUTF8 parameter to a server
 * that does not offer it (Dovecot 2.3 does not); it is not refused here.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "transports/deliver.h"
#include "core/mail/expand.h"
#include "core/spool/spool.h"
#include "lua/lcall.h"
#include "transports/lmtp_io.h"
#include "transports/transport.h"

struct lmtp_opts {
    struct xval socket;
    const char *host;
    long port;
    long timeout;
    long batch_max;
};

#define O(n) offsetof(struct lmtp_opts, n)

static const struct opt_spec lmtp_opts[] = {
    { "socket", OPT_XVAL, O(socket), NULL, 0, NULL },
    { "host", OPT_STR, O(host), NULL, 0, NULL },
    { "port", OPT_INT, O(port), "24", 0, NULL },
    { "timeout", OPT_TIME, O(timeout), "5m", 0, NULL },
    { "batch_max", OPT_INT, O(batch_max), "100", 0, NULL },
    OPT_END
};

static int lmtp_check(struct transport *t, struct conf *c, struct errbuf *eb)
{
    struct lmtp_opts *o = t->priv;

    (void)c;
    if (xval_set(&o->socket) == (o->host != NULL)) {
        errbuf_set(eb, "exactly one of socket and host is required");
        return -1;
    }
    if (o->port < 1 || o->port > 65535) {
        errbuf_set(eb, "port %ld is out of range", o->port);
        return -1;
    }
    if (o->timeout < 1) {
        errbuf_set(eb, "timeout must be at least 1s");
        return -1;
    }
    if (o->batch_max < 1) {
        errbuf_set(eb, "batch_max must be at least 1");
        return -1;
    }
    return 0;
}

/* One connection's state. */
struct session {
    struct dlv_batch *b;
    const struct lmtp_opts *o;
    struct lmtp_conn *c;
    unsigned caps;
    const char *stage;          /* what was last sent, for messages */
};

/* One transaction: a group of recipients (indexes into b->rcpts). */
struct txn {
    const size_t *ix;
    size_t n;
    unsigned char *acc;         /* n flags: RCPT accepted */
    size_t nacc;
    int mail_ok;
    int data_ok;
};

/* settle - a recipient's result from a reply after `after` */
static void settle(struct dlv_rcpt *r, const struct lmtp_reply *rp,
                   const char *after, const char *kind)
{
    char et[DLV_ERR_MAX];

    if (rp->code / 100 == 2) {
        dlv_set(r, DLV_OK, rp->code, NULL, "%s", rp->text);
        return;
    }
    snprintf(et, sizeof(et), "%s_%d", kind, rp->code);
    dlv_set(r, rp->code / 100 == 5 ? DLV_FAIL : DLV_DEFER, rp->code,
            rp->code / 100 == 5 ? NULL : et, "LMTP error after %s: %s",
            after, rp->text);
}

/* socket_path - the socket option for the first recipient; NULL with eb */
static const char *socket_path(struct session *s, struct pool *p,
                               struct errbuf *eb)
{
    struct xvars v;
    const char *out = NULL;
    int rc;

    dlv_xvars(s->b, &s->b->rcpts[0], &v);
    if (s->o->socket.fn >= 0)
        rc = lcall_value(s->b->conf->lua, s->o->socket.fn, &v, p, &out, eb);
    else
        rc = expand_string(s->o->socket.str, &v, p, &out, eb);
    if (rc != 0)
        return NULL;
    if (out == NULL || out[0] != '/') {
        errbuf_set(eb, "socket \"%s\" is not an absolute path",
                   out != NULL ? out : "");
        return NULL;
    }
    return out;
}

/* open_conn - connect; on failure every recipient is deferred */
static int open_conn(struct session *s)
{
    struct pool *p = pool_new();
    struct errbuf eb;
    const char *errtype = "";
    const char *path;

    errbuf_clear(&eb);
    if (s->o->host != NULL) {
        s->c = lmtp_connect_inet(s->o->host, (int)s->o->port, s->o->timeout,
                                 &errtype, &eb);
    } else if ((path = socket_path(s, p, &eb)) != NULL) {
        s->c = lmtp_connect_unix(path, s->o->timeout, &errtype, &eb);
    } else {
        errbuf_prefix(&eb, "expansion of socket failed");
    }
    pool_free(p);
    if (s->c == NULL) {
        dlv_set_all(s->b, DLV_DEFER, 0, errtype, "LMTP %s", eb.msg);
        return -1;
    }
    return 0;
}

/* expect2 - read a reply to s->stage that must be 2xx; anything else
 * defers every recipient (greeting, LHLO) */
static int expect2(struct session *s, struct lmtp_reply *r)
{
    char et[DLV_ERR_MAX];

    if (lmtp_read_reply(s->c, r) != 0)
        return -1;
    if (r->code / 100 == 2)
        return 0;
    snprintf(et, sizeof(et), "%s_%d",
             strcmp(s->stage, "LHLO") == 0 ? "lhlo" : "greeting", r->code);
    dlv_set_all(s->b, DLV_DEFER, r->code, et, "LMTP error after %s: %s",
                s->stage, r->text);
    return 1;
}

/* greet - greeting and LHLO; 0 ready, -1 connection error, 1 settled */
static int greet(struct session *s)
{
    struct lmtp_reply r;
    int rc;

    s->stage = "greeting";
    if ((rc = expect2(s, &r)) != 0)
        return rc;
    s->stage = "LHLO";
    if (lmtp_cmd(s->c, "LHLO %s", s->b->conf->main.primary_hostname) != 0)
        return -1;
    if ((rc = expect2(s, &r)) != 0)
        return rc;
    s->caps = r.caps;
    return 0;
}

static int send_mail(struct session *s)
{
    const struct spool_env *env = &s->b->msg->env;
    int bit8 = env->body_type != NULL
        && strcasecmp(env->body_type, "8BITMIME") == 0
        && (s->caps & LMTP_CAP_8BITMIME);
    int utf8 = env->smtputf8 && (s->caps & LMTP_CAP_SMTPUTF8);

    return lmtp_cmd(s->c, "MAIL FROM:<%s>%s%s", s->b->return_path,
                    bit8 ? " BODY=8BITMIME" : "", utf8 ? " SMTPUTF8" : "");
}

/* send_step - command k of a transaction: MAIL, n RCPTs, DATA */
static int send_step(struct session *s, const struct txn *x, size_t k)
{
    s->stage = k == 0 ? "MAIL FROM" : k <= x->n ? "RCPT TO" : "DATA";
    if (k == 0)
        return send_mail(s);
    if (k <= x->n)
        return lmtp_cmd(s->c, "RCPT TO:<%s>",
                        s->b->rcpts[x->ix[k - 1]].address);
    return lmtp_cmd(s->c, "DATA");
}

/* may_send - without PIPELINING, send RCPT only after MAIL was accepted
 * and DATA only if a recipient was */
static int may_send(const struct session *s, const struct txn *x, size_t k)
{
    if (s->caps & LMTP_CAP_PIPELINING)
        return 1;
    return k == 0 || (k <= x->n ? x->mail_ok : x->nacc > 0);
}

static void on_mail(struct session *s, struct txn *x, struct lmtp_reply *r)
{
    char after[DLV_MSG_MAX / 2];

    if (r->code / 100 == 2) {
        x->mail_ok = 1;
        return;
    }
    snprintf(after, sizeof(after), "MAIL FROM:<%s>", s->b->return_path);
    for (size_t i = 0; i < x->n; i++)
        settle(&s->b->rcpts[x->ix[i]], r, after, "mail");
}

/* on_reply - the reply to command k of the transaction */
static void on_reply(struct session *s, struct txn *x, size_t k,
                     struct lmtp_reply *r)
{
    char after[DLV_MSG_MAX / 2];

    if (k == 0) {
        on_mail(s, x, r);
    } else if (k <= x->n && x->mail_ok) {
        struct dlv_rcpt *rc = &s->b->rcpts[x->ix[k - 1]];
        if (r->code / 100 == 2) {
            x->acc[k - 1] = 1;
            x->nacc++;
            return;
        }
        snprintf(after, sizeof(after), "RCPT TO:<%s>", rc->address);
        settle(rc, r, after, "rcpt");
    } else if (k > x->n) {
        if (r->code / 100 == 3) {
            x->data_ok = 1;
            return;
        }
        for (size_t i = 0; i < x->n; i++)
            if (x->acc[i])
                settle(&s->b->rcpts[x->ix[i]], r, "DATA", "data");
    }
}

/* txn_commands - MAIL, RCPT..., DATA with their replies, pipelined when
 * offered; -1 on a connection error */
static int txn_commands(struct session *s, struct txn *x)
{
    size_t steps = x->n + 2, sent = 0, got = 0;
    struct lmtp_reply r;

    while (got < steps) {
        while (sent < steps && (sent == got || (s->caps
                                                & LMTP_CAP_PIPELINING))
               && may_send(s, x, sent)) {
            if (send_step(s, x, sent) != 0)
                return -1;
            sent++;
        }
        if (got == sent)
            break;
        if (lmtp_read_reply(s->c, &r) != 0)
            return -1;
        on_reply(s, x, got++, &r);
    }
    return 0;
}

/* send_message - headers, blank line, body, dot-stuffed, then "." */
static int send_message(struct session *s)
{
    const struct spool_msg *m = s->b->msg;
    struct strbuf h;
    size_t body = 0;
    int bol = 1, rc;

    sb_init(&h);
    dlv_headers(s->b, NULL, &h, &body);
    sb_puts(&h, "\r\n");
    rc = lmtp_put_stuffed(s->c, sb_str(&h), sb_len(&h), &bol);
    sb_free(&h);
    if (rc == 0 && body < m->len)
        rc = lmtp_put_stuffed(s->c, m->data + body, m->len - body, &bol);
    if (rc == 0 && !bol)
        rc = lmtp_put(s->c, "\r\n", 2);
    s->stage = "end of data";
    return rc == 0 ? lmtp_put(s->c, ".\r\n", 3) : -1;
}

/* txn_data - the message and one reply per accepted recipient, in order */
static int txn_data(struct session *s, struct txn *x)
{
    struct lmtp_reply r;

    if (send_message(s) != 0)
        return -1;
    for (size_t i = 0; i < x->n; i++) {
        if (!x->acc[i])
            continue;
        if (lmtp_read_reply(s->c, &r) != 0)
            return -1;
        settle(&s->b->rcpts[x->ix[i]], &r, "end of data", "data");
    }
    return 0;
}

/* transaction - one group of recipients; -1 on a connection error */
static int transaction(struct session *s, const size_t *ix, size_t n)
{
    struct txn x = { ix, n, xcalloc(n, 1), 0, 0, 0 };
    struct lmtp_reply r;
    int rc = txn_commands(s, &x);

    if (rc == 0 && x.data_ok && x.nacc == 0) {
        /* 354 with no recipient accepted: nothing sane can follow */
        dlv_set_all(s->b, DLV_DEFER, 0, "protocol", "LMTP error after "
                    "DATA: go-ahead with no recipient accepted");
        rc = -1;
    } else if (rc == 0 && x.data_ok) {
        rc = txn_data(s, &x);
    } else if (rc == 0 && x.mail_ok) {
        s->stage = "RSET";
        rc = lmtp_cmd(s->c, "RSET") == 0 ? lmtp_read_reply(s->c, &r) : -1;
    }
    free(x.acc);
    return rc;
}

/* run - every pending recipient in groups of batch_max; -1 on a
 * connection error */
static int run(struct session *s)
{
    size_t *ix = xcalloc(s->b->nrcpt, sizeof(*ix));
    size_t n = 0, max = (size_t)s->o->batch_max;
    int rc = 0;

    for (size_t i = 0; i < s->b->nrcpt; i++)
        if (s->b->rcpts[i].status == DLV_PENDING)
            ix[n++] = i;
    for (size_t i = 0; i < n && rc == 0; i += max)
        rc = transaction(s, ix + i, n - i < max ? n - i : max);
    free(ix);
    return rc;
}

/* lmtp_deliver - deliver_local: every recipient of b through one
 * connection (contract in transports/deliver.h and the header above) */
static void lmtp_deliver(struct transport *t, struct dlv_batch *b)
{
    struct session s = { b, t->priv, NULL, 0, "connect" };
    struct lmtp_reply r;
    int rc;

    if (b->nrcpt == 0 || open_conn(&s) != 0)
        return;
    rc = greet(&s);
    if (rc == 0)
        rc = run(&s);
    if (rc >= 0 && lmtp_cmd(s.c, "QUIT") == 0)
        (void)lmtp_read_reply(s.c, &r);     /* delivery is already done */
    if (rc < 0)
        dlv_set_all(b, DLV_DEFER, 0, lmtp_errtype(s.c),
                    "LMTP error after %s: %s", s.stage, lmtp_errmsg(s.c));
    lmtp_close(s.c);
}

const struct transport_driver tp_lmtp = {
    .name = "lmtp",
    .opts = lmtp_opts,
    .opts_size = sizeof(struct lmtp_opts),
    .local = 1,
    .as_recipient = 0,
    .check = lmtp_check,
    .deliver_local = lmtp_deliver,
};
