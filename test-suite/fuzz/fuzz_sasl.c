/*
 * fuzz_sasl.c - libFuzzer target for the AUTH exchanges and base64: the
 * input is lines split at '\n'. The first is "MECH" or "MECH IR" for
 * sasl_start (IR may be "=" or anything), each further one goes to
 * sasl_step while the exchange continues. Checks the invariants of
 * sasl.h on every result, and that base64 decode/encode round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mail/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each result must carry what sasl.h promises. */
static void check_result(const struct sasl_state *st, enum sasl_result r)
{
    if (r == SASL_CONTINUE && st->challenge == NULL)
        abort();
    if (r == SASL_ERROR && (st->reply == NULL || strlen(st->reply) < 4
                            || st->authcid[0] != '\0'
                            || st->password[0] != '\0'))
        abort();
    if (r == SASL_DONE
        && (st->authcid[0] == '\0' || st->password[0] == '\0'
            || strlen(st->authcid) > SASL_FIELD_MAX
            || strlen(st->password) > SASL_FIELD_MAX
            || (st->authzid[0] != '\0'
                && strcmp(st->authzid, st->authcid) != 0)))
        abort();
}

/* Whatever decodes must encode back to the same text (canonical). */
static void check_roundtrip(const char *s, size_t n)
{
    unsigned char raw[SASL_LINE_MAX];
    char text[SASL_LINE_MAX * 2];
    ssize_t got, back;

    if (n > SASL_LINE_MAX)
        return;
    got = sasl_b64_decode(s, n, raw, sizeof(raw));
    if (got < 0)
        return;
    back = sasl_b64_encode(raw, (size_t)got, text, sizeof(text));
    if (back != (ssize_t)n || memcmp(text, s, n) != 0)
        abort();
}

static enum sasl_result start(struct sasl_state *st, const char *line,
                              size_t len)
{
    char mech[32];
    const char *sp = memchr(line, ' ', len);
    size_t mlen = sp ? (size_t)(sp - line) : len;

    if (mlen >= sizeof(mech))
        mlen = sizeof(mech) - 1;
    memcpy(mech, line, mlen);
    mech[mlen] = '\0';
    if (sp == NULL)
        return sasl_start(st, mech, NULL, 0);
    return sasl_start(st, mech, sp + 1, len - (size_t)(sp + 1 - line));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    struct sasl_state st;
    enum sasl_result r = SASL_CONTINUE;
    int first = 1;

    while (p <= end && (first || r == SASL_CONTINUE)) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

        check_roundtrip(p, len);
        r = first ? start(&st, p, len) : sasl_step(&st, p, len);
        check_result(&st, r);
        first = 0;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    sasl_state_clear(&st);
    return 0;
}
