/*
 * spf.c - check_host() of RFC 7208 as a state machine over dns_query.
 *
 * PURPOSE: an evaluation is a stack of frames (the domain being checked,
 * its parsed record, the next term); include pushes a frame, redirect
 * replaces the top one. Each DNS step starts a batch of queries on the
 * loop and returns; when the last answer of the batch arrives the batch
 * is interpreted and evaluation continues (advance) until the next batch
 * or the result. Decisions are taken only when a batch is complete.
 * BOUNDS: 10 DNS mechanisms and modifiers, 2 void lookups (4.6.4), 10 MX
 * names (more is a permerror), the first 10 PTR names, frame depth,
 * SPF_MAX_QUERIES queries in all, records and macros (spf_impl.h).
 * CANCEL: spf_cancel marks the evaluation; the answers still in flight
 * arrive (dns_query has no per-query cancel) and the last one frees it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base/ev.h"
#include "core/base/xalloc.h"
#include "core/net/dns.h"
#include "core/net/spf.h"
#include "core/net/spf_impl.h"

#define MAX_DEPTH 12
#define MAX_DNS_MECH 10
#define MAX_VOID 2
#define MAX_NAMES 10
#define SPF_MAX_QUERIES 160

enum wait { W_NONE, W_RECORD, W_A, W_MX, W_MXADDR, W_PTR, W_PTRADDR,
            W_EXISTS, W_P, W_PADDR, W_EXP };
enum phase { PH_EVAL, PH_EXP, PH_EXPTXT, PH_DONE };

struct frame {
    char domain[256];
    struct spf_record rec;
    int have_rec;
    int redirected;
    size_t term;
};

struct qarg {
    struct spf_eval *e;
    int idx;
};

struct spf_eval {
    struct ev *ev;
    struct dns_ctx *dc;
    spf_done_fn done;
    void *arg;
    struct ev_timer *timer;
    int cancelled, outstanding;
    enum phase phase;
    enum wait wait;
    /* the identity */
    char local[600], odomain[600], helo[256], receiver[256];
    unsigned char ip[16];
    int v6;
    char *guess;
    char *default_exp;
    unsigned long now;
    char pname[256];
    int p_done;
    /* the evaluation */
    struct frame fr[MAX_DEPTH];
    int depth;
    int dns_mech, voids, queries;
    /* the batch being answered */
    struct qarg qa[MAX_NAMES + 1];
    char names[MAX_NAMES][256];
    int valid[MAX_NAMES];
    int nnames, nrec, matched, tempfail, isvoid, toomany;
    char *rectext;
    size_t reclen;              /* it may hold a NUL: a syntax error */
    char target[256];           /* ptr: the domain names must end in */
    /* the outcome */
    struct spf_outcome out;
    enum spf_result final;
    char checked[600], mech[128], problem[512], expl[SPF_MAX_EXPAND];
};

static void advance(struct spf_eval *e);

/* ---- finishing ---- */

static void eval_free(struct spf_eval *e)
{
    for (int i = 0; i <= e->depth && i < MAX_DEPTH; i++)
        spf_record_free(&e->fr[i].rec);
    free(e->rectext);
    free(e->guess);
    free(e->default_exp);
    free(e);
}

static void finish(struct spf_eval *e, enum spf_result r, const char *why)
{
    e->out.result = r;
    e->out.problem = NULL;
    if (why != NULL && (r == SPF_TEMPERROR || r == SPF_PERMERROR)) {
        snprintf(e->problem, sizeof(e->problem), "%s", why);
        e->out.problem = e->problem;
    }
    e->phase = PH_DONE;
}

static void deliver(struct spf_eval *e)
{
    e->out.domain = e->out.domain ? e->out.domain : "";
    e->done(&e->out, e->arg);
    eval_free(e);
}

/* ---- DNS plumbing ---- */

static void absorb(struct spf_eval *e, int idx, const struct dns_answer *a);
static void batch_done(struct spf_eval *e);

static void answered(const struct dns_answer *ans, void *arg)
{
    struct qarg *qa = arg;
    struct spf_eval *e = qa->e;

    e->outstanding--;
    if (!e->cancelled)
        absorb(e, qa->idx, ans);
    if (e->outstanding > 0)
        return;
    if (e->cancelled) {
        eval_free(e);
        return;
    }
    batch_done(e);
    advance(e);
}

