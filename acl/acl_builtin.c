/*
 * acl_builtin.c - the policy applied when no ACL is configured for a hook
 *                 (DESIGN §7): never an open relay.
 *
 * PURPOSE: RCPT is accepted for local submission (no client host), for
 * clients in +relay_from_hosts and for authenticated clients, as in
 * Exim's default configuration; for anyone else only to +local_domains
 * and +relay_to_domains (local parts with '@', '%', '!', '/' or '|', or
 * starting with '.', are refused there) when the recipient verifies (the
 * router chain, on the loop): an unknown user in our domains gets "550
 * 5.1.1 <addr>: unknown user" (acl_verify.c says why and with which
 * status), a temporary failure 451; every other recipient gets "550
 * 5.7.1 relay not permitted". Every other hook accepts.
 */
#include <string.h>

#include "acl/acl_impl.h"
#include "core/conf/mlist.h"

static int listed(struct acl_check *chk, const struct mlist *l,
                  const char *subject, enum acl_verdict *defer)
{
    struct errbuf eb;
    struct match_ctx mc = { .conf = chk->req->conf, .eb = &eb,
                            .host_name = chk->req->client_name };
    enum match_result m;

    if (l == NULL || subject == NULL)
        return 0;
    errbuf_clear(&eb);
    m = mlist_match(l, subject, &mc);
    if (m == MATCH_DEFER) {     /* why (a file, an error) is for the log */
        *defer = ACL_DEFER;
        if (chk->res.log_message == NULL && eb.msg[0] != '\0')
            chk->res.log_message = pool_strdup(chk->pool, eb.msg);
    }
    return m == MATCH_YES;
}

static int restricted(const char *rcpt, const char *at)
{
    size_t n = (size_t)(at - rcpt);

    return rcpt[0] == '.' || memchr(rcpt, '@', n) || memchr(rcpt, '%', n)
           || memchr(rcpt, '!', n) || memchr(rcpt, '/', n)
           || memchr(rcpt, '|', n);
}

/* acl_builtin_done - the recipient verification answered */
void acl_builtin_done(struct acl_check *chk, enum cond_result r)
{
    if (r == C_YES) {
        acl_finish(chk, ACL_ACCEPT, NULL);
    } else if (r == C_NO) {             /* unknown user: 550 5.1.1 */
        chk->res.status = chk->cond_status;
        chk->res.log_message = chk->cond_log;
        acl_finish(chk, ACL_DENY, chk->cond_msg);
    } else {                            /* why is for the log only */
        acl_internal_error(chk, 0, chk->cond_msg ? chk->cond_msg
                                   : "recipient verification deferred");
        acl_finish(chk, ACL_DEFER, NULL);
    }
}

static void verify_rcpt(struct acl_check *chk)
{
    enum cond_result r = acl_verify(chk, "recipient");

    if (r != C_PENDING)
        acl_builtin_done(chk, r);
}

static void builtin_rcpt(struct acl_check *chk)
{
    const struct acl_req *q = chk->req;
    const struct conf_main *m = &q->conf->main;
    const char *at = q->rcpt ? strrchr(q->rcpt, '@') : NULL;
    enum acl_verdict defer = ACL_ACCEPT;

    if (q->client_ip[0] == '\0' || q->auth_id != NULL
        || listed(chk, m->relay_from_hosts, q->client_ip, &defer)) {
        acl_finish(chk, ACL_ACCEPT, NULL);
        return;
    }
    if (at != NULL && (listed(chk, m->local_domains, at + 1, &defer)
                       || listed(chk, m->relay_to_domains, at + 1, &defer))) {
        if (restricted(q->rcpt, at))
            acl_finish(chk, ACL_DENY, "restricted characters in address");
        else
            verify_rcpt(chk);
        return;
    }
    if (defer == ACL_DEFER)
        acl_finish(chk, ACL_DEFER, "temporary failure checking the relay "
                   "policy");
    else
        acl_finish(chk, ACL_DENY, "relay not permitted");
}

/* acl_builtin - the default policy for chk's hook */
void acl_builtin(struct acl_check *chk)
{
    if (strcmp(chk->req->hook, "rcpt") == 0)
        builtin_rcpt(chk);
    else
        acl_finish(chk, ACL_ACCEPT, NULL);
}
