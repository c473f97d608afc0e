/*
 * fuzz_smtp_data.c - libFuzzer target for the DATA stream parser
 * (smtpd/smtp_data.c).
 *
 * PURPOSE:   byte 0 holds the number of chunk-size bytes that follow (low
 *            4 bits) and picks header_max and size_max (high bits); the rest
 *            is the DATA stream, fed in chunks of those sizes (repeated).
 *            Invariants: each call consumes at most what it was given (all
 *            of it unless it ended); total equals the output length; the
 *            result equals a single feed of everything; without an error
 *            the output has no bare CR, bare LF, NUL or line over 998
 *            octets and keeps the limits, and once ended, the consumed
 *            input ends with CRLF.CRLF and is the output, dot-stuffed.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints what and abort()s.
 * BUILD:     clang -std=c11 -D_GNU_SOURCE -I. -g -O1
 *            -fsanitize=fuzzer,address,undefined test-suite/fuzz/fuzz_smtp_data.c
 *            smtpd/smtp_data.c smtpd/smtp_parse.c core/base/ *.c
 *            -o /tmp/fuzz_smtp_data (seeds: test-suite/fuzz/corpus/smtp_data/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"

#include "smtpd/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    int end;
    size_t used;
    enum dp_error err;
    unsigned long long total;
    struct strbuf out;
};

/* die - report a broken invariant and abort */
static void die(const char *what)
{
    fprintf(stderr, "fuzz_smtp_data: %s\n", what);
    abort();
}

/* sink - collect the output */
static int sink(const char *p, size_t n, void *arg)
{
    if (n == 0)
        die("empty sink call");
    sb_append(arg, p, n);
    return 0;
}

/* feed - in[0..len) in chunks of sizes[k] octets (0 sizes: one feed) */
static void feed(const char *in, size_t len, const uint8_t *sizes,
                 size_t nsizes, size_t hmax, unsigned long long smax,
                 struct run *r)
{
    struct data_parser dp;
    size_t off = 0, k = 0, n, used;

    sb_init(&r->out);
    dp_init(&dp, hmax, smax, sink, &r->out);
    r->end = 0;
    while (off < len && !r->end) {
        n = nsizes ? 1 + sizes[k++ % nsizes] % 64 : len - off;
        n = n > len - off ? len - off : n;
        r->end = dp_feed(&dp, in + off, n, &used) == DP_END;
        if (used > n || (!r->end && used != n))
            die("consumed more than given, or stopped early");
        off += used;
    }
    r->used = off;
    r->err = dp_status(&dp);
    r->total = dp.total;
    if (r->total != sb_len(&r->out))
        die("total differs from the output length");
}

/* header_len - octets of the header section in complete lines: up to
 * the first empty line, or up to the last CRLF if there is none (the
 * limit is checked at each line end) */
static size_t header_len(const char *s, size_t n)
{
    size_t i, last = 0;

    if (n >= 2 && s[0] == '\r' && s[1] == '\n')
        return 0;
    for (i = 0; i + 1 < n; i++) {
        if (s[i] != '\r' || s[i + 1] != '\n')
            continue;
        if (i + 3 < n && s[i + 2] == '\r' && s[i + 3] == '\n')
            return i + 2;
        last = i + 2;
    }
    return last;
}

/* check_clean - output of an error-free run */
static void check_clean(const struct run *r, size_t hmax,
                        unsigned long long smax)
{
    const char *s = sb_str(&r->out);
    size_t n = sb_len(&r->out), i, line = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '\0')
            die("NUL in output");
        if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
            die("bare CR in output");
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            die("bare LF in output");
        line = s[i] == '\r' || s[i] == '\n' ? 0 : line + 1;
        if (line > 998)
            die("line over 998 octets in output");
    }
    if ((smax != 0 && n > smax) || (hmax != 0 && header_len(s, n) > hmax))
        die("limit exceeded without an error");
}

/* check_unstuffed - the consumed input without its final ".\r\n" and
 * without the first dot of each line is the output */
static void check_unstuffed(const struct run *r, const char *in)
{
    const char *s = sb_str(&r->out);
    size_t n = sb_len(&r->out), i;
    struct strbuf sb;

    if (n >= 2 && memcmp(s + n - 2, "\r\n", 2) != 0)
        die("ended output does not end with CRLF");
    if (r->used < 3 || memcmp(in + r->used - 3, ".\r\n", 3) != 0
        || (r->used > 3 && memcmp(in + r->used - 5, "\r\n", 2) != 0))
        die("ended without CRLF.CRLF");
    sb_init(&sb);
    for (i = 0; i < r->used - 3; i++)
        if (in[i] != '.' || (i > 0 && in[i - 1] != '\n'))
            sb_putc(&sb, in[i]);
    if (sb_len(&sb) != n || memcmp(sb_str(&sb), s, n) != 0)
        die("output is not the unstuffed input");
    sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t hmaxes[] = { 0, 16, 200, 1000 };
    static const unsigned long long smaxes[] = { 0, 10, 500, 4000 };
    size_t nsizes, hmax, len;
    unsigned long long smax;
    struct run a, b;
    const char *in;

    if (size < 1)
        return 0;
    nsizes = data[0] & 15;
    if (nsizes > size - 1)
        nsizes = size - 1;
    hmax = hmaxes[(data[0] >> 4) & 3];
    smax = smaxes[(data[0] >> 6) & 3];
    in = (const char *)data + 1 + nsizes;
    len = size - 1 - nsizes;
    feed(in, len, data + 1, nsizes, hmax, smax, &a);
    feed(in, len, NULL, 0, hmax, smax, &b);
    if (a.end != b.end || a.used != b.used || a.err != b.err
        || a.total != b.total
        || memcmp(sb_str(&a.out), sb_str(&b.out), sb_len(&a.out)) != 0)
        die("chunked feed differs from a single feed");
    if (a.err == DPE_NONE)
        check_clean(&a, hmax, smax);
    if (a.err == DPE_NONE && a.end)
        check_unstuffed(&a, in);
    sb_free(&a.out);
    sb_free(&b.out);
    return 0;
}
