/*
 * test_bounce.c - unit tests of core/bounce*.c: bounce_status_of (case
 * table), bn_header_len (case table), bn_boundary, and bounce_build /
 * warning_build checked field by field with hdr_parse: every header
 * field, the three MIME parts, part 1's exact text, every DSN field of a
 * three-recipient report (remote host + reply, local failure, non-ASCII
 * address), the returned original byte for byte, headers only above
 * return_size_limit, CR/LF injection, long replies, 8-bit detection.
 * Times are fixed and TZ=UTC.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/strbuf.h"
#include "queue/bounce.h"
#include "queue/bounce_impl.h"
#include "core/conf/conf.h"
#include "core/mail/header.h"
#include "core/spool/spool.h"
#include "test-suite/unit/tap.h"

#define S(lit) lit, sizeof(lit) - 1
#define NOW 1700000000LL
#define ARRIVAL 1699990000LL
#define NOW_DATE "Tue, 14 Nov 2023 22:13:20 +0000"
#define ARRIVAL_DATE "Tue, 14 Nov 2023 19:26:40 +0000"
#define NEW_ID "1tNewI-000000000Ab-0000"
#define ORIG_ID "1tOrig-000000000Xy-0000"

static struct conf conf;

/* ------------------------------------------------ bounce_status_of */

struct scase {
    const char *reply;
    int code, permanent;
    const char *want;
};

static const struct scase scases[] = {
    { "550 5.1.1 User unknown", 550, 1, "5.1.1" },
    { "550 5.1.1 User unknown", 0, 1, "5.1.1" },
    { "550 User unknown", 550, 1, "5.0.0" },
    { "550 User unknown", 0, 0, "5.0.0" },
    { "452-4.2.2 full\r\n", 0, 1, "4.2.2" },
    { "452 4.2.2 Mailbox full", 452, 1, "4.2.2" },
    { "451 4.3.0", 0, 1, "4.3.0" },
    { "550 4.1.1 wrong class", 550, 1, "5.1.1" },
    { "450 5.7.1 wrong class", 0, 1, "4.7.1" },
    { "5.2.2 mailbox full", 0, 0, "5.2.2" },
    { "4.4.7 expired", 0, 1, "4.4.7" },
    { "550 5.123.456 three digits", 550, 1, "5.123.456" },
    { "550 5.1.1234 detail too long", 550, 1, "5.0.0" },
    { "550 5.1234.1 subject too long", 550, 1, "5.0.0" },
    { "550 5.1.1x", 550, 1, "5.0.0" },
    { "550 5.1 short", 550, 1, "5.0.0" },
    { "550 6.1.1 no such class", 550, 1, "5.0.0" },
    { "421", 0, 1, "4.0.0" },
    { "garbage", 451, 1, "4.0.0" },
    { "Permission denied", 0, 1, "5.0.0" },
    { "Permission denied", 0, 0, "4.0.0" },
    { NULL, 0, 1, "5.0.0" },
    { NULL, 0, 0, "4.0.0" },
    { NULL, 554, 0, "5.0.0" },
    { "", 0, 1, "5.0.0" },
    { "250 2.0.0 ok", 0, 1, "5.0.0" },
    { "55 5.1.1 not a reply code", 0, 0, "4.0.0" },
};

static void test_status(void)
{
    for (size_t i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
        const struct scase *c = &scases[i];
        char out[16], name[160];

        memset(out, 'x', sizeof(out));
        bounce_status_of(c->reply, c->code, c->permanent, out, sizeof(out));
        snprintf(name, sizeof(name), "status of \"%s\" code %d perm %d",
                 c->reply ? c->reply : "(null)", c->code, c->permanent);
        for (char *p = name; *p; p++)
            if (*p == '\r' || *p == '\n')
                *p = '~';
        is_str(out, c->want, name);
    }
}

/* ------------------------------------------------ bn_header_len */

struct hcase {
    const char *name, *in;
    size_t len, want;
};

static const struct hcase hcases[] = {
    { "headers and body", S("A: b\r\nC: d\r\n\r\nbody\r\n"), 12 },
    { "no body", S("A: b\r\nC: d\r\n\r\n"), 12 },
    { "no blank line", S("A: b\r\nC: d\r\n"), 12 },
    { "no blank line, no CRLF", S("A: b"), 4 },
    { "empty header section", S("\r\nbody\r\n"), 0 },
    { "empty message", S(""), 0 },
};

