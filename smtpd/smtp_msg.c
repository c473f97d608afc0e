/*
 * smtp_msg.c - receiving a message (DATA, BDAT) and accepting it: data
 *              ACL, Received: header, spool file, group commit, the
 *              "250 OK id=..." reply and the "<=" log line.
 *
 * PURPOSE: message bytes are buffered per session (bounded by
 * message_size_limit and a per-worker budget) so the data ACL can still
 * refuse or add headers before anything is written; then the spool file
 * is written in one go and committed with the other sessions of this loop
 * turn. The 250 is sent only from the commit callback (DESIGN §3).
 * SECURITY: the DATA parser refuses bare CR/LF, NUL, long lines and
 * oversize header sections; such a message is rejected after its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/base/ev.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/header.h"
#include "core/mail/logfile.h"
#include "core/spool/notify.h"
#include "core/mail/mime.h"
#include "smtpd/smtp_sess.h"
#include "smtpd/smtp_tls.h"
#include "core/spool/spool.h"
#include "core/base/version.h"

#define WORKER_BUFFER_MAX (256UL * 1024 * 1024)

static int data_sink(const char *p, size_t n, void *arg)
{
    struct sess *s = arg;

    if (s->srv->buffered + n > WORKER_BUFFER_MAX)
        return -1;
    sb_append(&s->txn.msg, p, n);
    s->srv->buffered += n;
    return 0;
}

static unsigned long long size_max(const struct sess *s)
{
    long m = s->srv->o.conf->main.message_size_limit;

    return m > 0 ? (unsigned long long)m : 0;
}

static void predata_done(struct sess *s, const struct acl_result *r)
{
    if (sess_acl_refused(s, r, 554, "predata")
        || sess_sync_recheck(s, SV_DATA, ""))
        return;
    dp_init(&s->dp, (size_t)s->srv->o.conf->main.header_size_limit,
            size_max(s), data_sink, s);
    sb_reset(&s->txn.msg);
    smtpin_set_state(s, SS_DATA);
    sess_arm_timeout(s);
    sess_reply(s, 354, NULL, "Enter message, ending with \".\" on a line by "
               "itself");
}

/* sess_data_start - DATA: predata ACL, then 354 */
void sess_data_start(struct sess *s)
{
    sess_acl(s, "predata", NULL, predata_done);
}

static const char *protocol(const struct sess *s)
{
    if (s->ip[0] == '\0')
        return s->esmtp ? "local-esmtp" : "local-smtp";
    if (!s->esmtp)
        return "smtp";
    return s->tls && s->auth_id ? "esmtpsa" : s->tls ? "esmtps"
           : s->auth_id ? "esmtpa" : "esmtp";
}

static void reject_message(struct sess *s, int code, const char *status,
                           const char *why)
{
    struct strbuf h;

    sb_init(&h);
    sess_reply(s, code, status, "%s", why);
    sess_host_text(s, &h);
    sb_puts(&h, " F=<");
    logfile_escape_str(&h, s->txn.sender);
    sb_puts(&h, "> rejected after DATA: ");
    logfile_escape_str(&h, why);
    sess_reject_logf(s, why, "%s", sb_str(&h));
    sb_free(&h);
    sess_reset_txn(s);
}

static int data_error_reply(struct sess *s, enum dp_error e)
{
    struct smtp_reply_err err;

    if (e == DPE_NONE)
        return 0;
    dp_error_reply(e, &err);
    reject_message(s, err.code, err.status, err.text);
    return 1;
}

struct commit_ctx {
    struct sess *s;
    uint64_t sess_id;
    char id[MSGID_LEN + 1];
    size_t size;
    char *msgid_hdr;
    int queue_only;             /* queue_only or control = queue_only */
};

static void log_arrival(struct sess *s, const struct commit_ctx *cc)
{
    struct strbuf line;

    sb_init(&line);
    sb_printf(&line, "%s <= ", cc->id);
    logfile_escape_str(&line, s->txn.sender[0] ? s->txn.sender : "<>");
    sb_putc(&line, ' ');
    if (s->ip[0] != '\0') {
        sb_puts(&line, "H=");
        if (s->name) {
            logfile_escape_str(&line, s->name);
            sb_putc(&line, ' ');
        }
        if (s->helo) {
            sb_putc(&line, '(');
            logfile_escape_str(&line, s->helo);
            sb_puts(&line, ") ");
        }
        sb_printf(&line, "[%s] ", s->ip);
    }
    sb_printf(&line, "P=%s ", protocol(s));
    if (s->tls && stls_cipher(s))
        sb_printf(&line, "X=%s ", stls_cipher(s));
    if (s->auth_id) {
        sb_printf(&line, "A=%s:", s->auth_mech);
        logfile_escape_str(&line, s->auth_id);
        sb_putc(&line, ' ');
    }
    sb_printf(&line, "S=%zu", cc->size);
    if (cc->msgid_hdr) {
        sb_puts(&line, " id=");
        logfile_escape_str(&line, cc->msgid_hdr);
    }
    log_main("%s", sb_str(&line));
    sb_free(&line);
}

