/*
 * utf8.c - UTF-8 validation shared by the address and SMTP parsers.
 */
#include "core/base/utf8.h"

/* utf8_seq - length of the well-formed UTF-8 sequence at p[0..n), n >= 1
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF);
 * 0 if p does not start one; 1 for ASCII */
size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t need, i;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        need = 1;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        need = 2;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        hi = p[0] == 0xed ? 0x9f : 0xbf;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        need = 3;
        lo = p[0] == 0xf0 ? 0x90 : 0x80;
        hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (n <= need || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i <= need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need + 1;
}
