/*
 * smtp_sync.c - SMTP synchronization (Exim's smtp_enforce_sync): early
 *               talkers, commands sent too soon, the banner delay and
 *               the PIPELINING offer.
 *
 * PURPOSE: RFC 5321 makes a client wait for the greeting and for the
 * reply to each command; RFC 2920 PIPELINING lifts that for MAIL, RCPT
 * and RSET but still wants EHLO, HELO, DATA, VRFY, EXPN, NOOP and
 * STARTTLS last in a group. Spam engines that fire a whole dialogue
 * without reading replies get "554 SMTP synchronization error" and are
 * dropped, with Exim's log lines (fail2ban's exim filter matches them).
 * The checks are Exim's (smtp_in.c):
 *  - before the banner: input already sent, after smtp_banner_delay
 *    seconds when set (postscreen's pre-greet test; an ev timer, so the
 *    loop serves other sessions meanwhile);
 *  - at each command that must be synchronised (above; without
 *    PIPELINING also MAIL, RCPT, RSET): input left in the buffer after
 *    its line; BDAT, AUTH, QUIT, HELP and unknown commands are not;
 *  - after the ACL of HELO/EHLO, DATA (predata) and, without PIPELINING,
 *    MAIL and RCPT: input that arrived while the ACL ran (a peek);
 *  - without PIPELINING, input after a BDAT chunk.
 * Only network sessions are checked (not -bs or -bh). control =
 * no_enforce_sync / enforce_sync switch the checks for the rest of the
 * connection; control = no_pipelining and pipelining_advertise_hosts
 * withhold PIPELINING (and so make MAIL, RCPT, RSET strict).
 * INTERFACE: sess_sync_init, sess_sync_control, sess_banner,
 *            sess_sync_command, sess_sync_recheck, sess_sync_bdat,
 *            sess_pipelining_offer (smtp_sess.h).
 * SECURITY: logged input is bounded (SYNC_LOG_MAX bytes) and escaped; a
 *           dropped client's unread input is drained (bounded) so the
 *           close does not reset the connection before the 554 is read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/base/ev.h"
#include "core/conf/conf.h"
#include "core/conf/mlist.h"
#include "core/mail/logfile.h"
#include "smtpd/smtp_sess.h"
#include "smtpd/smtp_tls.h"

#define SYNC_LOG_MAX 150            /* input shown in the log line */
#define SYNC_DRAIN_MAX (64 * 1024)  /* unread input dropped before close */

enum { SYNC_NEVER, SYNC_ALWAYS, SYNC_UNLESS_PIPELINING };

/* Exim's classes: synchronised even with PIPELINING (RFC 2920 3.1; NOOP
 * as Exim does, STARTTLS by RFC 3207), or only without it. */
static const unsigned char sync_rule[] = {
    [SV_HELO] = SYNC_ALWAYS, [SV_EHLO] = SYNC_ALWAYS,
    [SV_DATA] = SYNC_ALWAYS, [SV_VRFY] = SYNC_ALWAYS,
    [SV_EXPN] = SYNC_ALWAYS, [SV_NOOP] = SYNC_ALWAYS,
    [SV_STARTTLS] = SYNC_ALWAYS,
    [SV_MAIL] = SYNC_UNLESS_PIPELINING, [SV_RCPT] = SYNC_UNLESS_PIPELINING,
    [SV_RSET] = SYNC_UNLESS_PIPELINING,
    [SV_BDAT] = SYNC_NEVER, [SV_QUIT] = SYNC_NEVER, [SV_HELP] = SYNC_NEVER,
    [SV_AUTH] = SYNC_NEVER, [SV_UNKNOWN] = SYNC_NEVER,
};

static int must_sync(const struct sess *s, enum smtp_verb v)
{
    if ((unsigned)v >= sizeof(sync_rule) || !s->sync)
        return 0;
    return sync_rule[v] == SYNC_ALWAYS
           || (sync_rule[v] == SYNC_UNLESS_PIPELINING && !s->pipelining);
}

