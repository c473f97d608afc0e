/*
 * smtp_auth.c - SMTP AUTH (RFC 4954) for sessions: PLAIN and LOGIN via
 *               core/mail/sasl.h, checked against auth_passwords (a lookup of
 *               crypt(3) hashes) or the Lua function auth_check.
 *
 * PURPOSE: AUTH is advertised only under TLS unless the client matches
 * auth_advertise_hosts. A failed attempt is answered only after a delay
 * that grows with the failures (the session is busy meanwhile, other
 * sessions are served), and too many failures drop the connection.
 * SECURITY: credentials are wiped after use and never logged; the user
 * name is logged escaped.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/ev.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "core/lookup/lookup.h"
#include "core/conf/mlist.h"
#include "core/mail/sasl.h"
#include "smtpd/sasl_passwd.h"
#include "smtpd/smtp_sess.h"
#include "lua/lcall.h"

/* sess_auth_advertise - may this client be offered AUTH now */
int sess_auth_advertise(const struct sess *s)
{
    const struct conf_main *m = &s->srv->o.conf->main;
    struct match_ctx mc = { .conf = s->srv->o.conf };

    if (m->auth_passwords == NULL && m->auth_check.fn < 0)
        return 0;
    if (s->auth_id != NULL)
        return 0;
    if (s->tls != NULL)
        return 1;
    return m->auth_advertise_hosts != NULL
           && mlist_match(m->auth_advertise_hosts, s->ip, &mc) == MATCH_YES;
}

/* 1 good, 0 bad, -1 temporary failure */
static int check_password(struct sess *s, const char *user, const char *pw)
{
    const struct conf *c = s->srv->o.conf;
    const struct conf_main *m = &c->main;
    struct errbuf eb;
    int ok, rc;

    if (m->auth_check.fn >= 0) {
        rc = lcall_check_password(s->srv->o.conf->lua, m->auth_check.fn, user,
                                  pw, &ok, &eb);
        if (rc != LC_OK)
            log_main("auth_check failed: %s", eb.msg);
        return rc == LC_OK ? ok : -1;
    }
    rc = sasl_check_password(c->auth_table, user, pw, &eb);
    if (rc < 0)
        log_main("auth_passwords lookup failed: %s", eb.msg);
    return rc;
}

static void auth_end(struct sess *s)
{
    struct sasl_state *st = s->sasl;

    sasl_state_clear(st);
    free(st);
    s->sasl = NULL;
    smtpin_set_state(s, SS_CMD);
}

static void failure_reply(void *arg)
{
    struct sess *s = arg;
    long max = s->srv->o.conf->main.auth_failure_max;

    s->delay = NULL;
    sess_reply(s, 535, "5.7.8", "Authentication credentials invalid");
    if (max > 0 && s->auth_failures >= max) {
        sess_reply(s, 421, "4.7.0", "%s: too many authentication failures",
                   s->srv->o.conf->main.primary_hostname);
        smtpin_set_state(s, SS_CLOSING);
    }
    sess_resume(s);
}

static void auth_failed(struct sess *s, const char *user)
{
    struct strbuf line;
    int ms;

    sb_init(&line);                 /* Exim's shape, which fail2ban reads */
    sb_printf(&line, "%s authenticator failed for ",
              s->auth_mech[0] != '\0' ? s->auth_mech : "plain");
    sess_host_ident(s, &line);
    sb_puts(&line, ": 535 Incorrect authentication data (set_id=");
    logfile_escape(&line, user, strlen(user));
    log_reject("%s)", sb_str(&line));
    sb_free(&line);
    ms = sasl_failure_delay_ms(++s->auth_failures);
    s->busy = 1;
    s->delay = ev_timer_add(s->srv->o.ev, (uint64_t)ms, failure_reply, s);
}

static void auth_done(struct sess *s)
{
    struct sasl_state *st = s->sasl;
    char *user = xstrdup(st->authcid);
    int ok = check_password(s, st->authcid, st->password);

    auth_end(s);
    if (ok > 0) {
        s->auth_id = user;
        sess_reply(s, 235, "2.7.0", "Authentication succeeded");
        return;
    }
    if (ok < 0)
        sess_reply(s, 454, "4.7.0", "Temporary authentication failure");
    else
        auth_failed(s, user);
    free(user);
}

static void handle(struct sess *s, enum sasl_result r)
{
    struct sasl_state *st = s->sasl;

    switch (r) {
    case SASL_CONTINUE:
        sess_reply(s, 334, NULL, "%s", st->challenge);
        smtpin_set_state(s, SS_AUTH);
        return;
    case SASL_DONE:
        auth_done(s);
        return;
    case SASL_ERROR:
        sb_printf(&s->out, "%s\r\n", st->reply);
        auth_end(s);
        return;
    }
}

/* sess_auth_start - the AUTH command */
void sess_auth_start(struct sess *s, const struct smtp_cmd *cmd)
{
    const char *arg = cmd->arg ? cmd->arg : "", *sp;
    char mech[32];

    if (!sess_auth_advertise(s) || s->helo == NULL || !s->esmtp) {
        sess_reply(s, 503, "5.5.1", s->auth_id ? "Already authenticated"
                   : "AUTH command used when not advertised");
        return;
    }
    if (s->txn.sender != NULL) {
        sess_reply(s, 503, "5.5.1", "AUTH not permitted during a mail "
                   "transaction");
        return;
    }
    sp = arg + strcspn(arg, " ");
    if ((size_t)(sp - arg) >= sizeof(mech)) {
        sess_reply(s, 504, "5.5.4", "Unrecognized authentication type");
        return;
    }
    memcpy(mech, arg, (size_t)(sp - arg));
    mech[sp - arg] = '\0';
    for (size_t i = 0; i < sizeof(s->auth_mech) - 1 && mech[i]; i++)
        s->auth_mech[i] = (char)tolower((unsigned char)mech[i]);
    sp += strspn(sp, " ");
    s->sasl = xcalloc(1, sizeof(struct sasl_state));
    handle(s, sasl_start(s->sasl, mech, *sp ? sp : NULL, strlen(sp)));
}

/* sess_auth_line - a client response line during AUTH */
void sess_auth_line(struct sess *s, const char *line, size_t len)
{
    handle(s, sasl_step(s->sasl, line, len));
}
