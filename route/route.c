/*
 * route.c - the router chain runner.
 *
 * PURPOSE: walk each address down conf->routers: ask route_pre.c whether
 * the router applies, then call the driver's route(), then act on the
 * verdict through one handler per verdict. A job that needs DNS parks
 * until the cache has every answer it named, then retries the same router.
 * Redirected addresses become child jobs that start again at the first
 * router. An event-driven caller (it set a wakeup) gets the runnable jobs
 * run in slices of ROUTE_SLICE_MS, so expanding a 100,000-address alias
 * never keeps its loop (and the watchdog, watchdog.h) waiting.
 * INTERFACE: see route.h.
 * ERRORS: an address ends FAILED or DEFERRED with a message; nothing here
 *         fails as a whole.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/fatal.h"
#include "core/base/log.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/mail/address.h"
#include "core/net/dns.h"
#include "lua/lstate.h"
#include "route/route_impl.h"

/* route_run_new - a run for addresses routed with the same sender/client */
struct route_run *route_run_new(struct conf *c, struct dns_cache *dns,
                                const char *sender, const char *client_ip,
                                int verify)
{
    struct route_run *rr = xcalloc(1, sizeof(*rr));

    rr->conf = c;
    rr->dns = dns;
    rr->sender = xstrdup(sender ? sender : "");
    rr->client_ip = xstrdup(client_ip ? client_ip : "");
    rr->verify = verify;
    /* the session or message being served when the run starts is the
     * one its later steps (timers, DNS answers) serve */
    rr->note_kind = watchdog_subject(rr->note, sizeof(rr->note));
    return rr;
}

/* route_run_free - release the run (tops must be released first) */
void route_run_free(struct route_run *rr)
{
    if (rr == NULL)
        return;
    free((char *)rr->sender);
    free((char *)rr->client_ip);
    free(rr);
}

static void job_queue(struct route_run *rr, struct job *j)
{
    j->next = NULL;
    if (rr->tail != NULL)
        rr->tail->next = j;
    else
        rr->head = j;
    rr->tail = j;
}

static struct job *job_new(struct route_top *top, struct raddr *a,
                           size_t start)
{
    struct job *j = pool_zalloc(top->pool, sizeof(*j));

    j->a = a;
    j->top = top;
    j->next_router = start;
    top->pending++;
    job_queue(top->rr, j);
    return j;
}

/* A job is over: its address reached a final state. Returns 0, "the job
 * does not go on to the next router", for the verdict handlers. */
static int job_finish(struct job *j)
{
    struct route_top *top = j->top;

    if (--top->pending == 0 && top->done != NULL)
        top->done(top, top->done_arg);
    return 0;
}

