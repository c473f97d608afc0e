/*
 * smtp_cmd.c - SMTP commands: a table of verbs, one handler each
 *              (RFC 5321 with SIZE, 8BITMIME, SMTPUTF8, PIPELINING,
 *              ENHANCEDSTATUSCODES, CHUNKING, STARTTLS, AUTH).
 *
 * PURPOSE: check each command's place in the dialogue, run the ACL of its
 * hook, and answer with an enhanced status code. Handlers that wait for
 * an ACL finish in a continuation (the *_done functions).
 * SECURITY: paths are parsed by address.c with RFC limits; source routes,
 * "user@a@b" and NULs are refused before any ACL sees them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/log.h"
#include "core/mail/address.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "core/conf/mlist.h"
#include "route/route_verify.h"
#include "smtpd/smtp_sess.h"
#include "smtpd/smtp_tls.h"

typedef void (*cmd_fn)(struct sess *s, struct smtp_cmd *cmd);

static const char *hostname(const struct sess *s)
{
    return s->srv->o.conf->main.primary_hostname;
}

/* sess_reset_txn - forget the transaction (RSET, HELO, after DATA) */
void sess_reset_txn(struct sess *s)
{
    struct sess_txn *t = &s->txn;

    free(t->sender);
    t->sender = NULL;
    for (size_t i = 0; i < t->nrcpt; i++)
        free(t->rcpts[i]);
    free(t->rcpts);
    t->rcpts = NULL;
    t->nrcpt = t->cap = 0;
    if (t->msg.data != NULL) {
        s->srv->buffered -= sb_len(&t->msg);
        sb_reset(&t->msg);
        sb_reset(&t->added);
    }
    acl_vars_free(&t->vars);
    acl_vars_free(&t->rates);
    free(t->mime);
    t->mime = NULL;
    t->mime_next = 0;
    t->size_hint = -1;
    t->discarded = 0;
    t->body_8bit = t->smtputf8 = t->discard = 0;
    t->queue_only = t->submission = t->freeze = 0;
    t->bdat_left = 0;
    t->bdat_last = t->bdat_failed = t->bdat_skip = 0;
}

/* 1 (and the session is told and closing) when count is over a limit
 * that is set (> 0); what says what was counted */
static int over_limit(struct sess *s, long count, long limit,
                      const char *what)
{
    if (limit <= 0 || count <= limit)
        return 0;
    struct strbuf line;

    sess_reply(s, 421, "4.7.0", "%s: too many %s", hostname(s), what);
    sb_init(&line);                 /* Exim's shape, which fail2ban reads */
    sb_puts(&line, "SMTP call from ");  /* name [ip]:port, no HELO */
    if (s->name != NULL) {
        logfile_escape_str(&line, s->name);
        sb_putc(&line, ' ');
    }
    sb_printf(&line, "[%s]:%d dropped: too many %s (last command was \"",
              s->ip, s->port, what);
    logfile_escape_str(&line, s->last_cmd);
    log_reject("%s\")", sb_str(&line));
    sb_free(&line);
    smtpin_set_state(s, SS_CLOSING);
    return 1;
}

static int too_many_errors(struct sess *s)
{
    const struct conf_main *m = &s->srv->o.conf->main;

    return over_limit(s, s->bad_commands, m->smtp_max_synprot_errors,
                      "syntax or protocol errors")
           || over_limit(s, s->unknown_commands,
                         m->smtp_max_unknown_commands,
                         "unrecognized commands");
}

static void protocol_error(struct sess *s, int code, const char *status,
                           const char *text)
{
    sess_reply(s, code, status, "%s", text);
    s->bad_commands++;
    too_many_errors(s);
}

/* ---- the greeting and HELO/EHLO ---- */

static void greet_done(struct sess *s, const struct acl_result *r)
{
    if (sess_acl_refused(s, r, 554, "connection")) {
        smtpin_set_state(s, SS_CLOSING);
        return;
    }
    sess_banner(s);             /* smtp_sync.c: delay, early talkers */
}

/* sess_greet - connect ACL, then the 220 banner */
void sess_greet(struct sess *s)
{
    sess_acl(s, "connect", NULL, greet_done);
}

