/*
 * test_header.c - unit tests of core/mail/header.c: a case table for hdr_parse
 * {name, section, want rc, fields, section length, reason}, the parse
 * bounds, hdr_find/hdr_count, exact hdr_received output for fixed times
 * (TZ=UTC), hdr_date in three zones and hdr_message_id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/strbuf.h"
#include "core/mail/header.h"
#include "core/base/version.h"
#include "test-suite/unit/tap.h"

#define S(lit) lit, sizeof(lit) - 1

struct pcase {
    const char *name;
    const char *in;
    size_t len;
    int rc;
    size_t n;               /* fields */
    size_t section_len;
    const char *why;        /* expected reason (prefix) on failure */
};

static const struct pcase pcases[] = {
    { "two fields and a body", S("From: a@b\r\nTo: c@d\r\n\r\nbody\r\n"),
      0, 2, 22, NULL },
    { "folded field", S("Subject: a\r\n b\r\n\tc\r\nX: y\r\n\r\n"),
      0, 2, 28, NULL },
    { "empty section", S("\r\nbody\r\n"), 0, 0, 2, NULL },
    { "empty input", S(""), 0, 0, 0, NULL },
    { "no blank line, no final CRLF", S("A: 1\r\nB: 2"), 0, 2, 10, NULL },
    { "no blank line, final CRLF", S("A: 1\r\n"), 0, 1, 6, NULL },
    { "empty value", S("A:\r\n\r\n"), 0, 1, 6, NULL },
    { "all ftext characters",
      S("X-!#$%&'*+-.^_`|~\"(),/;<=>?@[\\]{}: v\r\n\r\n"), 0, 1, 40, NULL },
    { "body lines are not parsed", S("A: b\r\n\r\nnot a header\r\n"),
      0, 1, 8, NULL },
    { "whitespace-only continuation", S("A: b\r\n \r\n\r\n"), 0, 1, 11,
      NULL },
    { "missing colon", S("From a@b\r\n\r\n"), -1, 0, 0,
      "malformed header line" },
    { "missing colon after a field", S("A: b\r\nno colon\r\n\r\n"), -1, 0,
      0, "malformed header line" },
    { "space before colon", S("Subject : x\r\n\r\n"), -1, 0, 0,
      "malformed header line" },
    { "empty name", S(": x\r\n\r\n"), -1, 0, 0, "malformed header line" },
    { "NUL in name", S("A\0B: x\r\n\r\n"), -1, 0, 0,
      "malformed header line" },
    { "8-bit byte in name", S("A\xc3\xa9: x\r\n\r\n"), -1, 0, 0,
      "malformed header line" },
    { "continuation first", S(" folded\r\nA: b\r\n\r\n"), -1, 0, 0,
      "continuation line before the first field" },
    { "tab continuation first", S("\tA: b\r\n"), -1, 0, 0,
      "continuation line before the first field" },
    { "bare LF", S("A: b\nC: d\r\n\r\n"), -1, 0, 0, "bare LF" },
    { "LF-only blank line", S("A: b\r\n\n"), -1, 0, 0, "bare LF" },
    { "bare CR", S("A: b\rC: d\r\n\r\n"), -1, 0, 0, "bare CR" },
    { "CR at end of input", S("A: b\r"), -1, 0, 0, "bare CR" },
};

/* check_pcase - run one table case */
static void check_pcase(const struct pcase *c)
{
    struct hdr_list l;
    const char *why = NULL;
    int rc = hdr_parse(c->in, c->len, &l, &why);

    if (c->rc < 0) {
        ok(rc == -1 && why != NULL && strncmp(why, c->why, strlen(c->why)) == 0
           && l.n == 0 && l.f == NULL, "parse: %s -> error", c->name);
        if (why != NULL && strncmp(why, c->why, strlen(c->why)) != 0)
            printf("#   why \"%s\"\n", why);
        return;
    }
    ok(rc == 0 && l.n == c->n && l.section_len == c->section_len,
       "parse: %s", c->name);
    if (rc != 0 || l.n != c->n || l.section_len != c->section_len)
        printf("#   rc %d n %zu section_len %zu why %s\n", rc, l.n,
               l.section_len, why ? why : "-");
    hdr_list_free(&l);
}

/* test_fields - names, values, offsets and lengths of a folded section */
static void free_null_list(void)
{
    hdr_list_free(NULL);
}

