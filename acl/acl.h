/*
 * acl.h - ACL statements: the conditions and modifiers a verb may carry
 *         (DESIGN §7). The engine that runs them at SMTP time arrives with
 *         the SMTP server; definitions are parsed and checked now.
 */
#ifndef TERN_ACL_H
#define TERN_ACL_H

#include <regex.h>

#include "core/conf/conf.h"

struct grey_opts;

struct dnsbl_item;
struct acl_def;

/* The conditions, in the order a statement evaluates them (acl_cond.c).
 * The option rows (acl_conf.c) and the evaluation steps both name them,
 * so a leading '!' ("!verify" = ...) negates any condition by its id. */
enum acl_cond_id {
    ACL_CID_HOSTS, ACL_CID_DOMAINS, ACL_CID_LOCAL_PARTS, ACL_CID_SENDERS,
    ACL_CID_RECIPIENTS, ACL_CID_AUTHENTICATED, ACL_CID_ENCRYPTED,
    ACL_CID_REGEX, ACL_CID_MIME_REGEX, ACL_CID_VERIFY, ACL_CID_ACL,
    ACL_CID_DNSLISTS, ACL_CID_SPF, ACL_CID_SPF_GUESS, ACL_CID_CONDITION, ACL_CID_RATELIMIT,
    ACL_CID_GREYLIST, ACL_CID_COUNT
};

struct acl_fields {
    /* conditions */
    struct mlist *hosts;
    struct mlist *domains;
    struct mlist *local_parts;
    struct mlist *senders;
    struct mlist *recipients;
    struct mlist *authenticated;
    struct mlist *encrypted;
    struct strlist verify;
    struct strlist dnslists;
    const char *ratelimit;
    struct xval greylist;       /* a string, or true (Lua boolean) */
    struct grey_opts *greylist_opts;    /* parsed at load time */
    struct strlist spf;
    struct strlist spf_guess;
    struct strlist regex;
    struct strlist mime_regex;
    regex_t **regex_re;         /* compiled at load time (acl_stmt_check) */
    regex_t **mime_regex_re;
    struct xval condition;
    const char *acl;            /* acl = name: call a named ACL */
    unsigned negated;           /* bit 1u << acl_cond_id: written "!name" */
    unsigned given;             /* conditions written, plain or negated */
    /* filled at load time (acl_stmt_check, acl_conf_link) */
    struct dnsbl_item *dnsl;    /* dnslists items, options applied */
    size_t ndnsl;
    const struct acl_def *acl_def;
    /* modifiers */
    long code;                  /* reply code for the verb, 0 = default */
    struct xval message;
    struct xval log_message;
    struct strlist add_header;
    struct strlist remove_header;
    struct strlist set;
    long delay;
    struct strlist control;
};

/* acl_lua_cond_ops - what a Lua ACL function's acl.NAME(value) runs
 * (acl_luacall.c; the loader hands it to lua/lcoro.h) */
struct lco_cond_ops;
const struct lco_cond_ops *acl_lua_cond_ops(void);

#endif
