/*
 * bounce_impl.h - internals shared by bounce.c (message, headers, MIME
 *                 assembly), bounce_text.c (part 1, the human text) and
 *                 bounce_dsn.c (part 2, message/delivery-status).
 *
 * INTERFACE: struct bn_job (what every part is built from), bn_clean
 *            (hostile text -> one safe line), bn_is_utf8 (an address
 *            needs utf-8), bn_header_len (the original's header
 *            section), bn_boundary (a MIME boundary found in none of
 *            the parts), bn_text, bn_dsn.
 */
#ifndef TERN_BOUNCE_IMPL_H
#define TERN_BOUNCE_IMPL_H

#include <stddef.h>

struct bounce_rcpt;
struct spool_msg;
struct strbuf;

#define BN_LINE_MAX 900         /* a reason or reply, after cleaning */
#define BN_ADDR_MAX 512         /* an address, after cleaning */
#define BN_TOKEN_MAX 64         /* ids, delay text */
#define BN_HOST_MAX 255         /* host names */
#define BN_HEADERS_MAX (1024 * 1024)   /* the returned header section */
#define BN_WIDTH 78             /* RFC 5322 §2.1.1 recommended line length */

enum { BN_ASCII = 0, BN_8BIT = 1, BN_HOST = 2 };

struct bn_job {
    const char *primary;        /* cleaned primary_hostname */
    const struct spool_msg *msg;
    const struct bounce_rcpt *r;
    size_t n;
    int warning;                /* delay warning, not a bounce */
    const char *delay;          /* warning: "24 hours" (cleaned) */
    int headers_only;           /* part 3 is text/rfc822-headers */
    size_t header_len;          /* of msg->data (bn_header_len) */
    long long now;
};

/* bn_clean - append s as one line: CR, LF, TAB and other controls become
 * a space, runs of blanks one space, leading and trailing blanks go;
 * bytes >= 0x80 are kept (BN_8BIT) or become '?'; with BN_HOST only
 * letters, digits and "-._:[]" are kept and every other byte (blanks
 * too) becomes '?'; cut at max bytes. NULL appends nothing. */
void bn_clean(struct strbuf *out, const char *s, size_t max, int flags);
/* bn_is_utf8 - s holds a byte >= 0x80 */
int bn_is_utf8(const char *s);
/* bn_header_len - bytes of the header section at the start of data (its
 * fields with their CRLFs, not the blank line), at most BN_HEADERS_MAX
 * and then cut after a line end */
size_t bn_header_len(const char *data, size_t len);
/* bn_boundary - append base, or base "_" N for the first N from 1 such
 * that it occurs in none of the n texts (texts[i] may be NULL) */
void bn_boundary(struct strbuf *out, const char *base,
                 const char *const *texts, const size_t *lens, size_t n);
/* bn_text - part 1's body (the human-readable text), CRLF line ends */
void bn_text(struct strbuf *out, const struct bn_job *j);
/* bn_dsn - part 2's body (message/delivery-status) */
void bn_dsn(struct strbuf *out, const struct bn_job *j);

#endif
