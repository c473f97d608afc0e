/*
 * route_pre.c - whether one router applies to one address: the generic
 *               preconditions of DESIGN §5, in Exim's order.
 *
 * PURPOSE: verify/verify_only, the redirection loop check, special local
 * parts, local_part_prefix/suffix, domains, local_parts, check_local_user,
 * senders, condition, then address_data; any of them may skip the router,
 * defer the address, or (a Lua condition using dnsdb) need DNS first.
 * Only the answer is produced here: the job and its address are not
 * changed, and route.c alone acts on the answer and runs the driver.
 * INTERFACE: route_pre_check (route_impl.h).
 * ERRORS: a check that cannot be evaluated is RP_DEFER with pre->eb.msg.
 */
#include <string.h>
#include <strings.h>

#include "core/base/log.h"
#include "core/base/strbuf.h"
#include "core/conf/mlist.h"
#include "core/mail/pwcache.h"
#include "lua/lcall.h"
#include "route/route_impl.h"

struct affix {
    const char *lp;             /* local part the router sees */
    const char *prefix;
    const char *suffix;
};

static int same_address(const struct raddr *x, const struct raddr *y)
{
    return x->kind == y->kind && strcasecmp(x->domain, y->domain) == 0
           && strcasecmp(x->local_part, y->local_part) == 0;
}

/* Exim's loop rule: skip a router that redirected an identical ancestor. */
static int loops_back(const struct raddr *a, const struct router *r)
{
    for (const struct raddr *p = a->parent; p != NULL; p = p->parent)
        if (p->redirected_by == r && same_address(p, a))
            return 1;
    return 0;
}

static int eq_n(const char *a, const char *b, size_t n, int caseful)
{
    return caseful ? strncmp(a, b, n) == 0 : strncasecmp(a, b, n) == 0;
}

/* Match one prefix: "owner-" or a wildcard "*-" (up to the first "-"). */
static size_t prefix_len(const char *lp, const char *pre, int caseful)
{
    size_t n = strlen(pre), lpn = strlen(lp);

    if (pre[0] == '*') {
        for (size_t i = 1; i + n - 1 <= lpn; i++)
            if (eq_n(lp + i, pre + 1, n - 1, caseful))
                return i + n - 1 < lpn ? i + n - 1 : 0;
        return 0;
    }
    return n < lpn && eq_n(lp, pre, n, caseful) ? n : 0;
}

/* Match one suffix: "-request" or a wildcard "+*" (from the first "+"). */
static size_t suffix_len(const char *lp, const char *suf, int caseful)
{
    size_t n = strlen(suf), lpn = strlen(lp);

    if (n > 1 && suf[n - 1] == '*') {
        for (size_t i = 1; i + n - 1 <= lpn; i++)
            if (eq_n(lp + i, suf, n - 1, caseful))
                return lpn - i;
        return 0;
    }
    return n < lpn && eq_n(lp + lpn - n, suf, n, caseful) ? n : 0;
}

static int strip_affixes(struct pool *p, const struct router *r,
                         struct affix *af)
{
    int caseful = r->caseful_local_part;
    size_t n = 0;

    for (size_t i = 0; i < r->local_part_prefix.n && n == 0; i++)
        n = prefix_len(af->lp, r->local_part_prefix.v[i], caseful);
    if (n > 0) {
        af->prefix = pool_strndup(p, af->lp, n);
        af->lp += n;
    } else if (r->local_part_prefix.n && !r->local_part_prefix_optional) {
        return 0;
    }
    n = 0;
    for (size_t i = 0; i < r->local_part_suffix.n && n == 0; i++)
        n = suffix_len(af->lp, r->local_part_suffix.v[i], caseful);
    if (n > 0) {
        size_t keep = strlen(af->lp) - n;
        af->suffix = pool_strdup(p, af->lp + keep);
        af->lp = pool_strndup(p, af->lp, keep);
    } else if (r->local_part_suffix.n && !r->local_part_suffix_optional) {
        return 0;
    }
    return 1;
}

static void fill_vars(const struct job *j, const struct router *r,
                      const struct affix *af, struct xvars *v)
{
    const struct raddr *a = j->a, *top = j->top->root;
    const struct conf *c = j->top->rr->conf;

    memset(v, 0, sizeof(*v));
    v->local_part = af->lp;
    v->domain = a->domain;
    v->address = a->address;
    v->local_part_prefix = af->prefix;
    v->local_part_suffix = af->suffix;
    v->original_local_part = top->local_part;
    v->original_domain = top->domain;
    v->parent_address = a->parent ? a->parent->address : NULL;
    v->home = a->home;
    v->address_data = a->address_data;
    v->sender_address = j->top->rr->sender;
    v->sender_host_address = j->top->rr->client_ip;
    v->primary_hostname = c->main.primary_hostname;
    v->qualify_domain = c->main.qualify_domain;
    v->router_name = r->name;
}

static enum route_pre_result from_match(enum match_result m,
                                        struct errbuf *eb, const char *what)
{
    if (m == MATCH_DEFER) {
        errbuf_prefix(eb, "%s check: ", what);
        return RP_DEFER;
    }
    if (m == MATCH_NO)
        errbuf_set(eb, "%s did not match", what);  /* for the trace */
    return m == MATCH_YES ? RP_RUN : RP_SKIP;
}

static enum route_pre_result from_lcall(int rc)
{
    return rc == LC_NEED_DNS ? RP_NEED_DNS : RP_DEFER;
}

static int truthy_text(const char *s)
{
    return s != NULL && *s != '\0' && strcmp(s, "0") != 0
           && strcasecmp(s, "no") != 0 && strcasecmp(s, "false") != 0;
}