static int helo_valid(const char *arg)
{
    size_t n = strlen(arg);

    if (n > 2 && arg[0] == '[' && arg[n - 1] == ']')
        return 1;               /* an address literal; verify=helo checks */
    return addr_domain_valid(arg, n, ADDR_UTF8);
}

static void ehlo_reply(struct sess *s)
{
    const struct conf_main *m = &s->srv->o.conf->main;
    struct strbuf t;

    sb_init(&t);
    sb_printf(&t, "%s Hello %s [%s]\n", hostname(s), s->helo,
              s->ip[0] ? s->ip : "local");
    if (m->message_size_limit > 0)
        sb_printf(&t, "SIZE %ld\n", m->message_size_limit);
    s->pipelining = sess_pipelining_offer(s);
    sb_puts(&t, s->pipelining ? "8BITMIME\nPIPELINING\n" : "8BITMIME\n");
    sb_puts(&t, "CHUNKING\nSMTPUTF8\nENHANCEDSTATUSCODES\n");
    if (s->srv->o.tls != NULL && s->tls == NULL)
        sb_puts(&t, "STARTTLS\n");
    if (sess_auth_advertise(s))
        sb_puts(&t, "AUTH PLAIN LOGIN\n");
    sb_puts(&t, "HELP\n");
    sess_reply_multi(s, 250, NULL, sb_str(&t));
    sb_free(&t);
}

/* sess_set_greeting - the one place the client's greeting changes (helo
 * is taken over; NULL: none, MAIL then needs HELO/EHLO); traced under
 * -dsmtp as "smtp: [ip]:port greeting EHLO name" or "... greeting none" */
void sess_set_greeting(struct sess *s, char *helo, int esmtp)
{
    log_debug(DBG_SMTP, "smtp: [%s]:%d greeting %s%s", s->ip, s->port,
              helo ? (esmtp ? "EHLO " : "HELO ") : "none",
              helo ? helo : "");
    free(s->helo);
    s->helo = helo;
    s->esmtp = helo != NULL && esmtp;
    s->pipelining = 0;          /* until an EHLO reply offers it */
}

/* A greeting counts only once the helo ACL accepted it. A refused one
 * leaves none at all (Exim too forgets the name; an earlier accepted
 * greeting does not survive it), and the transaction is reset either way
 * (RFC 5321 4.1.4). */
static void helo_done(struct sess *s, const struct acl_result *r)
{
    int refused = sess_acl_refused(s, r, 550, "HELO/EHLO");
    char *helo = s->pending;

    s->pending = NULL;
    sess_reset_txn(s);
    if (refused || sess_sync_recheck(s, s->pending_esmtp ? SV_EHLO : SV_HELO,
                                     helo)) {
        free(helo);
        sess_set_greeting(s, NULL, 0);
        return;
    }
    sess_set_greeting(s, helo, s->pending_esmtp);
    if (s->esmtp)
        ehlo_reply(s);
    else
        sess_reply(s, 250, NULL, "%s Hello %s [%s]", hostname(s), helo,
                   s->ip[0] ? s->ip : "local");
}

/* The helo ACL sees the new name (s->pending); the session's greeting
 * does not change until the ACL has accepted it. */
static void do_helo(struct sess *s, struct smtp_cmd *cmd)
{
    if (cmd->arg == NULL || !helo_valid(cmd->arg)) {
        protocol_error(s, 501, "5.5.4", "Syntactically invalid argument(s)");
        return;
    }
    free(s->pending);
    s->pending = xstrdup(cmd->arg);
    s->pending_esmtp = cmd->verb == SV_EHLO;
    sess_acl(s, "helo", NULL, helo_done);
}

/* ---- MAIL, RCPT ---- */

static int parse_path(struct sess *s, const char *path, unsigned opts,
                      struct strbuf *out)
{
    struct addr_parsed ap;
    const char *err;

    if (addr_parse(path, strlen(path), opts, &ap, &err) != 0) {
        protocol_error(s, 501, "5.1.3", err);
        return -1;
    }
    addr_format(ap.local_part, ap.domain, out);
    return 0;
}

