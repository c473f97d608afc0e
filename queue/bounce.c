/*
 * bounce.c - build a bounce or a delay warning as a complete RFC 3464
 *            multipart/report message (see bounce.h for its content).
 *
 * PURPOSE:   the header section, the choice of the MIME boundary and the
 *            assembly of the three parts; part 1 is written by
 *            bounce_text.c, part 2 by bounce_dsn.c.
 * INTERFACE: bounce_build, warning_build, bounce_is_8bit (bounce.h);
 *            bn_header_len, bn_boundary (bounce_impl.h).
 * ERRORS:    none: the builders cannot fail (strbuf growth is fatal()).
 * SECURITY:  the original message, its Message-ID and the sender address
 *            are hostile: generated fields only take cleaned text (no CR,
 *            LF, control bytes; cut); the Message-ID is copied only when
 *            it is one "<...>" token of printable ASCII; the boundary is
 *            checked against the original and the two generated parts
 *            and changed until it occurs in none of them.
 */
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/mail/header.h"
#include "core/spool/spool.h"

#include "queue/bounce.h"
#include "queue/bounce_impl.h"

#define MSGID_MAX 250           /* a Message-ID copied to References: */
#define BOUNDARY_TRIES 1000

static const char preamble[] =
    "This is a MIME-formatted message.  If you see this text it means "
    "that your\r\nemail software does not support MIME-formatted "
    "messages.\r\n";

/* bn_header_len - the header section of data (bounce_impl.h) */
size_t bn_header_len(const char *data, size_t len)
{
    const char *end;
    size_t n;

    if (data == NULL || (len >= 2 && data[0] == '\r' && data[1] == '\n'))
        return 0;
    end = memmem(data, len, "\r\n\r\n", 4);
    n = end != NULL ? (size_t)(end - data) + 2 : len;
    if (n > BN_HEADERS_MAX) {
        n = BN_HEADERS_MAX;
        while (n > 0 && data[n - 1] != '\n')
            n--;
    }
    return n;
}

/* found_in - b occurs in one of the n texts */
static int found_in(const char *b, size_t blen, const char *const *texts,
                    const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (texts[i] != NULL && memmem(texts[i], lens[i], b, blen) != NULL)
            return 1;
    return 0;
}

/* bn_boundary - base, or base "_" N for the first N that occurs in none
 * of the texts (bounce_impl.h) */
void bn_boundary(struct strbuf *out, const char *base,
                 const char *const *texts, const size_t *lens, size_t n)
{
    size_t start = sb_len(out);

    sb_puts(out, base);
    for (unsigned i = 1; i < BOUNDARY_TRIES; i++) {
        if (!found_in(sb_str(out) + start, sb_len(out) - start, texts, lens,
                      n))
            return;
        sb_truncate(out, start);
        sb_printf(out, "%s_%u", base, i);
    }
    /* XXX not reachable without guessing 64 random bits 1000 times; the
     * last candidate is kept rather than looping forever */
}

/* random64 - 64 unpredictable bits, or time and pid mixed when the kernel
 * gives none (the boundary is then only checked, not secret) */
static unsigned long long random64(void)
{
    unsigned long long r = 0;
    struct timespec ts;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        ts.tv_nsec = 0;
    return ((unsigned long long)ts.tv_nsec << 20) ^ (unsigned long long)getpid()
           ^ (unsigned long long)ts.tv_sec * 0x9E3779B97F4A7C15ULL;
}

/* put_boundary_base - "=_tern_ID_TIME_RANDOM": only alphanumerics, '-'
 * and '_' from the id (RFC 2046 bchars), at most 70 with a suffix */
static void put_boundary_base(struct strbuf *b, const char *id, long long now)
{
    sb_puts(b, "=_tern_");
    for (size_t i = 0; id != NULL && id[i] != '\0' && i < MSGID_LEN; i++) {
        char c = id[i];

        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
            || (c >= 'A' && c <= 'Z') || c == '-')
            sb_putc(b, c);
    }
    sb_printf(b, "_%llx_%016llx", (unsigned long long)now, random64());
}