static void batch_start(struct spf_eval *e, enum wait w)
{
    e->wait = w;
    e->nrec = e->matched = e->tempfail = e->isvoid = e->toomany = 0;
    if (w != W_MXADDR && w != W_PTRADDR && w != W_PADDR)
        e->nnames = 0;
    memset(e->valid, 0, sizeof(e->valid));
}

static int ask(struct spf_eval *e, int type, const char *name, int idx)
{
    if (++e->queries > SPF_MAX_QUERIES) {
        finish(e, SPF_PERMERROR, "too many DNS queries");
        return -1;
    }
    e->qa[idx].e = e;
    e->qa[idx].idx = idx;
    e->outstanding++;
    dns_query(e->dc, type, name, answered, &e->qa[idx]);
    return 0;
}

static int addr_type(const struct spf_eval *e)
{
    return e->v6 ? DNS_T_AAAA : DNS_T_A;
}

/* ---- answers ---- */

static int prefix_eq(const unsigned char *a, const unsigned char *b,
                     int bits)
{
    int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    return rest == 0 || ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

static int addr_matches(const struct spf_eval *e, const char *text,
                        int cidr4, int cidr6)
{
    unsigned char b[16];

    if (e->v6)
        return inet_pton(AF_INET6, text, b) == 1
               && prefix_eq(b, e->ip, cidr6);
    return inet_pton(AF_INET, text, b) == 1 && prefix_eq(b, e->ip, cidr4);
}

static const struct spf_term *cur_term(struct spf_eval *e)
{
    struct frame *f = &e->fr[e->depth];
    return f->term < f->rec.n ? &f->rec.t[f->term] : NULL;
}

static void absorb_record(struct spf_eval *e, const struct dns_answer *a)
{
    for (size_t i = 0; a->status == DNS_OK && i < a->n; i++) {
        const char *t = a->rr[i].data;
        size_t n = dns_rr_len(&a->rr[i]);
        if (!spf_record_is_spf1(t, n))
            continue;
        if (e->nrec++ == 0) {
            e->rectext = xmemdup(t, n + 1);
            e->reclen = n;
        }
    }
}

static void absorb_names(struct spf_eval *e, const struct dns_answer *a)
{
    for (size_t i = 0; a->status == DNS_OK && i < a->n; i++) {
        if (a->rr[i].data[0] == '\0')
            continue;                   /* a null MX */
        if (e->nnames == MAX_NAMES) {
            e->toomany = 1;
            break;
        }
        snprintf(e->names[e->nnames++], sizeof(e->names[0]), "%s",
                 a->rr[i].data);
    }
}

static void absorb(struct spf_eval *e, int idx, const struct dns_answer *a)
{
    const struct spf_term *t = cur_term(e);
    int c4 = t ? t->cidr4 : 32, c6 = t ? t->cidr6 : 128;

    e->tempfail |= a->status == DNS_TEMPFAIL;
    e->isvoid |= a->status == DNS_NXDOMAIN || a->status == DNS_NODATA
                 || (a->status == DNS_OK && a->n == 0);
    switch (e->wait) {
    case W_RECORD: absorb_record(e, a); break;
    case W_MX: case W_PTR: case W_P: absorb_names(e, a); break;
    case W_EXISTS: e->matched |= a->status == DNS_OK && a->n > 0; break;
    case W_EXP:
        if (a->status == DNS_OK && a->n == 1 && e->rectext == NULL)
            e->rectext = xstrdup(a->rr[0].data);
        break;
    default:                            /* address lookups */
        for (size_t i = 0; a->status == DNS_OK && i < a->n; i++) {
            int full = e->wait == W_PTRADDR || e->wait == W_PADDR;
            if (addr_matches(e, a->rr[i].data, full ? 32 : c4,
                             full ? 128 : c6)) {
                e->matched = 1;
                if (idx < MAX_NAMES)
                    e->valid[idx] = 1;
            }
        }
    }
}

/* ---- frames and results ---- */

static enum spf_result qual_result(char q)
{
    return q == '-' ? SPF_FAIL : q == '~' ? SPF_SOFTFAIL
           : q == '?' ? SPF_NEUTRAL : SPF_PASS;
}

static void frame_result(struct spf_eval *e, enum spf_result r,
                         const char *mech);

static void matched(struct spf_eval *e, const struct spf_term *t)
{
    frame_result(e, qual_result(t->qual), t->text);
}

/* a fail without an explanation of its own: the caller's default text
 * (it may use %{p}: PH_EXPTXT looks it up first) */
static void default_explanation(struct spf_eval *e)
{
    free(e->rectext);
    e->rectext = e->default_exp ? xstrdup(e->default_exp) : NULL;
    if (e->rectext != NULL)
        e->phase = PH_EXPTXT;
    else
        finish(e, SPF_FAIL, NULL);
}

static void top_result(struct spf_eval *e, enum spf_result r,
                       const char *mech)
{
    snprintf(e->mech, sizeof(e->mech), "%s", mech ? mech : "default");
    e->out.mechanism = r == SPF_NONE ? NULL : e->mech;
    e->final = r;
    if (r == SPF_FAIL && e->fr[0].rec.exp != NULL)
        e->phase = PH_EXP;
    else if (r == SPF_FAIL)
        default_explanation(e);
    else
        finish(e, r, NULL);
}

/* include: pass matches, fail/softfail/neutral do not, none is a
 * permerror (errors never come here: they end the evaluation at once) */
static void frame_result(struct spf_eval *e, enum spf_result r,
                         const char *mech)
{
    struct frame *p;

    if (e->depth == 0) {
        top_result(e, r, mech);
        return;
    }
    spf_record_free(&e->fr[e->depth].rec);
    e->depth--;
    p = &e->fr[e->depth];
    if (r == SPF_PASS)
        matched(e, &p->rec.t[p->term]);
    else if (r == SPF_NONE)
        finish(e, SPF_PERMERROR, "include of a domain without SPF record");
    else
        p->term++;
}

/* FQDN with labels of 1..63 letters, digits, '-' or '_' (4.3) */
static int domain_ok(const char *d)
{
    size_t n = strlen(d), label = 0, labels = 1;
    int alpha_last = 0;

    if (n > 0 && d[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            labels++, label = 0, alpha_last = 0;
            continue;
        }
        if (!(c == '-' || c == '_' || (c >= '0' && c <= '9')
              || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) || ++label > 63)
            return 0;
        alpha_last |= !(c >= '0' && c <= '9');
    }
    return label > 0 && labels >= 2 && alpha_last;
}

/* labels of 1..63 bytes, at most 253 in all (RFC 1035) */
static int dns_name_ok(const char *d)
{
    size_t n = strlen(d), label = 0;

    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '.' && ++label <= 63)
            continue;
        if (d[i] != '.' || label == 0)
            return 0;
        label = 0;
    }
    return label > 0;
}