static void test_header_len(void)
{
    static char big[BN_HEADERS_MAX + 100];

    for (size_t i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++)
        is_int((long long)bn_header_len(hcases[i].in, hcases[i].len),
               (long long)hcases[i].want, hcases[i].name);
    /* a header section over the cap is cut after a line end */
    for (size_t i = 0; i < sizeof(big); i += 10)
        memcpy(big + i, "X: 12345\r\n", 10 <= sizeof(big) - i ? 10
                                                           : sizeof(big) - i);
    size_t n = bn_header_len(big, sizeof(big));
    ok(n <= BN_HEADERS_MAX && n > BN_HEADERS_MAX - 10 && big[n - 1] == '\n',
       "huge header section cut at a line end under the cap (%zu)", n);
}

/* ------------------------------------------------ bn_boundary */

static void test_boundary(void)
{
    struct strbuf b;
    const char *texts[3] = { "no collision", NULL, "xx B_1 yy" };
    size_t lens[3] = { 12, 0, 9 };

    sb_init(&b);
    bn_boundary(&b, "Q", texts, lens, 3);
    is_str(sb_str(&b), "Q", "boundary kept when found nowhere");
    texts[0] = "a B b";
    lens[0] = 5;
    sb_reset(&b);
    bn_boundary(&b, "B", texts, lens, 3);
    is_str(sb_str(&b), "B_2", "boundary changed past B and B_1 (found)");
    sb_free(&b);
}

/* ------------------------------------------------ report parsing */

struct report {
    const char *all;
    size_t len;
    struct hdr_list top;
    int top_ok;
    char boundary[128];
    int nparts;
    const char *head[4], *body[4];
    size_t hlen[4], blen[4];
};

/* value_of - the value of field name in the section s[0..len) (leading
 * blank dropped), malloc'ed, or NULL */
static char *value_of(const char *s, size_t len, const char *name)
{
    struct hdr_list l;
    const struct hdr_field *f;
    const char *why;
    char *v = NULL;

    if (hdr_parse(s, len, &l, &why) != 0)
        return NULL;
    if ((f = hdr_find(&l, name)) != NULL) {
        size_t skip = f->value_len > 0 && f->value[0] == ' ';
        v = strndup(f->value + skip, f->value_len - skip);
    }
    hdr_list_free(&l);
    return v;
}

/* check_value - field name of section s is exactly want (NULL: absent) */
static void check_value(const char *s, size_t len, const char *name,
                        const char *want, const char *what)
{
    char *v = value_of(s, len, name);
    char label[200];

    snprintf(label, sizeof(label), "%s: %s", what, name);
    is_str(v, want, label);
    free(v);
}

/* find_boundary - the boundary parameter of the report's Content-Type */
static int find_boundary(struct report *rp)
{
    char *ct = value_of(rp->all, rp->len, "Content-Type");
    char *b, *e;
    int rc = -1;

    if (ct != NULL && (b = strstr(ct, "boundary=\"")) != NULL
        && (e = strchr(b + 10, '"')) != NULL && e - b - 10 < 100) {
        snprintf(rp->boundary, sizeof(rp->boundary), "%.*s",
                 (int)(e - b - 10), b + 10);
        rc = 0;
    }
    free(ct);
    return rc;
}

/* split_part - part k starting at p (after its delimiter line) up to the
 * next delimiter d */
static const char *split_part(struct report *rp, int k, const char *p,
                              const char *d, size_t dlen)
{
    const char *end = memmem(p, (size_t)(rp->all + rp->len - p), d, dlen);
    const char *blank;

    if (end == NULL)
        return NULL;
    blank = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    if (blank == NULL)
        return NULL;
    rp->head[k] = p;
    rp->hlen[k] = (size_t)(blank - p) + 2;
    rp->body[k] = blank + 4;
    rp->blen[k] = (size_t)(end - blank - 4);
    return end + dlen;
}

/* report_split - parse the top section and cut the parts */
static int report_split(struct report *rp, const struct strbuf *sb)
{
    char d[140], close[140];
    const char *why, *p;
    size_t dlen;

    memset(rp, 0, sizeof(*rp));
    rp->all = sb_str(sb);
    rp->len = sb_len(sb);
    rp->top_ok = hdr_parse(rp->all, rp->len, &rp->top, &why) == 0;
    if (!rp->top_ok || find_boundary(rp) != 0)
        return -1;
    dlen = (size_t)snprintf(d, sizeof(d), "\r\n--%s\r\n", rp->boundary);
    snprintf(close, sizeof(close), "\r\n--%s--\r\n", rp->boundary);
    p = memmem(rp->all, rp->len, d, dlen);
    while (p != NULL && rp->nparts < 4) {
        const char *next = memmem(p + dlen, rp->len - (size_t)(p + dlen - rp->all),
                                  d, dlen);
        p = split_part(rp, rp->nparts++, p + dlen, next ? d : close,
                       next ? dlen : strlen(close));
        if (p != NULL && next == NULL) {
            return p == rp->all + rp->len ? 0 : -1;
        }
        p = next;
    }
    return -1;
}

