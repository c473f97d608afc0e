/*
 * acl_cond.c - ACL conditions, evaluated in a fixed order: hosts,
 *              domains, local_parts, senders, recipients, authenticated,
 *              encrypted, regex, mime_regex, each verify kind, acl,
 *              dnslists, spf, spf_guess (acl_spf.c), condition, ratelimit
 *              (acl_ratelimit.c), greylist (acl_greylist.c).
 *
 * PURPOSE: each condition is one step; absent conditions are true. Each
 * step knows its condition's id (acl.h), so a '!' written before any
 * condition negates its result here, for steps that answer at once and
 * for those that answer later through acl_cond_done alike. The
 * synchronous ones match lists (core/conf/mlist.h); verify and dnslists need
 * DNS or routing (acl_verify.c), condition may be a Lua function that
 * waits for DNS (acl_lua.c); those return C_PENDING and the engine
 * resumes at the next step when they answer.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl/acl_impl.h"
#include "core/mail/expand.h"
#include "core/conf/mlist.h"

static enum cond_result from_match(struct acl_check *chk, enum match_result m,
                                   const char *what, struct errbuf *eb)
{
    if (m == MATCH_DEFER) {
        chk->cond_msg = pool_printf(chk->pool, "%s check: %s", what, eb->msg);
        return C_DEFER;
    }
    return m == MATCH_YES ? C_YES : C_NO;
}

static enum cond_result match(struct acl_check *chk, const struct mlist *l,
                              const char *subject, const char *what)
{
    struct errbuf eb;
    struct match_ctx mc = { .conf = chk->req->conf, .eb = &eb,
                            .host_name = chk->req->client_name };

    if (l == NULL)
        return C_YES;
    if (subject == NULL)
        return C_NO;
    return from_match(chk, mlist_match(l, subject, &mc), what, &eb);
}

static enum cond_result rcpt_part(struct acl_check *chk,
                                  const struct mlist *l, int domain,
                                  const char *what)
{
    const char *rcpt = chk->req->rcpt, *at;

    if (l == NULL)
        return C_YES;
    if (rcpt == NULL || (at = strrchr(rcpt, '@')) == NULL)
        return C_NO;
    return match(chk, l, domain ? at + 1
                 : pool_strndup(chk->pool, rcpt, (size_t)(at - rcpt)), what);
}

static enum cond_result any_recipient(struct acl_check *chk,
                                      const struct mlist *l)
{
    enum cond_result r = C_NO;

    if (l == NULL)
        return C_YES;
    for (size_t i = 0; i < chk->req->nrcpts && r == C_NO; i++)
        r = match(chk, l, chk->req->rcpts[i], "recipients");
    return r;
}

static enum cond_result regex_data(struct acl_check *chk,
                                   regex_t *const *res, size_t n)
{
    const char *data = chk->req->data;
    char *text;

    if (n == 0)
        return C_YES;
    if (data == NULL)
        return C_NO;
    text = pool_strndup(chk->pool, data, chk->req->data_len);
    for (size_t i = 0; i < n; i++)
        if (regexec(res[i], text, 0, NULL, 0) == 0)
            return C_YES;
    return C_NO;
}

static enum cond_result simple_step(struct acl_check *chk,
                                    const struct acl_fields *f, int i)
{
    const struct acl_req *q = chk->req;

    switch (i) {
    case ACL_CID_HOSTS: return match(chk, f->hosts, q->client_ip, "hosts");
    case ACL_CID_DOMAINS: return rcpt_part(chk, f->domains, 1, "domains");
    case ACL_CID_LOCAL_PARTS:
        return rcpt_part(chk, f->local_parts, 0, "local_parts");
    case ACL_CID_SENDERS: return match(chk, f->senders, q->sender, "senders");
    case ACL_CID_RECIPIENTS: return any_recipient(chk, f->recipients);
    case ACL_CID_AUTHENTICATED:
        return match(chk, f->authenticated, q->auth_id, "authenticated");
    case ACL_CID_ENCRYPTED:
        return match(chk, f->encrypted, q->tls_cipher, "encrypted");
    case ACL_CID_REGEX: return regex_data(chk, f->regex_re, f->regex.n);
    case ACL_CID_MIME_REGEX:
        return regex_data(chk, f->mime_regex_re, f->mime_regex.n);
    default: return C_YES;
    }
}

/* the simple steps are the first ids, in order */
#define SIMPLE_STEPS (ACL_CID_MIME_REGEX + 1)