static void test_fields(void)
{
    static const char sec[] = "Subject: a\r\n b\r\n\tc\r\nX:y\r\n\r\n";
    struct hdr_list l;
    const char *why;

    if (!ok(hdr_parse(sec, sizeof(sec) - 1, &l, &why) == 0 && l.n == 2,
            "fields: parsed"))
        return;
    ok(l.f[0].name_len == 7 && memcmp(l.f[0].name, "Subject", 7) == 0,
       "fields: first name");
    ok(l.f[0].value_len == 10
       && memcmp(l.f[0].value, " a\r\n b\r\n\tc", 10) == 0,
       "fields: folded value keeps its folding");
    ok(l.f[0].offset == 0 && l.f[0].len == 20, "fields: first extent");
    ok(l.f[1].offset == 20 && l.f[1].len == 5 && l.f[1].value_len == 1
       && l.f[1].value[0] == 'y', "fields: second extent and value");
    hdr_list_free(&l);
    ok(l.n == 0 && l.f == NULL, "fields: hdr_list_free empties the list");
    ok(survives(free_null_list), "fields: hdr_list_free(NULL) returns");
}

/* big_field - "X: vvv...\r\n" of total bytes on one line */
static void big_field(struct strbuf *b, size_t total)
{
    size_t i;

    sb_reset(b);
    sb_puts(b, "X: ");
    for (i = 3; i + 2 < total; i++)
        sb_putc(b, 'v');
    sb_puts(b, "\r\n");
}

/* parse_rc - hdr_parse result and reason of b */
static int parse_rc(const struct strbuf *b, const char **why, size_t *n)
{
    struct hdr_list l;
    int rc = hdr_parse(sb_str(b), sb_len(b), &l, why);

    *n = l.n;
    hdr_list_free(&l);
    return rc;
}

/* folded_field - "X: " then lines of 68 'v' + CRLF + " ", total bytes */
static void folded_field(struct strbuf *b, size_t total)
{
    sb_reset(b);
    sb_puts(b, "X: ");
    while (sb_len(b) + 2 < total) {
        if (sb_len(b) % 72 == 70 && sb_len(b) + 5 < total)
            sb_puts(b, "\r\n ");
        else
            sb_putc(b, 'v');
    }
    sb_puts(b, "\r\n");
}

/* test_bounds - HDR_FIELD_MAX and HDR_FIELDS_MAX, just in and just out */
static void test_bounds(void)
{
    struct strbuf b;
    const char *why = NULL;
    size_t n, i;

    sb_init(&b);
    big_field(&b, HDR_FIELD_MAX);
    ok(sb_len(&b) == HDR_FIELD_MAX && parse_rc(&b, &why, &n) == 0 && n == 1,
       "bounds: a field of HDR_FIELD_MAX bytes");
    big_field(&b, HDR_FIELD_MAX + 1);
    ok(parse_rc(&b, &why, &n) == -1
       && strcmp(why, "header field too long") == 0,
       "bounds: one byte more is an error");
    folded_field(&b, HDR_FIELD_MAX + 1);
    ok(sb_len(&b) == HDR_FIELD_MAX + 1 && parse_rc(&b, &why, &n) == -1
       && strcmp(why, "header field too long") == 0,
       "bounds: a folded field over HDR_FIELD_MAX is an error");
    folded_field(&b, HDR_FIELD_MAX);
    ok(parse_rc(&b, &why, &n) == 0 && n == 1,
       "bounds: a folded field of HDR_FIELD_MAX bytes");
    sb_reset(&b);
    for (i = 0; i < HDR_FIELDS_MAX; i++)
        sb_puts(&b, "A: b\r\n");
    ok(parse_rc(&b, &why, &n) == 0 && n == HDR_FIELDS_MAX,
       "bounds: HDR_FIELDS_MAX fields");
    sb_puts(&b, "A: b\r\n\r\n");
    ok(parse_rc(&b, &why, &n) == -1
       && strcmp(why, "too many header fields") == 0,
       "bounds: one field more is an error");
    sb_free(&b);
}

