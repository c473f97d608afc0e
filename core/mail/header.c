/*
 * header.c - header section parsing and the trace fields tern generates.
 *
 * PURPOSE:   split a message's header section into fields without copying
 *            (for verify = header_syntax, header lookups and rewriting),
 *            and build Received:, Date: and Message-ID: values.
 * INTERFACE: hdr_parse, hdr_list_free, hdr_find, hdr_count, hdr_received,
 *            hdr_date, hdr_message_id (see header.h).
 * ERRORS:    hdr_parse returns -1 and a static reason; the builders cannot
 *            fail (strbuf growth failure is fatal()).
 * SECURITY:  the section is hostile network data: the parser never reads
 *            past len, bounds the field count and size, and rejects bare
 *            CR or LF so a field can never hide a second line. Text put
 *            into generated fields goes through put_clean(), which keeps
 *            no CR, LF, control or clause-breaking character.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/base/version.h"

#include "header.h"

/* the most bytes of one input-derived text in a generated field: with
 * these no line of a Received: field can pass RFC 5322's 998 */
#define HOST_MAX  255       /* HELO, host names */
#define ADDR_MAX 320        /* addresses, auth ids, local user names */
#define TOKEN_MAX 64        /* IP, protocol, TLS version and cipher, id */
#define FOLD_COL 78         /* RFC 5322 §2.1.1 recommended line length */

enum { CLEAN_ASCII = 0, CLEAN_8BIT = 1 };

/* set_why - report a parse error */
static int set_why(const char **why, const char *reason)
{
    if (why != NULL)
        *why = reason;
    return -1;
}

/* line_at - the line starting at pos: *end is where its text stops (the
 * CR of CRLF, or len), *next where the following line starts */
static int line_at(const char *msg, size_t len, size_t pos, size_t *end,
                   size_t *next, const char **why)
{
    const char *lf = memchr(msg + pos, '\n', len - pos);
    size_t stop;

    if (lf == NULL) {
        *end = *next = len;
        stop = len;
    } else {
        stop = (size_t)(lf - msg);
        if (stop == pos || msg[stop - 1] != '\r')
            return set_why(why, "bare LF in header section");
        *end = stop - 1;
        *next = stop + 1;
        stop--;
    }
    if (memchr(msg + pos, '\r', stop - pos) != NULL)
        return set_why(why, "bare CR in header section");
    return 0;
}

/* name_len_at - length of a field name ending in ':' at msg[pos..end),
 * or 0 when the line is not "name:" */
static size_t name_len_at(const char *msg, size_t pos, size_t end)
{
    size_t i;

    for (i = pos; i < end; i++) {
        unsigned char c = (unsigned char)msg[i];

        if (c == ':')
            return i - pos;
        if (c < 33 || c > 126)
            return 0;
    }
    return 0;
}

/* add_field - start a field for the line msg[pos..end) */
static int add_field(struct hdr_list *l, const char *msg, size_t pos,
                     size_t end, const char **why)
{
    size_t nlen = name_len_at(msg, pos, end);
    struct hdr_field *f;

    if (nlen == 0)
        return set_why(why, "malformed header line");
    if (l->n == HDR_FIELDS_MAX)
        return set_why(why, "too many header fields");
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->f = xreallocarray(l->f, l->cap, sizeof(*l->f));
    }
    f = &l->f[l->n++];
    f->name = msg + pos;
    f->name_len = nlen;
    f->value = msg + pos + nlen + 1;
    f->offset = pos;
    return 0;
}

/* end_line - extend the current field over its latest line */
static int end_line(struct hdr_list *l, const char *msg, size_t end,
                    size_t next, const char **why)
{
    struct hdr_field *f = &l->f[l->n - 1];

    f->value_len = (size_t)(msg + end - f->value);
    f->len = next - f->offset;
    if (f->len > HDR_FIELD_MAX)
        return set_why(why, "header field too long");
    return 0;
}

/* hdr_parse - fields of the header section at the start of msg */
int hdr_parse(const char *msg, size_t len, struct hdr_list *out,
              const char **why)
{
    size_t pos = 0, end, next;

    memset(out, 0, sizeof(*out));
    while (pos < len) {
        if (line_at(msg, len, pos, &end, &next, why) < 0)
            goto fail;
        if (end == pos) {               /* the empty line ends the section */
            pos = next;
            break;
        }
        if (msg[pos] == ' ' || msg[pos] == '\t') {
            if (out->n == 0) {
                set_why(why, "continuation line before the first field");
                goto fail;
            }
        } else if (add_field(out, msg, pos, end, why) < 0) {
            goto fail;
        }
        if (end_line(out, msg, end, next, why) < 0)
            goto fail;
        pos = next;
    }
    out->section_len = pos;
    return 0;
fail:
    hdr_list_free(out);
    return -1;
}

/* hdr_list_free - release the fields */
void hdr_list_free(struct hdr_list *l)
{
    if (l == NULL)
        return;
    free(l->f);
    memset(l, 0, sizeof(*l));
}

