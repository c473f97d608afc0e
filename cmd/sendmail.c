/*
 * sendmail.c - locally submitted mail (the sendmail interface).
 *
 * PURPOSE: read the message from stdin (LF line ends become CRLF; without
 * -i a line with a single dot ends it), take recipients from the
 * arguments or, with -t, from To:/Cc:/Bcc: (Bcc: is removed), run the
 * not_smtp ACL, add Message-ID:, Date: and From: when missing, prepend
 * Received:, and spool the message durably before exiting 0.
 * SECURITY: every address is parsed and qualified like an SMTP one; the
 * caller's identity comes from getuid(), not from the environment.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/mail/address.h"
#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/mail/header.h"
#include "core/mail/logfile.h"
#include "core/conf/policy.h"
#include "core/spool/notify.h"
#include "queue/queue.h"
#include "cmd/sendmail.h"
#include "core/spool/spool.h"

#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_TEMPFAIL 75
#define EX_NOPERM 77

struct submission {
    struct conf *conf;
    const struct sendmail_opts *o;
    struct strbuf msg;          /* the message, CRLF line ends */
    struct strbuf extra;        /* headers tern adds */
    char *user;
    char *sender;
    size_t nrcpt, cap;
    char **rcpts;
    int queue_only;             /* not_smtp ACL: control = queue_only */
    int freeze;                 /* not_smtp ACL: control = freeze */
};

static int read_message(struct submission *sm)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (sm->o->dot_ends && n == 1 && line[0] == '.')
            break;
        if (memchr(line, '\0', (size_t)n) != NULL) {
            free(line);
            fprintf(stderr, "tern: the message contains a NUL byte\n");
            return EX_DATAERR;
        }
        sb_append(&sm->msg, line, (size_t)n);
        sb_puts(&sm->msg, "\r\n");
    }
    free(line);
    return 0;
}

static int add_rcpt(struct submission *sm, const char *text, size_t len)
{
    struct addr_parsed ap;
    const char *err;
    struct strbuf sb;

    while (len > 0 && strchr(" \t", *text)) {
        text++;
        len--;
    }
    while (len > 0 && strchr(" \t\r\n", text[len - 1]))
        len--;
    if (len == 0)
        return 0;
    if (addr_parse(text, len, ADDR_ALLOW_UNQUALIFIED | ADDR_UTF8, &ap, &err)
        != 0) {
        fprintf(stderr, "tern: bad recipient address \"%.*s\": %s\n",
                (int)len, text, err);
        return EX_DATAERR;
    }
    sb_init(&sb);
    addr_format(ap.local_part, (ap.flags & AF_UNQUALIFIED)
                ? sm->conf->main.qualify_recipient : ap.domain, &sb);
    if (sm->nrcpt == sm->cap) {
        sm->cap = sm->cap ? sm->cap * 2 : 8;
        sm->rcpts = xreallocarray(sm->rcpts, sm->cap, sizeof(char *));
    }
    sm->rcpts[sm->nrcpt++] = xstrdup(sb_str(&sb));
    sb_free(&sb);
    return 0;
}

/* Addresses of a header value: "a@b, Name <c@d>, group: e@f;" */
static int add_header_rcpts(struct submission *sm, const char *v, size_t n)
{
    size_t start = 0;
    int quoted = 0, angle = 0, rc = 0;

    for (size_t i = 0; i <= n && rc == 0; i++) {
        char c = i < n ? v[i] : ',';
        quoted = c == '"' ? !quoted : quoted;
        angle += !quoted && c == '<' ? 1 : !quoted && c == '>' ? -1 : 0;
        if (quoted || angle > 0 || (c != ',' && c != ';'))
            continue;
        const char *item = v + start, *lt, *gt;
        size_t len = i - start;
        const char *colon = memchr(item, ':', len);
        if (colon && !memchr(item, '<', len)) {     /* "group:" prefix */
            len -= (size_t)(colon + 1 - item);
            item = colon + 1;
        }
        lt = memchr(item, '<', len);
        gt = lt ? memchr(lt, '>', len - (size_t)(lt - item)) : NULL;
        rc = lt && gt ? add_rcpt(sm, lt + 1, (size_t)(gt - lt - 1))
                      : add_rcpt(sm, item, len);
        start = i + 1;
    }
    return rc;
}

/* -t: collect To/Cc/Bcc, and drop Bcc: from the message */
static int extract_rcpts(struct submission *sm)
{
    struct hdr_list hl = { 0 };
    const char *why;
    int rc = 0;

    if (hdr_parse(sb_str(&sm->msg), sb_len(&sm->msg), &hl, &why) != 0) {
        fprintf(stderr, "tern: malformed header: %s\n", why);
        return EX_DATAERR;
    }
    for (size_t i = hl.n; i-- > 0 && rc == 0;) {
        const struct hdr_field *f = &hl.f[i];
        int bcc = f->name_len == 3 && strncasecmp(f->name, "Bcc", 3) == 0;
        if (bcc || (f->name_len == 2 && (strncasecmp(f->name, "To", 2) == 0
                                         || strncasecmp(f->name, "Cc", 2)
                                            == 0)))
            rc = add_header_rcpts(sm, f->value, f->value_len);
        if (bcc && rc == 0) {
            memmove(sm->msg.data + f->offset, sm->msg.data + f->offset
                    + f->len, sb_len(&sm->msg) - f->offset - f->len);
            sb_truncate(&sm->msg, sb_len(&sm->msg) - f->len);
        }
    }
    hdr_list_free(&hl);
    return rc;
}

