/*
 * acl_verify.c - the verify condition: recipient | sender | helo |
 *                reverse_host_lookup need the network, header_syntax
 *                reads the message (header_sender and header_names_ascii:
 *                acl_verify_hdr.c).
 *
 * PURPOSE: recipient and sender verification run the real router chain
 * (verify mode: verify_only routers included, verify = false ones
 * skipped) on the event loop with a fresh DNS cache; helo and reverse
 * lookup ask the resolver directly. All of them answer through
 * acl_cond_done; a temporary failure is C_DEFER (451), never "no". A
 * failed routing verification leaves its reason with the enhanced status
 * that says it (RFC 3463; fail_reason below) for a require that fails.
 * SECURITY: DNS answers are compared, never trusted as text in replies.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl/acl_impl.h"
#include "core/mail/address.h"
#include "core/base/ev.h"
#include "core/base/xalloc.h"
#include "core/conf/mlist.h"
#include "core/net/dns.h"
#include "core/mail/header.h"
#include "route/route_verify.h"

/* ---- routing: verify = recipient / sender ---- */

struct vroute {
    struct acl_check *chk;
    const char *addr;
    int rcpt;                   /* verifying the recipient (else sender) */
};

static int in_local_domains(struct acl_check *chk, const char *addr)
{
    const char *at = strrchr(addr, '@');
    struct errbuf eb;
    struct match_ctx mc = { .conf = chk->req->conf, .eb = &eb };

    return at != NULL && chk->req->conf->main.local_domains != NULL
           && mlist_match(chk->req->conf->main.local_domains, at + 1, &mc)
              == MATCH_YES;
}

/* Why routing failed, for the client and the reject log, with the
 * enhanced status of the reason (RFC 3463): a recipient in our own
 * domains that no router took is "<addr>: unknown user", 5.1.1 (logged
 * as Exim's "Unknown user", which fail2ban's exim filter knows); one a
 * router refused keeps the router's text (a :fail: alias), still 5.1.1;
 * a remote recipient that cannot be routed is a bad destination system,
 * 5.1.2; a sender, 5.1.7 in our domains, 5.1.8 elsewhere. */
static void fail_reason(struct vroute *vr, const char *msg)
{
    struct acl_check *chk = vr->chk;
    int local = in_local_domains(chk, vr->addr);
    int unrouteable = msg == NULL || strcmp(msg, "Unrouteable address") == 0;

    chk->cond_msg = pool_strdup(chk->pool, msg ? msg : "Unrouteable address");
    if (!vr->rcpt) {
        chk->cond_status = local ? "5.1.7" : "5.1.8";
        return;
    }
    chk->cond_status = local ? "5.1.1" : "5.1.2";
    if (local && unrouteable) {
        chk->cond_msg = pool_printf(chk->pool, "<%s>: unknown user",
                                    vr->addr);
        chk->cond_log = "Unknown user";
    }
}

static void verified(enum verify_result r, const char *msg, void *arg)
{
    struct vroute *vr = arg;
    struct acl_check *chk = vr->chk;

    chk->async = NULL;
    chk->async_cancel = NULL;
    if (r == VERIFY_FAILED)
        fail_reason(vr, msg);
    else if (msg != NULL)
        chk->cond_msg = pool_strdup(chk->pool, msg);
    acl_cond_done(chk, r == VERIFY_FAILED ? C_NO : r == VERIFY_DEFERRED
                       ? C_DEFER : C_YES);
}

static void verify_cancel(void *arg)
{
    route_verify_cancel(arg);
}

static enum cond_result verify_route(struct acl_check *chk, const char *addr,
                                     int rcpt)
{
    struct acl_req *q = chk->req;
    struct vroute *vr = pool_zalloc(chk->pool, sizeof(*vr));

    vr->chk = chk;
    vr->addr = addr;
    vr->rcpt = rcpt;
    chk->async = route_verify_start(q->conf, q->ev, q->dns, q->sender,
                                    q->client_ip, addr, verified, vr);
    chk->async_cancel = verify_cancel;
    return C_PENDING;
}

