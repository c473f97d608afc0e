/*
 * smtp_rejlog.c - the rejection log lines of one SMTP session, bounded
 *                 by smtp_reject_log_limit.
 *
 * PURPOSE: a client can provoke one rejection per command (10,000 RCPTs
 * to a domain it may not relay to), and each writes a line to the reject
 * log and the main log. Within one session, once smtp_reject_log_limit
 * lines with the same key (the command and the reason, not the address)
 * have been written, further ones are only counted; when the session
 * ends, one line per such key says how many were left out. Up to
 * REJLOG_KEYS keys are told apart; further reasons share one counter, so
 * varying the reason does not lift the bound. 0 logs everything (Exim).
 * INTERFACE: sess_reject_log(f), sess_reject_summary, sess_rejlog_free
 *            (smtp_sess.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "smtpd/smtp_sess.h"

#define REJLOG_KEYS 8
#define REJLOG_KEY_MAX 96

struct rejlog {
    struct {
        char key[REJLOG_KEY_MAX];
        unsigned long n;            /* lines with this key so far */
    } k[REJLOG_KEYS + 1];           /* the last: every further reason */
    size_t nkeys;
};

static unsigned long *counter(struct sess *s, const char *key)
{
    struct rejlog *rl = s->rejlog;
    size_t i;

    if (rl == NULL)
        rl = s->rejlog = xcalloc(1, sizeof(*rl));
    for (i = 0; i < rl->nkeys; i++)
        if (strncmp(rl->k[i].key, key, REJLOG_KEY_MAX - 1) == 0)
            return &rl->k[i].n;
    if (rl->nkeys == REJLOG_KEYS) {
        snprintf(rl->k[i].key, REJLOG_KEY_MAX, "other reasons");
        return &rl->k[REJLOG_KEYS].n;
    }
    snprintf(rl->k[i].key, REJLOG_KEY_MAX, "%s", key);
    rl->nkeys++;
    return &rl->k[i].n;
}

/* sess_reject_log - write line to the reject and main logs, unless this
 * session has written smtp_reject_log_limit lines with key already; 1 if
 * it was written (detail lines may follow), 0 if it was only counted */
int sess_reject_log(struct sess *s, const char *key, const char *line)
{
    long limit = s->srv->o.conf->main.smtp_reject_log_limit;
    unsigned long *n = counter(s, key);

    if (++*n > (unsigned long)limit && limit > 0)
        return 0;
    log_reject("%s", line);
    return 1;
}

/* sess_reject_logf - sess_reject_log with a printf-style line */
int sess_reject_logf(struct sess *s, const char *key, const char *fmt, ...)
{
    struct strbuf line;
    va_list ap;
    int logged;

    sb_init(&line);
    va_start(ap, fmt);
    sb_vprintf(&line, fmt, ap);
    va_end(ap);
    logged = sess_reject_log(s, key, sb_str(&line));
    sb_free(&line);
    return logged;
}

/* sess_reject_summary - the session ends: one line for each key whose
 * lines were held back ("H=... [ip]:port: N more rejections not logged
 * (RCPT: relay not permitted)") */
void sess_reject_summary(struct sess *s)
{
    long limit = s->srv->o.conf->main.smtp_reject_log_limit;
    struct rejlog *rl = s->rejlog;
    struct strbuf host;

    if (rl == NULL || limit <= 0)
        return;
    sb_init(&host);
    sess_host_text(s, &host);
    for (size_t i = 0; i <= REJLOG_KEYS; i++)
        if (rl->k[i].n > (unsigned long)limit)
            log_reject("%s: %lu more rejections not logged "
                       "(smtp_reject_log_limit = %ld): %s", sb_str(&host),
                       rl->k[i].n - (unsigned long)limit, limit,
                       rl->k[i].key);
    sb_free(&host);
    memset(rl, 0, sizeof(*rl));     /* said once */
}

/* sess_rejlog_free - NULL ok */
void sess_rejlog_free(struct sess *s)
{
    free(s->rejlog);
    s->rejlog = NULL;
}
