/*
 * header.h - the header section of a message: parsing into fields, finding
 *            and removing fields, and the headers tern adds (Received:,
 *            Message-ID:, Date:, From:).
 *
 * INTERFACE: hdr_parse (header section -> fields, bounded), hdr_list_free,
 *            hdr_find, hdr_count, hdr_received (RFC 5321 §4.4 trace
 *            field), hdr_date (RFC 5322 date of a time), hdr_message_id
 *            ("<E" id "@" host ">", DESIGN §10); HDR_FIELDS_MAX and
 *            HDR_FIELD_MAX, the bounds hdr_parse enforces.
 * ERRORS: hdr_parse returns -1 for a section that is not RFC 5322 shaped
 *         (for verify = header_syntax), with the reason.
 * SECURITY: input is hostile: lengths are bounded, nothing is copied
 *           unbounded; generated fields never contain CR/LF from input:
 *           every text put into a generated field keeps only printable
 *           ASCII other than SP ( ) \ ; < > (addresses also keep 8-bit
 *           bytes), anything else becomes '?', and is cut (names at 255
 *           bytes, addresses at 320, other tokens at 64) so no line of a
 *           generated field passes 998 bytes.
 */
#ifndef TERN_HEADER_H
#define TERN_HEADER_H

#include <stddef.h>

struct strbuf;

#define HDR_FIELDS_MAX 10000    /* hdr_parse: more fields is an error */
#define HDR_FIELD_MAX  65536    /* hdr_parse: bytes of one field incl. CRLF */

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
 * stops at the first empty line or the end of msg; 0 ok, -1 with *why
 * (a static string; why may be NULL) and *out empty. A field name is
 * printable ASCII but ':' (33-126) up to the ':'; lines starting with SP
 * or HT continue the previous field; the value starts right after the
 * ':' (leading blanks kept). A bare CR or LF, a line without ':', a
 * continuation before the first field, more than HDR_FIELDS_MAX fields or
 * a field over HDR_FIELD_MAX bytes is an error. *out needs no
 * initialisation; release it with hdr_list_free. */
int hdr_parse(const char *msg, size_t len, struct hdr_list *out,
              const char **why);
/* hdr_list_free - release the fields (l may be NULL) */
void hdr_list_free(struct hdr_list *l);
/* hdr_find - first field called name (ASCII case-insensitive), or NULL */
const struct hdr_field *hdr_find(const struct hdr_list *l, const char *name);
/* hdr_count - number of fields called name (ASCII case-insensitive) */
size_t hdr_count(const struct hdr_list *l, const char *name);

/* Every pointer may be NULL and an empty string counts as NULL (except
 * sender): the clause is left out. sender and tls_version are additions
 * to the first interface. */
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
    const char *sender;         /* envelope sender; "" is <>, NULL: none */
    const char *tls_version;    /* "TLS1.3", shown before the cipher */
};

/* hdr_received - append the trace field: Exim's default
 * received_header_text adapted to RFC 5321's "from HELO (NAME [IP])":
 *   Received: from HELO (NAME [IP])
 *   \tby PRIMARY with PROTO (tern VERSION)
 *   \t(authenticated as AUTH_ID)
 *   \t(envelope-from <SENDER>)
 *   \tid ID
 *   \tfor RCPT; DATE
 * A local submission (client_ip NULL) starts "Received: from USER by
 * PRIMARY with local (tern VERSION)". With TLS the by line ends
 * "with PROTO (TLSVER) tls CIPHER" and "(tern VERSION)" moves to a line
 * of its own, as in Exim. Without a HELO the from part is NAME or [IP];
 * IPv6 literals are written [IPv6:addr]. The date goes on a line of its
 * own when "; DATE" would pass column 78. */
void hdr_received(struct strbuf *out, const struct hdr_received *r);
/* hdr_date - append an RFC 5322 date "Sat, 21 Nov 2026 22:48:34 +0000"
 * in local time with a numeric zone */
void hdr_date(struct strbuf *out, long long when);
/* hdr_message_id - append a Message-ID value "<E" id "@" host ">" */
void hdr_message_id(struct strbuf *out, const char *id,
                    const char *primary_hostname);

/* hdr_message_id_of - the Message-ID: value of msg, blanks trimmed, into
 * out; 1 if there is one that fits, else 0 */
int hdr_message_id_of(const char *msg, size_t len, char *out, size_t size);
/* hdr_remove - cut every field whose name is in the colon list names
 * from the header section of msg (in place); returns bytes removed */
size_t hdr_remove(struct strbuf *msg, const char *names);
/* hdr_add_missing - append to out the Message-ID: ("<E" id "@" host ">"),
 * Date: and From: (from, with an optional display name) fields that the
 * message msg lacks, as done for locally submitted mail */
void hdr_add_missing(struct strbuf *out, const char *msg, size_t len,
                     const char *id, const char *host, long long now,
                     const char *from, const char *display_name);

#endif
