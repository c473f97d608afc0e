/*
 * lcoro_impl.h - private to the ACL coroutines (l_coro.c) and the calls
 *                that make them wait: dns.* (l_coro_dns.c) and acl.*
 *                conditions (l_coro_acl.c).
 *
 * A call that waits sets co->waiting and co->wait_cancel, starts its
 * operation and yields with a continuation; when the operation answers it
 * clears co->waiting, leaves the answer where its continuation finds it
 * and calls lco_wake. lco_cancel calls wait_cancel(waiting), which must
 * make sure the operation never calls back into this lco.
 */
#ifndef TERN_LCORO_IMPL_H
#define TERN_LCORO_IMPL_H

#include "lua/lcoro.h"
#include "lua/lstate_impl.h"

struct dns_answer;

struct lco {
    struct lrun run;            /* the thread and its budget */
    enum lco_kind kind;
    const struct acl_req *req;  /* the session's request: valid until
                                   done is called or the lco cancelled */
    struct ev *ev;
    struct dns_ctx *dc;
    lco_done_fn done;
    void *arg;
    void *waiting;              /* the operation the thread waits for */
    void (*wait_cancel)(void *waiting);
    const struct dns_answer *answer;    /* dns.*: during the resume */
    int cond_truth;             /* acl.*: the answer, during the resume */
    const char *cond_why;
    int vars_ref;               /* registry ref of session.vars */
    struct ev_timer *timer;     /* delivers the result */
    int rc;
    struct lco_result res;
    char *strings[3];           /* copies backing res */
    char *notes;                /* for the watchdog: session and step
                                   (NULL when no watchdog listens; the
                                   script's file:line is l_run.c's) */
};

/* lco_running - the lco whose own thread is L, or NULL (a coroutine the
 * script made, a routing function, a conf.d file) */
struct lco *lco_running(lua_State *L);
/* lco_wake - resume the thread after its operation answered */
void lco_wake(struct lco *co);
/* lco_refresh_vars - session.vars again from the request, inside the
 * thread (an acl.* condition left its results there) */
void lco_refresh_vars(lua_State *L, struct lco *co);

#endif
