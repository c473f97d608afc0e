/*
 * sched_end.c - the end of a delivery attempt: bounce the failures (or
 *               freeze a bounce that failed), send a delay warning when
 *               one is due, then remove the message when every recipient
 *               is done or leave it for its next retry time.
 *
 * PURPOSE: one bounce per attempt that had failures (RFC 3464, bounce.h),
 * spooled with the null sender and delivered like any message; "B" in the
 * journal once it is safely spooled. A message from <> never bounces: its
 * failures freeze it ("Frozen (delivery error message)") until
 * ignore_bounce_errors_after, then they are dropped, as in Exim.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/base/hash.h"
#include "core/base/pool.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "queue/sched_impl.h"

struct dsn_job {
    struct smsg *m;
    char id[MSGID_LEN + 1];
    size_t size;
    int warning;
    const char *to;             /* the bounce's recipient */
};

/* drop the failures whose bounce went to "to" */
static void forget_bounced(struct smsg *m, const char *to)
{
    size_t k = 0;

    for (size_t i = 0; i < m->nfails; i++) {
        if (strcmp(m->fail_to[i], to) == 0)
            continue;
        m->fails[k] = m->fails[i];
        m->fail_to[k++] = m->fail_to[i];
    }
    m->nfails = k;
}

static void after_bounce(struct smsg *m);
static void finish(struct smsg *m);
static void send_bounce(struct smsg *m);

static const char *user_name(void)
{
    struct passwd *pw = getpwuid(geteuid());

    return pw != NULL ? pw->pw_name : "tern";
}

static void dsn_committed(int rc, const char *why, void *arg)
{
    struct dsn_job *j = arg;
    struct smsg *m = j->m;
    const char *line;
    int warning;

    if (rc != 0) {
        log_panic("%s: cannot spool the %s: %s", m->id,
                  j->warning ? "delay warning" : "bounce", why);
    } else {
        log_main("%s <= <> R=%s U=%s P=local S=%zu", j->id, m->id,
                 user_name(), j->size);
        sched_add(m->s, j->id);
        if (!j->warning)
            forget_bounced(m, j->to);
        else
            m->warnings++;
        line = j->warning ? "W" : "B";
        if ((m->ndelays > 0 || m->frozen) && (j->warning || m->nfails == 0)) {
            sres_flush_journal(m);      /* the message stays */
            sres_journal(m, &line, 1);
        }
    }
    warning = j->warning;
    free(j);
    if (rc != 0)
        finish(m);              /* the failures stay for the next attempt */
    else if (!warning && m->nfails > 0)
        smsg_end(m);            /* failures for another errors_to */
    else if (!warning)
        after_bounce(m);
    else
        finish(m);
}

/* spool a report for the envelope sender; dsn_committed goes on */
static void spool_dsn(struct smsg *m, struct strbuf *text, int warning,
                      const char *to)
{
    struct dsn_job *j = xcalloc(1, sizeof(*j));
    const char *rcpt = to;
    struct spool_env env;
    struct spool_writer *w;
    struct errbuf eb;
    struct timeval now;

    gettimeofday(&now, NULL);
    memset(&env, 0, sizeof(env));
    msgid_new(env.id);
    memcpy(j->id, env.id, sizeof(j->id));
    j->m = m;
    j->warning = warning;
    j->to = to;
    j->size = sb_len(text);
    env.sender = "";
    env.nrcpt = 1;
    env.rcpts = &rcpt;
    env.protocol = "local";
    env.body_type = bounce_is_8bit(text) ? "8BITMIME" : "7BIT";
    env.local_user = user_name();
    env.received_sec = now.tv_sec;
    env.received_usec = now.tv_usec;
    if ((w = spool_writer_new(m->s->sp, &env, &eb)) == NULL
        || spool_writer_write(w, sb_str(text), sb_len(text)) != 0) {
        if (w != NULL)
            spool_writer_abort(w);
        dsn_committed(-1, w == NULL ? eb.msg : "write error", j);
        return;
    }
    spool_commit(w, dsn_committed, j);
}