static void mail_done(struct sess *s, const struct acl_result *r)
{
    int refused = sess_acl_refused(s, r, 550, "MAIL");
    char *sender = s->pending;

    s->pending = NULL;
    if (refused || sess_sync_recheck(s, SV_MAIL, sender)) {
        free(sender);
        return;
    }
    s->txn.sender = sender;
    sess_reply(s, 250, "2.1.0", "OK");
}

static int mail_params_ok(struct sess *s, const struct smtp_cmd *cmd)
{
    long limit = s->srv->o.conf->main.message_size_limit;

    if (!s->esmtp && (cmd->size >= 0 || cmd->body_given || cmd->smtputf8
                      || cmd->auth_given)) {
        protocol_error(s, 555, "5.5.4", "Parameters need EHLO");
        return 0;
    }
    if (limit > 0 && cmd->size > limit) {
        sess_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
                   "message size");
        sess_reject_logf(s, "MAIL: message too big", "%s: message too big "
                         "(SIZE=%ld)", s->ip, cmd->size);
        return 0;
    }
    return 1;
}

static void do_mail(struct sess *s, struct smtp_cmd *cmd)
{
    struct strbuf sb;

    if (s->helo == NULL) {
        protocol_error(s, 503, "5.5.1", "EHLO or HELO first");
        return;
    }
    if (s->txn.sender != NULL) {
        protocol_error(s, 503, "5.5.1", "Sender already given");
        return;
    }
    if (!mail_params_ok(s, cmd))
        return;
    sb_init(&sb);
    if (cmd->path[0] != '\0'
        && parse_path(s, cmd->path, cmd->smtputf8 ? ADDR_UTF8 : 0, &sb)
           != 0) {
        sb_free(&sb);
        return;
    }
    s->txn.size_hint = cmd->size;
    s->txn.body_8bit = cmd->body_8bit;
    s->txn.smtputf8 = cmd->smtputf8;
    free(s->txn.sender);
    s->txn.sender = NULL;
    free(s->pending);
    s->pending = xstrdup(sb_str(&sb));
    sb_free(&sb);
    sess_acl(s, "mail", NULL, mail_done);
}

static void rcpt_done(struct sess *s, const struct acl_result *r)
{
    int refused = sess_acl_refused(s, r, 550, "RCPT");
    char *rcpt = s->pending;
    struct sess_txn *t = &s->txn;

    s->pending = NULL;
    if (!refused && sess_sync_recheck(s, SV_RCPT, rcpt)) {
        free(rcpt);
        return;
    }
    if (refused || r->verdict == ACL_DISCARD) {
        if (!refused) {             /* accepted, then thrown away */
            t->discarded++;
            sess_reply(s, 250, "2.1.5", "Accepted");
        }
        free(rcpt);
        return;
    }
    if (t->nrcpt == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->rcpts = xreallocarray(t->rcpts, t->cap, sizeof(char *));
    }
    t->rcpts[t->nrcpt++] = rcpt;
    sess_reply(s, 250, "2.1.5", "Accepted");
}

static void do_rcpt(struct sess *s, struct smtp_cmd *cmd)
{
    struct strbuf sb;
    long max = s->srv->o.conf->main.recipients_max;

    if (s->txn.sender == NULL) {
        protocol_error(s, 503, "5.5.1", "MAIL first");
        return;
    }
    if (max > 0 && s->txn.nrcpt >= (size_t)max) {
        sess_reply(s, 452, "4.5.3", "Too many recipients");
        sess_reject_logf(s, "RCPT: too many recipients", "%s: too many "
                         "recipients (recipients_max = %ld)", s->ip, max);
        return;
    }
    if (cmd->path_8bit && !s->txn.smtputf8) {
        protocol_error(s, 553, "5.6.7", "Non-ASCII address without "
                       "SMTPUTF8");
        return;
    }
    sb_init(&sb);
    if (strcasecmp(cmd->path, "postmaster") == 0)
        sb_printf(&sb, "postmaster@%s", hostname(s));
    else if (parse_path(s, cmd->path, s->txn.smtputf8 ? ADDR_UTF8 : 0, &sb)
             != 0) {
        sb_free(&sb);
        return;
    }
    free(s->pending);
    s->pending = xstrdup(sb_str(&sb));
    sb_free(&sb);
    sess_acl(s, "rcpt", s->pending, rcpt_done);
}

/* ---- DATA, BDAT, RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS ---- */