/* no_line_starts - no line of s[0..len) starts with prefix */
static int no_line_starts(const char *s, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);

    for (size_t i = 0; i < len; i++)
        if ((i == 0 || s[i - 1] == '\n') && len - i >= pl
            && strncasecmp(s + i, prefix, pl) == 0)
            return 0;
    return 1;
}

/* longest_line - the longest line of s (without CRLF) */
static size_t longest_line(const char *s, size_t len)
{
    size_t best = 0, start = 0;

    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n') {
            size_t l = i - start - (i > start && s[i - 1] == '\r');
            best = l > best ? l : best;
            start = i + 1;
        }
    return best > len - start ? best : len - start;
}

/* long_lines - lines of s longer than max (without CRLF) */
static int long_lines(const char *s, size_t len, size_t max)
{
    size_t start = 0;
    int n = 0;

    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n') {
            n += i - start - (i > start && s[i - 1] == '\r') > max;
            start = i + 1;
        }
    return n + (len - start > max);
}

/* dsn_group - group k (0: per-message) of a DSN body, its fields with
 * their CRLFs */
static int dsn_group(const struct report *rp, int k, const char **g,
                     size_t *glen)
{
    const char *p = rp->body[1], *end = p + rp->blen[1];

    for (int i = 0; i <= k; i++) {
        const char *sep = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *stop = sep != NULL ? sep + 2 : end;

        if (p >= end)
            return -1;
        if (i == k) {
            *g = p;
            *glen = (size_t)(stop - p);
            return 0;
        }
        p = sep != NULL ? sep + 4 : end;
    }
    return -1;
}

/* count_groups - per-recipient groups in the DSN */
static int count_groups(const struct report *rp)
{
    const char *g;
    size_t gl;
    int n = 0;

    while (dsn_group(rp, n + 1, &g, &gl) == 0)
        n++;
    return n;
}

/* group_value_is - field name of DSN group k is want (NULL: absent) */
static void group_value_is(const struct report *rp, int k, const char *name,
                           const char *want)
{
    const char *g;
    size_t gl;
    char what[64];

    snprintf(what, sizeof(what), "dsn group %d", k);
    if (dsn_group(rp, k, &g, &gl) != 0) {
        ok(0, "%s: %s (no such group)", what, name);
        return;
    }
    check_value(g, gl, name, want, what);
}

static void report_free(struct report *rp)
{
    hdr_list_free(&rp->top);
}

/* ------------------------------------------------ the reports */

static const char orig1[] =
    "Received: from client.example ([192.0.2.1])\r\n"
    "\tby mx.test.example with esmtp id " ORIG_ID "\r\n"
    "From: Sender <sender@client.example>\r\n"
    "To: bob@remote.example, team@test.example\r\n"
    "Subject: quarterly report\r\n"
    "Message-ID: <orig.1@client.example>\r\n"
    "Date: Mon, 13 Nov 2023 10:00:00 +0000\r\n"
    "\r\n"
    "Hello,\r\n"
    "--=_tern_not_our_boundary\r\n"
    "the report is attached.\r\n";

static const struct bounce_rcpt rcpts3[] = {
    { "bob@remote.example", NULL,
      "SMTP error from remote mail server after RCPT TO:<bob@remote.example>:",
      "mx.remote.example", 550, "550 5.1.1 <bob@remote.example>: User unknown" },
    { "alice@test.example", "team@test.example",
      "Permission denied: /home/alice/Maildir", NULL, 0, NULL },
    { "j\xc3\xbcrgen@t\xc3\xa9st.example", NULL, "Unrouteable address",
      NULL, 0, NULL },
};

static const char text3[] =
    "This message was created automatically by mail delivery software.\r\n"
    "\r\n"
    "A message that you sent could not be delivered to one or more of its\r\n"
    "recipients. This is a permanent error. The following address(es) failed:\r\n"
    "\r\n"
    "  bob@remote.example\r\n"
    "    host mx.remote.example\r\n"
    "    SMTP error from remote mail server after RCPT TO:<bob@remote.example>:\r\n"
    "    550 5.1.1 <bob@remote.example>: User unknown\r\n"
    "\r\n"
    "  alice@test.example\r\n"
    "    (generated from team@test.example)\r\n"
    "    Permission denied: /home/alice/Maildir\r\n"
    "\r\n"
    "  j\xc3\xbcrgen@t\xc3\xa9st.example\r\n"
    "    Unrouteable address\r\n"
    "\r\n"
    "------ This is a copy of the message, including all the headers. ------\r\n";

