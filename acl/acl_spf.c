/*
 * acl_spf.c - the spf condition, as Exim's: "spf = pass : softfail" is
 *             true when the SPF result for the client and the envelope
 *             sender is one of those listed.
 *
 * PURPOSE: runs core/net/spf.h's check_host() on the session's loop (the
 * null sender is checked as postmaster@HELO, RFC 7208 2.4) and leaves
 * Exim's variables in the message variables: $spf_result,
 * $spf_header_comment, $spf_smtp_comment (the domain's exp= explanation
 * for fail, else spf_smtp_comment_template expanded as an SPF macro
 * string: Exim's option and default), $spf_received (a whole
 * "Received-SPF:" header line for add_header). One evaluation per
 * message: later statements and recipients reuse the stored result.
 * spf_guess is the same with the main option spf_guess (Exim's default
 * "v=spf1 a/24 mx/24 ptr ?all") standing in for a domain without a
 * record: $spf_result_guessed is 1 when it did, and $spf_received is
 * then an "X-SPF-Guess:" line, as in Exim.
 * SECURITY: the explanation is DNS data and goes into SMTP replies and
 * headers: bytes outside printable ASCII become '?', lengths are capped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_impl.h"
#include "core/base/xalloc.h"
#include "core/net/spf.h"

#define SMTP_COMMENT_MAX 300    /* fits a reply line with code and status */
#define HEADER_MAX 990          /* a header line of at most 998 bytes */
#define DEFAULT_SMTP_COMMENT "Please see http://www.open-spf.org/Why"

struct spf_wait {
    struct acl_check *chk;
    const struct strlist *want;
    struct spf_eval *eval;
    int guess;
};

#define VSET(name, value) \
    acl_var_set(vars, name, sizeof(name) - 1, value)

static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

/* $spf_smtp_comment: for fail, the explanation or Exim's default text */
static void set_smtp_comment(struct acl_vars *vars,
                             const struct spf_outcome *o)
{
    char smtp[SMTP_COMMENT_MAX + 1] = "";
    const char *e = o->explanation && *o->explanation ? o->explanation
                                                      : DEFAULT_SMTP_COMMENT;

    if (o->result == SPF_FAIL) {
        snprintf(smtp, sizeof(smtp), "%s", e);
        printable(smtp);
    }
    VSET("spf_smtp_comment", smtp);
}

/* leave $spf_* in the message variables */
static void set_vars(struct acl_check *chk, const struct spf_outcome *o,
                     int guess)
{
    struct acl_req *q = chk->req;
    struct acl_vars *vars = q->msg_vars ? q->msg_vars : q->conn_vars;
    const char *me = q->conf->main.primary_hostname;
    char buf[HEADER_MAX + 1], g[HEADER_MAX + 1];

    if (vars == NULL)
        return;
    me = me ? me : "localhost";
    VSET("spf_result", spf_result_name(o->result));
    VSET("spf_result_guessed", o->guessed ? "1" : "0");
    spf_header_comment(o, me, q->client_ip, buf, sizeof(buf));
    printable(buf);
    VSET("spf_header_comment", buf);
    spf_received(o, me, q->client_ip, q->helo, buf, sizeof(buf));
    printable(buf);
    if (guess && strncmp(buf, "Received-SPF:", 13) == 0)
        snprintf(g, sizeof(g), "X-SPF-Guess:%.*s", HEADER_MAX - 12,
                 buf + 13);
    else
        snprintf(g, sizeof(g), "%s", buf);
    VSET("spf_received", g);
    set_smtp_comment(vars, o);
}

/* Exim: true at the first item that matches; "!fail" matches every
 * result but fail */
static enum cond_result listed(const struct strlist *want, const char *res)
{
    int r = spf_result_parse(res, strlen(res));

    for (size_t i = 0; i < want->n; i++) {
        const char *w = want->v[i];
        int neg = w[0] == '!';
        if ((spf_result_parse(w + neg, strlen(w + neg)) == r) != neg)
            return C_YES;
    }
    return C_NO;
}

static void spf_answered(const struct spf_outcome *o, void *arg)
{
    struct spf_wait *w = arg;
    struct acl_check *chk = w->chk;
    const struct strlist *want = w->want;

    set_vars(chk, o, w->guess);
    free(w);
    acl_trace(chk, "spf: %s for %s from %s%s%s", spf_result_name(o->result),
              o->checked, chk->req->client_ip, o->problem ? ": " : "",
              o->problem ? o->problem : "");
    acl_cond_done(chk, listed(want, spf_result_name(o->result)));
}

static void spf_wait_cancel(void *arg)
{
    struct spf_wait *w = arg;

    spf_cancel(w->eval);
    free(w);
}

/* the result of an earlier evaluation of this message that answers this
 * one: plain spf cannot use a guessed result; spf_guess can use any but
 * an unguessed "none" */
static const char *stored(const struct acl_req *q, int guess)
{
    const struct acl_vars *v = q->msg_vars ? q->msg_vars : q->conn_vars;
    const char *r = acl_var_get(v, "spf_result", 10);
    const char *g = acl_var_get(v, "spf_result_guessed", 18);
    int guessed = g != NULL && strcmp(g, "1") == 0;

    if (r == NULL || (!guess && guessed)
        || (guess && !guessed && strcmp(r, "none") == 0))
        return NULL;
    return r;
}

/* acl_spf - see acl_impl.h */
enum cond_result acl_spf(struct acl_check *chk, const struct strlist *want,
                         int guess)
{
    struct acl_req *q = chk->req;
    struct spf_request rq = { 0 };
    struct spf_wait *w;
    const char *done = stored(q, guess);

    if (done != NULL)
        return listed(want, done);
    if (q->client_ip == NULL || q->client_ip[0] == '\0' || q->sender == NULL)
        return C_NO;                    /* local submission, no MAIL yet */
    rq.ip = q->client_ip;
    rq.sender = q->sender;
    rq.helo = q->helo;
    rq.receiver = q->conf->main.primary_hostname;
    rq.guess = guess ? q->conf->main.spf_guess : NULL;
    rq.default_exp = q->conf->main.spf_smtp_comment_template;
    w = xcalloc(1, sizeof(*w));
    w->chk = chk;
    w->want = want;
    w->guess = guess;
    w->eval = spf_start(q->ev, q->dns, &rq, spf_answered, w);
    chk->async = w;
    chk->async_cancel = spf_wait_cancel;
    return C_PENDING;
}
