/*
 * rt_redirect.h - parsing redirection data (alias values, :include:
 *                 files, .forward files) into children, shared by the
 *                 redirect, catch_all and lua routers.
 *
 * Items are separated by commas or newlines; '#' starts a comment line;
 * an item may be a quoted string. Special items:
 *   :fail: TEXT      the address fails with TEXT (needs allow_fail)
 *   :defer: TEXT     the address is deferred (needs allow_defer)
 *   :blackhole:      the item is dropped; nothing left = discarded
 * Data that yields nothing at all (only comments, or only syntax errors
 * with skip_syntax_errors) declines.
 *   :include:PATH    the items of a file (not with forbid_include; under
 *                    include_directory when that is set)
 *   |COMMAND         a pipe, delivered by pipe_transport
 *   /PATH            a file, delivered by file_transport
 *   \user            an address (the backslash is dropped)
 * Other items are addresses; a bare local part is qualified.
 *
 * INTERFACE: rt_redirect_expand.
 * ERRORS: the verdict is FAIL/DEFER with res->message naming the problem.
 */
#ifndef TERN_RT_REDIRECT_H
#define TERN_RT_REDIRECT_H

#include "routers/router.h"

struct redirect_policy {
    int allow_fail;
    int allow_defer;
    int forbid_pipe;
    int forbid_file;
    int forbid_include;
    int forbid_blackhole;
    int skip_syntax_errors;
    int check_ancestor;
    const char *include_directory;
    struct transport *pipe_transport;
    struct transport *file_transport;
    const char *qualify_domain;     /* for bare local parts */
};

/* rt_redirect_expand - turn data into res->children; RV_REDIRECT, or
 * RV_FAIL / RV_DEFER with res->message */
enum route_verdict rt_redirect_expand(struct route_req *req,
                                      struct route_res *res,
                                      const struct redirect_policy *pol,
                                      const char *data);

#endif
