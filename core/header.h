/*
 * header.h - the header section of a message: parsing into fields, finding
 *            and removing fields, and the headers tern adds (Received:,
 *            Message-ID:, Date:, From:).
 *
 * INTERFACE: hdr_parse (header section -> fields, bounded), hdr_find,
 *            hdr_count, hdr_received (RFC 5321 §4.4 trace field),
 *            hdr_date (RFC 5322 date of a time), hdr_message_id.
 * ERRORS: hdr_parse returns -1 for a section that is not RFC 5322 shaped
 *         (for verify = header_syntax), with the reason.
 * SECURITY: input is hostile: lengths are bounded, nothing is copied
 *           unbounded; generated fields never contain CR/LF from input.
 */
#ifndef TERN_HEADER_H
#define TERN_HEADER_H

#include <stddef.h>

struct strbuf;

struct hdr_field {
    const char *name;       /* points into the section, not terminated */
    size_t name_len;
    const char *value;      /* after "name:", with folding, up to CRLF */
    size_t value_len;
    size_t offset;          /* start of the field in the section */
    size_t len;             /* whole field incl. its final CRLF */
};

struct hdr_list {
    size_t n, cap;
    struct hdr_field *f;
    size_t section_len;     /* header section length incl. blank line */
};

/* hdr_parse - fields of the section at the start of msg (CRLF line ends);
 * stops at the first empty line; 0 ok, -1 with *why */
int hdr_parse(const char *msg, size_t len, struct hdr_list *out,
              const char **why);
void hdr_list_free(struct hdr_list *l);
const struct hdr_field *hdr_find(const struct hdr_list *l, const char *name);
size_t hdr_count(const struct hdr_list *l, const char *name);

struct hdr_received {
    const char *helo;           /* "from HELO" */
    const char *client_name;    /* verified name or NULL */
    const char *client_ip;      /* NULL: local submission */
    const char *by;             /* primary_hostname */
    const char *protocol;       /* "ESMTP", "ESMTPS", "ESMTPSA", "local" */
    const char *tls_cipher;     /* NULL if none */
    const char *auth_id;        /* NULL if none */
    const char *id;             /* message id */
    const char *for_rcpt;       /* single recipient, or NULL */
    const char *local_user;     /* local submission: the user */
    long long when;             /* time */
};

/* hdr_received - append "Received: ...\r\n" (folded under 78 columns) */
void hdr_received(struct strbuf *out, const struct hdr_received *r);
/* hdr_date - append an RFC 5322 date "Sat, 21 Nov 2026 22:48:34 +0000" */
void hdr_date(struct strbuf *out, long long when);

#endif