/* test_find - hdr_find and hdr_count are case-insensitive, exact-name */
static void test_find(void)
{
    static const char sec[] = "Received: 1\r\nSubject: s\r\nreceived: 2\r\n"
                              "RECEIVED: 3\r\n\r\nReceived: body\r\n";
    struct hdr_list l;
    const struct hdr_field *f;
    const char *why;

    if (!ok(hdr_parse(sec, sizeof(sec) - 1, &l, &why) == 0, "find: parsed"))
        return;
    is_int((long long)hdr_count(&l, "Received"), 3, "count: Received is 3");
    is_int((long long)hdr_count(&l, "rEcEiVeD"), 3, "count: any case");
    is_int((long long)hdr_count(&l, "Receive"), 0, "count: no prefix match");
    is_int((long long)hdr_count(&l, "X-None"), 0, "count: absent is 0");
    f = hdr_find(&l, "received");
    ok(f != NULL && f->value_len == 2 && memcmp(f->value, " 1", 2) == 0,
       "find: the first of several");
    f = hdr_find(&l, "SUBJECT");
    ok(f != NULL && f->offset == 13, "find: any case");
    ok(hdr_find(&l, "Received:") == NULL && hdr_find(&l, "") == NULL
       && hdr_find(&l, "X-None") == NULL, "find: no match is NULL");
    hdr_list_free(&l);
}

#define WHEN 1795301314LL       /* Sat, 21 Nov 2026 22:48:34 UTC */
#define ID "1wXyZa-00000001AbC-0Dx3"
#define DATE "Sat, 21 Nov 2026 22:48:34 +0000"
#define LONG_RCPT "a-very-long-local-part-to-force-folding@sub.example.com"

struct rcase {
    const char *name;
    struct hdr_received r;
    const char *want;
};

static const struct rcase rcases[] = {
    { "remote plain",
      { .helo = "mail.example.org", .client_name = "mail.example.org",
        .client_ip = "192.0.2.1", .by = "mx.example.com",
        .protocol = "ESMTP", .id = ID, .for_rcpt = "bob@example.com",
        .sender = "alice@example.org", .when = WHEN },
      "Received: from mail.example.org (mail.example.org [192.0.2.1])\r\n"
      "\tby mx.example.com with ESMTP (tern " TERN_VERSION ")\r\n"
      "\t(envelope-from <alice@example.org>)\r\n"
      "\tid " ID "\r\n"
      "\tfor bob@example.com; " DATE "\r\n" },
    { "remote TLS and AUTH over IPv6, no verified name",
      { .helo = "laptop", .client_ip = "2001:db8::5",
        .by = "mx.example.com", .protocol = "ESMTPSA",
        .tls_version = "TLS1.3", .tls_cipher = "TLS_AES_256_GCM_SHA384",
        .auth_id = "alice", .sender = "alice@example.net", .id = ID,
        .when = WHEN },
      "Received: from laptop ([IPv6:2001:db8::5])\r\n"
      "\tby mx.example.com with ESMTPSA (TLS1.3) tls "
      "TLS_AES_256_GCM_SHA384\r\n"
      "\t(tern " TERN_VERSION ")\r\n"
      "\t(authenticated as alice)\r\n"
      "\t(envelope-from <alice@example.net>)\r\n"
      "\tid " ID "; " DATE "\r\n" },
    { "remote without HELO",
      { .client_name = "client.example.net", .client_ip = "192.0.2.9",
        .by = "mx.example.com", .protocol = "SMTP", .id = ID,
        .when = WHEN },
      "Received: from client.example.net (client.example.net [192.0.2.9])\r\n"
      "\tby mx.example.com with SMTP (tern " TERN_VERSION ")\r\n"
      "\tid " ID "; " DATE "\r\n" },
    { "local submission",
      { .local_user = "alice", .by = "mx.example.com",
        .sender = "alice@mx.example.com", .id = ID,
        .for_rcpt = "bob@example.com", .when = WHEN },
      "Received: from alice by mx.example.com with local (tern "
      TERN_VERSION ")\r\n"
      "\t(envelope-from <alice@mx.example.com>)\r\n"
      "\tid " ID "\r\n"
      "\tfor bob@example.com; " DATE "\r\n" },
    { "hostile HELO, auth id and sender; long recipient folds the date",
      { .helo = "evil.example\r\nX-Injected: yes", .client_ip = "198.51.100.7",
        .by = "mx.example.com", .protocol = "ESMTPA",
        .auth_id = "bob)\r\n(x", .sender = "", .id = ID,
        .for_rcpt = LONG_RCPT, .when = WHEN },
      "Received: from evil.example??X-Injected:?yes ([198.51.100.7])\r\n"
      "\tby mx.example.com with ESMTPA (tern " TERN_VERSION ")\r\n"
      "\t(authenticated as bob????x)\r\n"
      "\t(envelope-from <>)\r\n"
      "\tid " ID "\r\n"
      "\tfor " LONG_RCPT ";\r\n"
      "\t" DATE "\r\n" },
    { "control bytes, DEL and 8-bit in every input",
      { .helo = "a\x01" "b\x7f" "c\xc3\xa9", .client_name = "n\tm",
        .client_ip = "192.0.2.1", .by = "mx.example.com",
        .protocol = "ESMTP", .sender = "d\xc3\xa9<\x1b>@x.test",
        .when = WHEN },
      "Received: from a?b?c?? (n?m [192.0.2.1])\r\n"
      "\tby mx.example.com with ESMTP (tern " TERN_VERSION ")\r\n"
      "\t(envelope-from <d\xc3\xa9???@x.test>); " DATE "\r\n" },
};

