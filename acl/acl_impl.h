/*
 * acl_impl.h - private to the ACL engine (acl_run.c, acl_cond.c,
 *              acl_verify.c, acl_verify_hdr.c, acl_dnslists.c, acl_call.c,
 *              acl_builtin.c, acl_lua.c).
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
    const char *cond_status;        /* its enhanced status (verify), or NULL */
    const char *cond_log;           /* its reject-log text, or NULL */
    const char *reason;             /* the statement's message when it has
                                     * none: a negated condition's failure
                                     * (deny !verify = recipient), a called
                                     * ACL's message */
    int cond_id;                    /* enum acl_cond_id of the step that is
                                     * pending (its negation is applied
                                     * when it answers) */
    int depth;                      /* acl = NAME nesting, 0 at the hook */
    const char *dflt_msg;           /* defer's message unless message= is
                                     * set (greylist), for this statement */
    const char *lua_error;          /* a message function failed: 451 */
    struct ev_timer *timer;         /* delay, or the final callback */
    void *async;                    /* a pending condition's state */
    void (*async_cancel)(void *async);
    void *rate_cmd;                 /* ratelimit: rates of this command */
    int finished;
};

/* acl_cond.c: evaluate condition number *idx of statement f, advancing
 * *idx; returns C_YES when all are true, C_NO/C_DEFER at the first that
 * is not, or C_PENDING */
enum cond_result acl_conditions(struct acl_check *chk,
                                const struct acl_fields *f, int *idx);
/* a pending condition finished */
void acl_cond_done(struct acl_check *chk, enum cond_result r);
/* acl_cond_negate - r of condition id as the statement wrote it: a '!'
 * turns yes into no and no into yes; defer stays defer (as Exim) */
enum cond_result acl_cond_negate(struct acl_check *chk,
                                 const struct acl_fields *f, int id,
                                 enum cond_result r);

/* acl_verify.c: verify = recipient/sender/helo/header_syntax/
 * reverse_host_lookup/header_sender/header_names_ascii */
enum cond_result acl_verify(struct acl_check *chk, const char *what);
/* acl_verify_hdr.c: verify = header_sender, header_names_ascii */
enum cond_result acl_verify_header_sender(struct acl_check *chk);
enum cond_result acl_verify_names_ascii(struct acl_check *chk);

/* acl_dnslists.c: dnslists = LIST; the items are parsed at load time */
int acl_dnslists_prepare(struct conf *c, struct acl_fields *f,
                         struct errbuf *eb);
enum cond_result acl_dnslists(struct acl_check *chk,
                              const struct acl_fields *f);

/* acl_call.c: acl = NAME, a named ACL as a condition */
enum cond_result acl_call(struct acl_check *chk, const struct acl_fields *f);

/* acl_ratelimit.c: the ratelimit condition. A value is parsed for its
 * hook (Exim's rules of which per_* options count where); loading: at
 * load time, where $variables in LIMIT, PERIOD and count= are accepted
 * unchecked (they are checked after expansion, at each use). */
enum rl_count { RL_COUNT_ONE, RL_COUNT_FIXED, RL_COUNT_RCPTS,
                RL_COUNT_BYTES };
enum rl_cache { RL_CACHE_CMD, RL_CACHE_MAIL, RL_CACHE_CONN };
struct rl_spec {
    const char *limit_s, *period_s;     /* as written */
    double limit, period, count;
    const char *per;                    /* "per_mail", ... for the key */
    enum rl_count count_from;
    enum rl_cache cache;                /* a rate is computed once per */
    int leaky, strict, readonly, noupdate, badacl;
    int unique_addr;                    /* per_addr: the recipient */
    const char *unique;                 /* unique=, or NULL */
    const char *key;                    /* NULL: $sender_host_address */
};
int acl_ratelimit_parse(struct pool *pool, const char *value,
                        const char *hook, int loading, struct rl_spec *s,
                        struct errbuf *eb);
enum cond_result acl_ratelimit(struct acl_check *chk, const char *value);

/* acl_greylist.c: greylist = true | delay=5m/...; the value (constant)
 * is checked and parsed with the main options at load time into *out, in
 * c's pool, so a check does no parsing */
enum cond_result acl_greylist(struct acl_check *chk,
                              const struct grey_opts *o);
int acl_greylist_check(struct conf *c, const struct xval *value,
                       struct grey_opts **out, struct errbuf *eb);

/* acl_spf.c: spf = pass : fail : ... (true if the SPF result is listed);
 * guess: spf_guess, the main option's record for domains without one */
enum cond_result acl_spf(struct acl_check *chk, const struct strlist *want,
                         int guess);

/* acl_lua.c: Lua functions as ACLs and conditions, run as coroutines */
void acl_run_function(struct acl_check *chk);
enum cond_result acl_lua_condition(struct acl_check *chk, int fn);

/* acl_builtin.c: the policy when no ACL is configured for the hook;
 * acl_builtin_done: its pending verification answered */
void acl_builtin(struct acl_check *chk);
void acl_builtin_done(struct acl_check *chk, enum cond_result r);

/* acl_code.c: reply codes from the configuration (see there) */
size_t acl_code_prefix(const char *text, int *code, char status[16]);
int acl_code_check(enum acl_verdict v, int code, const char *status,
                   char *why, size_t size);

/* acl_run.c */
#define ACL_MAX_DEPTH 20            /* acl = NAME nesting, as Exim */
/* acl_check_def - run ACL def for req as a nested check (acl = NAME):
 * done is called later from the loop; acl_cancel stops it */
struct acl_check *acl_check_def(struct acl_req *req, const struct acl_def *def,
                                int depth, acl_done_fn done, void *arg);
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
