/*
 * expand.h - the variables of an address or session, and ${var} expansion
 *            of option strings.
 *
 * Options that may differ per address take a string with Exim-style
 * variables ("$home/Maildir", "${local_part}@${domain}") or a Lua function
 * that gets the same variables as a table. There is no expansion language
 * beyond variable substitution: logic belongs in Lua.
 *
 * INTERFACE: struct xvars, xvars_get (by name), xvars_names, expand_string,
 *            expand_check, expand_is_more_name.
 * ERRORS: expand_string returns -1 with eb for an unknown variable or an
 *         unterminated "${"; "$$" is a literal dollar.
 */
#ifndef TERN_EXPAND_H
#define TERN_EXPAND_H

#include "core/base/errbuf.h"
#include "core/base/pool.h"

struct xvars {
    const char *local_part;
    const char *domain;
    const char *address;            /* local_part@domain */
    const char *local_part_prefix;
    const char *local_part_suffix;
    const char *original_local_part;/* of the address routing started with */
    const char *original_domain;
    const char *parent_address;     /* the address it was redirected from */
    const char *home;
    const char *address_data;
    const char *sender_address;
    const char *sender_host_address;
    const char *primary_hostname;
    const char *qualify_domain;
    const char *router_name;
    const char *authenticated_id;   /* the SMTP client's AUTH id */
    /* names beyond the fixed ones: the session's acl_c_* and acl_m_*
     * variables and what ACL conditions found ($dnslist_domain,
     * $spf_result, $sender_rate, ... listed in expand.c). more() returns
     * the value or NULL when unset; with more NULL they expand empty. */
    const char *(*more)(const void *ctx, const char *name, size_t len);
    const void *more_ctx;
};

/* xvars_get - value of a variable by name; NULL if unknown, "" if unset */
const char *xvars_get(const struct xvars *v, const char *name, int *known);
/* xvars_names - NULL-terminated list of the variable names */
const char *const *xvars_names(void);
int expand_string(const char *s, const struct xvars *v, struct pool *p,
                  const char **out, struct errbuf *eb);
/* expand_is_more_name - 1 if name (len bytes) is one of the names served
 * by xvars.more: acl_c_NAME, acl_m_NAME or a condition's result */
int expand_is_more_name(const char *name, size_t len);
/* expand_check - syntax check at load time (unknown names, bad "${") */
int expand_check(const char *s, struct errbuf *eb);

#endif