/* name_is - field f is called name (ASCII case-insensitive) */
static int name_is(const struct hdr_field *f, const char *name, size_t n)
{
    return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

/* hdr_find - first field called name */
const struct hdr_field *hdr_find(const struct hdr_list *l, const char *name)
{
    size_t i, n = strlen(name);

    for (i = 0; i < l->n; i++)
        if (name_is(&l->f[i], name, n))
            return &l->f[i];
    return NULL;
}

/* hdr_count - number of fields called name */
size_t hdr_count(const struct hdr_list *l, const char *name)
{
    size_t i, n = strlen(name), count = 0;

    for (i = 0; i < l->n; i++)
        if (name_is(&l->f[i], name, n))
            count++;
    return count;
}

/* given - s is set and not empty */
static int given(const char *s)
{
    return s != NULL && *s != '\0';
}

/* put_clean - append at most max bytes of s (NULL: nothing) with every
 * byte that could end a line, a comment or a clause replaced by '?' */
static void put_clean(struct strbuf *out, const char *s, size_t max,
                      int flags)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; s[i] != '\0' && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        int keep = (c > 32 && c < 127) || (c >= 128 && (flags & CLEAN_8BIT));

        if (keep && strchr("()\\;<>", c) != NULL)
            keep = 0;
        sb_putc(out, keep ? (char)c : '?');
    }
}

/* put_ip - an address literal: [192.0.2.1] or [IPv6:2001:db8::1] */
static void put_ip(struct strbuf *out, const char *ip)
{
    sb_puts(out, strchr(ip, ':') != NULL ? "[IPv6:" : "[");
    put_clean(out, ip, TOKEN_MAX, CLEAN_ASCII);
    sb_putc(out, ']');
}

/* put_remote_from - "from HELO (NAME [IP])" */
static void put_remote_from(struct strbuf *out, const struct hdr_received *r)
{
    sb_puts(out, "from ");
    if (given(r->helo))
        put_clean(out, r->helo, HOST_MAX, CLEAN_ASCII);
    else if (given(r->client_name))
        put_clean(out, r->client_name, HOST_MAX, CLEAN_ASCII);
    else
        put_ip(out, r->client_ip);
    sb_puts(out, " (");
    if (given(r->client_name)) {
        put_clean(out, r->client_name, HOST_MAX, CLEAN_ASCII);
        sb_putc(out, ' ');
    }
    put_ip(out, r->client_ip);
    sb_puts(out, ")\r\n\t");
}

/* put_by - "by PRIMARY with PROTO [(TLSVER) tls CIPHER] (tern VERSION)" */
static void put_by(struct strbuf *out, const struct hdr_received *r,
                   const char *proto)
{
    sb_puts(out, "by ");
    put_clean(out, given(r->by) ? r->by : "localhost", HOST_MAX,
              CLEAN_ASCII);
    if (given(proto)) {
        sb_puts(out, " with ");
        put_clean(out, proto, TOKEN_MAX, CLEAN_ASCII);
    }
    if (given(r->tls_cipher)) {
        if (given(r->tls_version)) {
            sb_puts(out, " (");
            put_clean(out, r->tls_version, TOKEN_MAX, CLEAN_ASCII);
            sb_putc(out, ')');
        }
        sb_puts(out, " tls ");
        put_clean(out, r->tls_cipher, TOKEN_MAX, CLEAN_ASCII);
        sb_puts(out, "\r\n\t(tern " TERN_VERSION ")");
    } else {
        sb_puts(out, " (tern " TERN_VERSION ")");
    }
}

/* put_comments - the authentication and envelope-from lines */
static void put_comments(struct strbuf *out, const struct hdr_received *r)
{
    if (given(r->auth_id)) {
        sb_puts(out, "\r\n\t(authenticated as ");
        put_clean(out, r->auth_id, ADDR_MAX, CLEAN_ASCII);
        sb_putc(out, ')');
    }
    if (r->sender != NULL) {
        sb_puts(out, "\r\n\t(envelope-from <");
        put_clean(out, r->sender, ADDR_MAX, CLEAN_8BIT);
        sb_puts(out, ">)");
    }
}

/* column - length of the last line of out */
static size_t column(const struct strbuf *out)
{
    const char *s = sb_str(out);
    size_t i = sb_len(out);

    while (i > 0 && s[i - 1] != '\n')
        i--;
    return sb_len(out) - i;
}

/* put_tail - "id ID", "for RCPT" and "; DATE", folded before the date when
 * the line would pass FOLD_COL */
static void put_tail(struct strbuf *out, const struct hdr_received *r)
{
    struct strbuf date;

    if (given(r->id)) {
        sb_puts(out, "\r\n\tid ");
        put_clean(out, r->id, TOKEN_MAX, CLEAN_ASCII);
    }
    if (given(r->for_rcpt)) {
        sb_puts(out, "\r\n\tfor ");
        put_clean(out, r->for_rcpt, ADDR_MAX, CLEAN_8BIT);
    }
    sb_init(&date);
    hdr_date(&date, r->when);
    if (column(out) + 2 + sb_len(&date) > FOLD_COL)
        sb_puts(out, ";\r\n\t");
    else
        sb_puts(out, "; ");
    sb_append(out, sb_str(&date), sb_len(&date));
    sb_puts(out, "\r\n");
    sb_free(&date);
}

