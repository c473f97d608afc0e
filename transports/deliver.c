/*
 * deliver.c - helpers every transport shares: settling a recipient's
 *             result, the header section a copy is written with, and the
 *             expansion variables of a recipient (contract in deliver.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base/strbuf.h"
#include "transports/deliver.h"
#include "core/mail/expand.h"
#include "core/mail/header.h"
#include "core/spool/spool.h"

static void set_v(struct dlv_rcpt *r, enum dlv_status st, int code,
                  const char *errtype, const char *fmt, va_list ap)
{
    r->status = st;
    r->code = code;
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    for (char *p = r->msg; *p != '\0'; p++)
        if ((unsigned char)*p < 32 || *p == 127)
            *p = ' ';
    snprintf(r->errtype, sizeof(r->errtype), "%s",
             errtype != NULL ? errtype : "");
}

/* dlv_set - settle one recipient */
void dlv_set(struct dlv_rcpt *r, enum dlv_status st, int code,
             const char *errtype, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_v(r, st, code, errtype, fmt, ap);
    va_end(ap);
}

/* dlv_set_all - settle every recipient still pending */
void dlv_set_all(struct dlv_batch *b, enum dlv_status st, int code,
                 const char *errtype, const char *fmt, ...)
{
    va_list ap;

    for (size_t i = 0; i < b->nrcpt; i++) {
        if (b->rcpts[i].status != DLV_PENDING)
            continue;
        va_start(ap, fmt);
        set_v(&b->rcpts[i], st, code, errtype, fmt, ap);
        va_end(ap);
    }
}

/* dlv_host_port - the port host i is reached on */
int dlv_host_port(const struct dlv_batch *b, size_t i)
{
    if (i < b->nhosts && b->hosts[i].port > 0)
        return b->hosts[i].port;
    return b->default_port > 0 ? b->default_port : 25;
}

static int removed(const struct transport *t, const struct hdr_field *f)
{
    for (size_t i = 0; i < t->headers_remove.n; i++) {
        const char *n = t->headers_remove.v[i];
        if (strlen(n) == f->name_len && strncasecmp(n, f->name,
                                                     f->name_len) == 0)
            return 1;
    }
    return 0;
}

static void envelope_to(const struct dlv_batch *b, const struct dlv_rcpt *r,
                        struct strbuf *out)
{
    sb_puts(out, "Envelope-to: ");
    if (r != NULL) {
        sb_puts(out, r->top);
    } else {
        for (size_t i = 0; i < b->nrcpt; i++)
            sb_printf(out, "%s%s", i ? ",\r\n\t" : "", b->rcpts[i].top);
    }
    sb_puts(out, "\r\n");
}

static void added_headers(const struct dlv_batch *b, const struct dlv_rcpt *r,
                          struct strbuf *out)
{
    const struct transport *t = b->tp;

    if (t->return_path_add)
        sb_printf(out, "Return-path: <%s>\r\n", b->return_path);
    if (r != NULL && t->drv->local)
        sb_printf(out, "Delivered-To: %s\r\n", r->address);
    if (t->envelope_to_add)
        envelope_to(b, r, out);
    if (t->delivery_date_add) {
        sb_puts(out, "Delivery-date: ");
        hdr_date(out, (long long)time(NULL));
        sb_puts(out, "\r\n");
    }
    for (size_t i = 0; i < t->headers_add.n; i++) {
        const char *h = t->headers_add.v[i];
        size_t n = strlen(h);
        sb_puts(out, h);
        if (n < 2 || strcmp(h + n - 2, "\r\n") != 0)
            sb_puts(out, "\r\n");
    }
}

/* dlv_headers - the header section of the copy for r (see deliver.h) */
void dlv_headers(const struct dlv_batch *b, const struct dlv_rcpt *r,
                 struct strbuf *out, size_t *body)
{
    const struct spool_msg *m = b->msg;
    struct hdr_list hl;

    added_headers(b, r, out);
    if (hdr_parse(m->data, m->len, &hl, NULL) != 0) {
        /* a header section that does not parse (local submission may
         * carry one): copy it as it is, up to the empty line */
        const char *end = memmem(m->data, m->len, "\r\n\r\n", 4);
        size_t n = end != NULL ? (size_t)(end - m->data) + 2 : m->len;
        sb_append(out, m->data, n);
        *body = end != NULL ? n + 2 : m->len;
        return;
    }
    for (size_t i = 0; i < hl.n; i++)
        if (!removed(b->tp, &hl.f[i]))
            sb_append(out, m->data + hl.f[i].offset, hl.f[i].len);
    *body = hl.section_len <= m->len ? hl.section_len : m->len;
    hdr_list_free(&hl);
}

/* dlv_xvars - the variables of recipient r */
void dlv_xvars(const struct dlv_batch *b, const struct dlv_rcpt *r,
               struct xvars *v)
{
    const struct conf_main *mc = &b->conf->main;

    memset(v, 0, sizeof(*v));
    v->local_part = r->local_part;
    v->domain = r->domain;
    v->address = r->address;
    v->local_part_prefix = r->prefix != NULL ? r->prefix : "";
    v->local_part_suffix = r->suffix != NULL ? r->suffix : "";
    v->original_local_part = r->local_part;
    v->original_domain = r->domain;
    v->parent_address = r->top;
    v->home = r->home != NULL ? r->home : "";
    v->address_data = r->address_data != NULL ? r->address_data : "";
    v->sender_address = b->msg->env.sender;
    v->sender_host_address = b->msg->env.client_ip;
    v->primary_hostname = mc->primary_hostname;
    v->qualify_domain = mc->qualify_domain;
    v->router_name = r->router != NULL ? r->router->name : "";
}
