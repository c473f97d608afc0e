/*
 * route_impl.h - private to the router runner (route.c, route_pre.c).
 */
#ifndef TERN_ROUTE_IMPL_H
#define TERN_ROUTE_IMPL_H

#include "core/mail/address.h"
#include "route/route.h"

struct job {
    struct raddr *a;
    struct route_top *top;
    size_t next_router;
    int waiting;                /* DNS answers still awaited */
    const char *decline_msg;    /* why a router declined, if it said */
    struct job *next;
};

struct route_top {
    struct pool *pool;          /* every address and job of this top */
    struct route_run *rr;
    struct raddr *root;
    size_t pending;             /* jobs not finished */
    route_done_fn done;
    void *done_arg;
};

struct route_run {
    struct conf *conf;
    struct dns_cache *dns;
    const char *sender;
    const char *client_ip;
    int verify;
    size_t ntops;
    struct job *head, *tail;    /* runnable jobs */
    void (*wakeup)(void *);     /* a job became runnable (DNS answer) */
    void *wakeup_arg;
};

void route_job_run(struct job *j);                  /* route_pre.c */
int route_verdict(struct job *j, const struct router *r,
                  enum route_verdict v, struct route_res *res);
void route_chain_end(struct job *j);
void route_job_finish(struct job *j);
void route_job_defer(struct job *j, const struct router *r, const char *msg);
void route_fill_address(struct pool *p, struct raddr *a,
                        const struct addr_parsed *ap, const char *qualify);

#endif