static int txn_ready(struct sess *s)
{
    if (s->txn.sender == NULL) {
        protocol_error(s, 503, "5.5.1", "MAIL first");
        return 0;
    }
    if (s->txn.nrcpt == 0 && s->txn.discarded == 0) {
        protocol_error(s, 554, "5.5.1", "No valid recipients");
        return 0;
    }
    if (s->txn.nrcpt == 0)
        s->txn.discard = 1;     /* every recipient was discarded */
    return 1;
}

static void do_data(struct sess *s, struct smtp_cmd *cmd)
{
    (void)cmd;
    if (s->txn.bdat_failed || sb_len(&s->txn.msg) > 0) {
        protocol_error(s, 503, "5.5.1", "DATA after BDAT is not allowed");
        return;
    }
    if (txn_ready(s))
        sess_data_start(s);
}

/* Refused or not, a BDAT is followed by its chunk: before EHLO (or after
 * HELO) the chunk is read and dropped and the 503 follows it, as for any
 * other refused BDAT, so chunk octets are never read as commands. */
static void do_bdat(struct sess *s, struct smtp_cmd *cmd)
{
    if (!s->esmtp) {
        s->bad_commands++;
        if (!too_many_errors(s))        /* else 421: nothing more is read */
            sess_bdat_skip(s, cmd);
        return;
    }
    sess_bdat_start(s, cmd);
}

static void do_rset(struct sess *s, struct smtp_cmd *cmd)
{
    (void)cmd;
    sess_reset_txn(s);
    sess_reply(s, 250, "2.0.0", "Reset OK");
}

static void do_noop(struct sess *s, struct smtp_cmd *cmd)
{
    (void)cmd;
    sess_reply(s, 250, "2.0.0", "OK");
}

static void quit_done(struct sess *s, const struct acl_result *r)
{
    (void)r;
    sess_reply(s, 221, "2.0.0", "%s closing connection", hostname(s));
    smtpin_set_state(s, SS_CLOSING);
}

static void do_quit(struct sess *s, struct smtp_cmd *cmd)
{
    (void)cmd;
    s->quit_seen = 1;
    sess_acl(s, "quit", NULL, quit_done);
}

static void vrfy_done(enum verify_result r, const char *msg, void *arg)
{
    struct sess *s = arg;
    char *addr = s->pending;

    sess_note(s);
    s->verify = NULL;
    s->pending = NULL;
    if (r == VERIFY_OK)
        sess_reply(s, 250, "2.1.5", "<%s> is deliverable", addr);
    else if (r == VERIFY_FAILED)        /* the router's fail text */
        sess_reply(s, 550, "5.1.1", "<%s>: %s", addr,
                   msg ? msg : "Unrouteable address");
    else {      /* why (a lookup's file, a script error) is for the log */
        sess_reply(s, 451, "4.3.0", "<%s>: cannot be verified at this time",
                   addr);
        log_main("H=[%s]:%d VRFY <%s> deferred: %s", s->ip, s->port, addr,
                 msg ? msg : "routing deferred");
    }
    free(addr);
    sess_resume(s);
}

/* VRFY: 252 unless the client is in smtp_vrfy_hosts; then the address is
 * routed in verify mode and the answer is the router chain's. */
static void do_vrfy(struct sess *s, struct smtp_cmd *cmd)
{
    const struct conf_main *m = &s->srv->o.conf->main;
    struct match_ctx mc = { .conf = s->srv->o.conf };
    struct strbuf sb;
    const char *a = cmd->arg;
    size_t n = strlen(a);
    char path[SMTP_PATH_MAX + 1];

    if (m->smtp_vrfy_hosts == NULL
        || mlist_match(m->smtp_vrfy_hosts, s->ip, &mc) != MATCH_YES) {
        sess_reply(s, 252, "2.1.5", "Cannot VRFY user, but will accept "
                   "message and attempt delivery");
        return;
    }
    if (n > 2 && a[0] == '<' && a[n - 1] == '>') {
        a++;
        n -= 2;
    }
    if (n > SMTP_PATH_MAX) {
        sess_reply(s, 501, "5.1.3", "Path too long");
        return;
    }
    memcpy(path, a, n);
    path[n] = '\0';
    sb_init(&sb);
    if (parse_path(s, path, ADDR_UTF8, &sb) == 0) {
        free(s->pending);
        s->pending = xstrdup(sb_str(&sb));
        s->busy = 1;
        s->verify = route_verify_start(s->srv->o.conf, s->srv->o.ev,
                                       s->srv->o.dns, "", s->ip, s->pending,
                                       vrfy_done, s);
    }
    sb_free(&sb);
}