/* ---- DNS: helo, reverse_host_lookup ---- */

struct vdns {
    struct acl_check *chk;      /* NULL once cancelled */
    int outstanding;
    int found;                  /* an address matched */
    int tempfail;
    char names[4][256];         /* reverse lookup: PTR names to check */
    int nnames;
    const char *kind;
};

static void vdns_cancel(void *arg)
{
    ((struct vdns *)arg)->chk = NULL;     /* callbacks still arrive */
}

static void vdns_answered(struct vdns *v)
{
    struct acl_check *chk = v->chk;

    if (--v->outstanding > 0)
        return;
    if (chk == NULL) {
        free(v);
        return;
    }
    if (!v->found && v->tempfail)
        chk->cond_msg = pool_printf(chk->pool, "DNS lookup for %s failed "
                                    "temporarily", v->kind);
    else if (!v->found)
        chk->cond_msg = pool_printf(chk->pool, "%s verification failed",
                                    v->kind);
    enum cond_result r = v->found ? C_YES : v->tempfail ? C_DEFER : C_NO;
    free(v);
    acl_cond_done(chk, r);
}

static int same_ip(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    int fa = strchr(a, ':') ? AF_INET6 : AF_INET;
    int fb = strchr(b, ':') ? AF_INET6 : AF_INET;

    return fa == fb && inet_pton(fa, a, x) == 1 && inet_pton(fb, b, y) == 1
           && memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

static void addr_cb(const struct dns_answer *ans, void *arg)
{
    struct vdns *v = arg;

    if (v->chk != NULL) {
        for (size_t i = 0; ans->status == DNS_OK && i < ans->n; i++)
            v->found |= same_ip(ans->rr[i].data, v->chk->req->client_ip);
        v->tempfail |= ans->status == DNS_TEMPFAIL;
    }
    vdns_answered(v);
}

static void ask_addresses(struct vdns *v, const char *name)
{
    v->outstanding += 2;
    dns_query(v->chk->req->dns, DNS_T_A, name, addr_cb, v);
    dns_query(v->chk->req->dns, DNS_T_AAAA, name, addr_cb, v);
}

static enum cond_result start_vdns(struct acl_check *chk, struct vdns *v)
{
    chk->async = v;
    chk->async_cancel = vdns_cancel;
    return C_PENDING;
}

static enum cond_result verify_helo(struct acl_check *chk)
{
    const char *helo = chk->req->helo;
    size_t n = helo ? strlen(helo) : 0;
    struct vdns *v;

    if (chk->req->client_ip[0] == '\0')
        return C_YES;                   /* local submission */
    if (n > 2 && helo[0] == '[') {
        char ip[64];
        snprintf(ip, sizeof(ip), "%.*s", (int)(n - 2), helo + 1);
        const char *bare = strncasecmp(ip, "ipv6:", 5) == 0 ? ip + 5 : ip;
        return same_ip(bare, chk->req->client_ip) ? C_YES : C_NO;
    }
    if (n == 0 || chk->req->dns == NULL)
        return C_NO;
    v = xcalloc(1, sizeof(*v));
    v->chk = chk;
    v->kind = "HELO";
    ask_addresses(v, helo);
    return start_vdns(chk, v);
}

static void ptr_cb(const struct dns_answer *ans, void *arg)
{
    struct vdns *v = arg;

    if (v->chk != NULL && ans->status == DNS_OK) {
        for (size_t i = 0; i < ans->n && i < 4; i++) {
            snprintf(v->names[v->nnames++], sizeof(v->names[0]), "%s",
                     ans->rr[i].data);
            ask_addresses(v, ans->rr[i].data);
        }
    } else if (v->chk != NULL) {
        v->tempfail |= ans->status == DNS_TEMPFAIL;
    }
    vdns_answered(v);
}

static enum cond_result verify_reverse(struct acl_check *chk)
{
    struct vdns *v;

    if (chk->req->client_ip[0] == '\0')
        return C_YES;
    if (chk->req->dns == NULL)
        return C_DEFER;
    v = xcalloc(1, sizeof(*v));
    v->chk = chk;
    v->kind = "reverse host lookup";
    v->outstanding = 1;
    dns_query(chk->req->dns, DNS_T_PTR, chk->req->client_ip, ptr_cb, v);
    return start_vdns(chk, v);
}

/* ---- header syntax ---- */

static int address_list_ok(const char *v, size_t n)
{
    char item[600];
    size_t start = 0;
    int quoted = 0, angle = 0;

    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? v[i] : ',';
        quoted = c == '"' ? !quoted : quoted;
        angle += !quoted && c == '<' ? 1 : !quoted && c == '>' ? -1 : 0;
        if (quoted || angle > 0 || c != ',')
            continue;
        size_t len = i - start;
        if (len >= sizeof(item))
            return 0;
        memcpy(item, v + start, len);
        item[len] = '\0';
        start = i + 1;
        char *lt = strchr(item, '<'), *gt = strrchr(item, '>');
        char *a = lt && gt > lt ? (*gt = '\0', lt + 1) : item;
        a += strspn(a, " \t\r\n");
        size_t al = strcspn(a, " \t\r\n");
        struct addr_parsed ap;
        const char *err;
        if (al == 0 && lt == NULL && strchr(item, ':') == NULL
            && strspn(item, " \t\r\n") == strlen(item))
            continue;                   /* empty element */
        if (strchr(item, ':') && lt == NULL)
            continue;                   /* a group "name: ...;" */
        if (addr_parse(a, al, ADDR_UTF8 | ADDR_ALLOW_NULL, &ap, &err) != 0)
            return 0;
    }
    return !quoted && angle == 0;
}

