/*
 * smtp_client_txn.c - the SMTP transactions of one batch on an open
 *                     session: MAIL, RCPT (at most max_rcpt each), DATA,
 *                     the dot-stuffed message, and the results.
 *
 * PURPOSE: with PIPELINING the MAIL, every RCPT and DATA go in one write
 * and the replies are read in order; without it, one command per reply.
 * Results (Exim's wording):
 *   RCPT 5xx        that recipient DLV_FAIL "SMTP error from remote mail
 *                   server after RCPT TO:<a>: 550 ..."
 *   RCPT 4xx        that recipient DLV_DEFER, errtype "rcpt_NNN"; when
 *                   every RCPT of the transaction got 4xx the host failed
 *   MAIL 5xx        all recipients of the transaction DLV_FAIL
 *   MAIL 4xx        the host failed, errtype "mail_NNN"
 *   DATA / final    2xx: DLV_OK with the bare reply; 5xx: DLV_FAIL;
 *                   4xx: DLV_DEFER errtype "data_NNN"
 *   8BITMIME, SMTPUTF8 needed but not offered, or the message over the
 *   server's SIZE: DLV_FAIL for all (no downgrade).
 * A connection taken from the cache that is gone before the MAIL reply
 * is replaced once, transparently.
 * INTERFACE: stxn_start, stxn_reply, stxn_lost, stxn_doing,
 *            sjob_data_prepare.
 * SECURITY: addresses with control characters are never sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/base/pool.h"
#include "core/spool/spool.h"
#include "transports/smtp_client.h"

#define DATA_CHUNK 65536

/* sjob_data_prepare - the header section and the size of the message */
void sjob_data_prepare(struct sjob *j)
{
    const struct spool_msg *m = j->b->msg;

    dlv_headers(j->b, NULL, &j->hdr, &j->body_off);
    if (j->body_off > m->len)
        j->body_off = m->len;
    j->msg_size = sb_len(&j->hdr) + 2 + (m->len - j->body_off);
    j->tx = pool_zalloc(j->pool, (j->b->nrcpt + 1) * sizeof(*j->tx));
}

/* stuff - append p[0..n) dot-stuffed; *bol: at the start of a line */
static void stuff(struct strbuf *out, const char *p, size_t n, int *bol)
{
    while (n > 0) {
        const char *lf = memchr(p, '\n', n);
        size_t seg = lf != NULL ? (size_t)(lf - p) + 1 : n;
        if (*bol && *p == '.')
            sb_putc(out, '.');
        sb_append(out, p, seg);
        *bol = lf != NULL;
        p += seg;
        n -= seg;
    }
}

static int fill(void *owner, struct strbuf *out)
{
    struct sjob *j = owner;
    const struct spool_msg *m = j->b->msg;

    if (j->dphase == 0) {
        j->bol = 1;
        stuff(out, sb_str(&j->hdr), sb_len(&j->hdr), &j->bol);
        sb_puts(out, "\r\n");
        j->bol = 1;
        j->dphase = 1;
        j->dpos = j->body_off;
        return 1;
    }
    size_t n = m->len - j->dpos;
    if (n > DATA_CHUNK)
        n = DATA_CHUNK;
    stuff(out, m->data + j->dpos, n, &j->bol);
    j->dpos += n;
    if (j->dpos < m->len)
        return 1;
    if (!j->bol)
        sb_puts(out, "\r\n");
    sb_puts(out, ".\r\n");
    j->dphase = 2;
    return 0;
}

static int clean(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 32 || *s == 127)
            return 0;
    return 1;
}

/* stxn_doing - the command whose reply is awaited, for messages */
const char *stxn_doing(struct sjob *j, char *buf, size_t size)
{
    if (j->step == SJ_DATA_END)
        return "end of data";
    if (j->rpos == 0)
        snprintf(buf, size, "MAIL FROM:<%s>", j->b->return_path);
    else if (j->rpos <= j->ntx)
        snprintf(buf, size, "RCPT TO:<%s>",
                 j->b->rcpts[j->tx[j->rpos - 1]].address);
    else
        return "DATA";
    return buf;
}