/* log_refused - the reject-log line of a not_smtp refusal; the sender,
 * the user name and the ACL's text are escaped (logfile_escape) */
static void log_refused(const struct submission *sm, const char *why)
{
    struct strbuf sb;

    sb_init(&sb);
    sb_puts(&sb, "U=");
    logfile_escape_str(&sb, sm->user);
    sb_puts(&sb, " F=<");
    logfile_escape_str(&sb, sm->sender);
    sb_puts(&sb, "> rejected by the not_smtp ACL: ");
    logfile_escape_str(&sb, why);
    log_reject("%s", sb_str(&sb));
    sb_free(&sb);
}

struct acl_wait {
    int done;
    struct acl_result res;
    char *message;
};

static void acl_done(const struct acl_result *r, void *arg)
{
    struct acl_wait *w = arg;

    w->done = 1;
    w->res = *r;
    w->message = r->message ? xstrdup(r->message) : NULL;
}

/* the not_smtp ACL; 0 to go on, or the exit status */
static int not_smtp_acl(struct submission *sm)
{
    struct ev *ev = ev_new();
    struct acl_vars vars = { 0 }, cvars = { 0 };
    struct acl_req q = { .conf = sm->conf, .ev = ev, .hook = "not_smtp",
                         .client_ip = "", .sender = sm->sender,
                         .nrcpts = sm->nrcpt,
                         .rcpts = (const char *const *)sm->rcpts,
                         .data = sb_str(&sm->msg),
                         .data_len = sb_len(&sm->msg),
                         .message_size = (long long)sb_len(&sm->msg),
                         .conn_vars = &cvars, .msg_vars = &vars };
    struct acl_wait w = { 0 };
    int rc = 0;

    acl_check(&q, acl_done, &w);
    while (!w.done)
        ev_run_once(ev, -1);
    if (w.res.verdict == ACL_DENY || w.res.verdict == ACL_DEFER) {
        fprintf(stderr, "tern: message refused: %s\n", w.message
                ? w.message : w.res.verdict == ACL_DENY
                ? "Administrative prohibition" : "temporary failure");
        log_refused(sm, w.message);
        rc = w.res.verdict == ACL_DENY ? EX_NOPERM : EX_TEMPFAIL;
    }
    sm->queue_only = q.queue_only;
    sm->freeze = q.freeze;
    free(w.message);
    acl_vars_free(&vars);
    acl_vars_free(&cvars);
    ev_free(ev);
    return rc;
}

static const char *message_id(struct submission *sm, const char *id);

/* log_arrival - "ID <= sender U=user P=local S=size id=msgid"; the
 * sender and the message's own Message-ID: are escaped */
static void log_arrival(struct submission *sm, const char *id, size_t size)
{
    struct strbuf sb;

    sb_init(&sb);
    sb_printf(&sb, "%s <= ", id);
    logfile_escape_str(&sb, sm->sender[0] ? sm->sender : "<>");
    sb_puts(&sb, " U=");
    logfile_escape_str(&sb, sm->user);
    sb_printf(&sb, " P=local S=%zu id=", size);
    logfile_escape_str(&sb, message_id(sm, id));
    log_main("%s", sb_str(&sb));
    sb_free(&sb);
}

/* The Message-ID: the message has, or the one tern added. */
static const char *message_id(struct submission *sm, const char *id)
{
    static char out[256];

    if (!hdr_message_id_of(sb_str(&sm->msg), sb_len(&sm->msg), out,
                           sizeof(out)))
        snprintf(out, sizeof(out), "<E%s@%s>", id,
                 sm->conf->main.primary_hostname);
    return out;
}

struct commit_res {
    int rc;
    char why[256];
};

static void commit_result(int rc, const char *why, void *arg)
{
    struct commit_res *r = arg;

    r->rc = rc;
    snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
}