static void make_msg(struct spool_msg *m, const char *data, size_t len)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->env.id, sizeof(m->env.id), "%s", ORIG_ID);
    m->env.sender = "sender@client.example";
    m->env.received_sec = ARRIVAL;
    m->data = data;
    m->len = len;
}

/* check_top - every header field of a bounce to sender@client.example */
static void check_top(const struct report *rp, const char *subject,
                      const char *refs)
{
    const char *a = rp->all;
    size_t n = rp->top.section_len;
    char ct[200];

    ok(rp->top.n == (refs ? 10u : 8u), "report has %zu header fields",
       rp->top.n);
    check_value(a, n, "From", "Mail Delivery System "
                "<Mailer-Daemon@mx.test.example>", "report");
    check_value(a, n, "To", "<sender@client.example>", "report");
    check_value(a, n, "Subject", subject, "report");
    check_value(a, n, "References", refs, "report");
    check_value(a, n, "In-Reply-To", refs, "report");
    check_value(a, n, "Auto-Submitted", "auto-replied", "report");
    check_value(a, n, "Message-ID", "<E" NEW_ID "@mx.test.example>", "report");
    check_value(a, n, "Date", NOW_DATE, "report");
    check_value(a, n, "MIME-Version", "1.0", "report");
    snprintf(ct, sizeof(ct), "multipart/report; report-type=delivery-status;"
             "\r\n\tboundary=\"%s\"", rp->boundary);
    check_value(a, n, "Content-Type", ct, "report");
    ok(strncmp(rp->boundary, "=_tern_" NEW_ID "_", 31) == 0
       && strlen(rp->boundary) <= 70, "boundary names the id, <= 70: %s",
       rp->boundary);
}

/* check_dsn3 - part 2 of the three-recipient bounce, field by field */
static void check_dsn3(const struct report *rp)
{
    check_value(rp->head[1], rp->hlen[1], "Content-Type",
                "message/delivery-status", "part 2");
    is_int(count_groups(rp), 3, "dsn: three per-recipient groups");
    group_value_is(rp, 0, "Reporting-MTA", "dns; mx.test.example");
    group_value_is(rp, 0, "X-tern-Queue-ID", ORIG_ID);
    group_value_is(rp, 0, "Arrival-Date", ARRIVAL_DATE);
    group_value_is(rp, 1, "Final-Recipient", "rfc822; bob@remote.example");
    group_value_is(rp, 1, "Original-Recipient", NULL);
    group_value_is(rp, 1, "Action", "failed");
    group_value_is(rp, 1, "Status", "5.1.1");
    group_value_is(rp, 1, "Remote-MTA", "dns; mx.remote.example");
    group_value_is(rp, 1, "Diagnostic-Code",
                   "smtp; 550 5.1.1 <bob@remote.example>: User unknown");
    group_value_is(rp, 1, "X-tern-Diagnostic", NULL);
    group_value_is(rp, 1, "Last-Attempt-Date", NOW_DATE);
    group_value_is(rp, 2, "Original-Recipient", "rfc822; team@test.example");
    group_value_is(rp, 2, "Final-Recipient", "rfc822; alice@test.example");
    group_value_is(rp, 2, "Action", "failed");
    group_value_is(rp, 2, "Status", "5.0.0");
    group_value_is(rp, 2, "Remote-MTA", NULL);
    group_value_is(rp, 2, "Diagnostic-Code", NULL);
    group_value_is(rp, 2, "X-tern-Diagnostic",
                   "X-str; Permission denied: /home/alice/Maildir");
    group_value_is(rp, 2, "Last-Attempt-Date", NOW_DATE);
    group_value_is(rp, 3, "Final-Recipient",
                   "utf-8; j\\x{FC}rgen@t\\x{E9}st.example");
    group_value_is(rp, 3, "Action", "failed");
    group_value_is(rp, 3, "Status", "5.0.0");
    group_value_is(rp, 3, "X-tern-Diagnostic", "X-str; Unrouteable address");
}

