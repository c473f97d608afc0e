/*
 * fuzz_bounce.c - libFuzzer target for core/bounce*.c.
 *
 * PURPOSE:   build bounces and delay warnings from hostile octets (the
 *            original message, the reasons, replies, host names and
 *            addresses, the sender) and check that the report stays well
 *            formed: its header section parses with the expected fields,
 *            the boundary occurs in no part, there are exactly three
 *            delimiters and a close delimiter at the end, and outside the
 *            returned original every line ends in CRLF, holds no control
 *            byte and is at most 998 octets.
 * INTERFACE: LLVMFuzzerTestOneInput.
 * ERRORS:    a broken invariant prints what broke and abort()s.
 * INPUT:     byte 0 picks bounce/warning and the size limit; then up to
 *            six NUL-terminated strings (address, top, reason, host,
 *            reply, sender); the rest is the original message.
 *            (seeds: test-suite/fuzz/corpus/bounce/)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "queue/bounce.h"
#include "core/conf/conf.h"
#include "core/mail/header.h"
#include "core/spool/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* die - report a broken invariant and abort */
static void die(const char *what)
{
    fprintf(stderr, "fuzz_bounce: %s\n", what);
    abort();
}

/* take - the next NUL-terminated string of the input (copied), or "" */
static char *take(const uint8_t **p, size_t *n)
{
    const uint8_t *z = memchr(*p, '\0', *n);
    size_t len = z != NULL ? (size_t)(z - *p) : 0;
    char *s = strndup((const char *)*p, len);

    if (z != NULL) {
        *p += len + 1;
        *n -= len + 1;
    }
    if (s == NULL)
        die("out of memory");
    return s;
}

/* check_lines - r[0..n): CRLF line ends, no control byte, <= 998 */
static void check_lines(const char *r, size_t n)
{
    size_t col = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r[i];

        if (c == '\r') {
            if (i + 1 >= n || r[i + 1] != '\n')
                die("bare CR in generated text");
            i++;
            col = 0;
            continue;
        }
        if (c == '\n')
            die("bare LF in generated text");
        if ((c < ' ' && c != '\t') || c == 0x7f)
            die("control byte in generated text");
        if (++col > 998)
            die("generated line over 998");
    }
}

/* check_top - the report's header section and its boundary into d */
static int check_top(const struct strbuf *out, char *d, size_t size)
{
    const char *r = sb_str(out), *b, *e = NULL;
    struct hdr_list l;
    const char *why;

    if (hdr_parse(r, sb_len(out), &l, &why) != 0)
        die("report header section does not parse");
    if (hdr_count(&l, "Content-Type") != 1 || hdr_count(&l, "To") != 1
        || hdr_count(&l, "Bcc") != 0 || (l.n != 8 && l.n != 10))
        die("report header fields");
    hdr_list_free(&l);
    if ((b = strstr(r, "\r\n\tboundary=\"")) == NULL
        || (e = strchr(b + 13, '"')) == NULL || e - b - 13 > 70)
        die("no boundary");
    return snprintf(d, size, "\r\n--%.*s", (int)(e - b - 13), b + 13);
}

/* check_report - the invariants of a report built around orig; the
 * content of part 3 (the original or its headers) is not checked */
static void check_report(const struct strbuf *out, const char *orig,
                         size_t olen)
{
    const char *r = sb_str(out), *p, *last = NULL, *third = NULL;
    size_t len = sb_len(out);
    char d[128];
    int dlen = check_top(out, d, sizeof(d)), count = 0;

    if (memmem(orig, olen, d + 4, (size_t)dlen - 4) != NULL)
        die("boundary in the original");
    for (p = r; (p = memmem(p + 1, len - (size_t)(p + 1 - r), d,
                            (size_t)dlen)) != NULL; count++) {
        if (count == 2)
            third = p;
        last = p;
    }
    if (count != 4 || len - (size_t)(last - r) != (size_t)dlen + 4
        || memcmp(last + dlen, "--\r\n", 4) != 0)
        die("three delimiters and a close delimiter last");
    p = memmem(third + dlen, len - (size_t)(third + dlen - r), "\r\n\r\n", 4);
    if (p == NULL)
        die("part 3 has no header section");
    check_lines(r, (size_t)(p + 4 - r));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf c;
    struct spool_msg m;
    struct bounce_rcpt rc[2];
    struct strbuf out;
    char *s[6], *copy;
    int mode;

    if (size < 1)
        return 0;
    mode = data[0];
    data++, size--;
    for (int i = 0; i < 6; i++)
        s[i] = take(&data, &size);
    memset(&c, 0, sizeof(c));
    c.main.primary_hostname = "mx.test.example";
    memset(&m, 0, sizeof(m));
    snprintf(m.env.id, sizeof(m.env.id), "1tOrig-000000000Xy-0000");
    /* spool_read's promise: a NUL after data[len] */
    if ((copy = malloc(size + 1)) == NULL)
        die("out of memory");
    memcpy(copy, data, size);
    copy[size] = '\0';
    m.data = copy;
    m.len = size;
    rc[0] = (struct bounce_rcpt){ s[0], s[1], s[2], s[3], mode & 0x40 ? 550 : 0,
                                  s[4] };
    rc[1] = (struct bounce_rcpt){ "b@x", NULL, s[4], NULL, 0, NULL };
    sb_init(&out);
    if (mode & 1)
        warning_build(&out, &c, &m, s[5], rc, 2, s[2], "1tNewI-0", 1700000000);
    else
        bounce_build(&out, &c, &m, s[5], rc, 2, (size_t)(mode >> 1) * 16,
                     "1tNewI-0", 1700000000);
    check_report(&out, m.data, m.len);
    sb_free(&out);
    for (int i = 0; i < 6; i++)
        free(s[i]);
    free(copy);
    return 0;
}
