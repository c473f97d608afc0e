/*
 * tp_local.c - helpers the local transports share (see tp_local.h):
 *              option expansion per recipient, the LF copy of a message,
 *              signal handling around writes.
 *
 * The copy is built in memory: local deliveries need its size before
 * writing (maildir ,S= and quota) and an mbox append is one write that is
 * rolled back as a whole. Messages are bounded by message_size_limit.
 */
#include <errno.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "core/mail/expand.h"
#include "core/spool/spool.h"
#include "lua/lcall.h"
#include "transports/tp_local.h"

/* tp_expand - the value of x for recipient r (NULL if unset) */
int tp_expand(const struct dlv_batch *b, const struct dlv_rcpt *r,
              const struct xval *x, struct pool *p, const char **out,
              struct errbuf *eb)
{
    struct xvars v;

    *out = NULL;
    dlv_xvars(b, r, &v);
    if (x->fn >= 0) {
        int rc = lcall_value(b->conf->lua, x->fn, &v, p, out, eb);
        if (rc == LC_NEED_DNS)
            errbuf_set(eb, "Lua function needs DNS at delivery time");
        return rc == LC_OK ? 0 : -1;
    }
    if (x->str == NULL)
        return 0;
    return expand_string(x->str, &v, p, out, eb) == 0 ? 0 : -1;
}

static int is_from_line(const char *p, size_t n)
{
    while (n > 0 && *p == '>') {
        p++;
        n--;
    }
    return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* tp_lf_append - append p[0..n) with CRLF turned into LF; with mboxrd, a
 * line matching ">*From " gets one more '>' */
void tp_lf_append(struct strbuf *out, const char *p, size_t n, int mboxrd)
{
    const char *end = p + n;

    sb_reserve(out, n + n / 64);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

        if (mboxrd && is_from_line(p, len))
            sb_putc(out, '>');
        if (nl != NULL && len > 0 && p[len - 1] == '\r')
            sb_append(out, p, len - 1);
        else
            sb_append(out, p, len);
        if (nl == NULL)
            break;
        sb_putc(out, '\n');
        p = nl + 1;
    }
}

/* tp_copy - header section for r, blank line, body: LF line ends */
void tp_copy(const struct dlv_batch *b, const struct dlv_rcpt *r,
             int mboxrd, struct strbuf *out)
{
    struct strbuf h;
    size_t body;

    sb_init(&h);
    dlv_headers(b, r, &h, &body);
    tp_lf_append(out, sb_str(&h), sb_len(&h), mboxrd);
    sb_free(&h);
    sb_putc(out, '\n');
    tp_lf_append(out, b->msg->data + body, b->msg->len - body, mboxrd);
}

/* tp_sig_ignore - ignore sig (EPIPE/EFBIG instead of death) */
void tp_sig_ignore(int sig, struct sigaction *old)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, old) != 0)
        memset(old, 0, sizeof(*old));     /* SIG_DFL */
}

/* tp_sig_restore - put back what tp_sig_ignore replaced */
void tp_sig_restore(int sig, const struct sigaction *old)
{
    (void)sigaction(sig, old, NULL);
}

/* tp_each_file - one copy per pending recipient */
void tp_each_file(struct transport *t, struct dlv_batch *b, tp_one_fn fn)
{
    struct pool *p = pool_new();
    struct sigaction old;

    tp_sig_ignore(SIGXFSZ, &old);
    for (size_t i = 0; i < b->nrcpt; i++)
        if (b->rcpts[i].status == DLV_PENDING)
            fn(t, b, &b->rcpts[i], p);
    tp_sig_restore(SIGXFSZ, &old);
    pool_free(p);
}

/* tp_errtype - the retry error type of a write error */
const char *tp_errtype(int err)
{
    return err == EDQUOT ? "quota" : "";
}
