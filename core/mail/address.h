/*
 * address.h - RFC 5321/5322 mailbox parsing and formatting.
 *
 * A parsed address keeps the local part unquoted (as Exim's $local_part)
 * and the domain lowercased; addr_format() quotes again where needed.
 *
 * INTERFACE: addr_parse, addr_format, addr_quote_local, addr_is_dot_atom,
 *            addr_domain_valid.
 * ERRORS:    addr_parse returns -1 and sets *err to a static English reason
 *            ("missing domain", "local part too long", "source routes are not
 *            accepted", ...).
 * SECURITY:  input is hostile: bounded by the RFC limits, no NUL, no
 *            control characters, no bytes >= 0x80 unless ADDR_UTF8.
 */
#ifndef TERN_ADDRESS_H
#define TERN_ADDRESS_H

#include <stddef.h>

#define ADDR_LOCAL_MAX   64     /* octets of the local part as written */
#define ADDR_DOMAIN_MAX  255    /* octets of the domain */
#define ADDR_TOTAL_MAX   254    /* octets of local@domain as written */

/* addr_parse options */
enum {
    ADDR_ALLOW_NULL        = 1 << 0,  /* accept "" and "<>" (null sender) */
    ADDR_ALLOW_UNQUALIFIED = 1 << 1,  /* accept a bare local part */
    ADDR_UTF8              = 1 << 2,  /* accept UTF-8 (RFC 6531) */
};

/* flags describing a parsed address */
enum {
    AF_NULL           = 1 << 0,   /* the null address <> */
    AF_UNQUALIFIED    = 1 << 1,   /* no @domain */
    AF_QUOTED         = 1 << 2,   /* local part was a quoted string */
    AF_DOMAIN_LITERAL = 1 << 3,   /* [192.0.2.1] or [IPv6:...] */
    AF_PERCENT        = 1 << 4,   /* '%' in local part: percent hack */
    AF_BANG           = 1 << 5,   /* '!' in local part: bang path */
    AF_AT_IN_LOCAL    = 1 << 6,   /* '@' inside a quoted local part */
    AF_UTF8           = 1 << 7,   /* non-ASCII octets present */
};

struct addr_parsed {
    char local_part[ADDR_LOCAL_MAX + 1];   /* unquoted, case kept */
    char domain[ADDR_DOMAIN_MAX + 1];      /* lowercased; literals kept in
                                              brackets: "[192.0.2.1]",
                                              "[IPv6:2001:db8::1]" (canonical
                                              inet_ntop form) */
    unsigned flags;
};

/* addr_parse - parse s[0..len) as "local@domain" or "<local@domain>",
 * surrounding blanks allowed; 0 ok, -1 with *err (err may be NULL) and *out
 * zeroed. s == NULL counts as "". An empty quoted local part ("") is
 * refused like any empty local part. */
int addr_parse(const char *s, size_t len, unsigned opts,
               struct addr_parsed *out, const char **err);

struct strbuf;
/* addr_quote_local - append lp, quoted as a quoted-string unless dot-atom */
void addr_quote_local(const char *lp, struct strbuf *out);
/* addr_format - append "local@domain" (just local when domain is NULL/"";
 * nothing at all for the null address, lp and domain both empty, so the
 * result parses back with ADDR_ALLOW_NULL) */
void addr_format(const char *lp, const char *domain, struct strbuf *out);
/* addr_is_dot_atom - nonzero if s[0..len) is an RFC 5322 dot-atom; UTF-8
 * characters count as atext (RFC 6531), so EAI local parts stay unquoted */
int addr_is_dot_atom(const char *s, size_t len);
/* addr_domain_valid - RFC 1035 host name syntax (letters, digits, hyphens,
 * dots, labels <= 63, total <= 255, no trailing dot; ADDR_UTF8 in opts
 * admits well-formed UTF-8 labels); nonzero if valid */
int addr_domain_valid(const char *d, size_t len, unsigned opts);

#endif
