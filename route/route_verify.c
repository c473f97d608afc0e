/*
 * route_verify.c - address verification on the event loop.
 *
 * PURPOSE: a routing run of its own (fresh DNS cache, verify mode) for one
 * address; route_step runs from 0 ms timers whenever DNS answers make a
 * job runnable, so verification never blocks and never re-enters its
 * caller.
 */
#include <stdlib.h>

#include "core/base/ev.h"
#include "core/base/xalloc.h"
#include "core/net/dns.h"
#include "route/route.h"
#include "route/route_verify.h"

struct route_verify {
    struct ev *ev;
    struct dns_cache *cache;
    struct route_run *rr;
    struct route_top *top;
    struct ev_timer *timer;
    route_verify_cb cb;
    void *arg;
    int finished;
};

struct scan {
    int failed, deferred;
    const char *msg;
};

static void scan_leaf(struct raddr *a, void *arg)
{
    struct scan *sc = arg;

    if (a->state == RA_FAILED && !sc->failed++)
        sc->msg = a->message;
    if (a->state == RA_DEFERRED && !sc->deferred++ && !sc->failed)
        sc->msg = a->message;
}

static void step_cb(void *arg)
{
    struct route_verify *v = arg;
    struct scan sc = { 0, 0, NULL };

    v->timer = NULL;
    route_step(v->rr);
    if (!v->finished)
        return;
    route_walk(v->top, scan_leaf, &sc);
    v->cb(sc.failed ? VERIFY_FAILED : sc.deferred ? VERIFY_DEFERRED
          : VERIFY_OK, sc.msg, v->arg);
    route_verify_cancel(v);
}

static void wake(void *arg)
{
    struct route_verify *v = arg;

    if (v->timer == NULL)
        v->timer = ev_timer_add(v->ev, 0, step_cb, v);
}

static void top_done(struct route_top *top, void *arg)
{
    (void)top;
    ((struct route_verify *)arg)->finished = 1;
    wake(arg);
}

/* route_verify_start - verify address; cb(result, message, arg) later */
struct route_verify *route_verify_start(struct conf *c, struct ev *ev,
                                        struct dns_ctx *dns,
                                        const char *sender,
                                        const char *client_ip,
                                        const char *address,
                                        route_verify_cb cb, void *arg)
{
    struct route_verify *v = xcalloc(1, sizeof(*v));

    v->ev = ev;
    v->cb = cb;
    v->arg = arg;
    v->cache = dns_cache_new(dns);
    v->rr = route_run_new(c, v->cache, sender, client_ip, 1);
    route_set_wakeup(v->rr, wake, v);
    v->top = route_add(v->rr, address, top_done, v);
    wake(v);
    return v;
}

/* route_verify_cancel - release everything; no callback */
void route_verify_cancel(struct route_verify *v)
{
    if (v == NULL)
        return;
    ev_timer_cancel(v->ev, v->timer);
    route_top_release(v->top);
    route_run_free(v->rr);
    dns_cache_free(v->cache);
    free(v);
}
