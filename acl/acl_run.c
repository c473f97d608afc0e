/*
 * acl_run.c - the ACL engine: statements, verbs and modifiers
 *             (DESIGN §7), asynchronous from end to end.
 *
 * PURPOSE: acl_check() starts at the first statement of the hook's ACL.
 * A statement whose conditions all hold applies its modifiers and its
 * verb: accept, deny, defer, discard and drop end the check; require ends
 * it with deny when a condition fails; warn goes on. Reaching the end is
 * a deny, as in Exim. The result is always delivered from a 0 ms timer,
 * so the caller's callback never runs inside acl_check().
 * INTERFACE: acl_check, acl_cancel, acl_vars_free (core/conf/policy.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_impl.h"
#include "core/base/ev.h"
#include "core/base/log.h"
#include "core/base/xalloc.h"
#include "core/mail/expand.h"
#include "core/mail/logfile.h"
#include "lua/lcall.h"

static void run_statements(struct acl_check *chk);

/* acl_trace - -bh: say what the ACL did, on stderr */
void acl_trace(struct acl_check *chk, const char *fmt, ...)
{
    va_list ap;

    if (!chk->req->trace)
        return;
    va_start(ap, fmt);
    log_vterm(">>> ", fmt, ap);
    va_end(ap);
}

static void deliver_cb(void *arg)
{
    struct acl_check *chk = arg;

    chk->timer = NULL;
    chk->done(&chk->res, chk->arg);
    sb_free(&chk->headers);
    pool_free(chk->pool);
    free(chk);
}

/* Where the verdict was written, for the panic log: the statement, or
 * the ACL function's definition. */
static void where(const struct acl_check *chk, struct strbuf *sb)
{
    const struct origin *o = NULL;

    if (chk->def != NULL && chk->def->fn >= 0)
        o = &chk->def->origin;
    else if (chk->def != NULL && chk->stmt < chk->def->n)
        o = &chk->def->stmts[chk->stmt].origin;
    if (o != NULL)
        sb_printf(sb, "%s:%d", o->file, o->line);
    else
        sb_puts(sb, "built-in policy");
}

/* acl_internal_error - see acl_impl.h */
void acl_internal_error(struct acl_check *chk, int panic, const char *why)
{
    struct strbuf sb;

    chk->res.verdict = ACL_DEFER;
    chk->res.code = 451;
    chk->res.status = "4.3.0";
    chk->res.internal = 1;
    chk->res.message = NULL;
    chk->res.log_message = pool_strdup(chk->pool, why);
    if (!panic)
        return;
    sb_init(&sb);
    where(chk, &sb);
    log_panic("%s ACL (%s): %s", chk->req->hook, sb_str(&sb), why);
    sb_free(&sb);
}

/* A refusal's message may start with its code (Exim's form); then the
 * code, from there or given with the verb, is checked against the
 * verdict: a wrong one is the configuration's error, answered 451
 * (acl_code.c). accept and discard send tern's own 250: only a code
 * given with them is checked. */
static void settle_code(struct acl_check *chk)
{
    struct acl_result *r = &chk->res;
    char status[16] = "", why[200];
    int code = 0;
    int refusal = r->verdict != ACL_ACCEPT && r->verdict != ACL_DISCARD;
    size_t skip = refusal ? acl_code_prefix(r->message, &code, status) : 0;

    if (skip > 0) {
        r->message = r->message[skip] != '\0' ? r->message + skip : NULL;
        if (r->code == 0)
            r->code = code;
        if (status[0] != '\0')
            r->status = pool_strdup(chk->pool, status);
    }
    if (acl_code_check(r->verdict, r->code, r->status, why, sizeof(why))
        == 0)
        return;
    acl_internal_error(chk, 1, pool_printf(chk->pool, "%s; answered 451 "
                                       "instead", why));
}

/* acl_finish - the verdict; delivered from the loop */
void acl_finish(struct acl_check *chk, enum acl_verdict v, const char *msg)
{
    static const char *const names[] = { "accept", "deny", "defer",
                                         "discard", "drop" };

    chk->finished = 1;
    if (chk->lua_error != NULL && (v == ACL_ACCEPT || v == ACL_DISCARD)) {
        log_main("H=[%s] Warning: %s ACL message: %s", chk->req->client_ip,
                 chk->req->hook, chk->lua_error);
    } else if (chk->lua_error != NULL) {    /* never Lua's text on the wire */
        v = ACL_DEFER;
        msg = NULL;
        chk->res.message = NULL;
        chk->res.code = 0;
        chk->res.log_message = chk->lua_error;
    }
    chk->res.verdict = v;
    if (msg != NULL && chk->res.message == NULL)
        chk->res.message = msg;
    if (!chk->res.internal)
        settle_code(chk);
    v = chk->res.verdict;
    if (sb_len(&chk->headers) > 0)
        chk->res.add_headers = &chk->headers;
    acl_trace(chk, "%s ACL returned %s%s%s", chk->depth > 0
              ? chk->def->hook : chk->req->hook, names[v],
              chk->res.message ? ": " : "",
              chk->res.message ? chk->res.message : "");
    chk->timer = ev_timer_add(chk->req->ev, 0, deliver_cb, chk);
}