static void macro_ctx(struct spf_eval *e, struct spf_macro_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->s = e->checked;
    c->l = e->local;
    c->o = e->odomain;
    c->d = e->fr[e->depth].domain;
    c->h = e->helo;
    c->p = e->p_done && e->pname[0] ? e->pname : "unknown";
    c->r = e->receiver;
    c->ip = e->ip;
    c->v6 = e->v6;
    c->t = e->now;
}

/* expand a domain-spec (NULL: the current domain) into out[256] */
static int target_of(struct spf_eval *e, const char *spec, char *out)
{
    struct spf_macro_ctx c;
    char buf[SPF_MAX_EXPAND];

    if (spec == NULL) {
        snprintf(out, 256, "%s", e->fr[e->depth].domain);
        return 0;
    }
    macro_ctx(e, &c);
    if (spf_macro_expand(spec, strlen(spec), &c, 0, buf, sizeof(buf)) < 0) {
        finish(e, SPF_PERMERROR, "macro expansion failed");
        return -1;
    }
    const char *d = spf_domain_trim(buf);
    snprintf(out, 256, "%s", d);
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == '.')
        out[n - 1] = '\0';
    return 0;
}

/* ---- steps ---- */

static void start_p(struct spf_eval *e)
{
    char ip[64];

    inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->ip, ip, sizeof(ip));
    batch_start(e, W_P);
    ask(e, DNS_T_PTR, ip, MAX_NAMES);
}

static void start_record(struct spf_eval *e, struct frame *f)
{
    free(e->rectext);
    e->rectext = NULL;
    if (!domain_ok(f->domain)) {
        if (f->redirected)
            finish(e, SPF_PERMERROR, "redirect to an invalid domain");
        else
            frame_result(e, SPF_NONE, NULL);
        return;
    }
    batch_start(e, W_RECORD);
    ask(e, DNS_T_TXT, f->domain, MAX_NAMES);
}