static int spool_message(struct submission *sm, struct spool_env *env)
{
    struct hdr_received r = { .by = sm->conf->main.primary_hostname,
                              .protocol = "local", .id = env->id,
                              .local_user = sm->user,
                              .sender = sm->sender,
                              .when = env->received_sec };
    struct strbuf rcv;
    struct errbuf eb;
    struct spool *sp = spool_open(sm->conf->main.spool_directory, NULL, &eb);
    struct spool_writer *w = sp ? spool_writer_new(sp, env, &eb) : NULL;
    int rc = -1;

    sb_init(&rcv);
    hdr_received(&rcv, &r);
    if (w != NULL && spool_writer_write(w, sb_str(&rcv), sb_len(&rcv)) == 0
        && spool_writer_write(w, sb_str(&sm->extra), sb_len(&sm->extra)) == 0
        && spool_writer_write(w, sb_str(&sm->msg), sb_len(&sm->msg)) == 0) {
        struct commit_res res = { -1, "" };
        spool_commit(w, commit_result, &res);
        rc = res.rc;
        if (rc != 0)
            snprintf(eb.msg, sizeof(eb.msg), "%s", res.why);
    } else {
        spool_writer_abort(w);
    }
    if (rc != 0) {
        fprintf(stderr, "tern: cannot queue the message: %s\n", eb.msg);
        log_panic("cannot spool locally submitted message: %s", eb.msg);
    } else {
        log_arrival(sm, env->id,
                    sb_len(&rcv) + sb_len(&sm->extra) + sb_len(&sm->msg));
    }
    sb_free(&rcv);
    spool_close(sp);
    return rc == 0 ? 0 : EX_TEMPFAIL;
}

/* start the delivery: the daemon's scheduler if one runs, else a child
 * of our own; -odi delivers before returning, -odq waits for a queue
 * run, and so does queue_only unless -odb or -odi overrides it (Exim);
 * the not_smtp ACL's control = queue_only or freeze always wins */
static void deliver(const struct submission *sm, const char *id)
{
    struct conf *c = sm->conf;
    const struct sendmail_opts *o = sm->o;
    char *ids[1] = { (char *)id };
    struct queue_opts q = { 0 };
    int how = o->delivery ? o->delivery : c->main.queue_only ? 'q' : 'b';

    if (how == 'q' || sm->queue_only || sm->freeze)
        return;
    if (how == 'i') {
        q.ids = ids;
        q.nids = 1;
        (void)queue_run(c, &q);
        return;
    }
    if (notify_send(c->main.spool_directory, id) != 0
        && queue_deliver_background(c, id) != 0)
        log_panic("%s: cannot start its delivery: %s", id, strerror(errno));
}

static void identify(struct submission *sm)
{
    struct passwd *pw = getpwuid(getuid());
    const char *dom = sm->conf->main.qualify_domain;

    sm->user = xstrdup(pw ? pw->pw_name : "unknown");
    if (sm->o->sender == NULL)
        sm->sender = xstrdup(pool_printf(sm->conf->pool, "%s@%s", sm->user,
                                         dom));
    else if (strcmp(sm->o->sender, "<>") == 0 || sm->o->sender[0] == '\0')
        sm->sender = xstrdup("");
    else if (strchr(sm->o->sender, '@') == NULL)
        sm->sender = xstrdup(pool_printf(sm->conf->pool, "%s@%s",
                                         sm->o->sender, dom));
    else
        sm->sender = xstrdup(sm->o->sender);
}

static void submission_free(struct submission *sm)
{
    for (size_t i = 0; i < sm->nrcpt; i++)
        free(sm->rcpts[i]);
    free(sm->rcpts);
    free(sm->user);
    free(sm->sender);
    sb_free(&sm->msg);
    sb_free(&sm->extra);
}

static int collect(struct submission *sm)
{
    int rc = 0;

    for (int i = 0; i < sm->o->nrcpts && rc == 0; i++)
        rc = add_header_rcpts(sm, sm->o->rcpts[i], strlen(sm->o->rcpts[i]));
    if (rc == 0)
        rc = read_message(sm);
    if (rc == 0 && sm->o->extract)
        rc = extract_rcpts(sm);
    if (rc == 0 && sm->nrcpt == 0) {
        fprintf(stderr, "tern: no recipients\n");
        rc = EX_USAGE;
    }
    return rc;
}

/* sendmail_submit - read, check and spool one message; the exit status */
int sendmail_submit(struct conf *c, const struct sendmail_opts *o)
{
    struct submission sm = { .conf = c, .o = o };
    struct spool_env env;
    struct timeval now;
    int rc;

    sb_init(&sm.msg);
    sb_init(&sm.extra);
    identify(&sm);
    rc = collect(&sm);
    if (rc == 0)
        rc = not_smtp_acl(&sm);
    if (rc == 0) {
        gettimeofday(&now, NULL);
        memset(&env, 0, sizeof(env));
        msgid_new(env.id);
        env.sender = sm.sender;
        env.nrcpt = sm.nrcpt;
        env.rcpts = (const char **)sm.rcpts;
        env.helo = env.client_ip = env.client_name = env.auth_id = "";
        env.tls_cipher = env.body_type = "";
        env.protocol = "local";
        env.local_user = sm.user;
        env.received_sec = now.tv_sec;
        env.received_usec = now.tv_usec;
        env.frozen = sm.freeze;
        hdr_add_missing(&sm.extra, sb_str(&sm.msg), sb_len(&sm.msg), env.id,
                        c->main.primary_hostname, now.tv_sec,
                        sm.sender[0] ? sm.sender : sm.user, o->full_name);
        rc = spool_message(&sm, &env);
        if (rc == 0)
            deliver(&sm, env.id);
    }
    submission_free(&sm);
    return rc;
}
