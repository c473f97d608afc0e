/*
 * sasl.c - SMTP AUTH PLAIN and LOGIN exchanges, strict base64, the
 *          failure delay policy (the codec; checking a password against a
 *          table of hashes is smtpd/sasl_passwd.c, above the lookups).
 *
 * PURPOSE:   turn AUTH arguments and client lines into challenges, a reply
 *            or (authzid, authcid, password).
 * INTERFACE: sasl_start, sasl_step, sasl_state_clear, sasl_mechanisms,
 *            sasl_b64_decode, sasl_b64_encode, sasl_failure_delay_ms
 *            (see sasl.h).
 * ERRORS:    protocol errors end the exchange with an SMTP reply in the
 *            state.
 * SECURITY:  client lines are network input: lengths are bounded before
 *            decoding, decoded data stays in fixed buffers, credentials are
 *            wiped (explicit_bzero) after use.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mail/sasl.h"

enum { MECH_NONE, MECH_PLAIN, MECH_LOGIN };
enum { ST_IDLE, ST_PLAIN, ST_LOGIN_USER, ST_LOGIN_PASS, ST_NSTEPS };

#define DECODED_MAX (SASL_LINE_MAX / 4 * 3)

static const char R_BADB64[] = "501 5.5.2 Invalid base64 data";
static const char R_MALFORMED[] = "501 5.5.2 Malformed authentication data";
static const char R_TOOLONG[] =
    "500 5.5.6 Authentication Exchange line is too long";
static const char R_CANCEL[] = "501 5.0.0 Authentication cancelled";
static const char R_UNKNOWN[] = "504 5.5.4 Unrecognized authentication type";
static const char R_INVALID[] =
    "535 5.7.8 Authentication credentials invalid";
static const char R_NOSTATE[] =
    "503 5.5.1 No authentication exchange in progress";

static const char C_USERNAME[] = "VXNlcm5hbWU6";  /* "Username:" */
static const char C_PASSWORD[] = "UGFzc3dvcmQ6";  /* "Password:" */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one base64 character, -1 if not in the alphabet ('=' too). */
static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode four characters into out; padding only in the last quad, and pad
 * bits must be zero (one encoding per byte string). Bytes, or -1. */
static int b64_quad(const char *q, int last, unsigned char out[3])
{
    int npad = 0, v[4] = { 0, 0, 0, 0 };
    unsigned long w;

    if (last && q[3] == '=')
        npad = q[2] == '=' ? 2 : 1;
    for (int j = 0; j < 4 - npad; j++)
        if ((v[j] = b64_val((unsigned char)q[j])) < 0)
            return -1;
    if ((npad == 2 && (v[1] & 0x0f)) || (npad == 1 && (v[2] & 0x03)))
        return -1;
    w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12
        | (unsigned long)v[2] << 6 | (unsigned long)v[3];
    out[0] = (unsigned char)(w >> 16);
    out[1] = (unsigned char)(w >> 8);
    out[2] = (unsigned char)w;
    return 3 - npad;
}

/* sasl_b64_decode - strict base64 to bytes */
ssize_t sasl_b64_decode(const char *in, size_t inlen, unsigned char *out,
                        size_t outsize)
{
    unsigned char buf[3];
    size_t n = 0;

    if (inlen % 4 != 0)
        return -1;
    for (size_t i = 0; i < inlen; i += 4) {
        int got = b64_quad(in + i, i + 4 == inlen, buf);

        if (got < 0 || outsize - n < (size_t)got)
            return -1;
        memcpy(out + n, buf, (size_t)got);
        n += (size_t)got;
    }
    explicit_bzero(buf, sizeof(buf));
    return (ssize_t)n;
}