/* sess_sync_init - a network session: checked as smtp_enforce_sync says
 * (-bs and -bh sessions never call this and are never checked) */
void sess_sync_init(struct sess *s)
{
    s->sync_net = 1;
    s->sync = s->srv->o.conf->main.smtp_enforce_sync ? 1 : 0;
}

/* sess_sync_control - an ACL's controls: enforce_sync (1) or
 * no_enforce_sync (-1) for the rest of a network session; no_pipelining
 * for the rest of any session */
void sess_sync_control(struct sess *s, int control, int no_pipelining)
{
    if (control != 0 && s->sync_net)
        s->sync = control > 0;
    if (no_pipelining)
        s->no_pipelining = 1;
}

/* sess_pipelining_offer - 1 when EHLO may advertise PIPELINING */
int sess_pipelining_offer(struct sess *s)
{
    const struct conf_main *m = &s->srv->o.conf->main;
    struct match_ctx mc = { .conf = s->srv->o.conf, .host_name = s->name };

    if (s->no_pipelining || m->pipelining_advertise_hosts == NULL)
        return 0;
    if (s->ip[0] == '\0')
        return 1;               /* local submission */
    return mlist_match(m->pipelining_advertise_hosts, s->ip, &mc)
           == MATCH_YES;
}

/* Read what the client sent (destructively: the session is being
 * dropped); > 0 bytes, 0 at EOF, -1 when nothing is there. */
