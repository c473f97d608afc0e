/*
 * fuzz_spf_macro.c - libFuzzer target for core/net/spf_macro.c.
 *
 * PURPOSE:   expand hostile macro strings with hostile values: the input
 *            is FLAGS MACRO \0 SENDER \0 HELO (FLAGS bit 0: explanation
 *            mode, bit 1: IPv6). Checks: expansion fails exactly when
 *            spf_macro_check does; a result fits its buffer, is
 *            NUL-terminated at the returned length and is the same with
 *            a buffer just big enough; a too-small buffer says -2, never
 *            a cut result; spf_domain_trim keeps at most 253 bytes when it
 *            can.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints what broke and abort()s.
 * BUILD:     test-suite/fuzz/build.sh (seeds: corpus/spf_macro/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/net/spf_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_spf_macro: %s\n", what);
    abort();
}

/* split at NULs into up to 3 NUL-terminated copies */
static void split(const char *s, size_t n, char *part[3])
{
    size_t start = 0;
    int k = 0;

    for (size_t i = 0; i <= n && k < 3; i++)
        if (i == n || s[i] == '\0') {
            part[k] = malloc(i - start + 1);
            memcpy(part[k], s + start, i - start);
            part[k++][i - start] = '\0';
            start = i + 1;
        }
    for (; k < 3; k++)
        part[k] = calloc(1, 1);
}

static void check(const char *m, const struct spf_macro_ctx *c, int exp)
{
    static char big[SPF_MAX_EXPAND], small[SPF_MAX_EXPAND];
    size_t n = strlen(m);
    int r = spf_macro_expand(m, n, c, exp, big, sizeof(big));

    if ((r == -1) != (spf_macro_check(m, n, exp, NULL) != 0))
        die("expand and check disagree on syntax");
    if (r < -2 || (r >= 0 && ((size_t)r >= sizeof(big)
                              || strlen(big) != (size_t)r)))
        die("bad result length");
    if (r < 0)
        return;
    if (spf_macro_expand(m, n, c, exp, small, (size_t)r + 1) != r
        || memcmp(small, big, (size_t)r + 1) != 0)
        die("a just-big-enough buffer gives another result");
    if (r > 0 && spf_macro_expand(m, n, c, exp, small, (size_t)r) != -2)
        die("a too-small buffer did not say so");
    const char *d = spf_domain_trim(big);
    if (strlen(d) > 253 && strchr(d, '.') != NULL)
        die("trim kept more than 253 bytes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char ip4[4] = { 192, 0, 2, 1 };
    static const unsigned char ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
                                           0, 0, 0, 0, 0, 0, 0, 0, 1 };
    struct spf_macro_ctx c = { 0 };
    char *part[3];

    if (size == 0)
        return 0;
    split((const char *)data + 1, size - 1, part);
    c.s = part[1];
    c.l = part[1];
    c.o = strchr(part[1], '@') ? strchr(part[1], '@') + 1 : part[1];
    c.d = c.o;
    c.h = part[2];
    c.p = "unknown";
    c.r = "mx.example";
    c.v6 = data[0] & 2;
    c.ip = c.v6 ? ip6 : ip4;
    c.t = 1700000000;
    check(part[0], &c, data[0] & 1);
    for (int k = 0; k < 3; k++)
        free(part[k]);
    return 0;
}