/* test_bounce_main - three recipients, the whole message returned */
static void test_bounce_main(void)
{
    struct spool_msg m;
    struct strbuf out;
    struct report rp;

    make_msg(&m, orig1, sizeof(orig1) - 1);
    sb_init(&out);
    bounce_build(&out, &conf, &m, "sender@client.example", rcpts3, 3,
                 100000, NEW_ID, NOW);
    if (!ok(report_split(&rp, &out) == 0 && rp.nparts == 3,
            "bounce: top section and three parts")) {
        printf("# %s\n", sb_str(&out));
        report_free(&rp);
        sb_free(&out);
        return;
    }
    check_top(&rp, "Mail delivery failed: returning message to sender",
              "<orig.1@client.example>");
    check_value(rp.head[0], rp.hlen[0], "Content-Type",
                "text/plain; charset=utf-8", "part 1 (utf-8 address)");
    check_value(rp.head[0], rp.hlen[0], "Content-Transfer-Encoding", "8bit",
                "part 1");
    ok(rp.blen[0] == sizeof(text3) - 1
       && memcmp(rp.body[0], text3, rp.blen[0]) == 0, "part 1 text exact");
    check_dsn3(&rp);
    check_value(rp.head[2], rp.hlen[2], "Content-Type", "message/rfc822",
                "part 3");
    check_value(rp.head[2], rp.hlen[2], "Content-Transfer-Encoding", NULL,
                "part 3 (7-bit original)");
    ok(rp.blen[2] == m.len && memcmp(rp.body[2], m.data, m.len) == 0,
       "part 3 is the original byte for byte");
    ok(memmem(m.data, m.len, rp.boundary, strlen(rp.boundary)) == NULL,
       "boundary not in the original");
    is_int(bounce_is_8bit(&out), 1, "8-bit (UTF-8 address in part 1)");
    report_free(&rp);
    sb_free(&out);
}

/* build_split - a bounce of data with recipients r into out and rp */
static int build_split(struct strbuf *out, struct report *rp,
                       const char *data, size_t len,
                       const struct bounce_rcpt *r, size_t n, size_t limit)
{
    struct spool_msg m;

    make_msg(&m, data, len);
    sb_init(out);
    bounce_build(out, &conf, &m, "sender@client.example", r, n, limit,
                 NEW_ID, NOW);
    return report_split(rp, out) == 0 && rp->nparts == 3 ? 0 : -1;
}

/* test_bounce_big - over return_size_limit: headers only */
static void test_bounce_big(void)
{
    struct strbuf msg, out;
    struct report rp;
    size_t hl = strstr(orig1, "\r\n\r\n") - orig1 + 2, body;
    char line[120];

    sb_init(&msg);
    sb_append(&msg, orig1, hl + 2);
    for (int i = 0; i < 2000; i++)
        sb_printf(&msg, "body line %04d SECRET-BODY-TEXT\r\n", i);
    body = sb_len(&msg) - hl - 2;
    if (!ok(build_split(&out, &rp, sb_str(&msg), sb_len(&msg), rcpts3, 1,
                        10000) == 0, "big bounce: three parts")) {
        report_free(&rp);
        sb_free(&out);
        sb_free(&msg);
        return;
    }
    check_value(rp.head[2], rp.hlen[2], "Content-Type", "text/rfc822-headers",
                "part 3 (big)");
    ok(rp.blen[2] == hl && memcmp(rp.body[2], orig1, hl) == 0,
       "part 3 is the header section exactly");
    ok(memmem(rp.all, rp.len, "SECRET-BODY-TEXT", 16) == NULL,
       "no body text in the report");
    ok(memmem(rp.body[0], rp.blen[0], "------ This is a copy of the message's "
              "headers. ------\r\n", 56) != NULL, "part 1 says headers only");
    snprintf(line, sizeof(line), "------ The body of the message is %zu "
             "characters long; it is not\r\n------ included here.\r\n", body);
    ok(memmem(rp.body[0], rp.blen[0], line, strlen(line)) != NULL,
       "part 1 gives the body length (%zu)", body);
    ok(memmem(rp.body[0], rp.blen[0], "including all the headers", 25) == NULL,
       "part 1 does not claim the whole message");
    report_free(&rp);
    sb_free(&out);
    /* exactly at the limit: still returned whole */
    ok(build_split(&out, &rp, orig1, sizeof(orig1) - 1, rcpts3, 1,
                   sizeof(orig1) - 1) == 0
       && rp.blen[2] == sizeof(orig1) - 1, "size == limit: whole message");
    report_free(&rp);
    sb_free(&out);
    sb_free(&msg);
}