/* orig_msgid - the original's Message-ID when it is one clean "<...>"
 * token, into out; 1 if there is one */
static int orig_msgid(const struct spool_msg *m, size_t hlen, char *out,
                      size_t size)
{
    char v[1024];
    const char *lt, *gt;

    if (!hdr_message_id_of(m->data, hlen, v, sizeof(v)))
        return 0;
    if ((lt = strchr(v, '<')) == NULL || (gt = strchr(lt, '>')) == NULL
        || gt - lt < 2 || (size_t)(gt - lt) > MSGID_MAX || (size_t)(gt - lt) >= size)
        return 0;
    for (const char *p = lt + 1; p < gt; p++)
        if (*p <= ' ' || *p > '~' || *p == '<')
            return 0;
    memcpy(out, lt, (size_t)(gt - lt) + 1);
    out[gt - lt + 1] = '\0';
    return 1;
}

/* put_to - "To: <SENDER>": cleaned, no angle brackets inside */
static void put_to(struct strbuf *out, const char *to)
{
    size_t start;

    sb_puts(out, "To: <");
    start = sb_len(out);
    bn_clean(out, to, BN_ADDR_MAX, BN_8BIT);
    for (size_t i = start; i < sb_len(out); i++)
        if (out->data[i] == '<' || out->data[i] == '>')
            out->data[i] = '?';
    sb_puts(out, ">\r\n");
}

/* put_headers - the header section of the report, up to its blank line */
static void put_headers(struct strbuf *out, const struct bn_job *j,
                        const char *to, const char *id, const char *subject,
                        const char *boundary)
{
    char mid[MSGID_MAX + 2];

    sb_printf(out, "From: Mail Delivery System <Mailer-Daemon@%s>\r\n",
              j->primary);
    put_to(out, to);
    sb_printf(out, "Subject: %s\r\n", subject);
    if (orig_msgid(j->msg, j->header_len, mid, sizeof(mid)))
        sb_printf(out, "References: %s\r\nIn-Reply-To: %s\r\n", mid, mid);
    sb_puts(out, "Auto-Submitted: auto-replied\r\nMessage-ID: ");
    hdr_message_id(out, id, j->primary);
    sb_puts(out, "\r\nDate: ");
    hdr_date(out, j->now);
    sb_printf(out, "\r\nMIME-Version: 1.0\r\n"
              "Content-Type: multipart/report; report-type=delivery-status;"
              "\r\n\tboundary=\"%s\"\r\n\r\n", boundary);
}

/* has_8bit - p[0..n) holds a byte >= 0x80 */
static int has_8bit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 1;
    return 0;
}

/* put_part - a delimiter, the part's header fields, a blank line, the
 * content (the next delimiter's CRLF ends it) */
static void put_part(struct strbuf *out, const char *boundary,
                     const char *fields, const char *p, size_t n)
{
    sb_printf(out, "\r\n--%s\r\n%s\r\n", boundary, fields);
    sb_append(out, p, n);
}

/* put_original - part 3: the message or its header section */
static void put_original(struct strbuf *out, const struct bn_job *j,
                         const char *boundary)
{
    size_t n = j->headers_only ? j->header_len : j->msg->len;
    struct strbuf f;

    sb_init(&f);
    if (j->headers_only)
        sb_puts(&f, "Content-Type: text/rfc822-headers\r\n"
                "Content-Description: Undelivered Message Headers\r\n");
    else
        sb_puts(&f, "Content-Type: message/rfc822\r\n"
                "Content-Description: Undelivered Message\r\n");
    /* XXX an original with NULs or lines over 998 octets is "binary" in
     * truth; it is returned as it was received, labelled 8bit */
    if (has_8bit(j->msg->data, n))
        sb_puts(&f, "Content-Transfer-Encoding: 8bit\r\n");
    put_part(out, boundary, sb_str(&f), j->msg->data, n);
    sb_free(&f);
}

