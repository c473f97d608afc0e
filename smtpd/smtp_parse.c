/*
 * smtp_parse.c - SMTP command lines (RFC 5321) and xtext (RFC 3461).
 *
 * PURPOSE:   split one command line into a verb and its checked arguments:
 *            HELO/EHLO name, MAIL/RCPT path and ESMTP parameters (SIZE
 *            RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, AUTH RFC 4954),
 *            BDAT size and LAST (RFC 3030); decode xtext.
 * INTERFACE: smtp_parse_command, smtp_xtext_decode (contracts in
 *            smtp_parse.h). Verbs and MAIL parameters are tables.
 * ERRORS:    -1 with the reply to send in *err (static texts, which are
 *            part of the interface: tests and scenarios match them).
 * SECURITY:  the line is hostile (ptr, len) data. Length and control
 *            octets are checked before anything else; octets >= 0x80 pass
 *            only inside a MAIL/RCPT path and only as well-formed UTF-8;
 *            the path is copied only after its length was checked. The
 *            path is not parsed here (addr_parse does that in the session).
 */
#include <limits.h>
#include <string.h>

#include "core/base/utf8.h"
#include "smtpd/smtp_parse.h"

#define BDAT_MAX (1ULL << 53)
#define VERB_MAX 8              /* longest verb: STARTTLS */

struct cmd_ctx;
typedef int (*verb_fn)(struct cmd_ctx *);

struct verb_spec {
    const char *name;
    enum smtp_verb verb;
    verb_fn parse;
    const char *syntax;         /* text of the 501 5.5.4 reply */
};

struct cmd_ctx {
    const char *rest;           /* the line after the verb */
    size_t rest_len;
    struct smtp_cmd *out;
    struct smtp_reply_err *err;
    const struct verb_spec *spec;
};

typedef int (*param_fn)(struct cmd_ctx *, const char *v, size_t vlen,
                        int has_value);

struct param_spec {
    const char *name;
    param_fn parse;
};

static int v_helo(struct cmd_ctx *c);
static int v_none(struct cmd_ctx *c);
static int v_opt(struct cmd_ctx *c);
static int v_req(struct cmd_ctx *c);
static int v_mail(struct cmd_ctx *c);
static int v_rcpt(struct cmd_ctx *c);
static int v_bdat(struct cmd_ctx *c);
static int p_size(struct cmd_ctx *c, const char *v, size_t n, int has);
static int p_body(struct cmd_ctx *c, const char *v, size_t n, int has);
static int p_smtputf8(struct cmd_ctx *c, const char *v, size_t n, int has);
static int p_auth(struct cmd_ctx *c, const char *v, size_t n, int has);

static const struct verb_spec verbs[] = {
    { "HELO", SV_HELO, v_helo, "Syntax: HELO hostname" },
    { "EHLO", SV_EHLO, v_helo, "Syntax: EHLO hostname" },
    { "MAIL", SV_MAIL, v_mail, "Syntax: MAIL FROM:<address> [parameters]" },
    { "RCPT", SV_RCPT, v_rcpt, "Syntax: RCPT TO:<address>" },
    { "DATA", SV_DATA, v_none, "Syntax: DATA" },
    { "BDAT", SV_BDAT, v_bdat, "Syntax: BDAT size [LAST]" },
    { "RSET", SV_RSET, v_none, "Syntax: RSET" },
    { "NOOP", SV_NOOP, v_opt, "Syntax: NOOP [string]" },
    { "QUIT", SV_QUIT, v_none, "Syntax: QUIT" },
    { "VRFY", SV_VRFY, v_req, "Syntax: VRFY string" },
    { "EXPN", SV_EXPN, v_req, "Syntax: EXPN string" },
    { "HELP", SV_HELP, v_opt, "Syntax: HELP [string]" },
    { "STARTTLS", SV_STARTTLS, v_none, "Syntax: STARTTLS" },
    { "AUTH", SV_AUTH, v_req, "Syntax: AUTH mechanism [initial-response]" },
};