/* sasl_b64_encode - bytes to padded base64 text */
ssize_t sasl_b64_encode(const void *in, size_t inlen, char *out,
                        size_t outsize)
{
    const unsigned char *p = in;
    size_t n = 0;

    if (inlen > (outsize - 1) / 4 * 3 || outsize == 0)
        return -1;
    for (size_t i = 0; i < inlen; i += 3) {
        size_t left = inlen - i;
        unsigned long w = (unsigned long)p[i] << 16;

        if (left > 1)
            w |= (unsigned long)p[i + 1] << 8;
        if (left > 2)
            w |= p[i + 2];
        out[n++] = b64_alphabet[w >> 18 & 63];
        out[n++] = b64_alphabet[w >> 12 & 63];
        out[n++] = left > 1 ? b64_alphabet[w >> 6 & 63] : '=';
        out[n++] = left > 2 ? b64_alphabet[w & 63] : '=';
    }
    out[n] = '\0';
    return (ssize_t)n;
}

/* sasl_state_clear - wipe the credentials and return to idle */
void sasl_state_clear(struct sasl_state *st)
{
    explicit_bzero(st, sizeof(*st));
    st->mech = MECH_NONE;
    st->step = ST_IDLE;
    st->challenge = NULL;
    st->reply = NULL;
}

/* End the exchange with an error reply; nothing half-parsed survives. */
static enum sasl_result sasl_fail(struct sasl_state *st, const char *reply)
{
    sasl_state_clear(st);
    st->reply = reply;
    return SASL_ERROR;
}

static enum sasl_result sasl_ask(struct sasl_state *st, int step,
                                 const char *challenge)
{
    st->step = step;
    st->challenge = challenge;
    return SASL_CONTINUE;
}

static enum sasl_result sasl_done(struct sasl_state *st)
{
    st->step = ST_IDLE;
    st->challenge = NULL;
    return SASL_DONE;
}

/* Decode one client line into buf (DECODED_MAX bytes); -1 with the
 * exchange failed. allow_eq: "=" is the empty initial response. */
static ssize_t decode_line(struct sasl_state *st, const char *line,
                           size_t len, int allow_eq, unsigned char *buf)
{
    ssize_t n;

    if (allow_eq && len == 1 && line[0] == '=')
        return 0;
    if (len > SASL_LINE_MAX) {
        sasl_fail(st, R_TOOLONG);
        return -1;
    }
    if ((n = sasl_b64_decode(line, len, buf, DECODED_MAX)) < 0)
        sasl_fail(st, R_BADB64);
    return n;
}