static void push(struct spf_eval *e, const char *target)
{
    if (e->depth + 1 >= MAX_DEPTH) {
        finish(e, SPF_PERMERROR, "includes nested too deeply");
        return;
    }
    e->depth++;
    memset(&e->fr[e->depth], 0, sizeof(e->fr[0]));
    snprintf(e->fr[e->depth].domain, sizeof(e->fr[0].domain), "%s", target);
}

static int count_mech(struct spf_eval *e)
{
    if (++e->dns_mech <= MAX_DNS_MECH)
        return 0;
    finish(e, SPF_PERMERROR, "more than 10 DNS-querying terms");
    return -1;
}

static int no_match(struct spf_eval *e, int count_void);

static void lookup_term(struct spf_eval *e, const struct spf_term *t)
{
    char target[256], ip[64];

    if (count_mech(e) != 0 || target_of(e, t->spec, target) != 0)
        return;
    if (t->mech != SPF_M_INCLUDE && t->mech != SPF_M_PTR
        && !dns_name_ok(target)) {
        batch_start(e, W_A);        /* not a DNS name: it does not exist */
        e->isvoid = 1;
        no_match(e, 1);
        return;
    }
    switch (t->mech) {
    case SPF_M_INCLUDE: push(e, target); return;
    case SPF_M_A: batch_start(e, W_A); break;
    case SPF_M_MX: batch_start(e, W_MX); break;
    case SPF_M_EXISTS: batch_start(e, W_EXISTS); break;
    default:                            /* ptr */
        batch_start(e, W_PTR);
        snprintf(e->target, sizeof(e->target), "%s", target);
        inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->ip, ip, sizeof(ip));
        ask(e, DNS_T_PTR, ip, MAX_NAMES);
        return;
    }
    ask(e, t->mech == SPF_M_A ? addr_type(e) : t->mech == SPF_M_MX
        ? DNS_T_MX : DNS_T_A, target, MAX_NAMES);
}

static void eval_term(struct spf_eval *e, struct frame *f)
{
    const struct spf_term *t = &f->rec.t[f->term];

    switch (t->mech) {
    case SPF_M_ALL:
        matched(e, t);
        return;
    case SPF_M_IP4: case SPF_M_IP6:
        if ((t->mech == SPF_M_IP6) == e->v6
            && prefix_eq(t->net, e->ip, e->v6 ? t->cidr6 : t->cidr4))
            matched(e, t);
        else
            f->term++;
        return;
    default:
        if (t->spec != NULL && !e->p_done && spf_macro_uses_p(t->spec))
            start_p(e);
        else
            lookup_term(e, t);
    }
}

static void do_redirect(struct spf_eval *e, struct frame *f)
{
    char target[256];

    if (!e->p_done && spf_macro_uses_p(f->rec.redirect)) {
        start_p(e);
        return;
    }
    if (count_mech(e) != 0 || target_of(e, f->rec.redirect, target) != 0)
        return;
    spf_record_free(&f->rec);
    memset(f, 0, sizeof(*f));
    snprintf(f->domain, sizeof(f->domain), "%s", target);
    f->redirected = 1;
}

static void step_exp(struct spf_eval *e)
{
    const char *spec = e->fr[0].rec.exp;
    char target[256];

    if (!e->p_done && spf_macro_uses_p(spec)) {
        start_p(e);
        return;
    }
    if (target_of(e, spec, target) != 0 || !domain_ok(target)) {
        e->phase = PH_EXP;              /* a bad exp= explains nothing: */
        e->out.problem = NULL;          /* still a fail, not an error */
        default_explanation(e);
        return;
    }
    free(e->rectext);
    e->rectext = NULL;
    batch_start(e, W_EXP);              /* counts neither limit (6.2) */
    ask(e, DNS_T_TXT, target, MAX_NAMES);
}

static void step_exptxt(struct spf_eval *e)
{
    struct spf_macro_ctx c;

    if (!e->p_done && spf_macro_uses_p(e->rectext)) {
        start_p(e);
        return;
    }
    macro_ctx(e, &c);
    if (spf_macro_expand(e->rectext, strlen(e->rectext), &c, 1, e->expl,
                         sizeof(e->expl)) >= 0)
        e->out.explanation = e->expl;
    finish(e, SPF_FAIL, NULL);
}

static void step(struct spf_eval *e)
{
    struct frame *f = &e->fr[e->depth];

    if (e->phase == PH_EXP) {
        step_exp(e);
        return;
    }
    if (e->phase == PH_EXPTXT) {
        step_exptxt(e);
        return;
    }
    if (!f->have_rec)
        start_record(e, f);
    else if (f->term < f->rec.n)
        eval_term(e, f);
    else if (f->rec.redirect != NULL)
        do_redirect(e, f);
    else
        frame_result(e, SPF_NEUTRAL, NULL);
}

