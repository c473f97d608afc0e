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
 * INTERFACE: lco_start, lco_cancel, struct lco_result.
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

#endif