/* Set the name fields of a from a parsed address. */
static void fill_address(struct pool *p, struct raddr *a,
                        const struct addr_parsed *ap, const char *qualify)
{
    struct strbuf sb;

    a->local_part = pool_strdup(p, ap->local_part);
    a->lc_local_part = pool_strdup(p, ap->local_part);
    for (char *c = (char *)a->lc_local_part; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    a->domain = pool_strdup(p, (ap->flags & AF_UNQUALIFIED) ? qualify
                                                            : ap->domain);
    a->flags = ap->flags & ~(unsigned)AF_UNQUALIFIED;
    sb_init(&sb);
    addr_format(a->local_part, a->domain, &sb);
    a->address = pool_strndup(p, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
}

static void fail_address(struct raddr *a, enum raddr_state st,
                         const char *msg)
{
    a->state = st;
    a->message = msg;
}

/* route_add - parse text and start routing it */
struct route_top *route_add(struct route_run *rr, const char *text,
                            route_done_fn done, void *arg)
{
    struct pool *p = pool_new();
    struct route_top *top = pool_zalloc(p, sizeof(*top));
    struct raddr *a = pool_zalloc(p, sizeof(*a));
    struct addr_parsed ap;
    const char *err;

    top->pool = p;
    top->rr = rr;
    top->root = a;
    top->done = done;
    top->done_arg = arg;
    rr->ntops++;
    if (addr_parse(text, strlen(text), ADDR_ALLOW_UNQUALIFIED | ADDR_UTF8,
                   &ap, &err) != 0) {
        a->address = pool_strdup(p, text);
        a->local_part = a->lc_local_part = a->domain = "";
        fail_address(a, RA_FAILED, pool_printf(p, "malformed address: %s",
                                               err));
        job_new(top, a, 0);         /* finishes on its first step */
        return top;
    }
    fill_address(p, a, &ap, rr->conf->main.qualify_recipient);
    job_new(top, a, 0);
    return top;
}

/* route_top_addr - the address a top was started with */
struct raddr *route_top_addr(const struct route_top *top)
{
    return top->root;
}

/* route_top_release - free a top and all its addresses */
void route_top_release(struct route_top *top)
{
    if (top == NULL)
        return;
    top->rr->ntops--;
    pool_free(top->pool);
}

static void walk(struct raddr *a, void (*fn)(struct raddr *, void *),
                 void *arg)
{
    if (a->state != RA_REDIRECTED)
        fn(a, arg);
    for (size_t i = 0; i < a->nchildren; i++)
        walk(a->children[i], fn, arg);
    if (a->unseen_copy != NULL)
        walk(a->unseen_copy, fn, arg);
}

/* route_walk - visit the finished addresses depth first */
void route_walk(const struct route_top *top,
                void (*fn)(struct raddr *a, void *arg), void *arg)
{
    walk(top->root, fn, arg);
}

/* route_idle - nothing can run until DNS answers arrive */
int route_idle(const struct route_run *rr)
{
    return rr->head == NULL;
}

static void job_dns_ready(void *arg)
{
    struct job *j = arg;
    struct route_run *rr = j->top->rr;

    if (--j->waiting == 0) {
        job_queue(rr, j);
        if (rr->wakeup != NULL)
            rr->wakeup(rr->wakeup_arg);
    }
}

/* route_set_wakeup - see route.h */
void route_set_wakeup(struct route_run *rr, void (*fn)(void *), void *arg)
{
    rr->wakeup = fn;
    rr->wakeup_arg = arg;
}

/* Park j until every query it named is answered. */
static void job_wait_dns(struct job *j, const struct route_res *res)
{
    struct route_run *rr = j->top->rr;

    if (res->nwanted == 0 || rr->dns == NULL) {
        fail_address(j->a, RA_DEFERRED, "DNS lookup needed but no resolver");
        job_finish(j);
        return;
    }
    j->waiting = (int)res->nwanted;
    for (size_t i = 0; i < res->nwanted; i++)
        dns_cache_want(rr->dns, res->wanted[i].type, res->wanted[i].name,
                       job_dns_ready, j);
}

/* ---- verdicts ---- */

static struct raddr *child_new(struct job *j, const struct route_child *ch,
                               const struct router *r)
{
    struct pool *p = j->top->pool;
    struct raddr *a = j->a, *c = pool_zalloc(p, sizeof(*c));
    struct addr_parsed ap;
    const char *err;

    c->parent = a;
    c->depth = a->depth + 1;
    c->address_data = a->address_data;
    c->kind = ch->kind;
    if (ch->kind != CHILD_ADDRESS) {
        c->address = c->local_part = c->lc_local_part
            = pool_strdup(p, ch->text);
        c->domain = "";
        c->state = RA_ACCEPTED;
        c->router = r;
        c->transport = ch->transport;
        return c;
    }
    if (addr_parse(ch->text, strlen(ch->text), ADDR_UTF8, &ap, &err) != 0) {
        c->address = pool_strdup(p, ch->text);
        c->local_part = c->lc_local_part = c->domain = "";
        fail_address(c, RA_FAILED, pool_printf(p, "bad address \"%s\" "
                     "generated by router %s: %s", ch->text, r->name, err));
        return c;
    }
    fill_address(p, c, &ap, j->top->rr->conf->main.qualify_recipient);
    return c;
}

static void start_child(struct job *j, struct raddr *c)
{
    long max = j->top->rr->conf->main.redirect_max_depth;

    if (c->state != RA_ROUTING)
        return;
    if (max > 0 && c->depth > max) {
        fail_address(c, RA_FAILED, pool_printf(j->top->pool, "too many "
                     "levels of redirection (more than %ld)", max));
        return;
    }
    job_new(j->top, c, 0);
}

static void do_redirect(struct job *j, const struct router *r,
                        const struct route_res *res)
{
    struct raddr *a = j->a;
    struct pool *p = j->top->pool;

    a->redirected_by = r;
    a->router = r;
    a->state = res->nchildren ? RA_REDIRECTED : RA_DISCARDED;
    a->nchildren = res->nchildren;
    a->children = pool_zalloc(p, (res->nchildren + 1) * sizeof(*a->children));
    for (size_t i = 0; i < res->nchildren; i++)
        a->children[i] = child_new(j, &res->children[i], r);
    for (size_t i = 0; i < res->nchildren; i++)
        start_child(j, a->children[i]);
}

static void do_accept(struct job *j, const struct router *r,
                      const struct route_res *res)
{
    struct raddr *a = j->a;
    struct pool *p = j->top->pool;

    a->router = r;
    a->transport = res->transport ? res->transport : r->transport;
    if (res->transport_name != NULL) {
        a->transport = conf_find_transport(j->top->rr->conf,
                                           res->transport_name);
        if (a->transport == NULL) {
            fail_address(a, RA_DEFERRED, pool_printf(p, "router %s chose "
                         "transport \"%s\", which is not defined", r->name,
                         res->transport_name));
            return;
        }
    }
    if (a->transport == NULL && !j->top->rr->verify) {
        fail_address(a, RA_DEFERRED, pool_printf(p, "router %s accepted the "
                     "address but no transport is set", r->name));
        return;
    }
    if (res->home != NULL)
        a->home = res->home;
    a->nhosts = res->nhosts;
    a->hosts = res->hosts;      /* allocated from req->pool: this top's */
    a->state = RA_ACCEPTED;
}

/* A copy of the address carries on after an unseen router. */
static void continue_unseen(struct job *j, const struct router *r)
{
    struct raddr *a = j->a, *copy;

    copy = pool_memdup(j->top->pool, a, sizeof(*a));
    copy->state = RA_ROUTING;
    copy->router = NULL;
    copy->transport = NULL;
    copy->nhosts = 0;
    copy->hosts = NULL;
    copy->nchildren = 0;
    copy->children = NULL;
    copy->unseen_copy = NULL;
    copy->redirected_by = NULL;
    a->unseen_copy = copy;
    job_new(j->top, copy, r->index + 1);
}

/* No router took the address. */
static int chain_end(struct job *j)
{
    fail_address(j->a, RA_FAILED, j->decline_msg ? j->decline_msg
                                                  : "Unrouteable address");
    return job_finish(j);
}

/* Router r decided the address ends in state st, saying msg. */
static int job_end(struct job *j, const struct router *r,
                   enum raddr_state st, const char *msg)
{
    j->a->router = r;
    fail_address(j->a, st, pool_strdup(j->top->pool, msg));
    return job_finish(j);
}

/* The verdict handlers: each returns 1 when the job goes on to the next
 * router, 0 when it finished or waits. */

static int on_accept(struct job *j, const struct router *r,
                     const struct route_res *res)
{
    do_accept(j, r, res);
    if (r->unseen && j->a->state == RA_ACCEPTED)
        continue_unseen(j, r);
    return job_finish(j);
}

/* On to the next router, no_more or not. */
static int on_pass(struct job *j, const struct router *r,
                   const struct route_res *res)
{
    (void)j, (void)r, (void)res;
    return 1;
}

static int on_decline(struct job *j, const struct router *r,
                      const struct route_res *res)
{
    if (res->message != NULL)
        j->decline_msg = pool_strdup(j->top->pool, res->message);
    return r->no_more ? chain_end(j) : 1;
}

static int on_fail(struct job *j, const struct router *r,
                   const struct route_res *res)
{
    return job_end(j, r, RA_FAILED, res->message ? res->message
                                                 : "Unrouteable address");
}

static int on_defer(struct job *j, const struct router *r,
                    const struct route_res *res)
{
    return job_end(j, r, RA_DEFERRED, res->message ? res->message
                                                   : "router deferred");
}

static int on_redirect(struct job *j, const struct router *r,
                       const struct route_res *res)
{
    do_redirect(j, r, res);
    if (r->unseen)
        continue_unseen(j, r);
    return job_finish(j);
}

/* The job parks; job_dns_ready queues it again for the same router. */
static int on_need_dns(struct job *j, const struct router *r,
                       const struct route_res *res)
{
    (void)r;
    job_wait_dns(j, res);
    return 0;
}

typedef int verdict_fn(struct job *j, const struct router *r,
                       const struct route_res *res);

static verdict_fn *const verdict_handlers[] = {
    [RV_ACCEPT] = on_accept,
    [RV_PASS] = on_pass,
    [RV_DECLINE] = on_decline,
    [RV_FAIL] = on_fail,
    [RV_DEFER] = on_defer,
    [RV_REDIRECT] = on_redirect,
    [RV_NEED_DNS] = on_need_dns,
};

/* Act on what router r said about j's address; 1: on to the next router. */
static int verdict(struct job *j, const struct router *r,
                   enum route_verdict v, const struct route_res *res)
{
    size_t n = sizeof(verdict_handlers) / sizeof(verdict_handlers[0]);

    if ((unsigned)v >= n || verdict_handlers[v] == NULL)
        panic("router %s returned verdict %d", r->name, (int)v);
    return verdict_handlers[v](j, r, res);
}

/* ---- one router ---- */

static const char *verdict_name(enum route_verdict v)
{
    static const char *const names[] = { "accept", "pass", "decline",
                                          "fail", "defer", "redirect",
                                          "needs DNS" };

    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

struct want_ctx {
    struct route_res *res;
    struct pool *pool;
};

/* Lua's dnsdb names a query; the name is copied, Lua may collect it */
static void want_cb(void *arg, int type, const char *name)
{
    struct want_ctx *w = arg;
    struct route_res *res = w->res;

    if (res->nwanted < ROUTE_MAX_WANTED) {
        res->wanted[res->nwanted].type = type;
        res->wanted[res->nwanted].name = pool_strdup(w->pool, name);
        res->nwanted++;
    }
}

/* The address keeps what the preconditions found, whatever they said:
 * check_local_user's home stays even when a later check skips the router. */
static void keep_pre(struct raddr *a, const struct route_pre *pre)
{
    if (pre->home != NULL)
        a->home = pre->home;
    if (pre->address_data != NULL)
        a->address_data = pre->address_data;
}

/* The router applies: call its driver and act on the verdict. */
static int run_driver(struct job *j, struct router *r,
                      const struct route_pre *pre, struct route_res *res)
{
    struct route_run *rr = j->top->rr;
    struct route_req req = { rr->conf, j->a, rr->dns, j->top->pool,
                             rr->sender, rr->client_ip, rr->verify,
                             &pre->vars };
    enum route_verdict vd = r->drv->route(r, &req, res);

    log_debug(DBG_ROUTE, "%s: router %s (%s): %s%s%s", j->a->address,
              r->name, r->drv->name, verdict_name(vd),
              res->message ? ": " : "", res->message ? res->message : "");
    if (vd == RV_ACCEPT) {
        j->a->prefix = pre->prefix;
        j->a->suffix = pre->suffix;
    }
    return verdict(j, r, vd, res);
}

/* Act on what the preconditions said; 1 means "go on with the next
 * router". */
static int act_on_pre(struct job *j, struct router *r,
                      enum route_pre_result pr, struct route_pre *pre,
                      struct route_res *res)
{
    switch (pr) {
    case RP_RUN:
        return run_driver(j, r, pre, res);
    case RP_SKIP:
        return 1;
    case RP_DECLINE:
        return verdict(j, r, RV_DECLINE, res);
    case RP_DEFER:
        return job_end(j, r, RA_DEFERRED, pre->eb.msg);
    case RP_NEED_DNS:
        return verdict(j, r, RV_NEED_DNS, res);
    }
    panic("router %s: precondition result %d", r->name, (int)pr);
}

/* Run router r for job j; 1 means "go on with the next router". */
static int run_router(struct job *j, struct router *r)
{
    struct route_run *rr = j->top->rr;
    struct route_res res;
    struct route_pre pre;
    struct want_ctx want = { &res, j->top->pool };
    enum route_pre_result pr;

    int go_on;

    memset(&res, 0, sizeof(res));
    if (watchdog_active())
        watchdog_notef(WD_STEP, "router %s", r->name);
    lstate_set_dns(rr->conf->lua, rr->dns, want_cb, &want);
    pr = route_pre_check(j, r, &pre);
    keep_pre(j->a, &pre);
    go_on = act_on_pre(j, r, pr, &pre, &res);
    /* want lives on this stack: Lua must not keep a pointer to it */
    lstate_set_dns(rr->conf->lua, NULL, NULL, NULL);
    return go_on;
}

/* Walk j's address down the chain from where it stands. */
static void job_run(struct job *j)
{
    struct conf *c = j->top->rr->conf;

    if (j->a->state != RA_ROUTING) {
        job_finish(j);
        return;
    }
    while (j->next_router < c->nrouters) {
        if (!run_router(j, c->routers[j->next_router]))
            return;
        j->next_router++;
    }
    chain_end(j);
}

#define ROUTE_SLICE_MS 50

static long long clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* route_step - run the runnable jobs until each finishes or waits, or
 * (with a wakeup) until the slice is used up */
void route_step(struct route_run *rr)
{
    long long start = clock_ms();
    struct job *j;

    if (rr->note_kind >= 0)
        watchdog_note((enum watchdog_what)rr->note_kind, rr->note);
    while ((j = rr->head) != NULL) {
        if (rr->wakeup != NULL && clock_ms() - start >= ROUTE_SLICE_MS) {
            rr->wakeup(rr->wakeup_arg);     /* the rest in the next turn */
            return;
        }
        rr->head = j->next;
        if (rr->head == NULL)
            rr->tail = NULL;
        job_run(j);
    }
}
