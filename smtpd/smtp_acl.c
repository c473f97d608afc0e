/*
 * smtp_acl.c - the session's side of ACL checks: build the request from
 *              what the session knows, wait for the verdict without
 *              blocking, answer and log a refusal as Exim does.
 *
 * PURPOSE: every hook goes through sess_acl(): the session is busy (no
 * more input is interpreted) until the ACL engine calls back; then the
 * continuation runs and, unless it started another step, input resumes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "core/mail/mime.h"
#include "smtpd/smtp_sess.h"
#include "smtpd/smtp_tls.h"

struct acl_call {
    struct sess *s;
    const char *hook;
    void (*then)(struct sess *s, const struct acl_result *r);
    struct acl_req req;
};

static void acl_cb(const struct acl_result *r, void *arg)
{
    struct acl_call *c = arg;
    struct sess *s = c->s;

    sess_note(s);
    s->acl = NULL;
    s->busy = 0;
    s->txn.submission |= c->req.submission;
    s->txn.queue_only |= c->req.queue_only;
    s->txn.freeze |= c->req.freeze;
    sess_sync_control(s, c->req.sync_control, c->req.no_pipelining);
    if (r->add_headers != NULL && r->verdict != ACL_DENY
        && r->verdict != ACL_DROP)
        sb_append(&s->txn.added, sb_str(r->add_headers),
                  sb_len(r->add_headers));
    c->then(s, r);
    free(c);
    if (!s->busy && !s->closed)
        sess_resume(s);
}

static void fill_req(struct sess *s, struct acl_req *q, const char *hook,
                     const char *rcpt)
{
    q->conf = s->srv->o.conf;
    q->ev = s->srv->o.ev;
    q->dns = s->srv->o.dns;
    q->hook = hook;
    q->client_ip = s->ip;
    q->client_port = s->port;
    q->client_name = s->name;
    q->helo = s->helo;
    if (strcmp(hook, "helo") == 0)      /* not accepted yet: pending */
        q->helo = s->pending;
    q->sender = s->txn.sender;
    if (strcmp(hook, "mail") == 0)      /* not accepted yet: pending */
        q->sender = s->pending;
    q->rcpt = rcpt;
    q->nrcpts = s->txn.nrcpt;
    q->rcpts = (const char *const *)s->txn.rcpts;
    q->auth_id = s->auth_id;
    q->tls_cipher = s->tls ? stls_cipher(s) : NULL;
    q->data = sb_str(&s->txn.msg);
    q->data_len = sb_len(&s->txn.msg);
    if (s->txn.mime != NULL && s->txn.mime_next > 0) {
        const struct mime_part *mp = &s->txn.mime->parts[s->txn.mime_next - 1];
        q->data = mp->body;
        q->data_len = mp->body_len;
        q->mime_content_type = mp->content_type;
        q->mime_filename = mp->filename;
    }
    q->conn_vars = &s->conn_vars;
    q->msg_vars = &s->txn.vars;
    q->message_size = strcmp(hook, "data") == 0 || strcmp(hook, "mime") == 0
                      ? (long long)sb_len(&s->txn.msg) : s->txn.size_hint;
    q->rate_conn = &s->conn_rates;
    q->rate_msg = &s->txn.rates;
    q->trace = s->srv->o.fake;
}

/* sess_acl - run the ACL of hook, then call then(s, result) */
void sess_acl(struct sess *s, const char *hook, const char *rcpt,
              void (*then)(struct sess *s, const struct acl_result *r))
{
    struct acl_call *c = xcalloc(1, sizeof(*c));

    c->s = s;
    c->hook = hook;
    c->then = then;
    fill_req(s, &c->req, hook, rcpt);
    s->busy = 1;
    s->acl = acl_check(&c->req, acl_cb, c);
}

/* The header section of a message refused after DATA, one reject-log
 * line per header line (never the body). */
static void log_headers(const struct strbuf *msg)
{
    const char *p = sb_str(msg), *end = p + sb_len(msg);
    struct strbuf line;
    int n = 0;

    sb_init(&line);
    while (p < end && n++ < 200) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0)
            break;                      /* the end of the header section */
        sb_reset(&line);
        logfile_escape(&line, p, len);
        log_reject_detail("  %s", sb_str(&line));
        p = nl ? nl + 1 : end;
    }
    sb_free(&line);
}

