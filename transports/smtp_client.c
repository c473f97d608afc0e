/*
 * smtp_client.c - deliver one batch by SMTP: the hosts in the router's
 *                 order, and per host the session up to the first MAIL:
 *                 greeting, EHLO (HELO on 5xx), STARTTLS, AUTH.
 *
 * PURPOSE: deliver_remote of the smtp transport (contract in
 * transports/deliver.h). A host fails over to the next one on a connection
 * failure, a timeout, a lost connection, a 4xx/5xx greeting, a 4xx to
 * EHLO, a required TLS or AUTH that does not happen, or a 4xx to MAIL or
 * to every RCPT (smtp_client_txn.c). Each host tried leaves a hostres
 * entry; recipients still pending when no host is left are deferred with
 * the last host's error. done() is called once, from the loop.
 * INTERFACE: smtp_deliver_remote, smtp_flush, sjob_resume,
 *            sjob_host_fail, sjob_host_done, sjob_reconnect.
 * ERRORS: errtypes "refused", "timeout_connect", "timeout",
 *         "lost_connection", "tls_required", "tls_verify", "auth_failed",
 *         "mail_4NN", "rcpt_4NN" (see the txn file), "" for the rest.
 * SECURITY: AUTH credentials go only over TLS or to a loopback address.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/ev.h"
#include "core/base/log.h"
#include "core/base/pool.h"
#include "core/base/xalloc.h"
#include "core/mail/expand.h"
#include "core/lookup/lookup.h"
#include "core/conf/mlist.h"
#include "core/mail/sasl.h"
#include "core/spool/spool.h"
#include "transports/smtp_client.h"

static void job_next_host(struct sjob *j);
static void job_connect(struct sjob *j);

static void on_ready(void *owner);
static void on_reply(void *owner, const struct sc_reply *r);
static void on_error(void *owner, const char *errtype, const char *text);

static const struct sconn_ops job_ops = { on_ready, on_reply, on_error };

static const struct route_host *cur(const struct sjob *j)
{
    return &j->b->hosts[j->h];
}

static void job_finish(struct sjob *j)
{
    struct dlv_batch *b = j->b;

    for (size_t i = 0; i < b->nrcpt; i++) {
        struct dlv_rcpt *r = &b->rcpts[i];
        if (r->status != DLV_PENDING)
            continue;
        if (j->tried)
            dlv_set(r, DLV_DEFER, 0, j->errtype, "%s", j->errmsg);
        else
            dlv_set(r, DLV_DEFER, 0, j->errtype[0] ? j->errtype : NULL,
                    "%s", j->errmsg[0] ? j->errmsg :
                    "retry time not reached for any host");
        r->host = b->nhostres > 0 ? b->hostres[b->nhostres - 1].host : -1;
    }
    sb_free(&j->hdr);
    sb_free(&j->mail_reply);
    ev_timer_cancel(j->ev, j->start);
    dlv_done_fn done = j->done;
    void *arg = j->arg;
    pool_free(j->pool);
    done(b, arg);
}

static void hostres(struct sjob *j, enum dlv_status st, const char *errtype,
                    const char *msg)
{
    struct dlv_batch *b = j->b;
    struct dlv_hostres *hr;

    if (b->nhostres >= DLV_MAX_HOSTRES)
        return;
    b->hostres = xreallocarray(b->hostres, b->nhostres + 1, sizeof(*hr));
    hr = &b->hostres[b->nhostres++];
    hr->host = (int)j->h;
    hr->status = st;
    snprintf(hr->msg, sizeof(hr->msg), "%s", msg);
    snprintf(hr->errtype, sizeof(hr->errtype), "%s", errtype);
}

/* sjob_host_fail - this host failed: record it, try the next one */
void sjob_host_fail(struct sjob *j, const char *errtype, const char *fmt, ...)
{
    char msg[DLV_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p < 32)
            *p = ' ';
    log_debug(DBG_SMTP, "smtp: %s [%s]: %s", cur(j)->name, cur(j)->ip, msg);
    hostres(j, DLV_DEFER, errtype, msg);
    snprintf(j->errtype, sizeof(j->errtype), "%s", errtype);
    snprintf(j->errmsg, sizeof(j->errmsg), "%s", msg);
    j->tried = 1;
    sconn_close(j->c, 1);
    j->c = NULL;
    j->h++;
    job_next_host(j);
}