/* build - the whole report for job j */
static void build(struct strbuf *out, const struct bn_job *j, const char *to,
                  const char *id, const char *subject)
{
    struct strbuf text, dsn, base, b;
    const char *texts[3];
    size_t lens[3];
    int utf8;

    sb_init(&text);
    sb_init(&dsn);
    sb_init(&base);
    sb_init(&b);
    bn_text(&text, j);
    bn_dsn(&dsn, j);
    texts[0] = sb_str(&text), lens[0] = sb_len(&text);
    texts[1] = sb_str(&dsn), lens[1] = sb_len(&dsn);
    texts[2] = j->msg->data, lens[2] = j->msg->len;
    put_boundary_base(&base, id, j->now);
    bn_boundary(&b, sb_str(&base), texts, lens, 3);
    put_headers(out, j, to, id, subject, sb_str(&b));
    sb_puts(out, preamble);
    utf8 = has_8bit(sb_str(&text), sb_len(&text));
    put_part(out, sb_str(&b), utf8
             ? "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n"
               "Content-Description: Notification\r\n"
             : "Content-Type: text/plain; charset=us-ascii\r\n"
               "Content-Description: Notification\r\n",
             sb_str(&text), sb_len(&text));
    put_part(out, sb_str(&b), "Content-Type: message/delivery-status\r\n"
             "Content-Description: Delivery report\r\n",
             sb_str(&dsn), sb_len(&dsn));
    put_original(out, j, sb_str(&b));
    sb_printf(out, "\r\n--%s--\r\n", sb_str(&b));
    sb_free(&text);
    sb_free(&dsn);
    sb_free(&base);
    sb_free(&b);
}

/* job_init - what both reports share; primary is a buffer for the
 * cleaned primary_hostname */
static void job_init(struct bn_job *j, struct strbuf *primary,
                     const struct conf *c, const struct spool_msg *msg,
                     const struct bounce_rcpt *r, size_t n, long long now)
{
    memset(j, 0, sizeof(*j));
    bn_clean(primary, c != NULL ? c->main.primary_hostname : NULL,
             BN_HOST_MAX, BN_HOST);
    if (sb_len(primary) == 0)
        sb_puts(primary, "localhost");
    j->primary = sb_str(primary);
    j->msg = msg;
    j->r = r;
    j->n = n;
    j->now = now;
    j->header_len = bn_header_len(msg->data, msg->len);
}

/* bounce_build - the failure report for msg */
void bounce_build(struct strbuf *out, const struct conf *c,
                  const struct spool_msg *msg, const char *to,
                  const struct bounce_rcpt *r, size_t n,
                  size_t return_size_limit, const char *id, long long now)
{
    struct strbuf primary;
    struct bn_job j;

    sb_init(&primary);
    job_init(&j, &primary, c, msg, r, n, now);
    j.headers_only = msg->len > return_size_limit;
    build(out, &j, to, id,
          "Mail delivery failed: returning message to sender");
    sb_free(&primary);
}

/* warning_build - the delay warning for msg */
void warning_build(struct strbuf *out, const struct conf *c,
                   const struct spool_msg *msg, const char *to,
                   const struct bounce_rcpt *r, size_t n,
                   const char *delay_text, const char *id, long long now)
{
    struct strbuf primary, delay, subject;
    struct bn_job j;

    sb_init(&primary);
    sb_init(&delay);
    sb_init(&subject);
    job_init(&j, &primary, c, msg, r, n, now);
    j.warning = 1;
    j.headers_only = 1;
    bn_clean(&delay, delay_text, BN_TOKEN_MAX, BN_ASCII);
    if (sb_len(&delay) == 0)
        sb_puts(&delay, "some time");
    j.delay = sb_str(&delay);
    sb_puts(&subject, "Warning: message ");
    bn_clean(&subject, msg->env.id, BN_TOKEN_MAX, BN_ASCII);
    sb_printf(&subject, " delayed %s", j.delay);
    build(out, &j, to, id, sb_str(&subject));
    sb_free(&primary);
    sb_free(&delay);
    sb_free(&subject);
}

/* bounce_is_8bit - the built report holds a byte >= 0x80: send it with
 * BODY=8BITMIME */
int bounce_is_8bit(const struct strbuf *report)
{
    return has_8bit(sb_str(report), sb_len(report));
}