/* well_formed - only "\r\n\t" folds and one final CRLF; a single field
 * named Received when parsed; no line over 998 bytes */
static int well_formed(const struct strbuf *b)
{
    const char *s = sb_str(b), *p;
    struct hdr_list l;
    const char *why;
    size_t i, col = 0;
    int good;

    for (i = 0; i < sb_len(b); i++, col++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            return 0;
        if (s[i] == '\r' && (i + 1 >= sb_len(b) || s[i + 1] != '\n'))
            return 0;
        if (col > 998)
            return 0;
        if (s[i] == '\n')
            col = (size_t)-1;       /* the loop makes it 0 */
    }
    p = strstr(s, "\r\n");
    while (p != NULL && p[2] == '\t')
        p = strstr(p + 2, "\r\n");
    if (p == NULL || p[2] != '\0')
        return 0;
    good = hdr_parse(s, sb_len(b), &l, &why) == 0 && l.n == 1
           && hdr_find(&l, "received") != NULL;
    hdr_list_free(&l);
    return good;
}

/* test_received - exact output of the case table, and well-formedness */
static void test_received(void)
{
    struct strbuf b;
    struct hdr_received r = { .helo = NULL };
    char big[1200];
    size_t i;

    sb_init(&b);
    for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
        sb_reset(&b);
        hdr_received(&b, &rcases[i].r);
        is_str(sb_str(&b), rcases[i].want, rcases[i].name);
        ok(well_formed(&b), "received: %s is one well-formed field",
           rcases[i].name);
    }
    memset(big, 'h', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    r.helo = r.client_name = r.auth_id = r.sender = r.for_rcpt = big;
    r.client_ip = r.by = r.protocol = r.id = r.tls_cipher = big;
    r.tls_version = big;
    sb_reset(&b);
    hdr_received(&b, &r);
    ok(well_formed(&b), "received: 1 KiB inputs are cut, lines stay short");
    sb_free(&b);
}

struct dcase {
    const char *tz;
    long long when;
    const char *want;
};

static const struct dcase dcases[] = {
    { "UTC", WHEN, DATE },
    { "UTC", 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
    { "UTC", 951786123, "Tue, 29 Feb 2000 01:02:03 +0000" },
    { "<+0530>-5:30", 0, "Thu, 01 Jan 1970 05:30:00 +0530" },
    { "<-0330>3:30", 0, "Wed, 31 Dec 1969 20:30:00 -0330" },
    { "<-10>10", WHEN, "Sat, 21 Nov 2026 12:48:34 -1000" },
};

/* test_date - hdr_date in fixed zones */
static void test_date(void)
{
    struct strbuf b;
    size_t i;

    sb_init(&b);
    for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
        setenv("TZ", dcases[i].tz, 1);
        tzset();
        sb_reset(&b);
        hdr_date(&b, dcases[i].when);
        is_str(sb_str(&b), dcases[i].want, dcases[i].want);
    }
    setenv("TZ", "UTC", 1);
    tzset();
    sb_free(&b);
}

/* test_message_id - "<E" id "@" host ">", hostile bytes replaced */
static void test_message_id(void)
{
    struct strbuf b;

    sb_init(&b);
    hdr_message_id(&b, ID, "mx.example.com");
    is_str(sb_str(&b), "<E" ID "@mx.example.com>", "message id");
    sb_reset(&b);
    hdr_message_id(&b, ID, "a>b\r\n");
    is_str(sb_str(&b), "<E" ID "@a?b?\?>", "message id: hostile host name");
    sb_free(&b);
}

int main(void)
{
    size_t i;

    setenv("TZ", "UTC", 1);
    tzset();
    for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++)
        check_pcase(&pcases[i]);
    test_fields();
    test_bounds();
    test_find();
    test_received();
    test_date();
    test_message_id();
    return done_testing();
}