/* condition: a Lua function's truth, or an expanded string's */
static enum route_pre_result check_condition(const struct job *j,
                                             const struct router *r,
                                             const struct xvars *v,
                                             struct errbuf *eb)
{
    struct conf *c = j->top->rr->conf;
    const char *s;
    int t, rc;

    if (!xval_set(&r->condition))
        return RP_RUN;
    if (r->condition.fn >= 0) {
        rc = lcall_truth(c->lua, r->condition.fn, v, &t, eb);
        if (rc != LC_OK)
            return from_lcall(rc);
    } else {
        if (expand_string(r->condition.str, v, j->top->pool, &s, eb) != 0)
            return RP_DEFER;
        t = truthy_text(s);
    }
    if (!t)
        errbuf_set(eb, "condition is false");
    return t ? RP_RUN : RP_SKIP;
}

/* address_data: evaluated once the router will run; nil declines */
static enum route_pre_result eval_address_data(const struct job *j,
                                               const struct router *r,
                                               struct route_pre *pre)
{
    struct xvars *v = &pre->vars;
    struct errbuf *eb = &pre->eb;
    struct conf *c = j->top->rr->conf;
    const char *s;
    int rc;

    if (!xval_set(&r->address_data))
        return RP_RUN;
    if (r->address_data.fn >= 0) {
        rc = lcall_value(c->lua, r->address_data.fn, v, j->top->pool, &s, eb);
        if (rc != LC_OK)
            return from_lcall(rc);
        if (s == NULL)
            return RP_DECLINE;
    } else if (expand_string(r->address_data.str, v, j->top->pool, &s, eb)
               != 0) {
        return RP_DEFER;
    }
    pre->address_data = v->address_data = s;
    return RP_RUN;
}

static enum route_pre_result check_local_user(const struct router *r,
                                              struct route_pre *pre)
{
    struct xvars *v = &pre->vars;
    struct errbuf *eb = &pre->eb;
    const struct pw_entry *pw;
    int tempfail;

    if (!r->check_local_user)
        return RP_RUN;
    pw = pw_lookup(v->local_part, &tempfail);
    if (tempfail) {
        errbuf_set(eb, "cannot look up local user %s", v->local_part);
        return RP_DEFER;
    }
    if (pw == NULL) {
        errbuf_set(eb, "check_local_user: no such user");
        return RP_SKIP;
    }
    pre->home = v->home = pw->home;
    return RP_RUN;
}

static enum route_pre_result check_lists(const struct job *j,
                                         const struct router *r,
                                         const struct xvars *v,
                                         struct errbuf *eb)
{
    struct match_ctx mc = { .conf = j->top->rr->conf, .eb = eb,
                            .caseful = r->caseful_local_part };
    enum route_pre_result pr = RP_RUN;

    if (r->domains != NULL)
        pr = from_match(mlist_match(r->domains, v->domain, &mc), eb,
                        "domains");
    if (pr == RP_RUN && r->local_parts != NULL)
        pr = from_match(mlist_match(r->local_parts, v->local_part, &mc), eb,
                        "local_parts");
    return pr;
}

static enum route_pre_result check_senders(const struct job *j,
                                           const struct router *r,
                                           struct errbuf *eb)
{
    struct match_ctx mc = { .conf = j->top->rr->conf, .eb = eb };

    if (r->senders == NULL)
        return RP_RUN;
    return from_match(mlist_match(r->senders, j->top->rr->sender, &mc), eb,
                      "senders");
}

static int special_local_part(const struct raddr *a, const struct router *r)
{
    return (a->flags & (AF_PERCENT | AF_BANG | AF_AT_IN_LOCAL))
           && !r->allow_special_local_parts
           && !r->drv->any_local_part;
}

/* Why a router does not apply before any option is evaluated, or NULL. */
static const char *early_skip(const struct job *j, const struct router *r)
{
    const struct route_run *rr = j->top->rr;

    if (rr->verify && !r->verify)
        return "verify = false";
    if (!rr->verify && r->verify_only)
        return "verify_only";
    if (j->a->kind != CHILD_ADDRESS)
        return "not an address";
    if (loops_back(j->a, r))
        return "it redirected an identical ancestor";
    if (special_local_part(j->a, r))
        return "'%', '!' or '@' in the local part";
    return NULL;
}

/* route_pre_check - does router r apply to j's address, and with what */
enum route_pre_result route_pre_check(const struct job *j,
                                      const struct router *r,
                                      struct route_pre *pre)
{
    const char *why = early_skip(j, r);
    struct affix af = { NULL, NULL, NULL };
    enum route_pre_result pr;

    memset(pre, 0, sizeof(*pre));
    if (why != NULL) {
        log_debug(DBG_ROUTE, "%s: router %s skipped: %s", j->a->address,
                  r->name, why);
        return RP_SKIP;
    }
    af.lp = r->caseful_local_part ? j->a->local_part : j->a->lc_local_part;
    if (!strip_affixes(j->top->pool, r, &af)) {
        log_debug(DBG_ROUTE, "%s: router %s skipped: no local part prefix or "
                  "suffix matched", j->a->address, r->name);
        return RP_SKIP;
    }
    pre->prefix = af.prefix;
    pre->suffix = af.suffix;
    fill_vars(j, r, &af, &pre->vars);
    if ((pr = check_lists(j, r, &pre->vars, &pre->eb)) != RP_RUN
        || (pr = check_local_user(r, pre)) != RP_RUN
        || (pr = check_senders(j, r, &pre->eb)) != RP_RUN
        || (pr = check_condition(j, r, &pre->vars, &pre->eb)) != RP_RUN) {
        if (pr == RP_SKIP)
            log_debug(DBG_ROUTE, "%s: router %s skipped: %s",
                      j->a->address, r->name, pre->eb.msg);
        return pr;
    }
    return eval_address_data(j, r, pre);
}