static void commit_cb(int rc, const char *why, void *arg)
{
    struct commit_ctx *cc = arg;
    struct sess *s = cc->s;

    sess_note(s);
    if (rc == 0) {                  /* accepted even if the client left */
        log_arrival(s, cc);
        if (!cc->queue_only && s->srv->notifier != NULL)
            notifier_post(s->srv->notifier, cc->id);
    } else
        log_panic("cannot spool message from [%s]: %s", s->ip, why);
    if (sess_commit_done(s)) {      /* the client went away meanwhile */
        free(cc->msgid_hdr);
        free(cc);
        return;
    }
    if (rc == 0)
        sess_reply(s, 250, "2.0.0", "OK id=%s", cc->id);
    else
        sess_reply(s, 451, "4.3.0", "Temporary local problem - please try "
                   "later");
    free(cc->msgid_hdr);
    free(cc);
    sess_reset_txn(s);
    sess_resume(s);
}

static void build_env(struct sess *s, struct spool_env *env,
                      const struct timeval *now)
{
    memset(env, 0, sizeof(*env));
    msgid_new(env->id);
    env->sender = s->txn.sender;
    env->nrcpt = s->txn.nrcpt;
    env->rcpts = (const char **)s->txn.rcpts;
    env->helo = s->helo ? s->helo : "";
    env->client_ip = s->ip;
    env->client_port = s->port;
    env->client_name = s->name ? s->name : "";
    env->protocol = protocol(s);
    env->auth_id = s->auth_id ? s->auth_id : "";
    env->tls_cipher = s->tls && stls_cipher(s) ? stls_cipher(s) : "";
    env->body_type = s->txn.body_8bit ? "8BITMIME" : "7BIT";
    env->smtputf8 = s->txn.smtputf8;
    env->received_sec = now->tv_sec;
    env->received_usec = now->tv_usec;
    env->frozen = s->txn.freeze;
    env->nvars = 0;             /* acl_m_* variables: set by the caller */
    env->vars = NULL;
}

/* The message's ACL variables (acl_m_*) for the envelope; free() it. */
static struct spool_var *env_vars(const struct sess *s, size_t *n)
{
    const struct acl_vars *v = &s->txn.vars;
    struct spool_var *sv = xcalloc(v->n + 1, sizeof(*sv));

    for (size_t i = 0; i < v->n; i++)
        sv[i] = (struct spool_var){ v->names[i], v->values[i] };
    *n = v->n;
    return sv;
}

static void received_header(struct sess *s, const struct spool_env *env,
                            struct strbuf *out)
{
    struct hdr_received r = {
        .helo = s->helo, .client_name = s->name,
        .client_ip = s->ip[0] ? s->ip : NULL,
        .by = s->srv->o.conf->main.primary_hostname,
        .protocol = protocol(s), .tls_cipher = env->tls_cipher[0]
                                               ? env->tls_cipher : NULL,
        .auth_id = s->auth_id, .id = env->id,
        .for_rcpt = s->txn.nrcpt == 1 ? s->txn.rcpts[0] : NULL,
        .sender = s->txn.sender, .when = env->received_sec };

    hdr_received(out, &r);
}

static int write_message(struct sess *s, struct spool_writer *w,
                         const struct spool_env *env, size_t *size)
{
    struct strbuf rcv;
    int rc;

    sb_init(&rcv);
    received_header(s, env, &rcv);
    if (s->txn.submission)      /* control = submission: fix up headers */
        hdr_add_missing(&rcv, sb_str(&s->txn.msg), sb_len(&s->txn.msg),
                        env->id, s->srv->o.conf->main.primary_hostname,
                        env->received_sec, s->txn.sender[0] ? s->txn.sender
                                                            : NULL, NULL);
    rc = spool_writer_write(w, sb_str(&rcv), sb_len(&rcv)) != 0
         || spool_writer_write(w, sb_str(&s->txn.added),
                               sb_len(&s->txn.added)) != 0
         || spool_writer_write(w, sb_str(&s->txn.msg),
                               sb_len(&s->txn.msg)) != 0 ? -1 : 0;
    *size = sb_len(&rcv) + sb_len(&s->txn.added) + sb_len(&s->txn.msg);
    sb_free(&rcv);
    return rc;
}

