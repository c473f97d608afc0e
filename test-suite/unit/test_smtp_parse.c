/*
 * test_smtp_parse.c - unit tests of smtpd/smtp_parse.c and smtpd/smtp_data.c.
 *
 * PURPOSE:   case tables for smtp_parse_command (every verb, every MAIL
 *            parameter, every error reply), smtp_xtext_decode and the DATA
 *            parser (dot-stuffing, terminator, SMTP smuggling variants,
 *            limits, pipelining); every DATA case is also fed byte by byte
 *            and in every two-chunk split; a random-chunking property test
 *            compares dp_feed with a byte-at-a-time reference model; a
 *            throughput figure for 100 KiB messages is printed as a comment.
 * INTERFACE: main() prints TAP (tap.h) and exits with done_testing().
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/strbuf.h"
#include "test-suite/unit/tap.h"

#include "smtpd/smtp_parse.h"

/* ------------------------------------------------------------------ */
/* command lines */

struct ccase {
    const char *name;
    const char *line;
    size_t len;                 /* 0: strlen(line) */
    enum smtp_verb verb;
    int code;                   /* 0: success expected */
    const char *status, *text;  /* expected reply (code != 0) */
    const char *arg;            /* expected arg, NULL: absent */
    const char *path;
    long size;
    int body;                   /* -1 absent, 0 7BIT, 1 8BITMIME */
    int utf8, path_8bit;
    const char *auth;           /* NULL: absent */
    unsigned long long chunk;
    int last;
};

#define BASE .size = -1, .body = -1, .path = ""
#define CMD(n, l, v)            { n, l, 0, v, 0, BASE }
#define ARG(n, l, v, a)         { n, l, 0, v, 0, BASE, .arg = a }
#define PATH(n, l, v, p)        { n, l, 0, v, 0, .size = -1, .body = -1, .path = p }
#define MAILP(n, l, p, sz, bd, u8, au) \
    { n, l, 0, SV_MAIL, 0, .path = p, .size = sz, .body = bd, .utf8 = u8, \
      .auth = au, .path_8bit = -1 }
#define BDAT(n, l, ch, la)      { n, l, 0, SV_BDAT, 0, BASE, .chunk = ch, .last = la }
#define ERR(n, l, v, ...)       { n, l, 0, v, __VA_ARGS__, BASE }
#define ERRN(n, l, v, ...)      { n, l, sizeof l - 1, v, __VA_ARGS__, BASE }

#define UNREC   500, "5.5.2", "Command unrecognized"
#define SYNTAX  500, "5.5.2", "Syntax error"
#define PSYN    501, "5.5.4", "Syntax error in parameters"
#define UNSUPP  555, "5.5.4", "Unsupported parameter"
#define DUP     501, "5.5.4", "Duplicate parameter"
#define MAILSYN 501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]"
#define RCPTSYN 501, "5.5.4", "Syntax: RCPT TO:<address>"
#define BDATSYN 501, "5.5.4", "Syntax: BDAT size [LAST]"
#define SIZESYN 501, "5.5.4", "Syntax: SIZE=digits"
#define BODYSYN 501, "5.5.4", "Syntax: BODY=7BIT|8BITMIME"
#define AUTHSYN 501, "5.5.4", "Syntax: AUTH=xtext"
#define A "a@example.com"
#define UTF8_ADDR "\xce\xb4\xce\xbf\xce\xba@\xcf\x80.example"

