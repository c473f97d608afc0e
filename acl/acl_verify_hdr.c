/*
 * acl_verify_hdr.c - verify = header_sender and verify = header_names_ascii
 *                    (Exim's), in the data ACL.
 *
 * PURPOSE: header_sender holds when at least one address of the Sender:,
 * Reply-To: or From: fields (in that order) verifies as a sender does:
 * the real router chain, one address after another on the loop. A
 * temporary failure with no success defers. header_names_ascii holds when
 * every field name is printable ASCII (33-126, no ':').
 * INTERFACE: acl_verify_header_sender, acl_verify_names_ascii.
 * SECURITY: the message is hostile: at most HS_MAX addresses of at most
 * 320 bytes are taken; the scan of names is bounded by the data length.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl/acl_impl.h"
#include "core/base/xalloc.h"
#include "core/mail/header.h"
#include "route/route_verify.h"

#define HS_MAX 8

struct hsv {
    struct acl_check *chk;
    struct route_verify *rv;
    char addr[HS_MAX][321];
    size_t n, next;
    int deferred;
    const char *why;            /* the last routing message */
};

/* One element of an address list: the <...> part, else the text without
 * (comments) and blanks; groups ("name:" ...) and empty ones give "". */
static void element(const char *s, size_t n, char *out, size_t size)
{
    const char *lt = memchr(s, '<', n), *gt;
    size_t k = 0;
    int depth = 0;

    out[0] = '\0';
    if (lt != NULL && (gt = memchr(lt, '>', n - (size_t)(lt - s))) != NULL) {
        s = lt + 1;
        n = (size_t)(gt - s);
    } else if (memchr(s, ':', n) != NULL) {
        return;
    }
    for (size_t i = 0; i < n && k + 1 < size; i++) {
        char c = s[i];
        depth += c == '(' ? 1 : c == ')' && depth > 0 ? -1 : 0;
        if (depth == 0 && c != ')' && c != ' ' && c != '\t' && c != '\r'
            && c != '\n')
            out[k++] = c;
    }
    out[k] = '\0';
}

static void collect(struct hsv *h, const char *v, size_t n)
{
    size_t start = 0;
    int quoted = 0, angle = 0;

    for (size_t i = 0; i <= n && h->n < HS_MAX; i++) {
        char c = i < n ? v[i] : ',';
        quoted = c == '"' ? !quoted : quoted;
        angle += !quoted && c == '<' ? 1 : !quoted && c == '>' && angle
                 ? -1 : 0;
        if (quoted || angle > 0 || c != ',')
            continue;
        element(v + start, i - start, h->addr[h->n], sizeof(h->addr[0]));
        if (h->addr[h->n][0] != '\0' && strchr(h->addr[h->n], '@') != NULL)
            h->n++;
        start = i + 1;
    }
}

static void hs_next(struct hsv *h);

static void hs_cb(enum verify_result r, const char *msg, void *arg)
{
    struct hsv *h = arg;
    struct acl_check *chk = h->chk;

    h->rv = NULL;
    if (r == VERIFY_OK) {
        chk->async = NULL;
        free(h);
        acl_cond_done(chk, C_YES);
        return;
    }
    h->deferred |= r == VERIFY_DEFERRED;
    if (msg != NULL)
        h->why = pool_strdup(chk->pool, msg);
    hs_next(h);
}

static void hs_cancel(void *arg)
{
    struct hsv *h = arg;

    route_verify_cancel(h->rv);
    free(h);
}

/* Verify the next address, or answer: none verified. */
static void hs_next(struct hsv *h)
{
    struct acl_check *chk = h->chk;
    struct acl_req *q = chk->req;

    if (h->next < h->n) {
        acl_trace(chk, "verify = header_sender: %s", h->addr[h->next]);
        h->rv = route_verify_start(q->conf, q->ev, q->dns, q->sender,
                                   q->client_ip, h->addr[h->next++], hs_cb,
                                   h);
        return;
    }
    enum cond_result r = h->deferred ? C_DEFER : C_NO;
    chk->cond_msg = h->deferred ? "a header sender address could not be "
                                  "verified now"
                    : h->why != NULL && h->n == 1 ? h->why
                    : "there is no valid sender in any header line";
    chk->async = NULL;
    free(h);
    acl_cond_done(chk, r);
}

/* acl_verify_header_sender - see acl_impl.h */
enum cond_result acl_verify_header_sender(struct acl_check *chk)
{
    static const char *const names[] = { "Sender", "Reply-To", "From" };
    struct hdr_list hl = { 0 };
    struct hsv *h;

    if (chk->req->data == NULL)
        return C_YES;
    h = xcalloc(1, sizeof(*h));
    h->chk = chk;
    if (hdr_parse(chk->req->data, chk->req->data_len, &hl, NULL) == 0) {
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < hl.n; i++)
                if (hl.f[i].name_len == strlen(names[k])
                    && strncasecmp(hl.f[i].name, names[k],
                                   hl.f[i].name_len) == 0)
                    collect(h, hl.f[i].value, hl.f[i].value_len);
        hdr_list_free(&hl);
    }
    if (h->n == 0) {
        free(h);
        chk->cond_msg = "there is no valid sender in any header line";
        return C_NO;
    }
    chk->async = h;
    chk->async_cancel = hs_cancel;
    h->chk = chk;
    hs_next(h);
    return C_PENDING;
}

/* acl_verify_names_ascii - see acl_impl.h */
enum cond_result acl_verify_names_ascii(struct acl_check *chk)
{
    const unsigned char *p = (const unsigned char *)chk->req->data;
    const unsigned char *end = p + chk->req->data_len;

    while (p != NULL && p < end && *p != '\r' && *p != '\n') {
        if (*p != ' ' && *p != '\t')
            for (; p < end && *p != ':' && *p != '\r' && *p != '\n'; p++)
                if (*p < 33 || *p > 126) {
                    chk->cond_msg = "a header name is not printable ASCII";
                    return C_NO;
                }
        p = memchr(p, '\n', (size_t)(end - p));
        p = p != NULL ? p + 1 : NULL;
    }
    return C_YES;
}