/* test_injection - CR/LF in every hostile input makes no new line */
static void test_injection(void)
{
    static const struct bounce_rcpt evil[] = {
        { "bob@remote.example\r\nBcc: v1@evil.example", "top\r\nBcc: v2@e",
          "x\r\nBcc: victim", "mx\r\nBcc: v3@e", 550,
          "550 5.1.1 no\r\nBcc: v4@evil.example\r\n\r\nbody" },
        { "carol@test.example", NULL, "y\nBcc: v5\rZ: z", NULL, 0, NULL },
    };
    struct spool_msg m;
    struct strbuf out;
    struct report rp;

    make_msg(&m, orig1, sizeof(orig1) - 1);
    sb_init(&out);
    bounce_build(&out, &conf, &m, "s@c.example\r\nBcc: v6@evil.example",
                 evil, 2, 100000, NEW_ID, NOW);
    ok(report_split(&rp, &out) == 0 && rp.nparts == 3,
       "injection: still three parts");
    ok(no_line_starts(rp.all, rp.len - m.len, "Bcc:"),
       "no line starts with Bcc: (outside the original)");
    ok(hdr_count(&rp.top, "Bcc") == 0, "no Bcc field in the report header");
    check_value(rp.all, rp.top.section_len, "To",
                "<s@c.example Bcc: v6@evil.example>", "injection");
    is_int(count_groups(&rp), 2, "dsn: still two recipient groups");
    group_value_is(&rp, 1, "Bcc", NULL);
    group_value_is(&rp, 1, "Final-Recipient",
                   "rfc822; bob@remote.example Bcc: v1@evil.example");
    group_value_is(&rp, 1, "Remote-MTA", "dns; mx??Bcc:?v3?e");
    group_value_is(&rp, 1, "Diagnostic-Code",
                   "smtp; 550 5.1.1 no Bcc: v4@evil.example body");
    group_value_is(&rp, 2, "X-tern-Diagnostic", "X-str; y Bcc: v5 Z: z");
    ok(memmem(rp.body[0], rp.blen[0], "    x Bcc: victim\r\n", 19) != NULL,
       "part 1: the reason on one line");
    report_free(&rp);
    sb_free(&out);
}

/* check_folded - the long Diagnostic-Code of group 1 is folded and cut */
static void check_folded(const struct report *rp)
{
    const char *g = "";
    size_t gl = 0, longest;
    char *v;

    if (dsn_group(rp, 1, &g, &gl) != 0)
        gl = 0;
    longest = longest_line(g, gl);
    ok(gl > 0 && longest <= 78, "folded Diagnostic-Code lines <= 78 (%zu)",
       longest);
    v = value_of(g, gl, "Diagnostic-Code");
    ok(v != NULL && strlen(v) < 1100 && strlen(v) > 800
       && strncmp(v, "smtp; 550 5.7.1 blocked blocked", 31) == 0,
       "Diagnostic-Code cut (%zu bytes)", v ? strlen(v) : 0);
    free(v);
}

/* test_long_reply - a 3000-byte reply is cut and folded */
static void test_long_reply(void)
{
    struct bounce_rcpt r[3] = {
        { "bob@remote.example", NULL, NULL, "mx.remote.example", 550, NULL },
        { "eve@remote.example", NULL, NULL, "mx.remote.example", 550, NULL },
        { NULL, NULL, "bad address", NULL, 0, NULL },
    };
    struct strbuf words, blob, out, addr;
    struct report rp;

    sb_init(&words);
    sb_init(&blob);
    sb_puts(&words, "550 5.7.1");
    sb_puts(&blob, "550 ");
    while (sb_len(&words) < 3000)
        sb_puts(&words, " blocked");
    while (sb_len(&blob) < 3000)
        sb_putc(&blob, 'z');
    sb_init(&addr);
    while (sb_len(&addr) < 600)     /* each byte grows to \x{FFFD} */
        sb_putc(&addr, '\xad');
    r[0].reply = sb_str(&words);
    r[1].reply = sb_str(&blob);
    r[2].address = sb_str(&addr);
    ok(build_split(&out, &rp, orig1, sizeof(orig1) - 1, r, 3, 100000) == 0,
       "long reply, long invalid UTF-8 address: three parts");
    ok(longest_line(rp.body[1], rp.blen[1]) <= 998,
       "dsn: no line over 998 (%zu)", longest_line(rp.body[1], rp.blen[1]));
    ok(longest_line(rp.body[0], rp.blen[0]) <= 998, "text: no line over 998");
    ok(longest_line(rp.all, rp.len) <= 998, "report: no line over 998");
    group_value_is(&rp, 1, "Status", "5.7.1");
    check_folded(&rp);
    is_int(long_lines(rp.body[0], rp.blen[0], 78), 2,
           "text: only the reply without blanks and the long address pass "
           "78 columns");
    report_free(&rp);
    sb_free(&out);
    sb_free(&words);
    sb_free(&blob);
    sb_free(&addr);
}