static enum cond_result verify_header_syntax(struct acl_check *chk)
{
    static const char *const names[] = { "From", "Sender", "Reply-To", "To",
                                         "Cc", "Bcc", NULL };
    struct hdr_list hl = { 0 };
    const char *why;
    enum cond_result r = C_YES;

    if (chk->req->data == NULL)
        return C_YES;
    if (hdr_parse(chk->req->data, chk->req->data_len, &hl, &why) != 0) {
        chk->cond_msg = pool_printf(chk->pool, "header syntax: %s", why);
        return C_NO;
    }
    for (size_t i = 0; i < hl.n && r == C_YES; i++)
        for (int k = 0; names[k] != NULL; k++)
            if (hl.f[i].name_len == strlen(names[k])
                && strncasecmp(hl.f[i].name, names[k], hl.f[i].name_len) == 0
                && !address_list_ok(hl.f[i].value, hl.f[i].value_len)) {
                chk->cond_msg = pool_printf(chk->pool, "syntax error in "
                                            "'%s:' header", names[k]);
                r = C_NO;
            }
    hdr_list_free(&hl);
    return r;
}

/* acl_verify - one verify kind ("recipient", "sender/callout", ...) */
enum cond_result acl_verify(struct acl_check *chk, const char *what)
{
    size_t n = strcspn(what, "/=");
    const struct acl_req *q = chk->req;

    if (strncmp(what, "recipient", n) == 0 && n == 9)
        return q->rcpt ? verify_route(chk, q->rcpt, 1) : C_YES;
    if (strncmp(what, "sender", n) == 0 && n == 6)
        return q->sender && q->sender[0] ? verify_route(chk, q->sender, 0)
                                         : C_YES;
    if (strncmp(what, "helo", n) == 0 && n == 4)
        return verify_helo(chk);
    if (strncmp(what, "reverse_host_lookup", n) == 0)
        return verify_reverse(chk);
    if (strncmp(what, "header_sender", n) == 0 && n == 13)
        return acl_verify_header_sender(chk);
    if (strncmp(what, "header_names_ascii", n) == 0 && n == 18)
        return acl_verify_names_ascii(chk);
    return verify_header_syntax(chk);
}
