/*
 * lcoro.h - running a configuration function as a coroutine on an event
 *           loop (STYLE §7): ACL functions and ACL conditions.
 *
 * The function gets a table describing the SMTP session; while it runs it
 * may call dns.a/aaaa/mx/txt/ptr(name), which yield: the worker serves
 * other sessions and the coroutine resumes with the answer. done() is
 * always called from the loop, never inside lco_start. lco_cancel (the
 * session closed) guarantees done() is never called and nothing resumes.
 *
 * It may also call acl.NAME(value), an ACL condition of the engine
 * (acl.dnslists("bl.example"), acl.spf("fail"), ...), which yields the
 * same way and gives true, false, or nil and the reason of a temporary
 * failure.
 *
 * INTERFACE: lco_start, lco_cancel, struct lco_result, lco_open_acl.
 * ERRORS: a script error, an exceeded budget (instructions or
 *         lua_time_limit) or a wrong return value give rc = -1 with
 *         "FILE:LINE: text" in res->message (for the log, not the client).
 *         A verdict (LCO_VERDICT) must be a verb table, a verb name or a
 *         boolean; a condition (LCO_CONDITION) may return anything.
 */
#ifndef TERN_LCORO_H
#define TERN_LCORO_H

struct lstate;
struct ev;
struct dns_ctx;
struct acl_req;

struct lco_result {
    int truthy;                 /* the first result's Lua truth */
    const char *verb;           /* a verb table's _verb, or a string */
    const char *message;        /* its message field (or the error) */
    const char *log_message;
    int code;                   /* its code field: 0 if none, -1 if it is
                                 * not a plain number */
};

typedef void (*lco_done_fn)(int rc, const struct lco_result *res, void *arg);

struct lco;

enum lco_kind { LCO_CONDITION, LCO_VERDICT };

struct lco *lco_start(struct lstate *ls, int fn, enum lco_kind kind,
                      const struct acl_req *req, struct ev *ev,
                      struct dns_ctx *dc, lco_done_fn done, void *arg);
void lco_cancel(struct lco *co);

/* What acl.NAME(value) runs: handed down by the ACL engine. */
typedef void (*lco_cond_cb)(void *arg, int truth, const char *why);
struct lco_cond_ops {
    const char *const *names;       /* the callable conditions */
    /* start - condition name = value on the session's request: the
     * operation (cb(arg, 1 true / 0 false / -1 deferred, why) is called
     * later from the loop, never inside start), or NULL with err set for
     * a value the condition refuses */
    void *(*start)(const struct acl_req *req, const char *name,
                   const char *value, lco_cond_cb cb, void *arg,
                   char *err, size_t errsize);
    void (*cancel)(void *op);       /* cb is never called after this */
};

/* lco_open_acl - put the table acl, with a function per ops->names, in
 * the sandbox environment at stack index env; it is left on the stack
 * (the loader makes it callable as the DSL's acl "hook" { ... }) */
void lco_open_acl(struct lstate *ls, int env, const struct lco_cond_ops *ops);

#endif