static const struct bounce_rcpt wrcpts[] = {
    { "bob@remote.example", NULL, "Connection timed out", "mx.remote.example",
      451, "451 4.3.0 try later" },
    { "carol@test.example", "team@test.example", NULL, NULL, 0,
      "552 5.2.2 mailbox full" },
};

static const char wtext[] =
    "This message was created automatically by mail delivery software.\r\n"
    "A message that you sent has not yet been delivered to one or more of its\r\n"
    "recipients after more than 24 hours on the queue on mx.test.example.\r\n"
    "\r\n"
    "The message identifier is:     " ORIG_ID "\r\n"
    "The subject of the message is: quarterly report\r\n"
    "The date of the message is:    Mon, 13 Nov 2023 10:00:00 +0000\r\n"
    "\r\n"
    "The addresses to which the message has not yet been delivered are:\r\n"
    "\r\n"
    "  bob@remote.example\r\n"
    "    Delay reason: Connection timed out\r\n"
    "\r\n"
    "  carol@test.example\r\n"
    "    (generated from team@test.example)\r\n"
    "    Delay reason: 552 5.2.2 mailbox full\r\n"
    "\r\n"
    "No action is required on your part. Delivery attempts will continue for\r\n"
    "some time, and this warning may be repeated at intervals if the message\r\n"
    "remains undelivered. Eventually the mail delivery software will give up,\r\n"
    "and when that happens, the message will be returned to you.\r\n"
    "\r\n"
    "------ This is a copy of the message's headers. ------\r\n";

/* check_warning_dsn - part 2 of the two-recipient warning */
static void check_warning_dsn(const struct report *rp)
{
    is_int(count_groups(rp), 2, "warning dsn: two groups");
    group_value_is(rp, 0, "Reporting-MTA", "dns; mx.test.example");
    group_value_is(rp, 0, "Arrival-Date", ARRIVAL_DATE);
    group_value_is(rp, 1, "Final-Recipient", "rfc822; bob@remote.example");
    group_value_is(rp, 1, "Action", "delayed");
    group_value_is(rp, 1, "Status", "4.3.0");
    group_value_is(rp, 1, "Remote-MTA", "dns; mx.remote.example");
    group_value_is(rp, 1, "Diagnostic-Code", "smtp; 451 4.3.0 try later");
    group_value_is(rp, 1, "Last-Attempt-Date", NULL);
    group_value_is(rp, 2, "Original-Recipient", "rfc822; team@test.example");
    group_value_is(rp, 2, "Final-Recipient", "rfc822; carol@test.example");
    group_value_is(rp, 2, "Action", "delayed");
    group_value_is(rp, 2, "Status", "4.2.2");
    group_value_is(rp, 2, "Last-Attempt-Date", NULL);
}

/* test_warning - the delay warning */
static void test_warning(void)
{
    struct spool_msg m;
    struct strbuf out;
    struct report rp;
    size_t hl = strstr(orig1, "\r\n\r\n") - orig1 + 2;

    make_msg(&m, orig1, sizeof(orig1) - 1);
    sb_init(&out);
    warning_build(&out, &conf, &m, "sender@client.example", wrcpts, 2,
                  "24 hours", NEW_ID, NOW);
    if (ok(report_split(&rp, &out) == 0 && rp.nparts == 3,
           "warning: three parts")) {
        check_top(&rp, "Warning: message " ORIG_ID " delayed 24 hours",
                  "<orig.1@client.example>");
        check_value(rp.head[0], rp.hlen[0], "Content-Type",
                    "text/plain; charset=us-ascii", "warning part 1");
        ok(rp.blen[0] == sizeof(wtext) - 1
           && memcmp(rp.body[0], wtext, rp.blen[0]) == 0,
           "warning text exact");
        check_warning_dsn(&rp);
        check_value(rp.head[2], rp.hlen[2], "Content-Type",
                    "text/rfc822-headers", "warning part 3");
        ok(rp.blen[2] == hl && memcmp(rp.body[2], orig1, hl) == 0,
           "warning part 3: the header section only");
    }
    report_free(&rp);
    sb_reset(&out);
    warning_build(&out, &conf, &m, "sender@client.example", wrcpts, 1,
                  "2 days\r\nBcc: x", NEW_ID, NOW);
    ok(report_split(&rp, &out) == 0 && strstr(sb_str(&out),
       "The address to which the message has not yet been delivered is:\r\n")
       != NULL, "warning for one address: singular");
    check_value(rp.all, rp.top.section_len, "Subject",
                "Warning: message " ORIG_ID " delayed 2 days Bcc: x",
                "warning with CR/LF in the delay");
    report_free(&rp);
    sb_free(&out);
}

