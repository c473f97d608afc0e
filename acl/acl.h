/*
 * acl.h - ACL statements: the conditions and modifiers a verb may carry
 *         (DESIGN §7). The engine that runs them at SMTP time arrives with
 *         the SMTP server; definitions are parsed and checked now.
 */
#ifndef TERN_ACL_H
#define TERN_ACL_H

#include <regex.h>

#include "core/conf/conf.h"

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
    const char *greylist;
    struct strlist spf;
    struct strlist spf_guess;
    struct strlist regex;
    struct strlist mime_regex;
    regex_t **regex_re;         /* compiled at load time (acl_stmt_check) */
    regex_t **mime_regex_re;
    struct xval condition;
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

#endif
