/*
 * bounce_dsn.c - the message/delivery-status part of a bounce or delay
 *                warning (RFC 3464), the status code of a reply (RFC
 *                3463) and the cleaning of hostile text for both.
 *
 * INTERFACE: bounce_status_of (bounce.h); bn_clean, bn_is_utf8, bn_dsn
 *            (bounce_impl.h).
 * ERRORS:    none: the builders cannot fail (strbuf growth is fatal()).
 * SECURITY:  reasons, replies, host names and addresses come from remote
 *            servers, local users or the network: every one goes through
 *            bn_clean (no CR, LF or control byte survives, lengths are
 *            cut), so no field can gain a line; long Diagnostic-Code
 *            values are folded at blanks so lines stay near 78 octets and
 *            far below 998. Addresses that are not ASCII are written as
 *            RFC 6533 utf-8-addr-xtext, keeping this part 7-bit.
 */
#include <string.h>

#include "core/base/strbuf.h"
#include "core/base/utf8.h"
#include "core/mail/header.h"
#include "core/spool/spool.h"

#include "queue/bounce.h"
#include "queue/bounce_impl.h"

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* clean_char - what byte c becomes in a cleaned text */
static char clean_char(unsigned char c, int flags)
{
    if (flags & BN_HOST)
        return is_alnum(c) || strchr("-._:[]", c) != NULL ? (char)c : '?';
    if (c >= 0x80)
        return (flags & BN_8BIT) ? (char)c : '?';
    return (char)c;
}

/* bn_clean - append s as one safe line (see bounce_impl.h) */
void bn_clean(struct strbuf *out, const char *s, size_t max, int flags)
{
    size_t n = 0;
    int blank = 1;              /* the last byte put was a blank (or none) */

    if (s == NULL)
        return;
    for (; *s != '\0' && n < max; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c <= ' ' || c == 0x7f) && !(flags & BN_HOST)) {
            if (!blank) {
                sb_putc(out, ' ');
                n++;
                blank = 1;
            }
            continue;
        }
        sb_putc(out, clean_char(c, flags));
        n++;
        blank = 0;
    }
    /* XXX a cut may split a UTF-8 sequence of an over-long address: it is
     * invalid already (over 512 bytes), and xtext writes it as U+FFFD */
    if (n > 0 && blank)
        sb_truncate(out, sb_len(out) - 1);
}