static void settle(struct sjob *j, struct dlv_rcpt *r, enum dlv_status st,
                   int code, const char *errtype, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void settle(struct sjob *j, struct dlv_rcpt *r, enum dlv_status st,
                   int code, const char *errtype, const char *fmt, ...)
{
    char msg[DLV_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dlv_set(r, st, code, errtype, "%s", msg);
    r->host = (int)j->h;
}

/* fail_all - a message property the server cannot take: fail them all */
static void fail_all(struct sjob *j, const char *why)
{
    for (size_t i = 0; i < j->b->nrcpt; i++)
        if (j->b->rcpts[i].status == DLV_PENDING)
            settle(j, &j->b->rcpts[i], DLV_FAIL, 0, NULL, "%s", why);
    sjob_host_done(j);
}

static const char *unfit(struct sjob *j)
{
    const struct spool_env *e = &j->b->msg->env;
    const struct sconn *c = j->c;

    if (!clean(j->b->return_path))
        return "invalid sender address";
    if (e->body_type != NULL && strcasecmp(e->body_type, "8BITMIME") == 0 &&
        !(c->caps & SC_8BITMIME))
        return "message is 8BITMIME but the remote server does not "
               "support 8BITMIME (no downgrade)";
    if (e->smtputf8 && !(c->caps & SC_SMTPUTF8))
        return "message needs SMTPUTF8 but the remote server does not "
               "support it";
    if ((c->caps & SC_SIZE) && c->size_max > 0 && j->msg_size > c->size_max)
        return "message too big for the remote server's SIZE limit";
    return NULL;
}

/* pick - the next max_rcpt pending recipients; 0 when none is left */
static size_t pick(struct sjob *j)
{
    j->ntx = 0;
    for (size_t i = 0; i < j->b->nrcpt; i++) {
        struct dlv_rcpt *r = &j->b->rcpts[i];
        if (r->status != DLV_PENDING)
            continue;
        if (!clean(r->address)) {
            settle(j, r, DLV_FAIL, 0, NULL, "invalid address");
            continue;
        }
        if (j->ntx >= (size_t)j->o->max_rcpt)
            break;
        r->code = 0;
        j->tx[j->ntx++] = i;
    }
    return j->ntx;
}

static void send_rcpt(struct sjob *j, size_t k)
{
    sconn_printf(j->c, "RCPT TO:<%s>\r\n", j->b->rcpts[j->tx[k]].address);
}

static void send_mail(struct sjob *j)
{
    const struct spool_env *e = &j->b->msg->env;
    struct sconn *c = j->c;
    int eight = e->body_type != NULL &&
                strcasecmp(e->body_type, "8BITMIME") == 0;

    sconn_printf(c, "MAIL FROM:<%s>", j->b->return_path);
    if (c->caps & SC_SIZE)
        sconn_printf(c, " SIZE=%zu", j->msg_size);
    if (eight)
        sconn_printf(c, " BODY=8BITMIME");
    if (e->smtputf8)
        sconn_printf(c, " SMTPUTF8");
    sconn_printf(c, "\r\n");
}

/* stxn_start - the next transaction, or the end of this host */
void stxn_start(struct sjob *j)
{
    const char *why;

    j->step = SJ_TXN;
    if (j->c->nmsgs >= (unsigned long)j->o->connection_max_messages &&
        pick(j) > 0) {
        sjob_reconnect(j);
        return;
    }
    if ((why = unfit(j)) != NULL) {
        fail_all(j, why);
        return;
    }
    if (pick(j) == 0) {
        sjob_host_done(j);
        return;
    }
    j->rpos = 0;
    j->naccepted = j->n4xx = 0;
    j->mail_code = 0;
    j->pipelined = (j->c->caps & SC_PIPELINING) != 0;
    send_mail(j);
    if (!j->pipelined) {
        sconn_expect(j->c, 1, j->o->command_timeout);
        return;
    }
    for (size_t k = 0; k < j->ntx; k++)
        send_rcpt(j, k);
    sconn_printf(j->c, "DATA\r\n");
    sconn_expect(j->c, (unsigned)j->ntx + 2, j->o->command_timeout);
}

static void rset(struct sjob *j)
{
    if (j->broken) {            /* the server is confused: start afresh */
        j->broken = 0;
        sjob_reconnect(j);
        return;
    }
    j->step = SJ_RSET;
    sconn_printf(j->c, "RSET\r\n");
    sconn_expect(j->c, 1, j->o->command_timeout);
}

static void mail_failed(struct sjob *j)
{
    const char *text = sb_str(&j->mail_reply);
    const char *rp = j->b->return_path;
    char et[16];

    if (j->mail_code / 100 == 5) {
        for (size_t k = 0; k < j->ntx; k++) {
            dlv_set(&j->b->rcpts[j->tx[k]], DLV_FAIL, j->mail_code, NULL,
                    "SMTP error from remote mail server after MAIL "
                    "FROM:<%s>: %s", rp, text);
            j->b->rcpts[j->tx[k]].host = (int)j->h;
        }
        if (j->broken)
            rset(j);
        else
            stxn_start(j);
        return;
    }
    if (j->reused && !j->retried && j->mail_code == 421) {
        j->retried = 1;         /* the cached session had expired */
        sjob_reconnect(j);
        return;
    }
    snprintf(et, sizeof(et), "mail_%d", j->mail_code);
    sjob_host_fail(j, et, "SMTP error from remote mail server after MAIL "
                   "FROM:<%s>: %s", rp, text);
}

/* no_data - MAIL was accepted but no RCPT was */
static void no_data(struct sjob *j, const struct sc_reply *last)
{
    char et[DLV_ERR_MAX];

    if (j->n4xx == j->ntx && j->ntx > 0) {  /* all 4xx: the host failed */
        struct dlv_rcpt *r = &j->b->rcpts[j->tx[j->ntx - 1]];
        char msg[DLV_MSG_MAX];
        snprintf(et, sizeof(et), "%s", r->errtype);
        snprintf(msg, sizeof(msg), "%s", r->msg);
        for (size_t k = 0; k < j->ntx; k++) {
            j->b->rcpts[j->tx[k]].status = DLV_PENDING;
            j->b->rcpts[j->tx[k]].host = -1;
        }
        j->broken = 1;          /* the session is abandoned anyway */
        sjob_host_fail(j, et, "%s", msg);
        return;
    }
    (void)last;
    rset(j);
}

static void mail_reply(struct sjob *j, const struct sc_reply *r)
{
    j->mail_code = r->code;
    sb_reset(&j->mail_reply);
    sb_append(&j->mail_reply, sb_str(&r->text), sb_len(&r->text));
    j->rpos = 1;
    j->used = 1;
    if (j->pipelined)
        return;
    if (r->code / 100 != 2) {
        mail_failed(j);
        return;
    }
    send_rcpt(j, 0);
    sconn_expect(j->c, 1, j->o->command_timeout);
}

static void rcpt_result(struct sjob *j, struct dlv_rcpt *r,
                        const struct sc_reply *rep)
{
    char et[16];

    if (rep->code / 100 == 2) {
        r->code = rep->code;
        j->naccepted++;
        return;
    }
    if (rep->code / 100 == 5) {
        settle(j, r, DLV_FAIL, rep->code, NULL, "SMTP error from remote "
               "mail server after RCPT TO:<%s>: %s", r->address,
               sb_str(&rep->text));
        return;
    }
    snprintf(et, sizeof(et), "rcpt_%d", rep->code);
    settle(j, r, DLV_DEFER, rep->code, et, "SMTP error from remote "
           "mail server after RCPT TO:<%s>: %s", r->address,
           sb_str(&rep->text));
    if (rep->code / 100 == 4)
        j->n4xx++;
}

static void rcpt_reply(struct sjob *j, const struct sc_reply *r)
{
    struct dlv_rcpt *rc = &j->b->rcpts[j->tx[j->rpos - 1]];

    j->rpos++;
    if (j->mail_code / 100 == 2)
        rcpt_result(j, rc, r);
    if (j->pipelined)
        return;
    if (j->rpos <= j->ntx) {
        send_rcpt(j, j->rpos - 1);
        sconn_expect(j->c, 1, j->o->command_timeout);
    } else if (j->naccepted > 0) {
        sconn_printf(j->c, "DATA\r\n");
        sconn_expect(j->c, 1, j->o->command_timeout);
    } else {
        no_data(j, r);
    }
}

/* settle_accepted - the recipients the server took get reply r */
static void settle_accepted(struct sjob *j, const struct sc_reply *r,
                            const char *after)
{
    const char *text = sb_str(&r->text);
    char et[16];

    snprintf(et, sizeof(et), "data_%d", r->code);
    for (size_t k = 0; k < j->ntx; k++) {
        struct dlv_rcpt *rc = &j->b->rcpts[j->tx[k]];
        if (rc->status != DLV_PENDING || rc->code / 100 != 2)
            continue;
        if (r->code / 100 == 2)
            settle(j, rc, DLV_OK, r->code, NULL, "%s", text);
        else
            settle(j, rc, r->code / 100 == 5 ? DLV_FAIL : DLV_DEFER,
                   r->code, r->code / 100 == 5 ? NULL : et,
                   "SMTP error from remote mail server after %s: %s",
                   after, text);
    }
}

static void data_reply(struct sjob *j, const struct sc_reply *r)
{
    j->rpos++;
    if (j->mail_code / 100 != 2) {
        j->broken = r->code == 354;
        mail_failed(j);
        return;
    }
    if (j->naccepted == 0) {
        j->broken = r->code == 354;
        no_data(j, r);
        return;
    }
    if (r->code != 354) {
        settle_accepted(j, r, "DATA");
        rset(j);
        return;
    }
    j->step = SJ_DATA_END;
    j->dphase = 0;
    sconn_set_fill(j->c, fill, j->o->data_timeout);
    sconn_expect(j->c, 1, j->o->data_timeout);
}

static void data_end(struct sjob *j, const struct sc_reply *r)
{
    settle_accepted(j, r, "end of data");
    j->c->nmsgs++;
    if (r->code / 100 == 2)
        snprintf(j->b->tls_cipher, sizeof(j->b->tls_cipher), "%s",
                 sconn_cipher(j->c));
    stxn_start(j);
}

/* stxn_reply - one reply inside a transaction */
void stxn_reply(struct sjob *j, const struct sc_reply *r)
{
    if (j->step == SJ_DATA_END)
        data_end(j, r);
    else if (j->rpos == 0)
        mail_reply(j, r);
    else if (j->rpos <= j->ntx)
        rcpt_reply(j, r);
    else
        data_reply(j, r);
}

/* stxn_lost - the connection failed mid-transaction: 1 when a cached
 * connection that had gone stale was replaced (MAIL was not accepted on
 * it, so the server acted on nothing), 0 when the host has failed */
int stxn_lost(struct sjob *j)
{
    if (!j->reused || j->retried || j->step != SJ_TXN ||
        j->mail_code / 100 == 2)
        return 0;
    j->retried = 1;
    sjob_reconnect(j);
    return 1;
}