/* A message or log_message string that could not be expanded: the reason
 * goes to the panic log (it is a configuration error), never to the
 * client. */
static const char *expand_failed(struct acl_check *chk, const char *why)
{
    struct strbuf sb;

    sb_init(&sb);
    where(chk, &sb);
    log_panic("%s ACL (%s): message or log_message failed: %s",
              chk->req->hook, sb_str(&sb), why);
    sb_free(&sb);
    return NULL;
}

/* acl_var_get - the value of name (nlen bytes) in v, or NULL */
const char *acl_var_get(const struct acl_vars *v, const char *name,
                        size_t nlen)
{
    for (size_t i = 0; v != NULL && i < v->n; i++)
        if (strlen(v->names[i]) == nlen
            && strncmp(v->names[i], name, nlen) == 0)
            return v->values[i];
    return NULL;
}

/* $acl_m_*, then the connection's: acl_c_* and what conditions found;
 * $sender_address_domain from the envelope */
static const char *session_var(const void *ctx, const char *name,
                               size_t len)
{
    const struct acl_req *q = ctx;
    const char *v = acl_var_get(q->msg_vars, name, len);

    if (len == 21 && strncmp(name, "sender_address_domain", len) == 0)
        return q->sender && strrchr(q->sender, '@')
               ? strrchr(q->sender, '@') + 1 : "";
    return v ? v : acl_var_get(q->conn_vars, name, len);
}

/* acl_xvars - the variables a check's strings expand with */
void acl_xvars(struct acl_check *chk, struct xvars *v)
{
    memset(v, 0, sizeof(*v));
    v->sender_address = chk->req->sender;
    v->sender_host_address = chk->req->client_ip;
    v->address = chk->req->rcpt;
    if (chk->req->rcpt != NULL && strrchr(chk->req->rcpt, '@') != NULL) {
        const char *at = strrchr(chk->req->rcpt, '@');
        v->local_part = pool_strndup(chk->pool, chk->req->rcpt,
                                     (size_t)(at - chk->req->rcpt));
        v->domain = at + 1;
    }
    v->primary_hostname = chk->req->conf->main.primary_hostname;
    v->authenticated_id = chk->req->auth_id;
    v->more = session_var;
    v->more_ctx = chk->req;
}

/* acl_expand - a message/log_message value for this check; NULL when
 * unset or when a string failed to expand (logged); a Lua function that
 * fails leaves its error in chk->lua_error, which turns the verdict into a
 * 451 (acl_finish) */
const char *acl_expand(struct acl_check *chk, const struct xval *x)
{
    struct xvars v;
    struct errbuf eb;
    const char *out = NULL;

    if (!xval_set(x))
        return NULL;
    acl_xvars(chk, &v);
    if (x->fn >= 0) {
        if (lcall_value(chk->req->conf->lua, x->fn, &v, chk->pool, &out, &eb)
            != LC_OK) {
            chk->lua_error = pool_strdup(chk->pool, eb.msg);
            return NULL;
        }
        return out;
    }
    if (expand_string(x->str, &v, chk->pool, &out, &eb) != 0)
        return expand_failed(chk, eb.msg);
    return out;
}

/* acl_var_set - set (or replace) variable name (nlen bytes) in v; see
 * core/conf/policy.h */
void acl_var_set(struct acl_vars *v, const char *name, size_t nlen,
                 const char *value)
{
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->names[i]) == nlen
            && strncmp(v->names[i], name, nlen) == 0) {
            free(v->values[i]);
            v->values[i] = xstrdup(value);
            return;
        }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->names = xreallocarray(v->names, v->cap, sizeof(char *));
        v->values = xreallocarray(v->values, v->cap, sizeof(char *));
    }
    v->names[v->n] = xstrndup(name, nlen);
    v->values[v->n++] = xstrdup(value);
}

/* A modifier's text with its $variables (names were checked at load
 * time, so only a memory problem can fail: then the text stays as is). */
static const char *expand_text(struct acl_check *chk, const char *s)
{
    struct xvars v;
    struct errbuf eb;
    const char *out;

    acl_xvars(chk, &v);
    return expand_string(s, &v, chk->pool, &out, &eb) == 0 ? out : s;
}

