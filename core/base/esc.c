/*
 * esc.c - the one escaping of untrusted text for logs and terminals
 *         (esc.h says which characters and how; Exim's string_printing).
 *
 * PURPOSE:   keep hostile bytes (a Message-ID with ESC [2J, a sender with
 *            U+202E, a pipe's output with CR LF) out of log lines and
 *            listings, while readable UTF-8 stays readable.
 * INTERFACE: esc_text, esc_needed.
 * ERRORS:    none; allocates nothing (fatal() and panic() log through it
 *            when memory has run out).
 * SECURITY:  the input is hostile: every byte is classified, UTF-8 is
 *            decoded only after utf8_seq() found the sequence well-formed.
 */
#include <stdint.h>
#include <string.h>

#include "core/base/utf8.h"
#include "core/base/esc.h"

/* unsafe_cp - a code point that is not printed as itself */
static int unsafe_cp(uint32_t cp)
{
    static const struct { uint32_t lo, hi; } bad[] = {
        { 0x0000, 0x001f }, { 0x007f, 0x009f },     /* C0, DEL, C1 */
        { 0x061c, 0x061c },                         /* arabic letter mark */
        { 0x200b, 0x200b }, { 0x200e, 0x200f },     /* ZWSP, LRM, RLM */
        { 0x2028, 0x202e },     /* line/paragraph separators, LRE..RLO */
        { 0x2060, 0x206f },     /* word joiner, invisible ops, LRI..PDI */
        { 0xfeff, 0xfeff }, { 0xfff9, 0xfffb }, { 0xfffe, 0xffff },
        { 0xe0000, 0xe007f },                       /* tags */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cp >= bad[i].lo && cp <= bad[i].hi)
            return 1;
    return 0;
}

/* decode - the code point of the well-formed sequence p[0..len) */
static uint32_t decode(const unsigned char *p, size_t len)
{
    static const unsigned char lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
    uint32_t cp = p[0] & lead_mask[len];

    for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    return cp;
}

/* char_at - the length of the character at p (1 for a stray byte) and
 * whether it is printed as itself */
static size_t char_at(const unsigned char *p, size_t n, unsigned flags,
                      int *printable)
{
    size_t len;

    if (p[0] >= 0x20 && p[0] < 0x7f) {
        *printable = p[0] != '\\' || !(flags & ESC_BACKSLASH);
        return 1;
    }
    len = utf8_seq(p, n);
    if (len == 0) {
        *printable = 0;
        return 1;
    }
    *printable = !unsafe_cp(decode(p, len));
    return len;
}

/* byte_escape - the escape of one byte into e (at most 4 bytes); length */
static size_t byte_escape(unsigned char c, char *e)
{
    static const char named[] = "\n\r\t\b\v\f\\";
    static const char letter[] = "nrtbvf\\";
    const char *k = c != '\0' ? strchr(named, c) : NULL;

    e[0] = '\\';
    if (k != NULL) {
        e[1] = letter[k - named];
        return 2;
    }
    e[1] = (char)('0' + (c >> 6));
    e[2] = (char)('0' + ((c >> 3) & 7));
    e[3] = (char)('0' + (c & 7));
    return 4;
}

/* esc_text - see esc.h */
size_t esc_text(char *out, size_t size, const char *s, size_t n,
                unsigned flags, size_t *used)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, len, k, elen;
    char e[4 * 4];
    int printable;

    while (i < n) {
        len = char_at(p + i, n - i, flags, &printable);
        if (printable) {
            if (o + len > size)
                break;
            memcpy(out + o, p + i, len);
            o += len;
        } else {
            for (k = 0, elen = 0; k < len; k++)
                elen += byte_escape(p[i + k], e + elen);
            if (o + elen > size)
                break;
            memcpy(out + o, e, elen);
            o += elen;
        }
        i += len;
    }
    if (used != NULL)
        *used = i;
    return o;
}

/* esc_needed - nonzero when esc_text would change s[0..n) */
int esc_needed(const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int printable;

    while (i < n) {
        i += char_at(p + i, n - i, flags, &printable);
        if (!printable)
            return 1;
    }
    return 0;
}
