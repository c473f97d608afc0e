/*
 * lcall.h - calling configuration functions (option values, conditions,
 *           Lua routers) with the variables of an address.
 *
 * The function gets one argument, a table with the fields of struct xvars
 * (addr.local_part, addr.domain, addr.home, ...). Each call runs under the
 * instruction budget and lua_time_limit, on a thread of its own, and its
 * result is copied with raw access inside the protected call (l_run.c).
 *
 * INTERFACE: lcall_value, lcall_truth, lcall_route.
 * ERRORS: LC_ERROR with "error in Lua function: FILE:LINE: msg" in eb (for
 *         a bad result, the line where the function is defined);
 *         LC_NEED_DNS when lookup.dnsdb needs an answer that is not cached
 *         yet (the queries were handed to lstate_set_dns's want function).
 */
#ifndef TERN_LCALL_H
#define TERN_LCALL_H

#include "core/base/errbuf.h"
#include "core/base/pool.h"
#include "core/conf/conf.h"
#include "core/mail/expand.h"

struct lstate;

enum { LC_OK = 0, LC_ERROR = -1, LC_NEED_DNS = -2 };

/* What a route function returned. */
struct lroute {
    const char *verdict;        /* accept pass decline fail defer redirect */
    const char *transport;
    struct strlist hosts;
    const char *message;
    const char *data;           /* redirect: "a, b" text form */
    struct strlist items;       /* redirect: table form */
    const char *address_data;
};

/* lcall_value - string result; nil/false give *out = NULL; a table of
 * strings is joined with newlines (redirect lists) */
int lcall_value(struct lstate *ls, int fn, const struct xvars *v,
                struct pool *p, const char **out, struct errbuf *eb);
/* lcall_truth - Lua truthiness of the result */
int lcall_truth(struct lstate *ls, int fn, const struct xvars *v, int *out,
                struct errbuf *eb);
int lcall_route(struct lstate *ls, int fn, const struct xvars *v,
                struct pool *p, struct lroute *out, struct errbuf *eb);
/* lcall_check_password - auth_check(user, password): *ok = its truth */
int lcall_check_password(struct lstate *ls, int fn, const char *user,
                         const char *password, int *ok, struct errbuf *eb);

#endif