/* The modifiers of a statement whose conditions held. */
static void modifiers(struct acl_check *chk, const struct acl_fields *f)
{
    for (size_t i = 0; i < f->add_header.n; i++) {
        const char *h = expand_text(chk, f->add_header.v[i]);
        for (; *h; h++)                 /* no CR/LF smuggled in */
            sb_putc(&chk->headers, *h == '\r' || *h == '\n' ? ' ' : *h);
        sb_puts(&chk->headers, "\r\n");
    }
    for (size_t i = 0; i < f->remove_header.n; i++)
        chk->res.remove_headers = chk->res.remove_headers == NULL
            ? pool_strdup(chk->pool, f->remove_header.v[i])
            : pool_printf(chk->pool, "%s:%s", chk->res.remove_headers,
                          f->remove_header.v[i]);
    for (size_t i = 0; i < f->set.n; i++) {
        const char *eq = strchr(f->set.v[i], '=');
        size_t nlen = (size_t)(eq - f->set.v[i]);
        while (nlen > 0 && f->set.v[i][nlen - 1] == ' ')
            nlen--;
        acl_var_set(strncmp(f->set.v[i], "acl_c", 5) == 0
                    ? chk->req->conn_vars : chk->req->msg_vars,
                    f->set.v[i], nlen,
                    expand_text(chk, eq + 1 + strspn(eq + 1, " ")));
    }
    for (size_t i = 0; i < f->control.n; i++) {
        const char *c = f->control.v[i];
        chk->req->submission |= strcmp(c, "submission") == 0;
        chk->req->queue_only |= strcmp(c, "queue_only") == 0;
        chk->req->freeze |= strcmp(c, "freeze") == 0;
        chk->req->no_pipelining |= strcmp(c, "no_pipelining") == 0;
        if (strcmp(c, "enforce_sync") == 0 || strcmp(c, "no_enforce_sync") == 0)
            chk->req->sync_control = c[0] == 'n' ? -1 : 1;
    }
}

static void log_warn_message(struct acl_check *chk, const struct acl_fields *f)
{
    const char *lm = acl_expand(chk, &f->log_message);
    struct strbuf sb;

    if (chk->lua_error != NULL) {   /* a warning cannot defer */
        sb_init(&sb);
        logfile_escape_str(&sb, chk->lua_error);
        log_main("H=[%s] Warning: log_message: %s", chk->req->client_ip,
                 sb_str(&sb));
        sb_free(&sb);
        chk->lua_error = NULL;
    }
    if (lm == NULL)
        return;
    sb_init(&sb);             /* client data may be in its $variables */
    logfile_escape_str(&sb, lm);
    log_main("H=[%s] Warning: %s", chk->req->client_ip, sb_str(&sb));
    sb_free(&sb);
}

enum { V_ACCEPT, V_DENY, V_DEFER, V_DISCARD, V_DROP, V_REQUIRE, V_WARN };

static int verb_code(const char *verb)
{
    static const char *const verbs[] = { "accept", "deny", "defer",
                                         "discard", "drop", "require",
                                         "warn" };

    for (int i = 0; i < 7; i++)
        if (strcmp(verbs[i], verb) == 0)
            return i;
    return V_DENY;
}

static const enum acl_verdict verdict_of[] = {
    [V_ACCEPT] = ACL_ACCEPT, [V_DENY] = ACL_DENY, [V_DEFER] = ACL_DEFER,
    [V_DISCARD] = ACL_DISCARD, [V_DROP] = ACL_DROP };

static void delay_done(void *arg)
{
    struct acl_check *chk = arg;

    chk->timer = NULL;
    run_statements(chk);
}

static int msg_unset(const struct acl_fields *f)
{
    return !xval_set(&f->message);
}

/* Act on statement st whose conditions gave r; 1 = go on to the next */
static int apply_verb(struct acl_check *chk, const struct acl_stmt *st,
                      enum cond_result r)
{
    const struct acl_fields *f = st->fields;
    int v = verb_code(st->verb);
    const char *dflt = chk->dflt_msg, *msg;