/* Copy a field, NUL-terminated; the caller has checked len. */
static void set_field(char *dst, const unsigned char *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Check one PLAIN or LOGIN field: 501 if empty or holding NUL, 535 if
 * longer than any credential we could accept. */
static const char *field_problem(const unsigned char *p, size_t len)
{
    if (len == 0 || memchr(p, '\0', len) != NULL)
        return R_MALFORMED;
    if (len > SASL_FIELD_MAX)
        return R_INVALID;
    return NULL;
}

/* RFC 4616 message: [authzid] NUL authcid NUL passwd. */
static enum sasl_result plain_parse(struct sasl_state *st,
                                    const unsigned char *m, size_t n)
{
    const unsigned char *s1, *s2;
    size_t zlen, clen, plen;
    const char *bad;

    if ((s1 = memchr(m, '\0', n)) == NULL
        || (s2 = memchr(s1 + 1, '\0', n - (size_t)(s1 + 1 - m))) == NULL)
        return sasl_fail(st, R_MALFORMED);
    zlen = (size_t)(s1 - m);
    clen = (size_t)(s2 - s1 - 1);
    plen = n - (size_t)(s2 + 1 - m);
    if ((bad = field_problem(s1 + 1, clen)) != NULL
        || (bad = field_problem(s2 + 1, plen)) != NULL)
        return sasl_fail(st, bad);
    if (zlen > SASL_FIELD_MAX)
        return sasl_fail(st, R_INVALID);
    if (zlen != 0 && (zlen != clen || memcmp(m, s1 + 1, clen) != 0))
        return sasl_fail(st, R_INVALID);
    set_field(st->authzid, m, zlen);
    set_field(st->authcid, s1 + 1, clen);
    set_field(st->password, s2 + 1, plen);
    return sasl_done(st);
}

/* Decode a line and hand it to parse, wiping the decoded copy after. */
static enum sasl_result with_decoded(struct sasl_state *st, const char *line,
    size_t len, int allow_eq,
    enum sasl_result (*parse)(struct sasl_state *, const unsigned char *,
                              size_t))
{
    unsigned char buf[DECODED_MAX];
    ssize_t n;
    enum sasl_result r;

    if ((n = decode_line(st, line, len, allow_eq, buf)) < 0)
        return SASL_ERROR;
    r = parse(st, buf, (size_t)n);
    explicit_bzero(buf, sizeof(buf));
    return r;
}

static enum sasl_result login_user(struct sasl_state *st,
                                   const unsigned char *m, size_t n)
{
    const char *bad = field_problem(m, n);

    if (bad != NULL)
        return sasl_fail(st, bad);
    set_field(st->authcid, m, n);
    return sasl_ask(st, ST_LOGIN_PASS, C_PASSWORD);
}

static enum sasl_result login_pass(struct sasl_state *st,
                                   const unsigned char *m, size_t n)
{
    const char *bad = field_problem(m, n);

    if (bad != NULL)
        return sasl_fail(st, bad);
    set_field(st->password, m, n);
    return sasl_done(st);
}

/* PLAIN: the message is the initial response, or asked for with an
 * empty challenge ("334 "). */
static enum sasl_result plain_start(struct sasl_state *st, const char *ir,
                                    size_t irlen)
{
    if (ir == NULL)
        return sasl_ask(st, ST_PLAIN, "");
    return with_decoded(st, ir, irlen, 1, plain_parse);
}

/* LOGIN (draft-murchison-sasl-login): an initial response is the user
 * name, as Outlook and others send it. */
static enum sasl_result login_start(struct sasl_state *st, const char *ir,
                                    size_t irlen)
{
    if (ir == NULL)
        return sasl_ask(st, ST_LOGIN_USER, C_USERNAME);
    return with_decoded(st, ir, irlen, 1, login_user);
}

typedef enum sasl_result (*parse_fn)(struct sasl_state *,
                                     const unsigned char *, size_t);

static const struct mech {
    const char *name;
    int id;
    enum sasl_result (*start)(struct sasl_state *, const char *, size_t);
} mechs[] = {
    { "PLAIN", MECH_PLAIN, plain_start },
    { "LOGIN", MECH_LOGIN, login_start },
};

/* What the next client line answers, by step. */
static const parse_fn step_parsers[ST_NSTEPS] = {
    [ST_PLAIN] = plain_parse,
    [ST_LOGIN_USER] = login_user,
    [ST_LOGIN_PASS] = login_pass,
};

/* sasl_mechanisms - the EHLO keyword value */
const char *sasl_mechanisms(void)
{
    return "PLAIN LOGIN";
}

/* sasl_start - begin an exchange */
enum sasl_result sasl_start(struct sasl_state *st, const char *mech,
                            const char *ir, size_t irlen)
{
    sasl_state_clear(st);
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        if (strcasecmp(mech, mechs[i].name) == 0) {
            st->mech = mechs[i].id;
            return mechs[i].start(st, ir, irlen);
        }
    }
    return sasl_fail(st, R_UNKNOWN);
}

/* sasl_step - one client line of an exchange in progress */
enum sasl_result sasl_step(struct sasl_state *st, const char *line,
                           size_t len)
{
    if (st->step <= ST_IDLE || st->step >= ST_NSTEPS)
        return sasl_fail(st, R_NOSTATE);
    if (len == 1 && line[0] == '*')
        return sasl_fail(st, R_CANCEL);
    return with_decoded(st, line, len, 0, step_parsers[st->step]);
}

/* sasl_failure_delay_ms - the delay policy: the first failure may be a
 * typo and costs nothing; after that 1 s doubling to 16 s, so a guesser
 * gets about 4 tries a minute per connection (the session should also
 * drop the connection after a few failures). */
int sasl_failure_delay_ms(int failures)
{
    if (failures <= 1)
        return 0;
    if (failures >= 6)
        return 16000;
    return 1000 << (failures - 2);
}