/* bn_is_utf8 - s holds a byte >= 0x80 */
int bn_is_utf8(const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

/* enhanced_at - length of an RFC 3463 code "c.sss.ddd" at p, ended by a
 * blank or the end of the string, else 0 */
static size_t enhanced_at(const char *p)
{
    size_t i = 2;

    if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    for (int part = 0; part < 2; part++) {
        size_t d = 0;

        while (d < 3 && is_digit(p[i])) {
            d++;
            i++;
        }
        if (d == 0 || is_digit(p[i]))
            return 0;
        if (part == 0 && p[i++] != '.')
            return 0;
    }
    return p[i] == '\0' || p[i] == ' ' || p[i] == '\t' || p[i] == '\r'
           || p[i] == '\n' ? i : 0;
}

/* reply_code - the 3-digit code starting a reply ("550 x", "452-x",
 * "421"), else 0 */
static int reply_code(const char *p)
{
    if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
        return 0;
    if (p[3] != '\0' && p[3] != ' ' && p[3] != '-')
        return 0;
    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* bounce_status_of - the enhanced status of a reply, else by its class */
void bounce_status_of(const char *reply, int code, int permanent,
                      char *out, size_t size)
{
    const char *p = reply != NULL ? reply : "";
    int rc = reply_code(p);
    size_t n;
    char cls;

    if (rc != 0)
        p += 3 + (p[3] != '\0');
    p += strspn(p, " \t");
    if (code == 0)
        code = rc;
    n = enhanced_at(p);
    if (code >= 400 && code < 600)
        cls = (char)('0' + code / 100);     /* the reply's class wins */
    else if (n > 0 && p[0] != '2')
        cls = p[0];
    else
        cls = permanent ? '5' : '4';
    if (size == 0)
        return;
    if (n > 0 && bsnprintf(out, size, "%c%.*s", cls, (int)(n - 1), p + 1) >= 0)
        return;
    if (bsnprintf(out, size, "%c.0.0", cls) < 0)
        out[0] = '\0';
}

/* utf8_cp - the code point of the valid sequence p[0..k) */
static unsigned long utf8_cp(const unsigned char *p, size_t k)
{
    static const unsigned char lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
    unsigned long cp = p[0] & lead_mask[k];

    for (size_t i = 1; i < k; i++)
        cp = (cp << 6) | (p[i] & 0x3f);
    return cp;
}

/* put_xtext - an address as RFC 6533 utf-8-addr-xtext: "+", "=", "\",
 * blanks and every non-ASCII character as \x{HEX}; a byte that starts no
 * valid UTF-8 sequence as \x{FFFD}. An encoding grows up to 8 times: it
 * is cut at BN_LINE_MAX octets so the field stays under 998. */
static void put_xtext(struct strbuf *out, const char *a)
{
    const unsigned char *p = (const unsigned char *)a;
    size_t n = strlen(a), start = sb_len(out);

    while (n > 0 && sb_len(out) - start + 10 <= BN_LINE_MAX) {
        size_t k = utf8_seq(p, n);
        unsigned long cp = k > 0 ? utf8_cp(p, k) : 0xFFFD;

        if (k == 0)
            k = 1;
        if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' && cp != '\\')
            sb_putc(out, (char)cp);
        else
            sb_printf(out, "\\x{%02lX}", cp);
        p += k;
        n -= k;
    }
}

/* put_addr_field - "NAME: rfc822; ADDR" or "NAME: utf-8; XTEXT" */
static void put_addr_field(struct strbuf *out, const char *name,
                           const char *addr)
{
    struct strbuf a;

    sb_init(&a);
    bn_clean(&a, addr, BN_ADDR_MAX, BN_8BIT);
    if (bn_is_utf8(sb_str(&a))) {
        sb_printf(out, "%s: utf-8; ", name);
        put_xtext(out, sb_str(&a));
    } else {
        sb_printf(out, "%s: rfc822; %s", name, sb_str(&a));
    }
    sb_puts(out, "\r\n");
    sb_free(&a);
}

/* put_folded - "PREFIX TEXT" (PREFIX ends in a blank) with TEXT cleaned, folded before a blank
 * when a line would pass BN_WIDTH */
static void put_folded(struct strbuf *out, const char *prefix,
                       const char *text)
{
    struct strbuf t;
    const char *p;
    size_t col = strlen(prefix);

    sb_init(&t);
    bn_clean(&t, text, BN_LINE_MAX, BN_ASCII);
    sb_puts(out, prefix);
    for (p = sb_str(&t); *p != '\0';) {
        size_t w = strcspn(p, " ");

        if (p != sb_str(&t)) {
            if (col + 1 + w > BN_WIDTH) {
                sb_puts(out, "\r\n");
                col = 0;
            }
            sb_putc(out, ' ');
            col++;
        }
        sb_append(out, p, w);
        col += w;
        p += w + (p[w] == ' ');
    }
    sb_puts(out, "\r\n");
    sb_free(&t);
}

/* given - s is set and not empty */
static int given(const char *s)
{
    return s != NULL && *s != '\0';
}

/* put_status - "Status: X.Y.Z" from the reply (or the reason) */
static void put_status(struct strbuf *out, const struct bn_job *j,
                       const struct bounce_rcpt *r)
{
    char st[32];

    bounce_status_of(given(r->reply) ? r->reply : r->reason, r->code,
                     !j->warning, st, sizeof(st));
    if (j->warning)
        st[0] = '4';            /* Action: delayed is a 4.x.x */
    sb_printf(out, "Status: %s\r\n", st);
}

/* put_rcpt - one per-recipient group */
static void put_rcpt(struct strbuf *out, const struct bn_job *j,
                     const struct bounce_rcpt *r)
{
    struct strbuf h;

    if (given(r->top) && (r->address == NULL || strcmp(r->top, r->address)))
        put_addr_field(out, "Original-Recipient", r->top);
    put_addr_field(out, "Final-Recipient", r->address);
    sb_printf(out, "Action: %s\r\n", j->warning ? "delayed" : "failed");
    put_status(out, j, r);
    sb_init(&h);
    bn_clean(&h, r->host, BN_HOST_MAX, BN_HOST);
    if (sb_len(&h) > 0)
        sb_printf(out, "Remote-MTA: dns; %s\r\n", sb_str(&h));
    sb_free(&h);
    if (given(r->reply))
        put_folded(out, "Diagnostic-Code: smtp; ", r->reply);
    else if (given(r->reason))
        put_folded(out, "X-tern-Diagnostic: X-str; ", r->reason);
    if (!j->warning) {
        sb_puts(out, "Last-Attempt-Date: ");
        hdr_date(out, j->now);
        sb_puts(out, "\r\n");
    }
}

/* bn_dsn - the per-message fields, then one group per recipient */
void bn_dsn(struct strbuf *out, const struct bn_job *j)
{
    sb_printf(out, "Reporting-MTA: dns; %s\r\n", j->primary);
    sb_puts(out, "X-tern-Queue-ID: ");
    bn_clean(out, j->msg->env.id, BN_TOKEN_MAX, BN_ASCII);
    sb_puts(out, "\r\nArrival-Date: ");
    hdr_date(out, j->msg->env.received_sec);
    sb_puts(out, "\r\n");
    for (size_t i = 0; i < j->n; i++) {
        sb_puts(out, "\r\n");
        put_rcpt(out, j, &j->r[i]);
    }
}