/* Write the envelope and the message to a new spool file. NULL (logged)
 * on failure. Nothing is durable until spool_commit(). */
static struct spool_writer *spool_message(struct sess *s,
                                          struct spool_env *env, size_t *size)
{
    struct spool_writer *w;
    struct spool_var *vars;
    struct timeval now;
    struct errbuf eb;

    gettimeofday(&now, NULL);
    build_env(s, env, &now);
    vars = env_vars(s, &env->nvars);
    env->vars = vars;
    w = spool_writer_new(s->srv->o.spool, env, &eb);
    free(vars);
    env->vars = NULL;           /* freed: the envelope is written */
    if (w == NULL || write_message(s, w, env, size) != 0)
        goto fail;
    return w;
fail:
    log_panic("cannot write spool file for a message from [%s]: %s",
              s->ip, w ? "write error" : eb.msg);
    spool_writer_abort(w);
    return NULL;
}

/* What commit_cb needs: copies, since the session may be gone by then. */
static struct commit_ctx *commit_ctx_new(struct sess *s,
                                         const struct spool_env *env,
                                         size_t size)
{
    struct commit_ctx *cc = xcalloc(1, sizeof(*cc));
    char mid[256];

    cc->s = s;
    cc->sess_id = s->id;
    cc->size = size;
    memcpy(cc->id, env->id, sizeof(cc->id));
    cc->queue_only = s->txn.queue_only || s->txn.freeze
                     || s->srv->o.conf->main.queue_only;
    if (hdr_message_id_of(sb_str(&s->txn.msg), sb_len(&s->txn.msg), mid,
                          sizeof(mid)))
        cc->msgid_hdr = xstrdup(mid);
    return cc;
}

/* Spool the message. The 250 comes only from commit_cb, after the group
 * commit has fsynced the file (DESIGN §3): accepted means on disk. */
static void accept_message(struct sess *s)
{
    struct spool_writer *w;
    struct spool_env env;
    size_t size = 0;

    if (s->srv->o.fake || s->txn.discard) {
        sess_reply(s, 250, "2.0.0", "Accepted%s", s->srv->o.fake
                   ? " (-bh: message not queued)" : "");
        sess_reset_txn(s);
        return;
    }
    if ((w = spool_message(s, &env, &size)) == NULL) {
        sess_reply(s, 452, "4.3.1", "Insufficient system storage");
        sess_reset_txn(s);
        return;
    }
    s->busy = 1;
    s->committing = 1;
    spool_commit(w, commit_cb, commit_ctx_new(s, &env, size));
}

static void data_acl_done(struct sess *s, const struct acl_result *r)
{
    if (r->remove_headers != NULL && r->verdict != ACL_DENY)
        s->srv->buffered -= hdr_remove(&s->txn.msg, r->remove_headers);
    if (r->verdict == ACL_DISCARD)
        s->txn.discard = 1;
    if (sess_acl_refused(s, r, 550, "DATA")) {
        sess_reset_txn(s);
        return;
    }
    accept_message(s);
}

/* The mime ACL runs once per MIME part, then the data ACL. */
static void mime_acl_done(struct sess *s, const struct acl_result *r)
{
    struct sess_txn *t = &s->txn;

    if (sess_acl_refused(s, r, 550, "DATA")) {
        sess_reset_txn(s);
        return;
    }
    if (r->verdict == ACL_DISCARD)
        t->discard = 1;
    if (t->mime_next < t->mime->n) {
        t->mime_next++;
        sess_acl(s, "mime", NULL, mime_acl_done);
        return;
    }
    t->mime_next = 0;
    sess_acl(s, "data", NULL, data_acl_done);
}

/* The message is complete (DATA terminator or BDAT LAST). */
static void message_complete(struct sess *s, enum dp_error e)
{
    struct sess_txn *t = &s->txn;

    smtpin_set_state(s, SS_CMD);
    if (data_error_reply(s, e))
        return;
    if (conf_find_acl(s->srv->o.conf, "mime") != NULL) {
        t->mime = xcalloc(1, sizeof(*t->mime));
        mime_parts(sb_str(&t->msg), sb_len(&t->msg), t->mime);
        if (t->mime->n > 0) {
            t->mime_next = 1;
            sess_acl(s, "mime", NULL, mime_acl_done);
            return;
        }
    }
    sess_acl(s, "data", NULL, data_acl_done);
}