/* MAIL parameters; the index is the bit in the "seen" mask */
static const struct param_spec mail_params[] = {
    { "SIZE", p_size },
    { "BODY", p_body },
    { "SMTPUTF8", p_smtputf8 },
    { "AUTH", p_auth },
};

static const struct smtp_reply_err
    e_too_long = { 500, "5.5.2", "Line too long" },
    e_syntax = { 500, "5.5.2", "Syntax error" },
    e_unknown = { 500, "5.5.2", "Command unrecognized" },
    e_path_long = { 501, "5.1.3", "Path too long" },
    e_param_syntax = { 501, "5.5.4", "Syntax error in parameters" },
    e_dup = { 501, "5.5.4", "Duplicate parameter" },
    e_unsupported = { 555, "5.5.4", "Unsupported parameter" },
    e_size = { 501, "5.5.4", "Syntax: SIZE=digits" },
    e_body = { 501, "5.5.4", "Syntax: BODY=7BIT|8BITMIME" },
    e_utf8 = { 501, "5.5.4", "Syntax: SMTPUTF8 takes no value" },
    /* RFC 6531 3.5: the same answer smtp_cmd.c gives at RCPT */
    e_utf8_path = { 553, "5.6.7", "Non-ASCII address without SMTPUTF8" },
    e_auth = { 501, "5.5.4", "Syntax: AUTH=xtext" };

/* fail - store a reply, return -1 */
static int fail(struct smtp_reply_err *err, const struct smtp_reply_err *e)
{
    *err = *e;
    return -1;
}

/* fail_syntax - the verb's own 501 5.5.4 usage reply */
static int fail_syntax(struct cmd_ctx *c)
{
    c->err->code = 501;
    c->err->status = "5.5.4";
    c->err->text = c->spec->syntax;
    return -1;
}

