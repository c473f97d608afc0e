/*
 * acl_cond.c - ACL conditions, evaluated in a fixed order: hosts,
 *              domains, local_parts, senders, recipients, authenticated,
 *              encrypted, regex, each verify kind, dnslists, spf,
 *              spf_guess, condition.
 *
 * PURPOSE: each condition is one step; absent conditions are true. The
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
    case 0: return match(chk, f->hosts, q->client_ip, "hosts");
    case 1: return rcpt_part(chk, f->domains, 1, "domains");
    case 2: return rcpt_part(chk, f->local_parts, 0, "local_parts");
    case 3: return match(chk, f->senders, q->sender, "senders");
    case 4: return any_recipient(chk, f->recipients);
    case 5: return match(chk, f->authenticated, q->auth_id, "authenticated");
    case 6: return match(chk, f->encrypted, q->tls_cipher, "encrypted");
    case 7: {
        enum cond_result r = regex_data(chk, f->regex_re, f->regex.n);
        return r == C_YES ? regex_data(chk, f->mime_regex_re,
                                       f->mime_regex.n) : r;
    }
    default: return C_YES;
    }
}

#define SIMPLE_STEPS 8

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

/* One step; -9 when there are no more. */
static int cond_step(struct acl_check *chk, const struct acl_fields *f,
                     int i)
{
    int nverify = (int)f->verify.n;

    if (i < SIMPLE_STEPS)
        return simple_step(chk, f, i);
    i -= SIMPLE_STEPS;
    if (i < nverify)
        return acl_verify(chk, f->verify.v[i]);
    i -= nverify;
    if (i == 0)
        return f->dnslists.n ? acl_dnslists(chk, &f->dnslists) : C_YES;
    if (i == 1)
        return f->spf.n ? acl_spf(chk, &f->spf, 0) : C_YES;
    if (i == 2)
        return f->spf_guess.n ? acl_spf(chk, &f->spf_guess, 1) : C_YES;
    if (i == 3)
        return condition_step(chk, f);
    return -9;
}

/* acl_conditions - evaluate from step *idx; see acl_impl.h */
enum cond_result acl_conditions(struct acl_check *chk,
                                const struct acl_fields *f, int *idx)
{
    if (*idx < 0)                   /* after a delay: all were true */
        return C_YES;
    for (;;) {
        int r = cond_step(chk, f, (*idx)++);
        if (r == -9)
            return C_YES;
        if (r != C_YES)
            return (enum cond_result)r;
    }
}
