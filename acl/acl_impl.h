/*
 * acl_impl.h - private to the ACL engine (acl_run.c, acl_cond.c,
 *              acl_verify.c, acl_builtin.c).
 *
 * A check walks the statements of one ACL. Each statement's conditions are
 * evaluated in a fixed order; a condition answers yes, no, defer, or
 * "pending" (it started something asynchronous and will call
 * acl_cond_done later). Verbs act as in Exim: the first decisive verb
 * ends the check; reaching the end denies.
 */
#ifndef TERN_ACL_IMPL_H
#define TERN_ACL_IMPL_H

#include "acl/acl.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/conf/policy.h"

enum cond_result { C_NO = 0, C_YES = 1, C_DEFER = -1, C_PENDING = -2 };

struct acl_check {
    struct acl_req *req;
    acl_done_fn done;
    void *arg;
    const struct acl_def *def;      /* NULL: the built-in policy */
    size_t stmt;                    /* statement being evaluated */
    int cond;                       /* next condition of the statement */
    struct pool *pool;
    struct acl_result res;
    struct strbuf headers;          /* add_header results */
    const char *cond_msg;           /* why the last condition failed */
    const char *lua_error;          /* a message function failed: 451 */
    struct ev_timer *timer;         /* delay, or the final callback */
    void *async;                    /* a pending condition's state */
    void (*async_cancel)(void *async);
    int finished;
};

/* acl_cond.c: evaluate condition number *idx of statement f, advancing
 * *idx; returns C_YES when all are true, C_NO/C_DEFER at the first that
 * is not, or C_PENDING */
enum cond_result acl_conditions(struct acl_check *chk,
                                const struct acl_fields *f, int *idx);
/* a pending condition finished */
void acl_cond_done(struct acl_check *chk, enum cond_result r);

/* acl_verify.c: verify = recipient/sender/helo/header_syntax/
 * reverse_host_lookup, and dnslists */
enum cond_result acl_verify(struct acl_check *chk, const char *what);
enum cond_result acl_dnslists(struct acl_check *chk,
                              const struct strlist *zones);

/* acl_spf.c: spf = pass : fail : ... (true if the SPF result is listed);
 * guess: spf_guess, the main option's record for domains without one */
enum cond_result acl_spf(struct acl_check *chk, const struct strlist *want,
                         int guess);

/* acl_lua.c: Lua functions as ACLs and conditions, run as coroutines */
void acl_run_function(struct acl_check *chk);
enum cond_result acl_lua_condition(struct acl_check *chk, int fn);

/* acl_builtin.c: the policy when no ACL is configured for the hook */
void acl_builtin(struct acl_check *chk);

/* acl_code.c: reply codes from the configuration (see there) */
size_t acl_code_prefix(const char *text, int *code, char status[16]);
int acl_code_check(enum acl_verdict v, int code, const char *status,
                   char *why, size_t size);

/* acl_run.c */
void acl_finish(struct acl_check *chk, enum acl_verdict v, const char *msg);
/* acl_internal_error - the check failed for a local reason (a script or
 * lookup error, a bad reply code): the verdict becomes defer, the client
 * gets "451 4.3.0 Temporary local problem", never the reason; why goes to
 * the logs as log_message and, with panic, to the panic log with the
 * file:line of the statement or ACL function. Call acl_finish after. */
void acl_internal_error(struct acl_check *chk, int panic, const char *why);
void acl_trace(struct acl_check *chk, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *acl_expand(struct acl_check *chk, const struct xval *x);
struct xvars;
/* acl_xvars - fill v with the check's variables ($sender_address, ...,
 * $acl_c_*, $acl_m_*, the results conditions left: acl_var_set) */
void acl_xvars(struct acl_check *chk, struct xvars *v);

#endif
