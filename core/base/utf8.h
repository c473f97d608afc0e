/*
 * utf8.h - UTF-8 validation (RFC 3629) for parsers of wire data.
 *
 * INTERFACE: utf8_seq.
 */
#ifndef TERN_UTF8_H
#define TERN_UTF8_H

#include <stddef.h>

/* utf8_seq - length of the well-formed UTF-8 sequence at p[0..n), n >= 1:
 * no overlong forms, no surrogates, nothing above U+10FFFF; 0 if p does
 * not start one; 1 for ASCII */
size_t utf8_seq(const unsigned char *p, size_t n);

#endif