static const struct ccase cmd_cases[] = {
    /* HELO / EHLO */
    ARG("HELO domain", "HELO mail.example.com", SV_HELO, "mail.example.com"),
    ARG("EHLO lower case", "ehlo mail.example.com", SV_EHLO, "mail.example.com"),
    ARG("EHLO mixed case, IPv4 literal", "EhLo [192.0.2.1]", SV_EHLO, "[192.0.2.1]"),
    ARG("EHLO IPv6 literal", "EHLO [IPv6:2001:db8::1]", SV_EHLO, "[IPv6:2001:db8::1]"),
    ARG("EHLO trailing spaces ignored", "EHLO host   ", SV_EHLO, "host"),
    ARG("EHLO two spaces before the name", "EHLO  host", SV_EHLO, "host"),
    ERR("EHLO without argument", "EHLO", SV_EHLO, 501, "5.5.4", "Syntax: EHLO hostname"),
    ERR("HELO without argument", "HELO ", SV_HELO, 501, "5.5.4", "Syntax: HELO hostname"),
    ERR("EHLO two arguments", "EHLO a b", SV_EHLO, 501, "5.5.4", "Syntax: EHLO hostname"),
    ERR("EHLO 8-bit name", "EHLO h\xc3\xa9llo", SV_EHLO, SYNTAX),
    /* MAIL: path forms */
    PATH("MAIL plain", "MAIL FROM:<" A ">", SV_MAIL, A),
    PATH("MAIL lower case", "mail from:<" A ">", SV_MAIL, A),
    PATH("MAIL one space before <", "MAIL FROM: <" A ">", SV_MAIL, A),
    PATH("MAIL null path", "MAIL FROM:<>", SV_MAIL, ""),
    PATH("MAIL source route kept", "MAIL FROM:<@a,@b:u@d>", SV_MAIL, "@a,@b:u@d"),
    PATH("MAIL quoted local part with space", "MAIL FROM:<\"john doe\"@x.org>", SV_MAIL, "\"john doe\"@x.org"),
    PATH("MAIL quoted '>'", "MAIL FROM:<\"a>b\"@x.org>", SV_MAIL, "\"a>b\"@x.org"),
    PATH("MAIL unqualified kept", "MAIL FROM:<root>", SV_MAIL, "root"),
    ERR("MAIL two spaces before <", "MAIL FROM:  <" A ">", SV_MAIL, MAILSYN),
    ERR("MAIL without brackets", "MAIL FROM:" A, SV_MAIL, MAILSYN),
    ERR("MAIL missing '>'", "MAIL FROM:<" A, SV_MAIL, MAILSYN),
    ERR("MAIL TO:", "MAIL TO:<" A ">", SV_MAIL, MAILSYN),
    ERR("MAIL space before colon", "MAIL FROM :<" A ">", SV_MAIL, MAILSYN),
    ERR("MAIL alone", "MAIL", SV_MAIL, MAILSYN),
    ERR("MAIL text glued after '>'", "MAIL FROM:<" A ">x", SV_MAIL, MAILSYN),
    ERR("MAIL unterminated quote", "MAIL FROM:<\"a@b>", SV_MAIL, MAILSYN),
    /* MAIL: parameters */
    MAILP("SIZE", "MAIL FROM:<" A "> SIZE=12345", A, 12345, -1, 0, NULL),
    MAILP("size=0 lower case", "MAIL FROM:<" A "> size=0", A, 0, -1, 0, NULL),
    MAILP("SIZE LONG_MAX", "MAIL FROM:<" A "> SIZE=9223372036854775807", A, LONG_MAX, -1, 0, NULL),
    ERR("SIZE overflow", "MAIL FROM:<" A "> SIZE=9223372036854775808", SV_MAIL, SIZESYN),
    ERR("SIZE not digits", "MAIL FROM:<" A "> SIZE=12a", SV_MAIL, SIZESYN),
    ERR("SIZE without value", "MAIL FROM:<" A "> SIZE", SV_MAIL, SIZESYN),
    ERR("SIZE= empty value", "MAIL FROM:<" A "> SIZE=", SV_MAIL, PSYN),
    ERR("SIZE negative", "MAIL FROM:<" A "> SIZE=-1", SV_MAIL, SIZESYN),
    MAILP("BODY=8BITMIME", "MAIL FROM:<" A "> BODY=8BITMIME", A, -1, 1, 0, NULL),
    MAILP("BODY=7bit", "MAIL FROM:<" A "> BODY=7bit", A, -1, 0, 0, NULL),
    ERR("BODY=BINARYMIME", "MAIL FROM:<" A "> BODY=BINARYMIME", SV_MAIL, BODYSYN),
    ERR("BODY without value", "MAIL FROM:<" A "> BODY", SV_MAIL, BODYSYN),
    MAILP("SMTPUTF8", "MAIL FROM:<" A "> SMTPUTF8", A, -1, -1, 1, NULL),
    ERR("SMTPUTF8 with value", "MAIL FROM:<" A "> SMTPUTF8=yes", SV_MAIL, 501, "5.5.4", "Syntax: SMTPUTF8 takes no value"),
    MAILP("UTF-8 path with SMTPUTF8", "MAIL FROM:<" UTF8_ADDR "> SMTPUTF8", UTF8_ADDR, -1, -1, 1, NULL),
    ERR("UTF-8 path without SMTPUTF8", "MAIL FROM:<" UTF8_ADDR ">", SV_MAIL, 553, "5.6.7", "Non-ASCII address without SMTPUTF8"),
    ERR("malformed UTF-8 path without SMTPUTF8", "MAIL FROM:<\xc3(@x.org>", SV_MAIL, SYNTAX),
    ERR("malformed UTF-8 path", "MAIL FROM:<\xc3(@x.org> SMTPUTF8", SV_MAIL, SYNTAX),
    ERR("8-bit in a parameter", "MAIL FROM:<" A "> SIZE=1 X=\xc3\xa9", SV_MAIL, SYNTAX),
    ERR("8-bit before the path", "MAIL FROM:\xc3\xa9<" A ">", SV_MAIL, SYNTAX),
    MAILP("AUTH=<>", "MAIL FROM:<" A "> AUTH=<>", A, -1, -1, 0, "<>"),
    MAILP("AUTH xtext decoded", "MAIL FROM:<" A "> AUTH=e+3Dmc2@x.org", A, -1, -1, 0, "e=mc2@x.org"),
    ERR("AUTH bad escape", "MAIL FROM:<" A "> AUTH=a+2", SV_MAIL, AUTHSYN),
    ERR("AUTH decoded NUL", "MAIL FROM:<" A "> AUTH=a+00b", SV_MAIL, AUTHSYN),
    ERR("AUTH decoded LF", "MAIL FROM:<" A "> AUTH=a+0Ab", SV_MAIL, AUTHSYN),
    ERR("AUTH without value", "MAIL FROM:<" A "> AUTH", SV_MAIL, AUTHSYN),
    MAILP("all parameters, extra spaces", "MAIL FROM:<" A ">  SIZE=10   BODY=8BITMIME SMTPUTF8 AUTH=<>  ", A, 10, 1, 1, "<>"),
    ERR("duplicate SIZE", "MAIL FROM:<" A "> SIZE=1 SIZE=2", SV_MAIL, DUP),
    ERR("duplicate BODY, other case", "MAIL FROM:<" A "> BODY=7BIT body=8BITMIME", SV_MAIL, DUP),
    ERR("duplicate SMTPUTF8", "MAIL FROM:<" A "> SMTPUTF8 SMTPUTF8", SV_MAIL, DUP),
    ERR("RET (DSN) unsupported", "MAIL FROM:<" A "> RET=HDRS", SV_MAIL, UNSUPP),
    ERR("unknown keyword", "MAIL FROM:<" A "> X-FOO", SV_MAIL, UNSUPP),
    ERR("empty keyword", "MAIL FROM:<" A "> =x", SV_MAIL, PSYN),
    ERR("keyword starting with '-'", "MAIL FROM:<" A "> -X", SV_MAIL, PSYN),
    ERR("'=' in value", "MAIL FROM:<" A "> SIZE=1=2", SV_MAIL, PSYN),
    /* RCPT */
    PATH("RCPT plain", "RCPT TO:<" A ">", SV_RCPT, A),
    PATH("RCPT lower case, one space", "rcpt to: <" A ">", SV_RCPT, A),
    PATH("RCPT Postmaster", "RCPT TO:<Postmaster>", SV_RCPT, "Postmaster"),
    PATH("RCPT postMASTER kept as written", "RCPT TO:<postMASTER>", SV_RCPT, "postMASTER"),
    PATH("RCPT source route kept", "RCPT TO:<@a,@b:u@d>", SV_RCPT, "@a,@b:u@d"),
    { "RCPT UTF-8 path flagged", "RCPT TO:<" UTF8_ADDR ">", 0, SV_RCPT, 0,
      .size = -1, .body = -1, .path = UTF8_ADDR, .path_8bit = 1 },
    ERR("RCPT null path", "RCPT TO:<>", SV_RCPT, RCPTSYN),
    ERR("RCPT without brackets", "RCPT TO:" A, SV_RCPT, RCPTSYN),
    ERR("RCPT FROM:", "RCPT FROM:<" A ">", SV_RCPT, RCPTSYN),
    ERR("RCPT NOTIFY", "RCPT TO:<" A "> NOTIFY=NEVER", SV_RCPT, UNSUPP),
    ERR("RCPT ORCPT", "RCPT TO:<" A "> ORCPT=rfc822;" A, SV_RCPT, UNSUPP),
    ERR("RCPT SIZE is not a RCPT parameter", "RCPT TO:<" A "> SIZE=1", SV_RCPT, UNSUPP),
    /* no argument allowed */
    CMD("DATA", "DATA", SV_DATA),
    CMD("data, trailing space", "data ", SV_DATA),
    ERR("DATA with argument", "DATA x", SV_DATA, 501, "5.5.4", "Syntax: DATA"),
    CMD("RSET", "RSET", SV_RSET),
    ERR("RSET with argument", "RSET now", SV_RSET, 501, "5.5.4", "Syntax: RSET"),
    CMD("QUIT", "quit", SV_QUIT),
    ERR("QUIT with argument", "QUIT bye", SV_QUIT, 501, "5.5.4", "Syntax: QUIT"),
    CMD("STARTTLS", "StartTLS", SV_STARTTLS),
    ERR("STARTTLS with argument", "STARTTLS x", SV_STARTTLS, 501, "5.5.4", "Syntax: STARTTLS"),
    /* argument kept */
    CMD("NOOP", "NOOP", SV_NOOP),
    ARG("NOOP with text", "NOOP hello world", SV_NOOP, "hello world"),
    CMD("HELP", "HELP", SV_HELP),
    ARG("HELP topic", "help MAIL", SV_HELP, "MAIL"),
    ARG("VRFY", "VRFY user", SV_VRFY, "user"),
    ERR("VRFY without argument", "VRFY", SV_VRFY, 501, "5.5.4", "Syntax: VRFY string"),
    ARG("EXPN", "EXPN list", SV_EXPN, "list"),
    ERR("EXPN without argument", "EXPN", SV_EXPN, 501, "5.5.4", "Syntax: EXPN string"),
    ARG("AUTH with initial response", "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", SV_AUTH, "PLAIN dGVzdAB0ZXN0AHRlc3Q="),
    ERR("AUTH without mechanism", "AUTH", SV_AUTH, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"),
    /* BDAT (RFC 3030) */
    BDAT("BDAT size", "BDAT 1000", 1000, 0),
    BDAT("BDAT 0 LAST", "BDAT 0 LAST", 0, 1),
    BDAT("bdat last lower case", "bdat 42 last", 42, 1),
    BDAT("BDAT 2^53", "BDAT 9007199254740992", 9007199254740992ULL, 0),
    ERR("BDAT 2^53 + 1", "BDAT 9007199254740993", SV_BDAT, BDATSYN),
    ERR("BDAT without size", "BDAT", SV_BDAT, BDATSYN),
    ERR("BDAT size not digits", "BDAT x", SV_BDAT, BDATSYN),
    ERR("BDAT negative", "BDAT -1", SV_BDAT, BDATSYN),
    ERR("BDAT FIRST", "BDAT 10 FIRST", SV_BDAT, BDATSYN),
    ERR("BDAT LAST and more", "BDAT 10 LAST x", SV_BDAT, BDATSYN),
    /* unknown verbs and bad octets */
    ERR("unknown verb", "FOO bar", SV_UNKNOWN, UNREC),
    ERR("empty line", "", SV_UNKNOWN, UNREC),
    ERR("only spaces", "   ", SV_UNKNOWN, UNREC),
    ERR("MAILFROM glued", "MAILFROM:<" A ">", SV_UNKNOWN, UNREC),
    ERR("verb prefix HELOx", "HELOx", SV_UNKNOWN, UNREC),
    ERR("verb too long", "STARTTLSX", SV_UNKNOWN, UNREC),
    ERR("leading space", " HELO x", SV_UNKNOWN, UNREC),
    ERRN("NUL in line", "NOOP a\0b", SV_UNKNOWN, SYNTAX),
    ERR("CR in line", "HELO a\rb", SV_UNKNOWN, SYNTAX),
    ERR("TAB separator", "HELO\tx", SV_UNKNOWN, SYNTAX),
    ERR("DEL in line", "NOOP \x7f", SV_UNKNOWN, SYNTAX),
    ERR("8-bit NOOP argument", "NOOP \xc3\xa9", SV_NOOP, SYNTAX),
    ERR("8-bit unknown verb", "\xff" "FOO", SV_UNKNOWN, SYNTAX),
};

/* same_arg - out->arg[0..arg_len) equals want (NULL: absent) */
static int same_arg(const struct smtp_cmd *c, const char *want)
{
    if (want == NULL)
        return c->arg == NULL && c->arg_len == 0;
    return c->arg != NULL && c->arg_len == strlen(want)
           && memcmp(c->arg, want, c->arg_len) == 0;
}

/* ok_fields - every success field of c matches t */
static int ok_fields(const struct ccase *t, const struct smtp_cmd *c)
{
    int body = c->body_given ? c->body_8bit : -1;

    return c->verb == t->verb && same_arg(c, t->arg)
           && strcmp(c->path, t->path) == 0 && c->size == t->size
           && body == t->body && c->smtputf8 == t->utf8
           && (t->path_8bit < 0 || c->path_8bit == t->path_8bit)
           && c->auth_given == (t->auth != NULL)
           && strcmp(c->auth, t->auth ? t->auth : "") == 0
           && c->chunk == t->chunk && c->last == t->last;
}

/* ok_error - the reply and the reset result match t */
static int ok_error(const struct ccase *t, const struct smtp_cmd *c,
                    const struct smtp_reply_err *e)
{
    return c->verb == t->verb && e->code == t->code
           && strcmp(e->status, t->status) == 0
           && strcmp(e->text, t->text) == 0 && c->path[0] == '\0'
           && c->arg == NULL && c->size == -1 && !c->auth_given;
}

/* run_cmd - one command case */
static void run_cmd(const struct ccase *t)
{
    struct smtp_cmd c;
    struct smtp_reply_err e = { 0, "", "" };
    size_t len = t->len ? t->len : strlen(t->line);
    int rc = smtp_parse_command(t->line, len, &c, &e);

    if (t->code == 0) {
        if (!ok(rc == 0 && ok_fields(t, &c), "cmd: %s", t->name))
            printf("#   rc %d, %d %s %s; verb %d path \"%s\" size %ld\n",
                   rc, e.code, e.status, e.text, c.verb, c.path, c.size);
        return;
    }
    if (!ok(rc == -1 && ok_error(t, &c, &e), "cmd: %s", t->name))
        printf("#   rc %d, got %d %s \"%s\" verb %d, want %d %s \"%s\"\n",
               rc, e.code, e.status, e.text, c.verb, t->code, t->status,
               t->text);
}

/* cmd_length_limits - SMTP_LINE_MAX and SMTP_PATH_MAX boundaries */
static void cmd_length_limits(void)
{
    char line[SMTP_LINE_MAX + 16], want[SMTP_PATH_MAX + 1];
    struct smtp_cmd c;
    struct smtp_reply_err e;
    size_t n;

    memset(line, 'x', sizeof line);
    memcpy(line, "NOOP ", 5);
    ok(smtp_parse_command(line, SMTP_LINE_MAX - 2, &c, &e) == 0
       && c.arg_len == SMTP_LINE_MAX - 7, "cmd: 510-octet line accepted");
    ok(smtp_parse_command(line, SMTP_LINE_MAX - 1, &c, &e) == -1
       && e.code == 500 && strcmp(e.text, "Line too long") == 0
       && strcmp(e.status, "5.5.2") == 0, "cmd: 511-octet line: 500 5.5.2 Line too long");
    n = (size_t)snprintf(line, sizeof line, "RCPT TO:<");
    memset(line + n, 'a', SMTP_PATH_MAX - 2);
    memcpy(want, line + n, SMTP_PATH_MAX - 2);
    want[SMTP_PATH_MAX - 2] = '\0';
    line[n + SMTP_PATH_MAX - 2] = '>';
    ok(smtp_parse_command(line, n + SMTP_PATH_MAX - 1, &c, &e) == 0
       && strcmp(c.path, want) == 0, "cmd: path of 256 octets with <> accepted");
    line[n + SMTP_PATH_MAX - 2] = 'a';
    line[n + SMTP_PATH_MAX - 1] = '>';
    ok(smtp_parse_command(line, n + SMTP_PATH_MAX, &c, &e) == -1
       && e.code == 501 && strcmp(e.status, "5.1.3") == 0
       && strcmp(e.text, "Path too long") == 0, "cmd: path of 257 octets: 501 5.1.3");
}

/* cmd_arg_not_terminated - arg is (ptr, len) into a line without NUL */
static void cmd_arg_not_terminated(void)
{
    const char buf[] = { 'V', 'R', 'F', 'Y', ' ', 'b', 'o', 'b', ' ', ' ' };
    struct smtp_cmd c;
    struct smtp_reply_err e;

    ok(smtp_parse_command(buf, sizeof buf, &c, &e) == 0 && c.arg == buf + 5
       && c.arg_len == 3, "cmd: arg points into an unterminated line");
}

/* ------------------------------------------------------------------ */
/* xtext */

struct xcase {
    const char *name, *in;
    size_t size;                /* output buffer size */
    int ret;
    const char *out;
};

static const struct xcase xtext_cases[] = {
    { "plain", "abc@example.com", 64, 15, "abc@example.com" },
    { "empty", "", 8, 0, "" },
    { "+2B", "a+2Bb", 8, 3, "a+b" },
    { "+3D", "e+3Dmc2", 8, 5, "e=mc2" },
    { "lower-case hex accepted", "+2b", 8, 1, "+" },
    { "8-bit via escapes", "+C3+A9", 8, 2, "\xc3\xa9" },
    { "exact fit", "abcd", 5, 4, "abcd" },
    { "one too long", "abcde", 5, -1, "" },
    { "'+' at end", "a+", 8, -1, "" },
    { "'+' one digit", "a+4", 8, -1, "" },
    { "'+' non-hex", "+GG", 8, -1, "" },
    { "'=' not allowed", "a=b", 8, -1, "" },
    { "space not allowed", "a b", 8, -1, "" },
    { "decoded NUL", "+00", 8, -1, "" },
    { "8-bit raw octet", "\xc3\xa9", 8, -1, "" },
};

/* run_xtext - one xtext case */
static void run_xtext(const struct xcase *t)
{
    char out[64];
    int rc = smtp_xtext_decode(t->in, strlen(t->in), out, t->size);

    if (!ok(rc == t->ret && strcmp(out, t->out) == 0, "xtext: %s", t->name))
        printf("#   rc %d out \"%s\"\n", rc, out);
}

/* ------------------------------------------------------------------ */
/* DATA */

struct dresult {
    int end;
    size_t used;
    enum dp_error err;
    unsigned long long total;
    struct strbuf out;
};

/* sink_sb - collect message octets */
static int sink_sb(const char *p, size_t n, void *arg)
{
    sb_append(arg, p, n);
    return 0;
}

/* feed_split - feed in[0..len) in chunks from the list (0-terminated,
 * repeated); stops at DP_END */
static void feed_split(const char *in, size_t len, size_t hmax,
                       unsigned long long smax, const size_t *chunks,
                       struct dresult *r)
{
    struct data_parser dp;
    size_t off = 0, k = 0, n, used;

    sb_init(&r->out);
    dp_init(&dp, hmax, smax, sink_sb, &r->out);
    r->end = 0;
    while (off < len && !r->end) {
        n = chunks[k] ? chunks[k++] : len - off;
        if (chunks[k] == 0)
            k = 0;
        n = n > len - off ? len - off : n;
        r->end = dp_feed(&dp, in + off, n, &used) == DP_END;
        if (used > n || (!r->end && used != n))
            r->end = -1;        /* broken contract */
        off += used;
    }
    r->used = off;
    r->err = dp_status(&dp);
    r->total = dp.total;
}

/* same_result - two feeds agree on everything */
static int same_result(const struct dresult *a, const struct dresult *b)
{
    return a->end == b->end && a->used == b->used && a->err == b->err
           && a->total == b->total && sb_len(&a->out) == sb_len(&b->out)
           && memcmp(sb_str(&a->out), sb_str(&b->out), sb_len(&a->out)) == 0;
}

struct dcase {
    const char *name;
    const char *in;
    size_t len;                 /* 0: strlen(in) */
    size_t hmax;
    unsigned long long smax;
    int end;
    long used;                  /* -1: everything */
    const char *out;
    enum dp_error err;
};

#define D(n, in, end, used, out, err)        { n, in, 0, 0, 0, end, used, out, err }
#define DN(n, in, end, used, out, err)       { n, in, sizeof in - 1, 0, 0, end, used, out, err }
#define DL(n, in, h, s, end, used, out, err) { n, in, 0, h, s, end, used, out, err }

static const struct dcase data_cases[] = {
    D("empty message", ".\r\n", 1, 3, "", DPE_NONE),
    D("one line", "a\r\n.\r\n", 1, 6, "a\r\n", DPE_NONE),
    D("header and body", "Subject: x\r\n\r\nbody\r\n.\r\n", 1, -1, "Subject: x\r\n\r\nbody\r\n", DPE_NONE),
    D("only an empty line", "\r\n.\r\n", 1, 5, "\r\n", DPE_NONE),
    D("empty lines", "\r\n\r\n.\r\n", 1, -1, "\r\n\r\n", DPE_NONE),
    D("dot-stuffed line", "..a\r\n.\r\n", 1, -1, ".a\r\n", DPE_NONE),
    D("dot-stuffed dot", "..\r\n.\r\n", 1, -1, ".\r\n", DPE_NONE),
    D("three dots", "...\r\n.\r\n", 1, -1, "..\r\n", DPE_NONE),
    D("dot then space", ". x\r\n.\r\n", 1, -1, " x\r\n", DPE_NONE),
    D("dots inside lines", "a.b\r\n.c\r\nd.\r\n.\r\n", 1, -1, "a.b\r\nc\r\nd.\r\n", DPE_NONE),
    D("8-bit data passes", "caf\xc3\xa9\r\n.\r\n", 1, -1, "caf\xc3\xa9\r\n", DPE_NONE),
    D("pipelined command after end", "a\r\n.\r\nQUIT\r\n", 1, 6, "a\r\n", DPE_NONE),
    D("pipelined after empty message", ".\r\nRSET\r\n", 1, 3, "", DPE_NONE),
    D("no terminator yet", "a\r\nb", 0, -1, "a\r\nb", DPE_NONE),
    D("terminator incomplete: dot CR", "a\r\n.\r", 0, -1, "a\r\n", DPE_NONE),
    D("terminator incomplete: dot", "a\r\n.", 0, -1, "a\r\n", DPE_NONE),
    D("CR last octet held back", "a\r", 0, -1, "a", DPE_NONE),
    /* SMTP smuggling: none of these ends the data */
    D("smuggling LF.LF", "a\n.\nb\r\n.\r\n", 1, -1, "a", DPE_BARE_LF),
    D("smuggling CR.LF", "a\r.\nb\r\n.\r\n", 1, -1, "a", DPE_BARE_CR),
    D("smuggling LF.CRLF", "a\n.\r\nb\r\n.\r\n", 1, -1, "a", DPE_BARE_LF),
    D("smuggling CRLF.CR + more", "a\r\n.\rX\r\n.\r\n", 1, -1, "a\r\n", DPE_BARE_CR),
    D("smuggling CRLF.LF", "a\r\n.\nb\r\n.\r\n", 1, -1, "a\r\n", DPE_BARE_LF),
    D("smuggling CRLF.CR.CRLF", "a\r\n.\r.\r\n", 0, -1, "a\r\n", DPE_BARE_CR),
    D("smuggling LF.LF only", "a\n.\n", 0, -1, "a", DPE_BARE_LF),
    D("smuggling LF.CRLF only", "a\n.\r\n", 0, -1, "a", DPE_BARE_LF),
    D("smuggling CRLF.LF only", "a\r\n.\n", 0, -1, "a\r\n", DPE_BARE_LF),
    D("first line dot LF", ".\nX\r\n.\r\n", 1, -1, "", DPE_BARE_LF),
    D("first line dot CR + more", ".\rX\r\n.\r\n", 1, -1, "", DPE_BARE_CR),
    D("first line LF dot CRLF", "\n.\r\n", 0, -1, "", DPE_BARE_LF),
    D("bare LF then real terminator", "\n.\r\n.\r\n", 1, -1, "", DPE_BARE_LF),
    D("bare CR then real terminator", "a\r\r\n.\r\n", 1, -1, "a", DPE_BARE_CR),
    D("dot CR CR LF is not the end", "a\r\n.\r\r\nb\r\n.\r\n", 1, -1, "a\r\n", DPE_BARE_CR),
    D("bare LF in a line", "a\nb\r\n.\r\n", 1, -1, "a", DPE_BARE_LF),
    D("bare CR in a line", "a\rb\r\n.\r\n", 1, -1, "a", DPE_BARE_CR),
    D("pipelined bytes stay after an error", "a\nb\r\n.\r\nMAIL", 1, 8, "a", DPE_BARE_LF),
    DN("NUL", "a\0b\r\n.\r\n", 1, -1, "a", DPE_NUL),
    DN("NUL at line start", "\0\r\n.\r\n", 1, -1, "", DPE_NUL),
    /* limits */
    DL("header at the limit", "Subject: 0123456789\r\n\r\nbody\r\n.\r\n", 21, 0, 1, -1, "Subject: 0123456789\r\n\r\nbody\r\n", DPE_NONE),
    DL("header over the limit", "Subject: 0123456789\r\n\r\nbody\r\n.\r\n", 20, 0, 1, -1, "Subject: 0123456789\r", DPE_HEADER_LONG),
    DL("body not counted as header", "S: x\r\n\r\n" "0123456789012345678901234567890123456789\r\n.\r\n", 6, 0, 1, -1, "S: x\r\n\r\n" "0123456789012345678901234567890123456789\r\n", DPE_NONE),
    DL("no empty line: all header", "aaaa\r\nbbbb\r\n.\r\n", 10, 0, 1, -1, "aaaa\r\nbbbb\r", DPE_HEADER_LONG),
    DL("size at the limit", "abc\r\n.\r\n", 0, 5, 1, -1, "abc\r\n", DPE_NONE),
    DL("size one over", "abc\r\n.\r\n", 0, 4, 1, -1, "abc\r", DPE_TOO_BIG),
    DL("size overrun before a bare LF wins", "abcd\nx\r\n.\r\n", 0, 2, 1, -1, "ab", DPE_TOO_BIG),
    DL("bare LF before a size overrun wins", "a\nbcdef\r\n.\r\n", 0, 3, 1, -1, "a", DPE_BARE_LF),
    DL("dot-stuffing not counted in size", "..\r\n.\r\n", 0, 3, 1, -1, ".\r\n", DPE_NONE),
};

/* dcase_ok - a whole-input feed matches the table */
static int dcase_ok(const struct dcase *t, const struct dresult *r, size_t len)
{
    size_t want_used = t->used < 0 ? len : (size_t)t->used;

    return r->end == t->end && r->used == want_used && r->err == t->err
           && sb_len(&r->out) == strlen(t->out) && r->total == strlen(t->out)
           && memcmp(sb_str(&r->out), t->out, sb_len(&r->out)) == 0;
}

/* splits_agree - byte by byte and every two-chunk split give ref */
static int splits_agree(const char *in, size_t len, size_t hmax,
                        unsigned long long smax, const struct dresult *ref)
{
    size_t one[] = { 1, 0 }, two[] = { 0, 0, 0 }, k;
    struct dresult r;
    int same;

    feed_split(in, len, hmax, smax, one, &r);
    same = same_result(&r, ref);
    sb_free(&r.out);
    for (k = 1; same && k < len; k++) {
        two[0] = k;
        two[1] = len;
        feed_split(in, len, hmax, smax, two, &r);
        same = same_result(&r, ref);
        if (!same)
            printf("#   split at %zu differs\n", k);
        sb_free(&r.out);
    }
    return same;
}

/* run_data - one DATA case: a single feed, then every split */
static void run_data(const struct dcase *t)
{
    size_t len = t->len ? t->len : strlen(t->in), all[] = { 0 };
    struct dresult r;

    feed_split(t->in, len, t->hmax, t->smax, all, &r);
    if (!ok(dcase_ok(t, &r, len), "data: %s", t->name))
        printf("#   end %d used %zu err %d total %llu out \"%s\"\n", r.end,
               r.used, r.err, r.total, sb_str(&r.out));
    ok(splits_agree(t->in, len, t->hmax, t->smax, &r),
       "data: %s: same result byte by byte and split anywhere", t->name);
    sb_free(&r.out);
}

/* data_long_lines - 998/999-octet lines, plain and dot-stuffed */
static void data_long_lines(void)
{
    static const struct {
        const char *name;
        int stuffed;
        size_t octets;          /* message octets in the line */
        enum dp_error err;
    } t[] = {
        { "998-octet line", 0, 998, DPE_NONE },
        { "999-octet line", 0, 999, DPE_LINE_LONG },
        { "998 octets after a stuffing dot", 1, 998, DPE_NONE },
        { "999 octets after a stuffing dot", 1, 999, DPE_LINE_LONG },
    };
    char buf[1100];
    size_t k, len, all[] = { 0 };
    struct dresult r;

    for (k = 0; k < sizeof t / sizeof t[0]; k++) {
        len = 0;
        if (t[k].stuffed)
            buf[len++] = '.';
        buf[len++] = '.';       /* stuffed: ".." gives one '.' */
        memset(buf + len, 'x', t[k].octets - 1);
        len += t[k].octets - 1;
        memcpy(buf + len, "\r\n.\r\n", 5);
        len += 5;
        if (!t[k].stuffed)
            buf[0] = 'x';
        feed_split(buf, len, 0, 0, all, &r);
        ok(r.end == 1 && r.used == len && r.err == t[k].err
           && sb_len(&r.out) == (t[k].err ? 998 : t[k].octets + 2),
           "data: %s", t[k].name);
        ok(splits_agree(buf, len, 0, 0, &r),
           "data: %s: same result split anywhere", t[k].name);
        sb_free(&r.out);
    }
}

/* data_terminator_splits - three chunks, the cuts at every pair of
 * positions, around the terminator and the pipelined command */
static void data_terminator_splits(void)
{
    static const char msg[] = "S: t\r\n\r\n..b\r\n.\r\nQUIT\r\n";
    size_t len = sizeof msg - 1, i, j, all[] = { 0 }, three[4] = { 0 };
    struct dresult ref, r;
    int same = 1;

    feed_split(msg, len, 0, 0, all, &ref);
    ok(ref.end == 1 && ref.used == len - 6 && strcmp(sb_str(&ref.out),
       "S: t\r\n\r\n.b\r\n") == 0, "data: terminator found, QUIT left over");
    for (i = 1; i < len && same; i++)
        for (j = i + 1; j < len && same; j++) {
            three[0] = i;
            three[1] = j - i;
            three[2] = len;
            feed_split(msg, len, 0, 0, three, &r);
            same = same_result(&r, &ref);
            if (!same)
                printf("#   cuts at %zu and %zu differ\n", i, j);
            sb_free(&r.out);
        }
    ok(same, "data: terminator split across chunks at every position");
    sb_free(&ref.out);
}

static int sink_fail_calls;

/* sink_fail - accepts one call, then fails */
static int sink_fail(const char *p, size_t n, void *arg)
{
    (void)p;
    (void)n;
    (void)arg;
    return sink_fail_calls++ == 0 ? 0 : -1;
}

/* data_sink_and_end - a failing sink, and feeding after the end */
static void data_sink_and_end(void)
{
    static const char msg[] = "a\r\n..b\r\n.\r\nNOOP\r\n";
    struct data_parser dp;
    size_t used = 99;

    dp_init(&dp, 0, 0, sink_fail, NULL);
    ok(dp_feed(&dp, msg, sizeof msg - 1, &used) == DP_END && used == 11
       && dp_status(&dp) == DPE_SINK && dp.total == 3,
       "data: failing sink is DPE_SINK, the terminator is still found");
    ok(dp_feed(&dp, "x\r\n.\r\n", 6, &used) == DP_END && used == 0,
       "data: after the end nothing more is consumed");
    dp_init(&dp, 0, 0, NULL, NULL);
    ok(dp_feed(&dp, msg, sizeof msg - 1, &used) == DP_END && used == 11
       && dp.total == 7, "data: NULL sink only counts");
    ok(dp_feed(&dp, NULL, 0, &used) == DP_END && used == 0,
       "data: empty feed after the end");
    dp_init(&dp, 0, 0, NULL, NULL);
    ok(dp_feed(&dp, NULL, 0, &used) == DP_MORE && used == 0,
       "data: empty feed");
}

/* data_error_texts - every error has a text and a reply */
static void data_error_texts(void)
{
    struct smtp_reply_err e;
    int e_ok = 1, k;

    for (k = DPE_BARE_LF; k <= DPE_SINK; k++) {
        dp_error_reply((enum dp_error)k, &e);
        e_ok &= strlen(dp_error_text((enum dp_error)k)) > 0 && e.code >= 400
                && e.text[0] != '\0';
    }
    dp_error_reply(DPE_TOO_BIG, &e);
    e_ok &= e.code == 552 && strcmp(e.status, "5.3.4") == 0;
    dp_error_reply(DPE_NONE, &e);
    ok(e_ok && e.code == 0 && strcmp(dp_error_text(DPE_NONE), "no error") == 0,
       "data: every error has a text and a reply");
}

/* ------------------------------------------------------------------ */
/* random chunking against a byte-at-a-time reference model */

struct model {
    const char *in;
    size_t len, i, line, hdr, hmax;
    unsigned long long smax;
    int bol, in_hdr;
    struct dresult *r;
};

/* m_out - one message octet */
static void m_out(struct model *m, char c)
{
    if (m->r->err != DPE_NONE)
        return;
    if (m->smax != 0 && sb_len(&m->r->out) >= m->smax) {
        m->r->err = DPE_TOO_BIG;
        return;
    }
    sb_putc(&m->r->out, c);
}

/* m_err - keep the first error */
static void m_err(struct model *m, enum dp_error e)
{
    if (m->r->err == DPE_NONE)
        m->r->err = e;
}

/* m_crlf - a line ends */
static void m_crlf(struct model *m)
{
    m_out(m, '\r');
    if (m->in_hdr && m->line == 0)
        m->in_hdr = 0;
    else if (m->in_hdr && m->r->err == DPE_NONE) {
        m->hdr += m->line + 2;
        if (m->hmax != 0 && m->hdr > m->hmax)
            m_err(m, DPE_HEADER_LONG);
    }
    m_out(m, '\n');
    m->line = 0;
    m->bol = 1;
    m->i += 2;
}

/* m_step - one octet (or CRLF, or the terminator); 0 to stop */
static int m_step(struct model *m)
{
    const char *p = m->in + m->i;
    size_t left = m->len - m->i;

    if (m->bol && p[0] == '.') {
        if (left < 2 || (p[1] == '\r' && left < 3))
            return 0;           /* undecided until more arrives */
        if (p[1] == '\r' && p[2] == '\n') {
            m->i += 3;
            m->r->end = 1;
            return 0;
        }
        m->i++;
        m->bol = 0;
        return 1;
    }
    m->bol = 0;
    if (p[0] == '\r' && left < 2)
        return 0;
    if (p[0] == '\r' && p[1] == '\n')
        m_crlf(m);
    else if (p[0] == '\r' || p[0] == '\n' || p[0] == '\0')
        m_err(m, p[0] == '\r' ? DPE_BARE_CR : p[0] == '\n' ? DPE_BARE_LF : DPE_NUL);
    else if (m->r->err == DPE_NONE && m->line == 998)
        m_err(m, DPE_LINE_LONG);
    else {
        m_out(m, p[0]);
        m->line++;
    }
    if (!(p[0] == '\r' && p[1] == '\n'))
        m->i++;
    return 1;
}

/* model_run - the expected result for the whole input */
static void model_run(const char *in, size_t len, size_t hmax,
                      unsigned long long smax, struct dresult *r)
{
    struct model m = { in, len, 0, 0, 0, hmax, smax, 1, 1, r };

    sb_init(&r->out);
    r->end = 0;
    r->err = DPE_NONE;
    while (m.i < len && m_step(&m))
        ;
    r->used = r->end ? m.i : len;
    r->total = sb_len(&r->out);
}

/* gen_message - random text made of risky pieces */
static size_t gen_message(char *buf, size_t size)
{
    static const char *pieces[] = {
        "Subject: hello\r\n", "\r\n", "..stuffed\r\n", ".\r\n", "\n",
        "\r", "\0", ".", "x", "text ", "\r\n.\n", "\n.\r\n", "\r.\n",
        "\n.\n", "\r\n.\r", "\r\n.\r\n", "\r\n\r\n", "abc\r\n",
    };
    size_t len = 0, want = (size_t)rand() % size, n;

    while (len < want) {
        int k = rand() % 20;

        if (k >= 18) {          /* a long line around the limit */
            n = 990 + (size_t)rand() % 15;
            n = n > size - len ? size - len : n;
            memset(buf + len, 'L', n);
        } else {
            n = k == 6 ? 1 : strlen(pieces[k]);
            if (n > size - len)
                break;
            memcpy(buf + len, pieces[k], n);
        }
        len += n;
    }
    return len;
}

/* random_chunks - a 0-terminated list of chunk sizes */
static void random_chunks(size_t *chunks, size_t count)
{
    size_t k;

    for (k = 0; k + 1 < count; k++)
        chunks[k] = rand() % 8 == 0 ? 1 + (size_t)rand() % 2000
                                    : 1 + (size_t)rand() % 16;
    chunks[count - 1] = 0;
}

/* data_random - random messages, limits and chunkings vs the model */
static void data_random(void)
{
    static char buf[6000];
    static const size_t hmaxes[] = { 0, 40, 300 };
    static const unsigned long long smaxes[] = { 0, 100, 2500 };
    size_t chunks[64], len, all[] = { 0 }, one[] = { 1, 0 }, hmax;
    unsigned long long smax;
    struct dresult want, got;
    int iter, same = 1, ends = 0, errs = 0;

    srand(20261121);
    for (iter = 0; iter < 3000 && same; iter++) {
        len = gen_message(buf, sizeof buf);
        hmax = hmaxes[rand() % 3];
        smax = smaxes[rand() % 3];
        model_run(buf, len, hmax, smax, &want);
        ends += want.end;
        errs += want.err != DPE_NONE;
        random_chunks(chunks, 1 + (size_t)rand() % 63);
        feed_split(buf, len, hmax, smax, chunks, &got);
        same = same_result(&got, &want);
        sb_free(&got.out);
        feed_split(buf, len, hmax, smax, iter % 10 ? all : one, &got);
        same = same && same_result(&got, &want);
        if (!same)
            printf("#   iteration %d (len %zu) differs from the model\n",
                   iter, len);
        sb_free(&got.out);
        sb_free(&want.out);
    }
    ok(same, "data: 3000 random messages in random chunks match the "
       "reference model (%d ended, %d with errors)", ends, errs);
}

/* ------------------------------------------------------------------ */
/* throughput (printed, not asserted) */

struct copy_sink {
    char *buf;
    size_t len;
};

/* sink_copy - copy into a preallocated buffer, as a spool writer would */
static int sink_copy(const char *p, size_t n, void *arg)
{
    struct copy_sink *c = arg;

    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return 0;
}

/* make_message - about 100 KiB of 76-octet lines, some dot-stuffed */
static size_t make_message(char *buf, size_t size)
{
    size_t len = 0, line = 0;

    while (len + 80 < size - 8) {
        if (line % 40 == 7)
            buf[len++] = '.';
        memset(buf + len, 'a' + (char)(line % 26), 76);
        len += 76;
        buf[len++] = '\r';
        buf[len++] = '\n';
        line++;
    }
    memcpy(buf + len, ".\r\n", 3);
    return len + 3;
}

/* data_throughput - 100 KiB messages through dp_feed in 16 KiB reads */
static void data_throughput(void)
{
    static char msg[100 * 1024], out[100 * 1024];
    struct copy_sink cs = { out, 0 };
    struct data_parser dp;
    struct timespec t0, t1;
    size_t len = make_message(msg, sizeof msg), off, used, n;
    int k, reps = 2000, good = 1;
    double secs;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (k = 0; k < reps; k++) {
        cs.len = 0;
        dp_init(&dp, 0, 0, sink_copy, &cs);
        for (off = 0; off < len; off += used) {
            n = len - off > 16384 ? 16384 : len - off;
            if (dp_feed(&dp, msg + off, n, &used) == DP_END)
                break;
        }
        good &= dp.error == DPE_NONE && off + used == len;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    ok(good, "data: %d messages of %zu octets parsed", reps, len);
    printf("# dp_feed: %.0f MB/s, %.0f messages/s (100 KiB, 16 KiB reads)\n",
           (double)len * reps / secs / 1e6, reps / secs);
}

int main(void)
{
    size_t k;

    for (k = 0; k < sizeof cmd_cases / sizeof cmd_cases[0]; k++)
        run_cmd(&cmd_cases[k]);
    cmd_length_limits();
    cmd_arg_not_terminated();
    for (k = 0; k < sizeof xtext_cases / sizeof xtext_cases[0]; k++)
        run_xtext(&xtext_cases[k]);
    for (k = 0; k < sizeof data_cases / sizeof data_cases[0]; k++)
        run_data(&data_cases[k]);
    data_long_lines();
    data_terminator_splits();
    data_sink_and_end();
    data_error_texts();
    data_random();
    data_throughput();
    return done_testing();
}