static enum cond_result condition_step(struct acl_check *chk,
                                       const struct acl_fields *f)
{
    const char *s;

    if (!xval_set(&f->condition))
        return C_YES;
    if (f->condition.fn >= 0)
        return acl_lua_condition(chk, f->condition.fn);
    s = acl_expand(chk, &f->condition);
    return s != NULL && *s != '\0' && strcmp(s, "0") != 0
           && strcasecmp(s, "no") != 0 && strcasecmp(s, "false") != 0
           ? C_YES : C_NO;
}

typedef enum cond_result (*step_fn)(struct acl_check *chk,
                                    const struct acl_fields *f);

/* After the simple ones and each verify kind, one step per condition, in
 * this order (stateful conditions last: they only count or record when
 * every other condition of the statement held). A step answers C_YES when
 * its condition is absent; negation is applied by id, outside the step. */
static enum cond_result spf_step(struct acl_check *chk,
                                 const struct acl_fields *f)
{
    return f->spf.n ? acl_spf(chk, &f->spf, 0) : C_YES;
}

static enum cond_result spf_guess_step(struct acl_check *chk,
                                       const struct acl_fields *f)
{
    return f->spf_guess.n ? acl_spf(chk, &f->spf_guess, 1) : C_YES;
}

static enum cond_result ratelimit_step(struct acl_check *chk,
                                       const struct acl_fields *f)
{
    return f->ratelimit ? acl_ratelimit(chk, f->ratelimit) : C_YES;
}

static enum cond_result greylist_step(struct acl_check *chk,
                                      const struct acl_fields *f)
{
    return f->greylist_opts ? acl_greylist(chk, f->greylist_opts) : C_YES;
}

/* After the verify kinds, in this order: the stateful ones last, so they
 * count or record only when every other condition of the statement held */
static const struct { int id; step_fn fn; } late_steps[] = {
    { ACL_CID_ACL, acl_call },
    { ACL_CID_DNSLISTS, acl_dnslists },
    { ACL_CID_SPF, spf_step },
    { ACL_CID_SPF_GUESS, spf_guess_step },
    { ACL_CID_CONDITION, condition_step },
    { ACL_CID_RATELIMIT, ratelimit_step },
    { ACL_CID_GREYLIST, greylist_step },
};

#define NLATE ((int)(sizeof(late_steps) / sizeof(late_steps[0])))

/* One step, its condition's id in *id; -9 when there are no more. */
static int cond_step(struct acl_check *chk, const struct acl_fields *f,
                     int i, int *id)
{
    int nverify = (int)f->verify.n;

    if (i < SIMPLE_STEPS) {
        *id = i;
        return simple_step(chk, f, i);
    }
    i -= SIMPLE_STEPS;
    *id = ACL_CID_VERIFY;
    if (i < nverify)
        return acl_verify(chk, f->verify.v[i]);
    i -= nverify;
    if (i >= NLATE)
        return -9;
    *id = late_steps[i].id;
    return late_steps[i].fn(chk, f);
}

/* acl_cond_negate - see acl_impl.h. A verify that fails leaves its reason
 * in $acl_verify_message; a negated condition that fails to fail keeps
 * the reason for the statement's message (deny !verify = recipient
 * answers with the routing error, as Exim). */
enum cond_result acl_cond_negate(struct acl_check *chk,
                                 const struct acl_fields *f, int id,
                                 enum cond_result r)
{
    if (id == ACL_CID_VERIFY && r == C_NO && chk->cond_msg != NULL)
        acl_var_set(chk->req->conn_vars, "acl_verify_message", 18,
                    chk->cond_msg);
    if (r == C_DEFER || r == C_PENDING || id < 0 || id >= ACL_CID_COUNT
        || !(f->negated & (1u << id)))
        return r;
    if (r == C_NO) {
        chk->reason = chk->cond_msg;
        return C_YES;
    }
    chk->cond_msg = NULL;
    return C_NO;
}

/* acl_conditions - evaluate from step *idx; see acl_impl.h */
enum cond_result acl_conditions(struct acl_check *chk,
                                const struct acl_fields *f, int *idx)
{
    if (*idx < 0)                   /* after a delay: all were true */
        return C_YES;
    for (;;) {
        int id = -1;
        int r = cond_step(chk, f, (*idx)++, &id);
        if (r == -9)
            return C_YES;
        chk->cond_id = id;
        r = acl_cond_negate(chk, f, id, (enum cond_result)r);
        if (r != C_YES)
            return (enum cond_result)r;
    }
}