static void do_expn(struct sess *s, struct smtp_cmd *cmd)
{
    (void)cmd;
    sess_reply(s, 502, "5.5.1", "EXPN not available");
}

static void do_help(struct sess *s, struct smtp_cmd *cmd)
{
    struct strbuf t;

    (void)cmd;
    sb_init(&t);
    sb_puts(&t, "Commands supported:\n");
    if (sess_auth_advertise(s))
        sb_puts(&t, "AUTH ");
    sb_puts(&t, "HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP VRFY");
    if (s->srv->o.tls != NULL && s->tls == NULL)
        sb_puts(&t, " STARTTLS");
    sb_putc(&t, '\n');
    sess_reply_multi(s, 214, "2.0.0", sb_str(&t));
    sb_free(&t);
}

static void do_starttls(struct sess *s, struct smtp_cmd *cmd)
{
    (void)cmd;
    if (s->srv->o.tls == NULL || s->tls != NULL) {
        protocol_error(s, 503, "5.5.1", s->tls ? "Already in TLS"
                                               : "STARTTLS not available");
        return;
    }
    sess_reply(s, 220, "2.0.0", "Ready to start TLS");
    s->in_len = 0;              /* pipelined plain text is discarded */
    sess_flush(s);
    if (!s->closed)
        sess_start_tls(s);
}

static void do_auth(struct sess *s, struct smtp_cmd *cmd)
{
    sess_auth_start(s, cmd);
}

static const cmd_fn handlers[] = {
    [SV_HELO] = do_helo, [SV_EHLO] = do_helo, [SV_MAIL] = do_mail,
    [SV_RCPT] = do_rcpt, [SV_DATA] = do_data, [SV_BDAT] = do_bdat,
    [SV_RSET] = do_rset, [SV_NOOP] = do_noop, [SV_QUIT] = do_quit,
    [SV_VRFY] = do_vrfy, [SV_EXPN] = do_expn, [SV_HELP] = do_help,
    [SV_STARTTLS] = do_starttls, [SV_AUTH] = do_auth,
};

/* sess_command_line - one command line (without its line end) */
void sess_command_line(struct sess *s, const char *line, size_t len)
{
    struct smtp_cmd cmd;
    struct smtp_reply_err err;
    char arg[SMTP_LINE_MAX];
    size_t keep = len < sizeof(s->last_cmd) - 1 ? len
                                                : sizeof(s->last_cmd) - 1;

    memcpy(s->last_cmd, line, keep);
    s->last_cmd[keep] = '\0';
    while (keep > 0 && (s->last_cmd[keep - 1] == '\n'
                        || s->last_cmd[keep - 1] == '\r'))
        s->last_cmd[--keep] = '\0';
    if (s->srv->draining && s->txn.sender == NULL) {
        sess_reply(s, 421, "4.3.2", "%s: service shutting down",
                   hostname(s));
        smtpin_set_state(s, SS_CLOSING);
        return;
    }
    if (smtp_parse_command(line, len, &cmd, &err) != 0) {
        if (sess_sync_command(s, &cmd, line, len))
            return;
        if (cmd.verb == SV_UNKNOWN)
            s->unknown_commands++;
        else
            s->bad_commands++;
        sess_reply(s, err.code, err.status, "%s", err.text);
        too_many_errors(s);
        return;
    }
    /* the parser's argument points into the unterminated line */
    if (cmd.arg != NULL) {
        size_t n = cmd.arg_len < sizeof(arg) ? cmd.arg_len : sizeof(arg) - 1;
        memcpy(arg, cmd.arg, n);
        arg[n] = '\0';
        cmd.arg = arg;
    }
    if (sess_sync_command(s, &cmd, line, len))
        return;                 /* 554: sent too soon */
    handlers[cmd.verb](s, &cmd);
}