/* sess_data_input - DATA bytes; returns how many were consumed */
size_t sess_data_input(struct sess *s, const char *p, size_t n)
{
    size_t used = 0;

    if (dp_feed(&s->dp, p, n, &used) == DP_END)
        message_complete(s, s->dp.error);
    return used;
}

/* ---- BDAT (RFC 3030) ---- */

static enum dp_error scan_chunked(const struct strbuf *msg)
{
    const char *p = sb_str(msg);
    size_t n = sb_len(msg), line = 0;

    for (size_t i = 0; i < n; i++, line++) {
        if (p[i] == '\0')
            return DPE_NUL;
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            return DPE_BARE_LF;
        if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
            return DPE_BARE_CR;
        if (p[i] == '\n')
            line = (size_t)-1;
        else if (line >= SMTP_DATA_LINE_MAX - 2)
            return DPE_LINE_LONG;
    }
    return DPE_NONE;
}

/* sess_bdat_start - BDAT n [LAST]: the chunk is read even when refused */
void sess_bdat_start(struct sess *s, const struct smtp_cmd *cmd)
{
    struct sess_txn *t = &s->txn;

    t->bdat_left = cmd->chunk;
    t->bdat_last = cmd->last;
    if (!t->bdat_failed && (t->sender == NULL
                            || (t->nrcpt == 0 && t->discarded == 0)))
        t->bdat_failed = 503;
    if (t->nrcpt == 0 && t->discarded > 0)
        t->discard = 1;         /* every recipient was discarded */
    if (!t->bdat_failed && size_max(s)
        && sb_len(&t->msg) + cmd->chunk > size_max(s))
        t->bdat_failed = 552;
    smtpin_set_state(s, SS_BDAT);
    sess_arm_timeout(s);
    if (t->bdat_left == 0)
        sess_bdat_input(s, "", 0);
}

static void bdat_chunk_end(struct sess *s)
{
    struct sess_txn *t = &s->txn;

    smtpin_set_state(s, SS_CMD);
    if (t->bdat_failed == 503) {
        sess_reply(s, 503, "5.5.1", "MAIL and RCPT first");
        t->bdat_failed = t->sender ? t->bdat_failed : 0;
        return;
    }
    if (t->bdat_failed) {
        if (t->bdat_last)
            reject_message(s, 552, "5.3.4", "Message size exceeds fixed "
                           "maximum message size");
        else
            sess_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
                       "message size");
        return;
    }
    if (!t->bdat_last) {
        sess_reply(s, 250, "2.0.0", "%zu octets received",
                   sb_len(&t->msg));
        return;
    }
    message_complete(s, scan_chunked(&t->msg));
}

/* sess_bdat_skip - a BDAT refused before its chunk is read (no EHLO):
 * the chunk is read and dropped, so its octets are never taken for
 * commands, then the 503 follows it (RFC 3030 answers after the chunk).
 * The transaction, if any, is left as it was. */
void sess_bdat_skip(struct sess *s, const struct smtp_cmd *cmd)
{
    s->txn.bdat_skip = 1;
    s->txn.bdat_left = cmd->chunk;
    smtpin_set_state(s, SS_BDAT);
    sess_arm_timeout(s);
    if (cmd->chunk == 0)
        sess_bdat_input(s, "", 0);
}

static size_t bdat_skipped(struct sess *s, size_t take)
{
    struct sess_txn *t = &s->txn;

    t->bdat_left -= take;
    if (t->bdat_left == 0) {
        t->bdat_skip = 0;
        smtpin_set_state(s, SS_CMD);
        sess_reply(s, 503, "5.5.1", "BDAT needs EHLO");
    }
    return take;
}

/* sess_bdat_input - chunk bytes; returns how many were consumed */
size_t sess_bdat_input(struct sess *s, const char *p, size_t n)
{
    struct sess_txn *t = &s->txn;
    size_t take = n < t->bdat_left ? n : (size_t)t->bdat_left;

    if (t->bdat_skip)
        return bdat_skipped(s, take);
    if (!t->bdat_failed && data_sink(p, take, s) != 0)
        t->bdat_failed = 552;
    t->bdat_left -= take;
    if (t->bdat_left == 0 && !sess_sync_bdat(s, p + take, n - take))
        bdat_chunk_end(s);
    return take;
}