static void log_refusal(struct sess *s, const char *what,
                        const struct acl_result *r, const char *text)
{
    struct strbuf line;
    const char *why = r->log_message ? r->log_message : text;
    char key[96];               /* lines alike for smtp_reject_log_limit */

    sb_init(&line);
    sess_host_text(s, &line);
    if (s->txn.sender != NULL && strcmp(what, "MAIL") != 0) {
        sb_puts(&line, " F=<");
        logfile_escape_str(&line, s->txn.sender);
        sb_putc(&line, '>');
    }
    if (strcmp(what, "RCPT") == 0) {
        sb_printf(&line, " %s RCPT <", r->verdict == ACL_DEFER
                  ? "temporarily rejected" : "rejected");
        logfile_escape_str(&line, (const char *)s->pending);
        sb_puts(&line, ">: ");
    } else if (strcmp(what, "MAIL") == 0) {
        sb_puts(&line, " rejected MAIL <");
        logfile_escape_str(&line, (const char *)s->pending);
        sb_puts(&line, ">: ");
    } else if (strcmp(what, "DATA") == 0)
        sb_puts(&line, " rejected after DATA: ");
    else if (strcmp(what, "predata") == 0)
        sb_puts(&line, " rejected DATA: ");
    else if (strcmp(what, "HELO/EHLO") == 0 && s->pending != NULL) {
        const char *name = s->pending;  /* Exim's words for it */
        sb_puts(&line, " rejected EHLO or HELO ");
        logfile_escape(&line, name, strlen(name));
        sb_puts(&line, ": ");
    } else
        sb_printf(&line, " rejected %s: ", what);
    logfile_escape(&line, why, strlen(why));
    snprintf(key, sizeof(key), "%s %s: %s", what,
             r->verdict == ACL_DEFER ? "deferred" : "rejected", why);
    if (sess_reject_log(s, key, sb_str(&line)) && strcmp(what, "DATA") == 0)
        log_headers(&s->txn.msg);
    sb_free(&line);
}

/* sess_acl_refused - answer a deny/defer/drop; 0 when the ACL accepted.
 * The ACL engine has checked r->code against the verdict (5xx for deny
 * and drop, 4xx for defer) and keeps internal error text out of
 * r->message, so what is sent here is the configuration's own text. */
int sess_acl_refused(struct sess *s, const struct acl_result *r,
                     int dflt_code, const char *what)
{
    int deny = r->verdict == ACL_DENY || r->verdict == ACL_DROP;
    int code = r->code ? r->code : deny ? dflt_code : 451;
    const char *status = r->status ? r->status : r->internal ? "4.3.0"
                         : deny ? "5.7.1" : "4.7.1";
    const char *text = r->message ? r->message : deny
                       ? "Administrative prohibition"
                       : "Temporary local problem - please try later";

    if (r->verdict == ACL_ACCEPT || r->verdict == ACL_DISCARD)
        return 0;
    sess_reply_multi(s, code, status, text);
    log_refusal(s, what, r, text);
    if (r->verdict == ACL_DROP)
        smtpin_set_state(s, SS_CLOSING);
    return 1;
}

/* The notquit ACL outlives its session: it owns copies of what it needs. */
struct notquit {
    struct acl_req req;
    struct acl_vars conn_vars, msg_vars;
    char ip[64];
    char *helo, *sender, *auth_id, *why;
};

static void notquit_done(const struct acl_result *r, void *arg)
{
    struct notquit *n = arg;

    if (r->log_message != NULL) {
        struct strbuf sb;

        sb_init(&sb);
        logfile_escape_str(&sb, r->log_message);
        log_main("H=[%s] notquit: %s", n->ip, sb_str(&sb));
        sb_free(&sb);
    }
    acl_vars_free(&n->conn_vars);
    acl_vars_free(&n->msg_vars);
    free(n->helo);
    free(n->sender);
    free(n->auth_id);
    free(n->why);
    free(n);
}

/* sess_notquit - run the notquit ACL for a session that ends without
 * QUIT (for logging and counters: nothing can be said to the client) */
void sess_notquit(struct sess *s, const char *why)
{
    struct notquit *n;

    if (conf_find_acl(s->srv->o.conf, "notquit") == NULL)
        return;
    n = xcalloc(1, sizeof(*n));
    fill_req(s, &n->req, "notquit", NULL);
    snprintf(n->ip, sizeof(n->ip), "%s", s->ip);
    n->helo = s->helo ? xstrdup(s->helo) : NULL;
    n->sender = s->txn.sender ? xstrdup(s->txn.sender) : NULL;
    n->auth_id = s->auth_id ? xstrdup(s->auth_id) : NULL;
    n->conn_vars = s->conn_vars;
    memset(&s->conn_vars, 0, sizeof(s->conn_vars));
    n->req.client_ip = n->ip;
    n->req.helo = n->helo;
    n->req.sender = n->sender;
    n->req.auth_id = n->auth_id;
    n->why = xstrdup(why);
    n->req.rcpt = n->why;
    n->req.nrcpts = 0;
    n->req.rcpts = NULL;
    n->req.data = NULL;
    n->req.data_len = 0;
    n->req.tls_cipher = NULL;
    n->req.conn_vars = &n->conn_vars;
    n->req.msg_vars = &n->msg_vars;
    n->req.rate_conn = n->req.rate_msg = NULL;  /* they die with s */
    acl_check(&n->req, notquit_done, n);
}