static void advance(struct spf_eval *e)
{
    while (e->phase != PH_DONE && e->outstanding == 0)
        step(e);
    if (e->outstanding == 0)
        deliver(e);
}

/* ---- batches answered ---- */

static void use_record(struct spf_eval *e, struct frame *f, const char *txt,
                       size_t len)
{
    char why[160];

    if (spf_record_parse(txt, len, &f->rec, why, sizeof(why)) != 0) {
        char msg[440];
        snprintf(msg, sizeof(msg), "%s: %s", f->domain, why);
        finish(e, SPF_PERMERROR, msg);
        return;
    }
    f->have_rec = 1;
}

static void record_done(struct spf_eval *e)
{
    struct frame *f = &e->fr[e->depth];
    char msg[320];

    if (e->tempfail) {
        snprintf(msg, sizeof(msg), "DNS lookup of %s failed", f->domain);
        finish(e, SPF_TEMPERROR, msg);
    } else if (e->nrec > 1) {
        snprintf(msg, sizeof(msg), "%s has several SPF records", f->domain);
        finish(e, SPF_PERMERROR, msg);
    } else if (e->nrec == 1) {
        use_record(e, f, e->rectext, e->reclen);
    } else if (f->redirected) {
        snprintf(msg, sizeof(msg), "redirect to %s, which has no SPF record",
                 f->domain);
        finish(e, SPF_PERMERROR, msg);
    } else if (e->depth == 0 && e->guess != NULL && !e->out.guessed) {
        e->out.guessed = 1;
        use_record(e, f, e->guess, strlen(e->guess));
    } else {
        frame_result(e, SPF_NONE, NULL);
    }
}

/* a primary lookup found nothing: a void lookup (4.6.4) */
static int no_match(struct spf_eval *e, int count_void)
{
    struct frame *f = &e->fr[e->depth];

    if (e->tempfail) {
        finish(e, SPF_TEMPERROR, "DNS lookup failed");
        return -1;
    }
    if (count_void && e->isvoid && ++e->voids > MAX_VOID) {
        finish(e, SPF_PERMERROR, "more than 2 void DNS lookups");
        return -1;
    }
    f->term++;
    return 0;
}

static void mx_done(struct spf_eval *e)
{
    if (e->tempfail || e->nnames == 0) {
        no_match(e, 1);
        return;
    }
    if (e->toomany) {
        finish(e, SPF_PERMERROR, "more than 10 MX records");
        return;
    }
    int n = e->nnames;
    batch_start(e, W_MXADDR);
    for (int i = 0; i < n; i++)
        if (ask(e, addr_type(e), e->names[i], i) != 0)
            return;
}

static int in_domain(const char *name, const char *dom)
{
    size_t n = strlen(name), d = strlen(dom);

    return strcasecmp(name, dom) == 0
           || (n > d && name[n - d - 1] == '.'
               && strcasecmp(name + n - d, dom) == 0);
}

/* ptr (5.5): a DNS error is no match; names outside the target ignored */
static void ptr_done(struct spf_eval *e, int for_p)
{
    int n = 0;

    for (int i = 0; i < e->nnames; i++)
        if (for_p || in_domain(e->names[i], e->target))
            memmove(e->names[n++], e->names[i], sizeof(e->names[0]));
    e->nnames = n;
    if (n == 0) {
        if (for_p)
            e->p_done = 1;
        else
            e->fr[e->depth].term++;
        return;
    }
    batch_start(e, for_p ? W_PADDR : W_PTRADDR);
    for (int i = 0; i < n; i++)
        if (ask(e, addr_type(e), e->names[i], i) != 0)
            return;
}

/* %{p}: a validated name in the current domain, else any, else unknown */
static void p_chosen(struct spf_eval *e)
{
    const char *dom = e->fr[e->depth].domain;
    int pick = -1;

    for (int i = 0; i < e->nnames; i++)
        if (e->valid[i] && (pick < 0 || (in_domain(e->names[i], dom)
                                         && !in_domain(e->names[pick], dom))))
            pick = i;
    snprintf(e->pname, sizeof(e->pname), "%s",
             pick >= 0 ? e->names[pick] : "unknown");
    e->p_done = 1;
}

