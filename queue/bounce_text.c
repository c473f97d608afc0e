/*
 * bounce_text.c - part 1 of a bounce or delay warning: the text for
 *                 people, in Exim's wording, lines wrapped at 78 columns
 *                 where the words allow, CRLF line ends.
 *
 * INTERFACE: bn_text (bounce_impl.h).
 * ERRORS:    none: strbuf growth failure is fatal().
 * SECURITY:  reasons, replies, the original's Subject: and Date: are
 *            hostile: they go through bn_clean (one line, printable
 *            ASCII, cut), addresses keep their 8-bit bytes only (the
 *            part is then labelled utf-8 by bounce.c).
 */
#include <string.h>

#include "core/base/strbuf.h"
#include "core/mail/header.h"
#include "core/spool/spool.h"

#include "queue/bounce.h"
#include "queue/bounce_impl.h"

#define SUBJECT_MAX 200         /* the original's Subject: / Date: text */

static const char intro[] =
    "This message was created automatically by mail delivery software.\r\n";

static const char failed_head[] =
    "\r\n"
    "A message that you sent could not be delivered to one or more of its\r\n"
    "recipients. This is a permanent error. The following address(es) "
    "failed:\r\n";

static const char no_action[] =
    "No action is required on your part. Delivery attempts will continue "
    "for\r\nsome time, and this warning may be repeated at intervals if the "
    "message\r\nremains undelivered. Eventually the mail delivery software "
    "will give up,\r\nand when that happens, the message will be returned "
    "to you.\r\n";

static int given(const char *s)
{
    return s != NULL && *s != '\0';
}

/* put_wrapped - text cleaned (flags) as lines of at most BN_WIDTH columns
 * where the words allow: the first starts with lead, the others with
 * indent; ends with CRLF */
static void put_wrapped(struct strbuf *out, const char *lead,
                        const char *indent, const char *text, int flags)
{
    struct strbuf t;
    const char *p;
    size_t col = strlen(lead);
    int bol = 1;                /* no word on this line yet */

    sb_init(&t);
    bn_clean(&t, text, BN_LINE_MAX, flags);
    sb_puts(out, lead);
    for (p = sb_str(&t); *p != '\0';) {
        size_t w = strcspn(p, " ");

        if (!bol && col + 1 + w > BN_WIDTH) {
            sb_printf(out, "\r\n%s", indent);
            col = strlen(indent);
            bol = 1;
        }
        if (!bol) {
            sb_putc(out, ' ');
            col++;
        }
        sb_append(out, p, w);
        col += w;
        bol = 0;
        p += w + (p[w] == ' ');
    }
    sb_puts(out, "\r\n");
    sb_free(&t);
}

/* put_address - "  ADDR" and "    (generated from TOP)" */
static void put_address(struct strbuf *out, const struct bounce_rcpt *r)
{
    struct strbuf g;

    sb_puts(out, "  ");
    bn_clean(out, r->address, BN_ADDR_MAX, BN_8BIT);
    sb_puts(out, "\r\n");
    if (!given(r->top) || (r->address != NULL && !strcmp(r->top, r->address)))
        return;
    sb_init(&g);
    sb_puts(&g, "(generated from ");
    bn_clean(&g, r->top, BN_ADDR_MAX, BN_8BIT);
    sb_putc(&g, ')');
    put_wrapped(out, "    ", "    ", sb_str(&g), BN_8BIT);
    sb_free(&g);
}

/* put_failure - one failed address: host, reason, reply */
static void put_failure(struct strbuf *out, const struct bounce_rcpt *r)
{
    put_address(out, r);
    if (given(r->host) && given(r->reply)) {
        sb_puts(out, "    host ");
        bn_clean(out, r->host, BN_HOST_MAX, BN_HOST);
        sb_puts(out, "\r\n");
    }
    if (given(r->reason))
        put_wrapped(out, "    ", "    ", r->reason, BN_ASCII);
    if (given(r->reply) && (!given(r->reason) || strcmp(r->reply, r->reason)))
        put_wrapped(out, "    ", "    ", r->reply, BN_ASCII);
    if (!given(r->reason) && !given(r->reply))
        sb_puts(out, "    (no reason given)\r\n");
}

/* body_len - bytes of the original after its header section and blank
 * line */