static ssize_t sync_read(struct sess *s, char *buf, size_t n)
{
    ssize_t r;

    do
        r = s->tls != NULL ? stls_read(s, buf, n)
                           : recv(s->fd_in, buf, n, MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    return r;
}

/* 1 when input is waiting that the session has not read yet */
static int input_waiting(struct sess *s)
{
    char c;
    ssize_t r;

    if (stls_pending(s))
        return 1;
    do
        r = recv(s->fd_in, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    return r > 0;
}

/* Answer 554 and close once it is written. The unread input is dropped
 * first: closing a socket with unread input resets the connection, and
 * the client could lose the 554. */
static void sync_drop(struct sess *s)
{
    char junk[4096];
    size_t total = 0;
    ssize_t r;

    if (s->esmtp)       /* RFC 2034: enhanced codes after EHLO */
        sess_reply(s, 554, "5.5.0", "SMTP synchronization error");
    else
        sess_reply(s, 554, NULL, "SMTP synchronization error");
    while (total < SYNC_DRAIN_MAX
           && (r = sync_read(s, junk, sizeof(junk))) > 0)
        total += (size_t)r;
    smtpin_set_state(s, SS_CLOSING);
}

/* The "next input sent too soon" line; cmd is the command line. */
static void log_too_soon(struct sess *s, const char *cmd, size_t cmdlen,
                         const char *next, size_t n)
{
    struct strbuf sb;

    sb_init(&sb);
    sb_printf(&sb, "SMTP protocol synchronization error (next input sent "
              "too soon: pipelining was%s advertised): rejected \"",
              s->pipelining ? "" : " not");
    logfile_escape(&sb, cmd, cmdlen < SYNC_LOG_MAX ? cmdlen : SYNC_LOG_MAX);
    sb_puts(&sb, "\" ");
    sess_host_text(s, &sb);
    sb_puts(&sb, " next input=\"");
    logfile_escape(&sb, next, n < SYNC_LOG_MAX ? n : SYNC_LOG_MAX);
    sb_putc(&sb, '"');
    log_reject("%s", sb_str(&sb));
    sb_free(&sb);
}

/* 1 (554 queued, closing) when the client spoke before the banner */
static int early_talker(struct sess *s)
{
    char buf[SYNC_LOG_MAX];
    struct strbuf sb;
    ssize_t n = sync_read(s, buf, sizeof(buf));

    if (n <= 0)
        return 0;
    sb_init(&sb);
    sb_puts(&sb, "SMTP protocol synchronization error (input sent without "
            "waiting for greeting): rejected connection from ");
    sess_host_text(s, &sb);
    sb_puts(&sb, " input=\"");
    logfile_escape(&sb, buf, (size_t)n);
    sb_putc(&sb, '"');
    log_reject("%s", sb_str(&sb));
    sb_free(&sb);
    sync_drop(s);
    return 1;
}

static void send_banner(struct sess *s)
{
    if (s->sync && early_talker(s))
        return;
    smtpin_set_state(s, SS_CMD);
    sess_reply(s, 220, NULL, "%s ESMTP tern",
               s->srv->o.conf->main.primary_hostname);
}

static void banner_delay_cb(void *arg)
{
    struct sess *s = arg;

    s->delay = NULL;
    sess_note(s);
    send_banner(s);
    sess_resume(s);
}

/* sess_banner - the connect ACL accepted: the 220, after
 * smtp_banner_delay when the session is checked; an early talker gets
 * 554 instead. The delay is a timer: the session stays busy (its input
 * unread) and the loop goes on with the others. */
void sess_banner(struct sess *s)
{
    long delay = s->srv->o.conf->main.smtp_banner_delay;

    if (s->sync && delay > 0) {
        s->busy = 1;
        s->delay = ev_timer_add(s->srv->o.ev, (uint64_t)delay * 1000,
                                banner_delay_cb, s);
        return;
    }
    send_banner(s);
}

/* sess_sync_command - before a command is obeyed: 1 (554 queued, the
 * session closing) when it must be synchronised and more input follows
 * its line in the buffer (s->in from s->in_next) */
int sess_sync_command(struct sess *s, const struct smtp_cmd *cmd,
                      const char *line, size_t len)
{
    size_t more = s->in_len > s->in_next ? s->in_len - s->in_next : 0;

    if (more == 0 || !must_sync(s, cmd->verb))
        return 0;
    log_too_soon(s, line, len, s->in + s->in_next, more);
    sync_drop(s);
    return 1;
}

/* sess_sync_recheck - after the ACL of a command that must be
 * synchronised (arg: its HELO name or address): 1 (554 queued, closing)
 * when the client sent more while the ACL ran */
int sess_sync_recheck(struct sess *s, enum smtp_verb verb, const char *arg)
{
    static const struct { const char *pre, *post; } shape[] = {
        [SV_HELO] = { "HELO ", "" }, [SV_EHLO] = { "EHLO ", "" },
        [SV_MAIL] = { "MAIL FROM:<", ">" }, [SV_RCPT] = { "RCPT TO:<", ">" },
        [SV_DATA] = { "DATA", "" } };
    char next[SYNC_LOG_MAX], cmd[SMTP_LINE_MAX];
    ssize_t n;

    if ((unsigned)verb >= sizeof(shape) / sizeof(shape[0])
        || shape[verb].pre == NULL || !must_sync(s, verb)
        || !input_waiting(s))
        return 0;
    if ((n = sync_read(s, next, sizeof(next))) <= 0)
        return 0;
    snprintf(cmd, sizeof(cmd), "%s%s%s", shape[verb].pre,
             arg != NULL ? arg : "", shape[verb].post);
    log_too_soon(s, cmd, strlen(cmd), next, (size_t)n);
    sync_drop(s);
    return 1;
}

/* sess_sync_bdat - a BDAT chunk ended and next[0..n) follows it in the
 * buffer: without PIPELINING the client must wait for the chunk's reply
 * (Exim); 1 (554 queued, closing) when it did not */
int sess_sync_bdat(struct sess *s, const char *next, size_t n)
{
    char buf[SYNC_LOG_MAX];
    const char *cmd = s->txn.bdat_last ? "BDAT LAST" : "BDAT";
    ssize_t r;

    if (!s->sync || s->pipelining)
        return 0;
    if (n == 0) {
        if (!input_waiting(s) || (r = sync_read(s, buf, sizeof(buf))) <= 0)
            return 0;
        next = buf;
        n = (size_t)r;
    }
    log_too_soon(s, cmd, strlen(cmd), next, n);
    sync_drop(s);
    return 1;
}