static void batch_done(struct spf_eval *e)
{
    const struct spf_term *t = cur_term(e);

    if (e->phase == PH_DONE)
        return;
    switch (e->wait) {
    case W_RECORD: record_done(e); break;
    case W_A: case W_EXISTS: case W_MXADDR:
        if (e->matched)
            matched(e, t);
        else
            no_match(e, e->wait != W_MXADDR);
        break;
    case W_MX: mx_done(e); break;
    case W_PTR: ptr_done(e, 0); break;
    case W_P: ptr_done(e, 1); break;
    case W_PTRADDR:
        if (e->matched)
            matched(e, t);
        else
            e->fr[e->depth].term++;
        break;
    case W_PADDR: p_chosen(e); break;
    case W_EXP:
        if (e->rectext != NULL)
            e->phase = PH_EXPTXT;
        else
            default_explanation(e);
        break;
    default: break;
    }
}

/* ---- starting and cancelling ---- */

static int parse_ip(struct spf_eval *e, const char *ip)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                              0xff, 0xff };

    if (ip != NULL && inet_pton(AF_INET, ip, e->ip) == 1)
        return 0;
    if (ip == NULL || inet_pton(AF_INET6, ip, e->ip) != 1)
        return -1;
    e->v6 = 1;
    if (memcmp(e->ip, mapped, 12) == 0) {   /* ::ffff:a.b.c.d is IPv4 */
        memmove(e->ip, e->ip + 12, 4);
        e->v6 = 0;
    }
    return 0;
}

/* the identity (2.3, 2.4, 4.3): the sender, postmaster@HELO for the null
 * sender or the HELO check; an empty local part is "postmaster" */
static void set_identity(struct spf_eval *e, const struct spf_request *rq)
{
    const char *helo = rq->helo ? rq->helo : "";
    const char *s = rq->sender ? rq->sender : "";
    const char *at;

    snprintf(e->helo, sizeof(e->helo), "%s", helo);
    e->out.identity = rq->helo_identity ? "helo" : "mailfrom";
    if (rq->helo_identity || s[0] == '\0')
        snprintf(e->checked, sizeof(e->checked), "postmaster@%s", helo);
    else
        snprintf(e->checked, sizeof(e->checked), "%s", s);
    at = strrchr(e->checked, '@');
    if (at == NULL || at == e->checked)
        snprintf(e->local, sizeof(e->local), "postmaster");
    else
        snprintf(e->local, sizeof(e->local), "%.*s",
                 (int)(at - e->checked), e->checked);
    snprintf(e->odomain, sizeof(e->odomain), "%s",
             at ? at + 1 : e->checked);
    e->out.checked = e->checked;
    e->out.domain = e->odomain;
    if (strlen(e->odomain) < sizeof(e->fr[0].domain))  /* else: invalid */
        memcpy(e->fr[0].domain, e->odomain, strlen(e->odomain) + 1);
}

static void kick(void *arg)
{
    struct spf_eval *e = arg;

    e->timer = NULL;
    advance(e);
}

/* spf_start - see spf.h */
struct spf_eval *spf_start(struct ev *ev, struct dns_ctx *dc,
                           const struct spf_request *rq, spf_done_fn done,
                           void *arg)
{
    struct spf_eval *e = xcalloc(1, sizeof(*e));

    e->ev = ev;
    e->dc = dc;
    e->done = done;
    e->arg = arg;
    e->now = rq->now ? rq->now : (unsigned long)time(NULL);
    e->guess = rq->guess ? xstrdup(rq->guess) : NULL;
    e->default_exp = rq->default_exp ? xstrdup(rq->default_exp) : NULL;
    snprintf(e->receiver, sizeof(e->receiver), "%s",
             rq->receiver ? rq->receiver : "unknown");
    set_identity(e, rq);
    if (parse_ip(e, rq->ip) != 0)
        finish(e, SPF_PERMERROR, "bad client address");
    else if (dc == NULL)
        finish(e, SPF_TEMPERROR, "no resolver");
    e->timer = ev_timer_add(ev, 0, kick, e);
    return e;
}

/* spf_cancel - see spf.h */
void spf_cancel(struct spf_eval *e)
{
    if (e == NULL)
        return;
    e->cancelled = 1;
    if (e->timer != NULL) {
        ev_timer_cancel(e->ev, e->timer);
        e->timer = NULL;
    }
    if (e->outstanding == 0)
        eval_free(e);
}