    chk->dflt_msg = NULL;               /* this statement's only */
    acl_trace(chk, "%s (%s:%d): conditions %s", st->verb, st->origin.file,
              st->origin.line, r == C_YES ? "true" : r == C_NO ? "false"
                                                                : "deferred");
    if (r == C_DEFER && v == V_WARN) {  /* Exim: skip it, say so */
        log_main("H=[%s] Warning: ACL \"warn\" statement skipped: "
                 "condition test deferred%s%s", chk->req->client_ip,
                 chk->cond_msg ? ": " : "",
                 chk->cond_msg ? chk->cond_msg : "");
        return 1;
    }
    if (r == C_DEFER) {         /* a lookup, DNS or script failure */
        acl_internal_error(chk, 0, chk->cond_msg ? chk->cond_msg
                                             : "a condition deferred");
        acl_finish(chk, ACL_DEFER, NULL);
        return 0;
    }
    if (v == V_REQUIRE) {
        if (r == C_YES)
            return 1;
        chk->res.log_message = acl_expand(chk, &f->log_message);
        if (chk->res.log_message == NULL && msg_unset(f))
            chk->res.log_message = chk->cond_log;
        chk->res.status = chk->cond_status;     /* a verify's reason */
        chk->res.code = (int)f->code;
        msg = acl_expand(chk, &f->message);
        acl_finish(chk, ACL_DENY, msg ? msg : chk->cond_msg);
        return 0;
    }
    if (r == C_NO)
        return 1;
    modifiers(chk, f);
    if (v == V_WARN) {
        log_warn_message(chk, f);
        return 1;
    }
    chk->res.log_message = acl_expand(chk, &f->log_message);
    chk->res.code = (int)f->code;
    msg = acl_expand(chk, &f->message);
    if (msg == NULL && msg_unset(f) && chk->lua_error == NULL
        && v != V_ACCEPT && v != V_DISCARD)
        msg = v == V_DEFER && f->code == 0 && dflt != NULL
              ? dflt                    /* greylist's "450 4.7.1 ..." */
              : chk->reason;
    acl_finish(chk, verdict_of[v], msg);
    return 0;
}

static void run_statements(struct acl_check *chk)
{
    const struct acl_def *d = chk->def;

    while (!chk->finished && chk->stmt < d->n) {
        const struct acl_stmt *st = &d->stmts[chk->stmt];
        const struct acl_fields *f = st->fields;
        if (chk->cond == 0)             /* a new statement: no reason yet */
            chk->cond_msg = chk->cond_status = chk->cond_log = NULL;
        enum cond_result r = acl_conditions(chk, f, &chk->cond);
        if (r == C_PENDING)
            return;
        if (r == C_YES && f->delay > 0 && chk->cond >= 0) {
            chk->cond = -1;             /* delay once, then decide */
            chk->timer = ev_timer_add(chk->req->ev,
                                      (uint64_t)f->delay * 1000, delay_done,
                                      chk);
            return;
        }
        int next = apply_verb(chk, st, r);
        chk->cond = 0;
        chk->reason = NULL;
        if (!next)
            return;
        chk->stmt++;
    }
    if (!chk->finished)
        acl_finish(chk, ACL_DENY, NULL);    /* the implicit deny at the end */
}

/* acl_cond_done - a pending condition answered */
void acl_cond_done(struct acl_check *chk, enum cond_result r)
{
    chk->async = NULL;
    chk->async_cancel = NULL;
    if (chk->def == NULL) {             /* the built-in policy's verify */
        acl_builtin_done(chk, r);
        return;
    }
    if (chk->def->fn < 0)
        r = acl_cond_negate(chk, chk->def->stmts[chk->stmt].fields,
                            chk->cond_id, r);
    if (r != C_YES) {
        const struct acl_stmt *st = &chk->def->stmts[chk->stmt];
        chk->cond = 0;
        int next = apply_verb(chk, st, r);
        chk->reason = NULL;
        if (next) {
            chk->stmt++;
            run_statements(chk);
        }
        return;
    }
    run_statements(chk);
}

/* acl_check_def - see acl_impl.h */
struct acl_check *acl_check_def(struct acl_req *req, const struct acl_def *def,
                                int depth, acl_done_fn done, void *arg)
{
    struct acl_check *chk = xcalloc(1, sizeof(*chk));

    chk->req = req;
    chk->done = done;
    chk->arg = arg;
    chk->pool = pool_new();
    chk->depth = depth;
    sb_init(&chk->headers);
    chk->def = def;
    if (chk->def == NULL)
        acl_builtin(chk);
    else if (chk->def->fn >= 0)
        acl_run_function(chk);
    else
        run_statements(chk);
    return chk;
}

/* acl_check - start the check of req->hook */
struct acl_check *acl_check(struct acl_req *req, acl_done_fn done,
                            void *arg)
{
    return acl_check_def(req, conf_find_acl(req->conf, req->hook), 0, done,
                         arg);
}

/* acl_cancel - the session is gone: no callback (NULL ok) */
void acl_cancel(struct acl_check *chk)
{
    if (chk == NULL)
        return;
    if (chk->async_cancel != NULL)
        chk->async_cancel(chk->async);
    ev_timer_cancel(chk->req->ev, chk->timer);
    sb_free(&chk->headers);
    pool_free(chk->pool);
    free(chk);
}

/* acl_vars_free - release acl_c/acl_m variables (the struct stays) */
void acl_vars_free(struct acl_vars *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->names[i]);
        free(v->values[i]);
    }
    free(v->names);
    free(v->values);
    memset(v, 0, sizeof(*v));
}