/* upper - ASCII toupper, independent of the locale */
static int upper(unsigned char ch)
{
    return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

/* eq_nocase - p[0..n) equals the upper-case literal lit, ignoring case */
static int eq_nocase(const char *p, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (lit[i] == '\0' || upper((unsigned char)p[i]) != lit[i])
            return 0;
    return lit[n] == '\0';
}

/* is_digits - p[0..n) is 1*DIGIT */
static int is_digits(const char *p, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* parse_num - 1*DIGIT up to max; -1 if not digits or above max */
static int parse_num(const char *p, size_t n, unsigned long long max,
                     unsigned long long *val)
{
    unsigned long long v = 0;
    size_t i;

    if (!is_digits(p, n))
        return -1;
    for (i = 0; i < n; i++) {
        v = v * 10 + (unsigned long long)(p[i] - '0');
        if (v > max)
            return -1;
    }
    *val = v;
    return 0;
}

/* has_8bit - any octet >= 0x80 in p[0..n) */
static int has_8bit(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 1;
    return 0;
}


/* utf8_valid - p[0..n) is well-formed UTF-8 */
static int utf8_valid(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0, k;

    while (i < n) {
        if ((k = utf8_seq(u + i, n - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* check_octets - no control octet anywhere (a command line is printable
 * ASCII, SP and, in paths, UTF-8) */
static int check_octets(const char *line, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];

        if (ch < 0x20 || ch == 0x7f)
            return -1;
    }
    return 0;
}

/* find_verb - the table entry for line[0..n), NULL if unknown */
static const struct verb_spec *find_verb(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || n > VERB_MAX)
        return NULL;
    for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (eq_nocase(p, n, verbs[i].name))
            return &verbs[i];
    return NULL;
}

/* rest_arg - the argument after the verb with leading spaces skipped;
 * returns its length (0: none) */
static size_t rest_arg(const struct cmd_ctx *c, const char **arg)
{
    size_t i = 0;

    while (i < c->rest_len && c->rest[i] == ' ')
        i++;
    *arg = c->rest + i;
    return c->rest_len - i;
}

/* set_arg - keep the argument in out (NULL when absent) */
static void set_arg(struct cmd_ctx *c, const char *arg, size_t n)
{
    c->out->arg = n > 0 ? arg : NULL;
    c->out->arg_len = n;
}

/* v_helo - exactly one argument, a domain or an address literal */
static int v_helo(struct cmd_ctx *c)
{
    const char *arg;
    size_t n = rest_arg(c, &arg);

    if (n == 0 || memchr(arg, ' ', n) != NULL)
        return fail_syntax(c);
    set_arg(c, arg, n);
    return 0;
}

/* v_none - DATA, RSET, QUIT, STARTTLS: no argument */
static int v_none(struct cmd_ctx *c)
{
    const char *arg;

    return rest_arg(c, &arg) == 0 ? 0 : fail_syntax(c);
}

/* v_opt - NOOP, HELP: an optional argument, kept */
static int v_opt(struct cmd_ctx *c)
{
    const char *arg;
    size_t n = rest_arg(c, &arg);

    set_arg(c, arg, n);
    return 0;
}

/* v_req - VRFY, EXPN, AUTH: a required argument, kept */
static int v_req(struct cmd_ctx *c)
{
    const char *arg;
    size_t n = rest_arg(c, &arg);

    if (n == 0)
        return fail_syntax(c);
    set_arg(c, arg, n);
    return 0;
}

/* v_bdat - "BDAT" SP chunk-size [SP "LAST"] */
static int v_bdat(struct cmd_ctx *c)
{
    const char *arg, *sp;
    size_t n = rest_arg(c, &arg), num_len, i;

    if (n == 0)
        return fail_syntax(c);
    sp = memchr(arg, ' ', n);
    num_len = sp != NULL ? (size_t)(sp - arg) : n;
    if (parse_num(arg, num_len, BDAT_MAX, &c->out->chunk) < 0)
        return fail_syntax(c);
    for (i = num_len; i < n && arg[i] == ' '; i++)
        ;
    if (i == n)
        return 0;
    if (!eq_nocase(arg + i, n - i, "LAST"))
        return fail_syntax(c);
    c->out->last = 1;
    return 0;
}

/* find_path - the first '<' and its closing '>' in p[0..n); a '>' inside
 * a quoted local part does not close the path */
static int find_path(const char *p, size_t n, size_t *lt, size_t *gt)
{
    const char *s = memchr(p, '<', n);
    size_t i;
    int quoted = 0;

    if (s == NULL)
        return -1;
    *lt = (size_t)(s - p);
    for (i = *lt + 1; i < n; i++) {
        if (quoted && p[i] == '\\')
            i++;
        else if (p[i] == '"')
            quoted = !quoted;
        else if (!quoted && p[i] == '>') {
            *gt = i;
            return 0;
        }
    }
    return -1;
}

/* prefix_ok - p[0..n) is SP kw or SP kw SP (kw is "FROM:" or "TO:") */
static int prefix_ok(const char *p, size_t n, const char *kw)
{
    size_t kwlen = strlen(kw);

    if (n == kwlen + 2 && p[n - 1] == ' ')
        n--;
    return n == kwlen + 1 && p[0] == ' ' && eq_nocase(p + 1, kwlen, kw);
}

/* copy_path - keep the text inside <> exactly; 8-bit must be UTF-8 */
static int copy_path(struct cmd_ctx *c, const char *p, size_t n)
{
    if (has_8bit(p, n)) {
        if (!utf8_valid(p, n))
            return fail(c->err, &e_syntax);
        c->out->path_8bit = 1;
    }
    memcpy(c->out->path, p, n);
    c->out->path[n] = '\0';
    return 0;
}

/* keyword_ok - esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static int keyword_ok(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)upper((unsigned char)p[i]);

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || (ch == '-' && i > 0)))
            return 0;
    }
    return n > 0;
}

/* value_ok - esmtp-value: 1*(%d33-60 / %d62-126) */
static int value_ok(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i] < 33 || p[i] > 126 || p[i] == '=')
            return 0;
    return n > 0;
}

/* param_one - one keyword[=value]; seen holds the MAIL parameters had */
static int param_one(struct cmd_ctx *c, const char *tok, size_t len,
                     int is_mail, unsigned *seen)
{
    const char *eq = memchr(tok, '=', len);
    size_t klen = eq != NULL ? (size_t)(eq - tok) : len;
    const char *v = eq != NULL ? eq + 1 : "";
    size_t vlen = eq != NULL ? len - klen - 1 : 0, i;

    if (!keyword_ok(tok, klen) || (eq != NULL && !value_ok(v, vlen)))
        return fail(c->err, &e_param_syntax);
    if (!is_mail)
        return fail(c->err, &e_unsupported);
    for (i = 0; i < sizeof mail_params / sizeof mail_params[0]; i++) {
        if (!eq_nocase(tok, klen, mail_params[i].name))
            continue;
        if (*seen & (1u << i))
            return fail(c->err, &e_dup);
        *seen |= 1u << i;
        return mail_params[i].parse(c, v, vlen, eq != NULL);
    }
    return fail(c->err, &e_unsupported);
}

/* parse_params - SP-separated parameters after the path */
static int parse_params(struct cmd_ctx *c, const char *p, size_t n,
                        int is_mail)
{
    unsigned seen = 0;
    size_t i = 0, j;

    while (i < n) {
        if (p[i] == ' ') {
            i++;
            continue;
        }
        for (j = i; j < n && p[j] != ' '; j++)
            ;
        if (param_one(c, p + i, j - i, is_mail, &seen) < 0)
            return -1;
        i = j;
    }
    return 0;
}

/* v_path - MAIL FROM:<path> [params] or RCPT TO:<path> [params] */
static int v_path(struct cmd_ctx *c, const char *kw, int is_mail)
{
    const char *p = c->rest;
    size_t n = c->rest_len, lt, gt;

    if (find_path(p, n, &lt, &gt) < 0)
        return has_8bit(p, n) ? fail(c->err, &e_syntax) : fail_syntax(c);
    if (has_8bit(p, lt) || has_8bit(p + gt, n - gt))
        return fail(c->err, &e_syntax);
    if (!prefix_ok(p, lt, kw))
        return fail_syntax(c);
    if (gt - lt + 1 > SMTP_PATH_MAX)
        return fail(c->err, &e_path_long);
    if ((gt - lt == 1 && !is_mail) || (gt + 1 < n && p[gt + 1] != ' '))
        return fail_syntax(c);
    if (copy_path(c, p + lt + 1, gt - lt - 1) < 0
        || parse_params(c, p + gt + 1, n - gt - 1, is_mail) < 0)
        return -1;
    if (is_mail && c->out->path_8bit && !c->out->smtputf8)
        return fail(c->err, &e_utf8_path);
    return 0;
}

/* v_mail - MAIL FROM:<reverse-path> [SP mail-parameters] */
static int v_mail(struct cmd_ctx *c)
{
    return v_path(c, "FROM:", 1);
}

/* v_rcpt - RCPT TO:<forward-path>; no parameter is supported */
static int v_rcpt(struct cmd_ctx *c)
{
    return v_path(c, "TO:", 0);
}

/* p_size - SIZE=digits (RFC 1870), at most LONG_MAX */
static int p_size(struct cmd_ctx *c, const char *v, size_t n, int has)
{
    unsigned long long val;

    if (!has || parse_num(v, n, LONG_MAX, &val) < 0)
        return fail(c->err, &e_size);
    c->out->size = (long)val;
    return 0;
}

/* p_body - BODY=7BIT or BODY=8BITMIME (RFC 6152) */
static int p_body(struct cmd_ctx *c, const char *v, size_t n, int has)
{
    if (has && eq_nocase(v, n, "8BITMIME"))
        c->out->body_8bit = 1;
    else if (!has || !eq_nocase(v, n, "7BIT"))
        return fail(c->err, &e_body);
    c->out->body_given = 1;
    return 0;
}

/* p_smtputf8 - SMTPUTF8 without a value (RFC 6531) */
static int p_smtputf8(struct cmd_ctx *c, const char *v, size_t n, int has)
{
    (void)v;
    (void)n;
    if (has)
        return fail(c->err, &e_utf8);
    c->out->smtputf8 = 1;
    return 0;
}

/* p_auth - AUTH=xtext (RFC 4954), decoded; "<>" stays "<>" */
static int p_auth(struct cmd_ctx *c, const char *v, size_t n, int has)
{
    int dlen;

    if (!has || (dlen = smtp_xtext_decode(v, n, c->out->auth,
                                          sizeof c->out->auth)) <= 0
        || check_octets(c->out->auth, (size_t)dlen) < 0) {
        c->out->auth[0] = '\0';
        return fail(c->err, &e_auth);
    }
    c->out->auth_given = 1;
    return 0;
}

/* reset_cmd - an empty result */
static void reset_cmd(struct smtp_cmd *out)
{
    memset(out, 0, sizeof *out);
    out->verb = SV_UNKNOWN;
    out->arg = NULL;
    out->size = -1;
}

/* smtp_parse_command - parse one command line without its CRLF */
int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *out,
                       struct smtp_reply_err *err)
{
    struct cmd_ctx c;
    const char *sp;
    size_t vlen;

    reset_cmd(out);
    if (len > SMTP_LINE_MAX - 2)
        return fail(err, &e_too_long);
    if (check_octets(line, len) < 0)
        return fail(err, &e_syntax);
    while (len > 0 && line[len - 1] == ' ')
        len--;
    if (len == 0)
        return fail(err, &e_unknown);
    sp = memchr(line, ' ', len);
    vlen = sp != NULL ? (size_t)(sp - line) : len;
    if ((c.spec = find_verb(line, vlen)) == NULL)
        return fail(err, has_8bit(line, len) ? &e_syntax : &e_unknown);
    out->verb = c.spec->verb;
    if (out->verb != SV_MAIL && out->verb != SV_RCPT && has_8bit(line, len))
        return fail(err, &e_syntax);
    c.rest = line + vlen;
    c.rest_len = len - vlen;
    c.out = out;
    c.err = err;
    if (c.spec->parse(&c) == 0)
        return 0;
    reset_cmd(out);
    out->verb = c.spec->verb;
    return -1;
}

/* hexval - value of an xtext hex digit, -1 if none */
static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (upper((unsigned char)ch) >= 'A' && upper((unsigned char)ch) <= 'F')
        return upper((unsigned char)ch) - 'A' + 10;
    return -1;
}

/* xtext_char - decode the xtext character at in[*i], advance *i; -1 if
 * malformed or NUL */
static int xtext_char(const char *in, size_t len, size_t *i)
{
    unsigned char ch = (unsigned char)in[*i];
    int hi, lo;

    if (ch != '+') {
        (*i)++;
        return ch < '!' || ch > '~' || ch == '=' ? -1 : ch;
    }
    if (len - *i < 3 || (hi = hexval(in[*i + 1])) < 0
        || (lo = hexval(in[*i + 2])) < 0 || hi * 16 + lo == 0)
        return -1;
    *i += 3;
    return hi * 16 + lo;
}

/* smtp_xtext_decode - RFC 3461 xtext into a NUL-terminated buffer */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t size)
{
    size_t i = 0, o = 0;
    int ch;

    if (size == 0)
        return -1;
    while (i < len) {
        if ((ch = xtext_char(in, len, &i)) < 0 || o + 1 >= size
            || o >= INT_MAX) {
            out[0] = '\0';
            return -1;
        }
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return (int)o;
}
