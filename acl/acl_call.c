/*
 * acl_call.c - the acl = NAME condition: run the named ACL (acl "NAME" {
 *              ... }) as a nested check and take its verdict as the
 *              condition's answer, as Exim does.
 *
 * PURPOSE: accept (and discard) is true, deny and drop are false, defer
 * defers. The called ACL's message becomes the statement's when it has
 * none of its own (require acl = x answers with x's deny message); its
 * add_header lines are kept; its set acl_c_/acl_m_ variables are the
 * session's already. Nesting is bounded by ACL_MAX_DEPTH (20, as Exim):
 * deeper, the condition defers and the panic log says where.
 * INTERFACE: acl_call (one step of acl_cond.c).
 */
#include "acl/acl_impl.h"
#include "core/base/strbuf.h"
#include "core/mail/logfile.h"

static void cancel_cb(void *arg)
{
    acl_cancel(arg);
}

static void called(const struct acl_result *res, void *arg)
{
    struct acl_check *chk = arg;
    enum cond_result r;

    if (res->add_headers != NULL)
        sb_append(&chk->headers, sb_str(res->add_headers),
                  sb_len(res->add_headers));
    switch (res->verdict) {
    case ACL_ACCEPT:
    case ACL_DISCARD: r = C_YES; break;
    case ACL_DEFER: r = C_DEFER; break;
    default: r = C_NO; break;
    }
    if (res->message != NULL && !res->internal) {
        chk->cond_msg = pool_strdup(chk->pool, res->message);
        if (r == C_YES)
            chk->reason = chk->cond_msg;
    } else if (r == C_DEFER) {
        chk->cond_msg = res->log_message != NULL
                        ? pool_strdup(chk->pool, res->log_message)
                        : "the called ACL deferred";
    }
    acl_cond_done(chk, r);
}

/* acl_call - acl = NAME; see acl_impl.h */
enum cond_result acl_call(struct acl_check *chk, const struct acl_fields *f)
{
    if (f->acl == NULL)
        return C_YES;
    if (f->acl_def == NULL || chk->depth >= ACL_MAX_DEPTH) {
        chk->cond_msg = pool_printf(chk->pool, "acl = %s: %s", f->acl,
                                    f->acl_def == NULL ? "not linked"
                                    : "ACLs nested more than 20 deep");
        log_panic("%s ACL: %s", chk->req->hook, chk->cond_msg);
        return C_DEFER;
    }
    acl_trace(chk, "calling ACL \"%s\"", f->acl);
    chk->async = acl_check_def(chk->req, f->acl_def, chk->depth + 1, called,
                               chk);
    chk->async_cancel = cancel_cb;
    return C_PENDING;
}
