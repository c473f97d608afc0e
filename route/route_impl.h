/*
 * route_impl.h - private to the router runner: route.c walks the chain and
 *                acts on verdicts; route_pre.c only answers whether a
 *                router applies (it never calls back into route.c).
 *
 * INTERFACE: struct job/route_top/route_run (the runner's state),
 *            route_pre_check (route_pre.c).
 */
#ifndef TERN_ROUTE_IMPL_H
#define TERN_ROUTE_IMPL_H

#include "core/base/errbuf.h"
#include "core/base/watchdog.h"
#include "core/mail/address.h"
#include "core/mail/expand.h"
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
    int note_kind;              /* the session or message this run serves */
    char note[WATCHDOG_TEXT];   /* (for the watchdog), kind -1: none */
};

/* What the generic options say about one router for one address. */
enum route_pre_result {
    RP_RUN,         /* run the driver with pre->vars */
    RP_SKIP,        /* the router does not apply; no_more does not count */
    RP_DECLINE,     /* address_data was nil: a decline, so no_more counts */
    RP_DEFER,       /* a check could not be evaluated: pre->eb.msg */
    RP_NEED_DNS,    /* a Lua condition named queries (lstate_set_dns's want) */
};

struct route_pre {
    struct xvars vars;          /* the address's variables for this router */
    const char *prefix;         /* local part affixes removed (RP_RUN) */
    const char *suffix;
    const char *home;           /* check_local_user found it (any result) */
    const char *address_data;   /* evaluated address_data (RP_RUN) */
    struct errbuf eb;
};

/* route_pre_check - does router r apply to j's address, and with what;
 * allocates from the top's pool and changes nothing else */
enum route_pre_result route_pre_check(const struct job *j,
                                      const struct router *r,
                                      struct route_pre *pre);

#endif