/* hdr_received - append a Received: trace field */
void hdr_received(struct strbuf *out, const struct hdr_received *r)
{
    sb_puts(out, "Received: ");
    if (given(r->client_ip)) {
        put_remote_from(out, r);
        put_by(out, r, r->protocol);
    } else {
        if (given(r->local_user)) {
            sb_puts(out, "from ");
            put_clean(out, r->local_user, ADDR_MAX, CLEAN_ASCII);
            sb_putc(out, ' ');
        }
        put_by(out, r, given(r->protocol) ? r->protocol : "local");
    }
    put_comments(out, r);
    put_tail(out, r);
}

/* hdr_date - append an RFC 5322 date in local time */
void hdr_date(struct strbuf *out, long long when)
{
    static const char days[7][4] = {
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char months[12][4] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t t = (time_t)when;
    struct tm tm;
    long off;

    /* XXX a time localtime_r cannot convert (out of range) prints as the
     * epoch: a Date: must still be well formed */
    if ((long long)t != when || localtime_r(&t, &tm) == NULL) {
        t = 0;
        if (gmtime_r(&t, &tm) == NULL)
            return;
        tm.tm_gmtoff = 0;
    }
    off = tm.tm_gmtoff / 60;
    sb_printf(out, "%s, %02d %s %d %02d:%02d:%02d %c%02ld%02ld",
              days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
              off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
              (off < 0 ? -off : off) % 60);
}

/* hdr_message_id - append "<E" id "@" host ">" (DESIGN §10) */
void hdr_message_id(struct strbuf *out, const char *id,
                    const char *primary_hostname)
{
    sb_puts(out, "<E");
    put_clean(out, id, TOKEN_MAX, CLEAN_ASCII);
    sb_putc(out, '@');
    put_clean(out, primary_hostname, HOST_MAX, CLEAN_ASCII);
    sb_putc(out, '>');
}

static int name_listed(const char *names, const char *name, size_t len)
{
    while (*names != '\0') {
        size_t n = strcspn(names, ":");
        const char *b = names, *e = names + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - b) == len && strncasecmp(b, name, len) == 0)
            return 1;
        names += n + (names[n] == ':');
    }
    return 0;
}

/* hdr_remove - drop the named fields from the header section */
size_t hdr_remove(struct strbuf *msg, const char *names)
{
    struct hdr_list hl;
    const char *why;
    size_t removed = 0;

    if (hdr_parse(msg->data, msg->len, &hl, &why) != 0)
        return 0;
    for (size_t i = hl.n; i-- > 0;) {
        const struct hdr_field *f = &hl.f[i];
        if (!name_listed(names, f->name, f->name_len))
            continue;
        memmove(msg->data + f->offset, msg->data + f->offset + f->len,
                msg->len - f->offset - f->len);
        msg->len -= f->len;
        msg->data[msg->len] = '\0';
        removed += f->len;
    }
    hdr_list_free(&hl);
    return removed;
}

/* hdr_add_missing - Message-ID:, Date:, From: when the message lacks them */
void hdr_add_missing(struct strbuf *out, const char *msg, size_t len,
                     const char *id, const char *host, long long now,
                     const char *from, const char *display_name)
{
    struct hdr_list hl;
    const char *why;

    if (hdr_parse(msg, len, &hl, &why) != 0)
        hl.n = 0;
    if (hdr_find(&hl, "Message-ID") == NULL) {
        sb_puts(out, "Message-ID: ");
        hdr_message_id(out, id, host);
        sb_puts(out, "\r\n");
    }
    if (hdr_find(&hl, "Date") == NULL) {
        sb_puts(out, "Date: ");
        hdr_date(out, now);
        sb_puts(out, "\r\n");
    }
    if (hdr_find(&hl, "From") == NULL && from != NULL) {
        if (display_name != NULL && strpbrk(display_name, "\r\n<>\"") == NULL)
            sb_printf(out, "From: %s <%s>\r\n", display_name, from);
        else
            sb_printf(out, "From: %s\r\n", from);
    }
    hdr_list_free(&hl);
}

/* hdr_message_id_of - the trimmed Message-ID: value */
int hdr_message_id_of(const char *msg, size_t len, char *out, size_t size)
{
    struct hdr_list hl;
    const struct hdr_field *f;
    const char *why;
    int found = 0;

    if (hdr_parse(msg, len, &hl, &why) != 0)
        return 0;
    if ((f = hdr_find(&hl, "Message-ID")) != NULL) {
        size_t b = strspn(f->value, " \t"), n = f->value_len;
        while (n > b && strchr(" \t\r\n", f->value[n - 1]) != NULL)
            n--;
        if (n > b && n - b < size) {
            memcpy(out, f->value + b, n - b);
            out[n - b] = '\0';
            found = 1;
        }
    }
    hdr_list_free(&hl);
    return found;
}