static size_t body_len(const struct bn_job *j)
{
    size_t rest = j->msg->len - j->header_len;

    if (rest >= 2 && j->msg->data[j->header_len] == '\r'
        && j->msg->data[j->header_len + 1] == '\n')
        rest -= 2;
    return rest;
}

/* put_copy_line - what part 3 holds, as Exim says it */
static void put_copy_line(struct strbuf *out, const struct bn_job *j)
{
    sb_puts(out, "\r\n");
    if (!j->headers_only) {
        sb_puts(out, "------ This is a copy of the message, including all "
                "the headers. ------\r\n");
        return;
    }
    sb_puts(out, "------ This is a copy of the message's headers. ------\r\n");
    if (j->warning)
        return;
    sb_printf(out, "------ The body of the message is %zu characters long; "
              "it is not\r\n------ included here.\r\n", body_len(j));
}

/* bounce_text - the failure report */
static void bounce_text(struct strbuf *out, const struct bn_job *j)
{
    sb_puts(out, intro);
    sb_puts(out, failed_head);
    for (size_t i = 0; i < j->n; i++) {
        sb_puts(out, "\r\n");
        put_failure(out, &j->r[i]);
    }
    put_copy_line(out, j);
}

/* put_orig_field - "LEAD VALUE" for the original's field name, if it has
 * one and the header section parses */
static void put_orig_field(struct strbuf *out, const struct bn_job *j,
                           const char *lead, const char *name)
{
    struct hdr_list hl;
    const struct hdr_field *f;
    struct strbuf raw, v;
    const char *why;

    if (hdr_parse(j->msg->data, j->header_len, &hl, &why) != 0)
        return;
    if ((f = hdr_find(&hl, name)) != NULL) {
        sb_init(&raw);
        sb_init(&v);
        sb_append(&raw, f->value, f->value_len);
        sb_truncate(&raw, strnlen(sb_str(&raw), sb_len(&raw)));
        bn_clean(&v, sb_str(&raw), SUBJECT_MAX, BN_ASCII);
        put_wrapped(out, lead, "    ", sb_str(&v), BN_ASCII);
        sb_free(&raw);
        sb_free(&v);
    }
    hdr_list_free(&hl);
}

/* put_delayed - one delayed address and its reason */
static void put_delayed(struct strbuf *out, const struct bounce_rcpt *r)
{
    put_address(out, r);
    if (given(r->reason) || given(r->reply))
        put_wrapped(out, "    Delay reason: ", "    ",
                    given(r->reason) ? r->reason : r->reply, BN_ASCII);
}

/* put_warning_head - the paragraph naming the delay, and the message */
static void put_warning_head(struct strbuf *out, const struct bn_job *j)
{
    struct strbuf p;

    sb_init(&p);
    sb_printf(&p, "A message that you sent has not yet been delivered to "
              "one or more of its recipients after more than %s on the "
              "queue on %s.", j->delay, j->primary);
    sb_puts(out, intro);
    put_wrapped(out, "", "", sb_str(&p), BN_ASCII);
    sb_free(&p);
    sb_puts(out, "\r\nThe message identifier is:     ");
    bn_clean(out, j->msg->env.id, BN_TOKEN_MAX, BN_ASCII);
    sb_puts(out, "\r\n");
    put_orig_field(out, j, "The subject of the message is: ", "Subject");
    put_orig_field(out, j, "The date of the message is:    ", "Date");
}

/* warning_text - the delay warning */
static void warning_text(struct strbuf *out, const struct bn_job *j)
{
    put_warning_head(out, j);
    sb_puts(out, j->n > 1
            ? "\r\nThe addresses to which the message has not yet been "
              "delivered are:\r\n"
            : "\r\nThe address to which the message has not yet been "
              "delivered is:\r\n");
    for (size_t i = 0; i < j->n; i++) {
        sb_puts(out, "\r\n");
        put_delayed(out, &j->r[i]);
    }
    sb_puts(out, "\r\n");
    sb_puts(out, no_action);
    put_copy_line(out, j);
}

/* bn_text - part 1 of a bounce (j->warning 0) or a warning */
void bn_text(struct strbuf *out, const struct bn_job *j)
{
    if (j->warning)
        warning_text(out, j);
    else
        bounce_text(out, j);
}
