/*
 * fuzz_smtp_cmd.c - libFuzzer target for smtp_parse_command and
 * smtp_xtext_decode (smtpd/smtp_parse.c).
 *
 * PURPOSE:   parse hostile octets as one command line (CRLF removed) and
 *            check the invariants of the result: a failure carries a
 *            500/501/555 reply and a reset result; a success has a known
 *            verb, bounded NUL-terminated path and AUTH, an argument inside
 *            the line, and the shape its verb requires. Flipping the case
 *            of the verb must not change anything. The input is also
 *            decoded as xtext, re-encoded and decoded again.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints what and abort()s.
 * BUILD:     clang -std=c11 -D_GNU_SOURCE -I. -g -O1
 *            -fsanitize=fuzzer,address,undefined test-suite/fuzz/fuzz_smtp_cmd.c
 *            smtpd/smtp_parse.c -o /tmp/fuzz_smtp_cmd
 *            (seeds: test-suite/fuzz/corpus/smtp_cmd/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* die - report a broken invariant and abort */
static void die(const char *what)
{
    fprintf(stderr, "fuzz_smtp_cmd: %s\n", what);
    abort();
}

/* check_failure - the reply and the reset result */
static void check_failure(const struct smtp_cmd *c,
                          const struct smtp_reply_err *e, size_t len)
{
    if (e->code != 500 && e->code != 501 && e->code != 553
        && e->code != 555)
        die("unexpected reply code");
    if (e->status == NULL || e->text == NULL || e->text[0] == '\0')
        die("reply without status or text");
    if (len > SMTP_LINE_MAX - 2 && strcmp(e->text, "Line too long") != 0)
        die("long line not refused as too long");
    if (c->arg != NULL || c->arg_len != 0 || c->path[0] != '\0'
        || c->size != -1 || c->auth_given || c->smtputf8 || c->chunk != 0)
        die("failure left a result behind");
}

/* check_octets - path and AUTH hold no control octet */
static void check_octets(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            die("control octet in path or AUTH");
}

/* check_success - the shape of a parsed command */
static void check_success(const struct smtp_cmd *c, const char *line,
                          size_t len)
{
    enum smtp_verb v = c->verb;

    if (len > SMTP_LINE_MAX - 2 || v == SV_UNKNOWN)
        die("accepted a long line or an unknown verb");
    if (c->arg != NULL && (c->arg < line || c->arg + c->arg_len > line + len
                           || c->arg_len == 0))
        die("arg outside the line");
    if ((v == SV_HELO || v == SV_EHLO || v == SV_VRFY || v == SV_EXPN
         || v == SV_AUTH) && c->arg == NULL)
        die("required argument missing");
    if ((v == SV_DATA || v == SV_RSET || v == SV_QUIT || v == SV_STARTTLS
         || v == SV_MAIL || v == SV_RCPT || v == SV_BDAT) && c->arg != NULL)
        die("argument where none is kept");
    if (strnlen(c->path, sizeof c->path) > SMTP_PATH_MAX - 2
        || strnlen(c->auth, sizeof c->auth) > SMTP_PATH_MAX)
        die("path or AUTH too long or unterminated");
    check_octets(c->path);
    check_octets(c->auth);
    if ((v == SV_RCPT && c->path[0] == '\0')
        || (v == SV_MAIL && c->path_8bit && !c->smtputf8))
        die("bad path accepted");
    if (c->chunk > (1ULL << 53) || (v != SV_BDAT && (c->chunk || c->last)))
        die("bad BDAT result");
}

/* flip_verb - the same line with the case of the verb letters flipped */
static void flip_verb(char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len && s[i] != ' '; i++)
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))
            s[i] ^= 0x20;
}

/* same_cmd - two parses agree */
static int same_cmd(const struct smtp_cmd *a, const struct smtp_cmd *b,
                    int ra, int rb, const struct smtp_reply_err *ea,
                    const struct smtp_reply_err *eb)
{
    if (ra != rb || a->verb != b->verb)
        return 0;
    if (ra < 0)
        return ea->code == eb->code && strcmp(ea->text, eb->text) == 0;
    return strcmp(a->path, b->path) == 0 && a->size == b->size
           && strcmp(a->auth, b->auth) == 0 && a->arg_len == b->arg_len
           && a->chunk == b->chunk && a->last == b->last;
}

/* xtext_round_trip - decode, encode, decode again */
static void xtext_round_trip(const char *s, size_t len)
{
    char out[600], enc[1800], again[600];
    size_t i, n = 0;
    int dlen = smtp_xtext_decode(s, len, out, sizeof out);

    if (dlen < 0)
        return;
    if ((size_t)dlen >= sizeof out || strlen(out) != (size_t)dlen)
        die("xtext length");
    for (i = 0; i < (size_t)dlen; i++) {
        unsigned char ch = (unsigned char)out[i];

        if (ch > '!' - 1 && ch <= '~' && ch != '+' && ch != '=')
            enc[n++] = (char)ch;
        else
            n += (size_t)snprintf(enc + n, sizeof enc - n, "+%02X", ch);
    }
    if (smtp_xtext_decode(enc, n, again, sizeof again) != dlen
        || memcmp(out, again, (size_t)dlen) != 0)
        die("xtext round trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_cmd a, b;
    struct smtp_reply_err ea = { 0, NULL, NULL }, eb = { 0, NULL, NULL };
    char *copy;
    int ra, rb;

    copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);   /* exact size: ASan sees overreads */
    ra = smtp_parse_command(copy, size, &a, &ea);
    if (ra == 0)
        check_success(&a, copy, size);
    else if (ra == -1)
        check_failure(&a, &ea, size);
    else
        die("return value");
    flip_verb(copy, size);
    rb = smtp_parse_command(copy, size, &b, &eb);
    if (!same_cmd(&a, &b, ra, rb, &ea, &eb))
        die("verb case changed the result");
    xtext_round_trip((const char *)data, size);
    free(copy);
    return 0;
}