/* sjob_host_done - every recipient is settled at this host: keep the
 * connection for reuse, finish */
void sjob_host_done(struct sjob *j)
{
    struct sconn *c = j->c;

    hostres(j, DLV_OK, "", "");
    j->tried = 1;
    j->c = NULL;
    j->h++;
    if (c != NULL && c->st == SC_OPEN && !j->broken &&
        c->nmsgs < (unsigned long)j->o->connection_max_messages)
        scache_put(c);
    else
        sconn_close(c, 1);
    job_finish(j);
}

/* sjob_reconnect - a new connection to the same host (a reused one was
 * gone, or connection_max_messages was reached) */
void sjob_reconnect(struct sjob *j)
{
    sconn_close(j->c, 1);
    j->c = NULL;
    job_connect(j);
}

static int loopback(const char *ip)
{
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

static int host_in(struct sjob *j, const struct mlist *l)
{
    struct errbuf eb;
    struct match_ctx mc = { .conf = j->b->conf, .host_name = cur(j)->name,
                            .eb = &eb };

    return l != NULL && mlist_match(l, cur(j)->ip, &mc) == MATCH_YES;
}

/* credentials - "user:password" for the host from auth_credentials;
 * -1 on a lookup tempfail */
static int credentials(struct sjob *j, struct errbuf *eb)
{
    struct lookup_spec *spec;   /* in the pool: its cleanup frees it */
    struct strbuf v;
    const char *name = cur(j)->name;
    enum lk_result rc;

    j->user = j->pass = NULL;
    if (j->o->auth_credentials == NULL)
        return 0;
    spec = pool_zalloc(j->pool, sizeof(*spec));
    if (lookup_spec_parse_pool(j->pool, j->o->auth_credentials, spec,
                               eb) != 0)
        return -1;
    sb_init(&v);
    rc = lookup_find(spec, name, strlen(name), &v, eb);
    if (rc == LK_NOTFOUND)
        rc = lookup_find(spec, cur(j)->ip, strlen(cur(j)->ip), &v, eb);
    char *colon = rc == LK_FOUND ? strchr(v.data, ':') : NULL;
    if (colon != NULL) {
        j->user = pool_strndup(j->pool, v.data, (size_t)(colon - v.data));
        j->pass = pool_strdup(j->pool, colon + 1);
    }
    sb_free(&v);
    return rc == LK_TEMPFAIL ? -1 : 0;
}

static void host_policy(struct sjob *j)
{
    j->need_tls = host_in(j, j->o->hosts_require_tls);
    j->avoid_tls = !j->need_tls && host_in(j, j->o->hosts_avoid_tls);
    j->verify = host_in(j, j->o->tls_verify_hosts);
    j->need_auth = host_in(j, j->o->hosts_require_auth);
    j->loopback = loopback(cur(j)->ip);
    j->port = cur(j)->port > 0 ? cur(j)->port : (int)j->o->port;
    j->no_tls = 0;
    j->retried = 0;
    j->used = 0;
}

static void job_next_host(struct sjob *j)
{
    struct errbuf eb;

    for (; j->h < j->b->nhosts; j->h++) {
        const struct route_host *h = cur(j);
        if (j->b->host_skip != NULL && j->b->host_skip[j->h])
            continue;
        if (h->ip == NULL) {
            snprintf(j->errmsg, sizeof(j->errmsg),
                     "host %s has no address", h->name);
            continue;
        }
        host_policy(j);
        if (credentials(j, &eb) != 0) {
            sjob_host_fail(j, "", "auth_credentials lookup failed: %s",
                           eb.msg);
            return;
        }
        job_connect(j);
        return;
    }
    job_finish(j);
}

static void job_connect(struct sjob *j)
{
    const struct route_host *h = cur(j);
    struct sconn *c = NULL;
    int rc = scache_acquire(j, j->ev, j->tp->name, h->ip, j->port,
                            j->need_tls, j->b->conf->main.remote_max_parallel,
                            j->o->connection_max_per_host, &c);

    j->step = SJ_WAIT;
    j->broken = 0;
    if (rc < 0)
        return;                         /* sjob_resume comes later */
    j->reused = rc == 1;
    if (rc == 1) {
        j->c = c;
        sconn_set_owner(c, &job_ops, j);
        log_debug(DBG_SMTP, "smtp: reusing connection to [%s]:%d", h->ip,
                  j->port);
        stxn_start(j);
        return;
    }
    j->step = SJ_CONNECT;
    j->c = sconn_open(j->ev, h->ip, j->port, j->o->connect_timeout, &job_ops,
                      j);
    if (j->c == NULL) {
        sjob_host_fail(j, errno == ECONNREFUSED ? "refused" : "",
                       "connect to %s [%s]:%d: %s", h->name, h->ip, j->port,
                       strerror(errno));
        return;
    }
    snprintf(j->c->tpname, sizeof(j->c->tpname), "%s", j->tp->name);
    scache_counted(j->c);
}

/* sjob_resume - a connection slot may have freed up: try again */
void sjob_resume(struct sjob *j)
{
    job_connect(j);
}

static const char *doing(struct sjob *j, char *buf, size_t size)
{
    switch (j->step) {
    case SJ_CONNECT:
    case SJ_GREET:
        return "initial connection";
    case SJ_EHLO:
        snprintf(buf, size, "EHLO %s", j->helo);
        return buf;
    case SJ_HELO:
        snprintf(buf, size, "HELO %s", j->helo);
        return buf;
    case SJ_STARTTLS:
        return "STARTTLS";
    case SJ_TLS:
        return "TLS negotiation";
    case SJ_AUTH_PLAIN:
    case SJ_AUTH_LOGIN1:
    case SJ_AUTH_LOGIN2:
    case SJ_AUTH_LOGIN3:
        return "AUTH";
    case SJ_RSET:
        return "RSET";
    default:
        return stxn_doing(j, buf, size);
    }
}

/* smtp_error - the host failed at the current step with a reply */
static void smtp_error(struct sjob *j, const char *errtype,
                       const struct sc_reply *r)
{
    char buf[600];

    sjob_host_fail(j, errtype, "SMTP error from remote mail server after "
                   "%s: %s", doing(j, buf, sizeof(buf)), sb_str(&r->text));
}

static void send_ehlo(struct sjob *j)
{
    j->step = SJ_EHLO;
    sconn_printf(j->c, "EHLO %s\r\n", j->helo);
    sconn_expect(j->c, 1, j->o->command_timeout);
}

static void on_ready(void *owner)
{
    struct sjob *j = owner;

    if (j->step == SJ_TLS) {    /* handshake done: start over (RFC 3207) */
        send_ehlo(j);
        return;
    }
    j->step = SJ_GREET;
    sconn_expect(j->c, 1, j->o->command_timeout);
}

static void r_greet(struct sjob *j, const struct sc_reply *r)
{
    if (r->code / 100 != 2) {
        smtp_error(j, "", r);
        return;
    }
    send_ehlo(j);
}

/* has_word - the blank-separated words of kw[0..n) include w (caseless) */
static int has_word(const char *kw, size_t n, const char *w)
{
    size_t wl = strlen(w);

    for (size_t i = 0; i < n;) {
        size_t l = strcspn(kw + i, " ");
        if (l > n - i)
            l = n - i;
        if (l == wl && strncasecmp(kw + i, w, wl) == 0)
            return 1;
        i += l + 1;
    }
    return 0;
}

/* line_caps - the extension one EHLO line (after "250-") names */
static unsigned line_caps(const char *kw, size_t len, unsigned long *size_max)
{
    static const struct { const char *kw; unsigned cap; } tab[] = {
        { "PIPELINING", SC_PIPELINING }, { "8BITMIME", SC_8BITMIME },
        { "SMTPUTF8", SC_SMTPUTF8 }, { "STARTTLS", SC_STARTTLS },
    };
    size_t n = strcspn(kw, " \n");
    unsigned caps = 0;

    if (n > len)
        n = len;
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (n == strlen(tab[i].kw) && strncasecmp(kw, tab[i].kw, n) == 0)
            return tab[i].cap;
    if (n == 4 && strncasecmp(kw, "SIZE", 4) == 0) {
        if (n < len && kw[n] == ' ')
            *size_max = strtoul(kw + n + 1, NULL, 10);
        return SC_SIZE;
    }
    if (n == 4 && strncasecmp(kw, "AUTH", 4) == 0) {
        caps = SC_AUTH;
        if (has_word(kw, len, "PLAIN"))
            caps |= SC_AUTH_PLAIN;
        if (has_word(kw, len, "LOGIN"))
            caps |= SC_AUTH_LOGIN;
    }
    return caps;
}

/* ehlo_caps - the extensions an EHLO reply lists (first line: greeting) */
static unsigned ehlo_caps(const char *text, unsigned long *size_max)
{
    unsigned caps = 0;
    const char *line = strchr(text, '\n');

    *size_max = 0;
    while (line != NULL) {
        line++;
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (len > 4)
            caps |= line_caps(line + 4, len - 4, size_max);
        line = end;
    }
    return caps;
}

static void auth_or_txn(struct sjob *j);

static void start_tls(struct sjob *j)
{
    struct errbuf eb;
    const char *sni = j->o->tls_sni != NULL ? j->o->tls_sni : cur(j)->name;
    struct tls_ctx *ctx = sconn_tls_ctx(j->o->tls_verify_certificates,
                                        j->verify, &eb);

    j->step = SJ_TLS;
    if (ctx == NULL) {
        sjob_host_fail(j, j->verify ? "tls_verify" : "tls_required",
                       "TLS unavailable: %s", eb.msg);
        return;
    }
    if (sconn_starttls(j->c, ctx, sni,
                       j->verify ? cur(j)->name : NULL) != 0)
        sjob_host_fail(j, "tls_required", "TLS session setup failed");
}

static void after_ehlo(struct sjob *j)
{
    struct sconn *c = j->c;

    if (c->tls == NULL && (c->caps & SC_STARTTLS) && !j->avoid_tls &&
        !j->no_tls) {
        j->step = SJ_STARTTLS;
        sconn_printf(c, "STARTTLS\r\n");
        sconn_expect(c, 1, j->o->command_timeout);
        return;
    }
    if (c->tls == NULL && (j->need_tls || j->verify)) {
        sjob_host_fail(j, "tls_required", "a TLS session is required for "
                       "%s [%s], but %s", cur(j)->name, cur(j)->ip,
                       (c->caps & SC_STARTTLS) ? "TLS negotiation failed"
                       : "the server did not offer STARTTLS");
        return;
    }
    auth_or_txn(j);
}

static void r_ehlo(struct sjob *j, const struct sc_reply *r)
{
    if (r->code / 100 == 5) {
        j->step = SJ_HELO;
        sconn_printf(j->c, "HELO %s\r\n", j->helo);
        sconn_expect(j->c, 1, j->o->command_timeout);
        return;
    }
    if (r->code / 100 != 2) {
        smtp_error(j, "", r);
        return;
    }
    j->c->caps = ehlo_caps(sb_str(&r->text), &j->c->size_max);
    after_ehlo(j);
}

static void r_helo(struct sjob *j, const struct sc_reply *r)
{
    if (r->code / 100 != 2) {
        smtp_error(j, "", r);
        return;
    }
    j->c->caps = 0;
    j->c->size_max = 0;
    after_ehlo(j);
}

static void r_starttls(struct sjob *j, const struct sc_reply *r)
{
    if (r->code == 220) {
        start_tls(j);
        return;
    }
    if (j->need_tls || j->verify) {
        smtp_error(j, "tls_required", r);
        return;
    }
    auth_or_txn(j);             /* opportunistic: go on in clear */
}

/* tls_failed - a handshake failed: defer the host when TLS was required
 * or verified, else retry once in clear on a new connection (Exim) */
static void tls_failed(struct sjob *j, const char *text)
{
    if (j->need_tls || j->verify || j->no_tls) {
        sjob_host_fail(j, j->verify ? "tls_verify" : "tls_required",
                       "TLS session with %s [%s] failed: %s", cur(j)->name,
                       cur(j)->ip, text);
        return;
    }
    log_debug(DBG_SMTP, "smtp: TLS with [%s] failed (%s): retrying in clear",
              cur(j)->ip, text);
    j->no_tls = 1;
    j->b->tls_cipher[0] = '\0';
    sjob_reconnect(j);
}

static void b64_line(struct sjob *j, const char *prefix, const void *p,
                     size_t n)
{
    char buf[1400];

    if (sasl_b64_encode(p, n, buf, sizeof(buf)) < 0)
        buf[0] = '\0';      /* credentials over 1 KB: the server refuses */
    sconn_printf(j->c, "%s%s\r\n", prefix, buf);
    sconn_expect(j->c, 1, j->o->command_timeout);
}

static void auth_or_txn(struct sjob *j)
{
    struct sconn *c = j->c;
    int can = j->user != NULL && (c->caps & SC_AUTH) &&
              (c->caps & (SC_AUTH_PLAIN | SC_AUTH_LOGIN)) &&
              (c->tls != NULL || j->loopback);

    if (can && (c->caps & SC_AUTH_PLAIN)) {
        char buf[1024];
        int n = snprintf(buf, sizeof(buf), "%c%s%c%s", 0, j->user, 0,
                         j->pass);
        j->step = SJ_AUTH_PLAIN;
        b64_line(j, "AUTH PLAIN ", buf,
                 n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
        return;
    }
    if (can) {
        j->step = SJ_AUTH_LOGIN1;
        sconn_printf(c, "AUTH LOGIN\r\n");
        sconn_expect(c, 1, j->o->command_timeout);
        return;
    }
    if (j->need_auth) {
        sjob_host_fail(j, "auth_failed", "authentication required for %s "
                       "[%s] but %s", cur(j)->name, cur(j)->ip,
                       j->user == NULL ? "no credentials are configured" :
                       !(c->caps & SC_AUTH) ? "the server offers no AUTH" :
                       "no usable mechanism or no TLS");
        return;
    }
    stxn_start(j);
}

static void r_auth(struct sjob *j, const struct sc_reply *r)
{
    if (j->step == SJ_AUTH_LOGIN1 && r->code == 334) {
        j->step = SJ_AUTH_LOGIN2;
        b64_line(j, "", j->user, strlen(j->user));
        return;
    }
    if (j->step == SJ_AUTH_LOGIN2 && r->code == 334) {
        j->step = SJ_AUTH_LOGIN3;
        b64_line(j, "", j->pass, strlen(j->pass));
        return;
    }
    if (r->code == 235) {
        stxn_start(j);
        return;
    }
    if (j->need_auth) {
        smtp_error(j, "auth_failed", r);
        return;
    }
    if (r->code == 334) {       /* cancel the exchange, go on without */
        j->step = SJ_AUTH_LOGIN3;
        sconn_printf(j->c, "*\r\n");
        sconn_expect(j->c, 1, j->o->command_timeout);
        return;
    }
    stxn_start(j);
}

static void r_rset(struct sjob *j, const struct sc_reply *r)
{
    if (r->code / 100 != 2) {
        smtp_error(j, "", r);
        return;
    }
    stxn_start(j);
}

static void on_reply(void *owner, const struct sc_reply *r)
{
    struct sjob *j = owner;

    switch (j->step) {
    case SJ_GREET:
        r_greet(j, r);
        return;
    case SJ_EHLO:
        r_ehlo(j, r);
        return;
    case SJ_HELO:
        r_helo(j, r);
        return;
    case SJ_STARTTLS:
        r_starttls(j, r);
        return;
    case SJ_AUTH_PLAIN:
    case SJ_AUTH_LOGIN1:
    case SJ_AUTH_LOGIN2:
    case SJ_AUTH_LOGIN3:
        r_auth(j, r);
        return;
    case SJ_RSET:
        r_rset(j, r);
        return;
    case SJ_TXN:
    case SJ_DATA_END:
        stxn_reply(j, r);
        return;
    default:
        sjob_host_fail(j, "lost_connection", "unexpected reply: %s",
                       sb_str(&r->text));
    }
}

static void on_error(void *owner, const char *errtype, const char *text)
{
    struct sjob *j = owner;
    const struct route_host *h = cur(j);
    char buf[600];

    if (j->step == SJ_TLS) {
        tls_failed(j, text);
        return;
    }
    if ((j->step == SJ_TXN || j->step == SJ_DATA_END) && stxn_lost(j))
        return;
    if (j->step == SJ_CONNECT) {
        sjob_host_fail(j, strcmp(errtype, "connect") == 0 ? "" : errtype,
                       "connect to %s [%s]:%d: %s", h->name, h->ip, j->port,
                       text);
        return;
    }
    if (strcmp(errtype, "timeout") == 0)
        sjob_host_fail(j, errtype, "SMTP timeout after %s",
                       doing(j, buf, sizeof(buf)));
    else
        sjob_host_fail(j, errtype, "%s after %s (%s [%s])", text,
                       doing(j, buf, sizeof(buf)), h->name, h->ip);
}

/* helo_name - helo_data expanded for the first recipient; the primary
 * hostname when unset, a Lua function, or not a plain name */
static const char *helo_name(struct sjob *j)
{
    const char *ph = j->b->conf->main.primary_hostname;
    const char *out = NULL;
    struct xvars v;
    struct errbuf eb;

    if (j->o->helo_data.str == NULL || j->b->nrcpt == 0)
        return ph;
    dlv_xvars(j->b, &j->b->rcpts[0], &v);
    if (expand_string(j->o->helo_data.str, &v, j->pool, &out, &eb) != 0 ||
        out == NULL || *out == '\0' || strlen(out) > 255)
        return ph;
    for (const char *p = out; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 127)
            return ph;
    return out;
}

static void start_cb(void *arg)
{
    struct sjob *j = arg;

    j->start = NULL;
    job_next_host(j);
}

/* smtp_deliver_remote - start delivering b; done(b, arg) comes later */
void smtp_deliver_remote(struct transport *t, struct dlv_batch *b,
                         struct ev *ev, dlv_done_fn done, void *arg)
{
    struct pool *p = pool_new();
    struct sjob *j = pool_zalloc(p, sizeof(*j));

    j->pool = p;
    j->tp = t;
    j->o = t->priv;
    j->b = b;
    j->ev = ev;
    j->done = done;
    j->arg = arg;
    sb_init(&j->hdr);
    sb_init(&j->mail_reply);
    j->helo = helo_name(j);
    sjob_data_prepare(j);
    b->tls_cipher[0] = '\0';
    b->default_port = (int)j->o->port;
    j->start = ev_timer_add(ev, 0, start_cb, j);
}

/* smtp_flush - close every idle cached connection (shutdown) */
void smtp_flush(struct ev *ev)
{
    (void)ev;
    scache_flush();
}
