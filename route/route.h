/*
 * route.h - the router chain: routes addresses through conf->routers.
 *
 * A routing run holds any number of top-level addresses at once. Each
 * address is a job that walks the chain; a router that needs DNS returns
 * RV_NEED_DNS, the job waits for the answers in the run's DNS cache and
 * then retries that router (restart-on-miss), so addresses waiting for DNS
 * never hold up the others, and one query serves every address that asks.
 * Redirection creates child jobs that start again at the first router;
 * the parent chain is kept for -bt and logs.
 *
 * INTERFACE: route_run_new/free, route_add (a top-level address),
 *            route_step (run what is runnable), route_idle (nothing
 *            runnable), route_top_addr, route_walk (results of a top),
 *            route_top_release (free a finished top's memory).
 * ERRORS: results are per address (state + message), never a return code.
 */
#ifndef TERN_ROUTE_H
#define TERN_ROUTE_H

#include <stddef.h>

#include "core/conf/driver.h"

struct route_run;
struct route_top;

typedef void (*route_done_fn)(struct route_top *top, void *arg);

struct route_run *route_run_new(struct conf *c, struct dns_cache *dns,
                                const char *sender, const char *client_ip,
                                int verify);
void route_run_free(struct route_run *rr);
/* route_add - start routing text; done(top, arg) is called when it and
 * everything it redirects to are finished */
struct route_top *route_add(struct route_run *rr, const char *text,
                            route_done_fn done, void *arg);
/* route_step - route every runnable job as far as it goes; with a
 * wakeup function set, for one time slice (ROUTE_SLICE_MS) only: if jobs
 * are still runnable then, it calls the wakeup function, so a big alias
 * is expanded in slices and the caller's loop keeps turning */
void route_step(struct route_run *rr);
/* route_set_wakeup - call fn(arg) when a job becomes runnable again (a
 * DNS answer arrived, a slice ran out), so an event-driven caller knows
 * to route_step */
void route_set_wakeup(struct route_run *rr, void (*fn)(void *), void *arg);
int route_idle(const struct route_run *rr);
struct raddr *route_top_addr(const struct route_top *top);
/* route_walk - call fn for every finished address of a top that is not
 * redirected (accepted, failed, deferred, discarded), depth first in
 * redirection order, so output does not depend on DNS timing */
void route_walk(const struct route_top *top,
                void (*fn)(struct raddr *a, void *arg), void *arg);
void route_top_release(struct route_top *top);

#endif