/* one bounce for the failures that go where the first one goes */
static void send_bounce(struct smsg *m)
{
    const char *to = m->fail_to[0];
    struct bounce_rcpt *v = xcalloc(m->nfails, sizeof(*v));
    struct strbuf text;
    char id[MSGID_LEN + 1];
    size_t n = 0;

    for (size_t i = 0; i < m->nfails; i++)
        if (strcmp(m->fail_to[i], to) == 0)
            v[n++] = m->fails[i];
    sb_init(&text);
    msgid_new(id);
    bounce_build(&text, m->s->conf, &m->msg, to, v, n,
                 (size_t)m->s->conf->main.bounce_return_size_limit, id,
                 (long long)time(NULL));
    spool_dsn(m, &text, 0, to);
    sb_free(&text);
    free(v);
}

static void freeze_bounce(struct smsg *m)
{
    const struct conf_main *mc = &m->s->conf->main;
    const char *line = "Z\t1";

    if (m->cancelled || (mc->ignore_bounce_errors_after > 0
                         && smsg_age(m) >= mc->ignore_bounce_errors_after)) {
        if (!m->given_up)       /* -Mg: Exim discards it silently */
            slog_line(m, "failed bounce discarded (older than "
                      "ignore_bounce_errors_after)");
        m->nfails = 0;
        after_bounce(m);
        return;
    }
    sres_flush_journal(m);
    sres_journal(m, &line, 1);
    slog_line(m, "Frozen (delivery error message)");
    m->frozen = 1;
    finish(m);
}

/* smsg_end - every batch of the attempt is done */
void smsg_end(struct smsg *m)
{
    if (m->nfails == 0)
        after_bounce(m);
    else if (m->fail_to[0][0] == '\0')
        freeze_bounce(m);
    else
        send_bounce(m);
}

static void delay_text(long secs, char *out, size_t size)
{
    if (secs % 3600 == 0)
        snprintf(out, size, "%ld hour%s", secs / 3600,
                 secs == 3600 ? "" : "s");
    else if (secs % 60 == 0)
        snprintf(out, size, "%ld minute%s", secs / 60, secs == 60 ? "" : "s");
    else
        snprintf(out, size, "%ld second%s", secs, secs == 1 ? "" : "s");
}

static int warning_due(const struct smsg *m)
{
    long dw = m->s->conf->main.delay_warning;

    return dw > 0 && m->ndelays > 0 && m->msg.env.sender[0] != '\0'
           && smsg_age(m) >= dw * (long long)(m->warnings + 1);
}

static void after_bounce(struct smsg *m)
{
    struct strbuf text;
    char id[MSGID_LEN + 1], delay[64];

    if (!warning_due(m)) {
        finish(m);
        return;
    }
    sb_init(&text);
    msgid_new(id);
    delay_text(m->s->conf->main.delay_warning * (long)(m->warnings + 1),
               delay, sizeof(delay));
    warning_build(&text, m->s->conf, &m->msg, m->msg.env.sender, m->delays,
                  m->ndelays, delay, id, (long long)time(NULL));
    spool_dsn(m, &text, 1, m->msg.env.sender);
    sb_free(&text);
}

/* journal the envelope recipients this attempt finished: every one not
 * finished before and not left open by a deferral (once each, though
 * RCPT TO may have named it several times) */
static void close_tops(struct smsg *m)
{
    const struct spool_env *e = &m->msg.env;
    const char **lines = xcalloc(e->nrcpt + 1, sizeof(*lines));
    size_t n = 0;

    for (size_t i = 0; i < e->nrcpt; i++) {
        const char *t = e->rcpts[i];
        if (hash_get(m->top_open, t, strlen(t)) == NULL
            && hash_put(m->tops_done, t, strlen(t), m) == NULL)
            lines[n++] = pool_printf(m->pool, "T\t%s", t);
    }
    sres_journal(m, lines, n);
    free(lines);
}

static void finish(struct smsg *m)
{
    struct errbuf eb;

    if (m->ndelays == 0 && !m->frozen && m->nfails == 0) {
        slog_line(m, "Completed");
        if (spool_remove_later(m->s->sp, m->id, &eb) != 0)
            log_panic("%s", eb.msg);
        smsg_abandon(m, 0);
        return;
    }
    sres_flush_journal(m);
    close_tops(m);
    if (m->next_try == 0)       /* failures not bounced yet: try again */
        m->next_try = (long long)time(NULL) + 5 * 60;
    smsg_abandon(m, m->frozen ? SCHED_FROZEN : m->next_try);
}