/* test_8bit - bounce_is_8bit and the labels of 8-bit parts */
static void test_8bit(void)
{
    static const char o8[] = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n";
    static const char b8[] = "Subject: plain\r\n\r\nna\xc3\xafve\r\n";
    struct strbuf out;
    struct report rp;

    build_split(&out, &rp, orig1, sizeof(orig1) - 1, rcpts3, 2, 100000);
    is_int(bounce_is_8bit(&out), 0, "ASCII report: not 8-bit");
    check_value(rp.head[0], rp.hlen[0], "Content-Type",
                "text/plain; charset=us-ascii", "ASCII part 1");
    check_value(rp.head[0], rp.hlen[0], "Content-Transfer-Encoding", NULL,
                "ASCII part 1");
    report_free(&rp);
    sb_free(&out);
    build_split(&out, &rp, o8, sizeof(o8) - 1, rcpts3, 1, 100000);
    is_int(bounce_is_8bit(&out), 1, "8-bit original returned: 8-bit");
    check_value(rp.head[2], rp.hlen[2], "Content-Transfer-Encoding", "8bit",
                "8-bit part 3");
    ok(rp.blen[2] == sizeof(o8) - 1 && memcmp(rp.body[2], o8, rp.blen[2]) == 0,
       "8-bit original byte for byte");
    report_free(&rp);
    sb_free(&out);
    build_split(&out, &rp, b8, sizeof(b8) - 1, rcpts3, 1, 10);
    is_int(bounce_is_8bit(&out), 0, "8-bit body left out: not 8-bit");
    report_free(&rp);
    sb_free(&out);
}

struct mcase {
    const char *name, *msg, *want;
};

static const struct mcase mcases[] = {
    { "no Message-ID", "From: a@b\r\n\r\nMessage-ID: <body@x>\r\n", NULL },
    { "plain", "Message-ID: <ok@x>\r\n\r\n", "<ok@x>" },
    { "blanks and comment", "Message-Id:   <ok@x> (c)\r\n\r\n", "<ok@x>" },
    { "space inside", "Message-ID: <a b@c>\r\n\r\n", NULL },
    { "folded inside", "Message-ID: <a\r\n b@c>\r\n\r\n", NULL },
    { "empty brackets", "Message-ID: <>\r\n\r\n", NULL },
    { "no brackets", "Message-ID: id@x\r\n\r\n", NULL },
    { "8-bit", "Message-ID: <\xc3\xa9@x>\r\n\r\n", NULL },
    { "bare LF section", "From: a\nMessage-ID: <ok@x>\r\n\r\n", NULL },
};

/* test_msgid - References/In-Reply-To only from a clean Message-ID */
static void test_msgid(void)
{
    struct strbuf big, out;
    struct report rp;
    struct conf c0;

    for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
        const struct mcase *c = &mcases[i];

        build_split(&out, &rp, c->msg, strlen(c->msg), rcpts3, 1, 100000);
        check_value(rp.all, rp.top.section_len, "References", c->want, c->name);
        check_value(rp.all, rp.top.section_len, "In-Reply-To", c->want,
                    c->name);
        report_free(&rp);
        sb_free(&out);
    }
    sb_init(&big);
    sb_puts(&big, "Message-ID: <");
    while (sb_len(&big) < 300)
        sb_putc(&big, 'a');
    sb_puts(&big, "@x>\r\n\r\n");
    build_split(&out, &rp, sb_str(&big), sb_len(&big), rcpts3, 1, 100000);
    check_value(rp.all, rp.top.section_len, "References", NULL, "300-byte id");
    report_free(&rp);
    sb_free(&out);
    sb_free(&big);
    memset(&c0, 0, sizeof(c0));
    struct spool_msg m;
    make_msg(&m, "", 0);
    sb_init(&out);
    bounce_build(&out, &c0, &m, "s@c", rcpts3, 1, 0, NEW_ID, NOW);
    ok(report_split(&rp, &out) == 0 && rp.nparts == 3,
       "empty message, no primary_hostname: three parts");
    check_value(rp.all, rp.top.section_len, "From",
                "Mail Delivery System <Mailer-Daemon@localhost>", "no primary");
    is_int((long long)rp.blen[2], 0, "empty original returned empty");
    report_free(&rp);
    sb_free(&out);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    conf.main.primary_hostname = "mx.test.example";
    test_status();
    test_header_len();
    test_boundary();
    test_bounce_main();
    test_bounce_big();
    test_injection();
    test_long_reply();
    test_warning();
    test_8bit();
    test_msgid();
    return done_testing();
}
