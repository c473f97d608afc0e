/*
 * spf_impl.h - private to the SPF evaluator (spf.c, spf_record.c,
 *              spf_macro.c); the fuzz targets use it too.
 *
 * spf_record_parse turns one "v=spf1 ..." text into terms, refusing any
 * syntax error (RFC 7208 4.6: a record with one is a permerror as a
 * whole). spf_macro_expand expands a macro-string (section 7) into a
 * bounded buffer.
 */
#ifndef TERN_SPF_IMPL_H
#define TERN_SPF_IMPL_H

#include <stddef.h>

#define SPF_MAX_RECORD   4096   /* bytes of one record */
#define SPF_MAX_TERMS    64     /* terms of one record */
#define SPF_MAX_EXPAND   2048   /* bytes of one macro expansion */

enum spf_mech {
    SPF_M_ALL, SPF_M_INCLUDE, SPF_M_A, SPF_M_MX, SPF_M_PTR, SPF_M_IP4,
    SPF_M_IP6, SPF_M_EXISTS
};

struct spf_term {
    char qual;                  /* '+', '-', '~', '?' */
    enum spf_mech mech;
    char *spec;                 /* domain-spec (macro string) or NULL */
    unsigned char net[16];      /* ip4/ip6 network */
    int cidr4, cidr6;           /* prefix lengths (32/128 when absent) */
    char *text;                 /* the term as written, for logs */
};

struct spf_record {
    struct spf_term *t;
    size_t n;
    char *redirect;             /* domain-spec or NULL */
    char *exp;                  /* domain-spec or NULL */
};

/* spf_record_is_spf1 - the record starts with "v=spf1" then SP or end */
int spf_record_is_spf1(const char *s, size_t n);
/* spf_record_parse - 0, or -1 with why set (permerror) */
int spf_record_parse(const char *s, size_t n, struct spf_record *r,
                     char *why, size_t wsize);
void spf_record_free(struct spf_record *r);
/* spf_macro_check - 0 if s[0..n) is a valid macro-string; exp allows the
 * c, r and t letters and spaces (explanations only); *ends_macro (NULL
 * ok) tells whether it ends with a macro-expand */
int spf_macro_check(const char *s, size_t n, int exp, int *ends_macro);

struct spf_macro_ctx {
    const char *s, *l, *o;      /* sender, its local part and domain */
    const char *d;              /* current domain */
    const char *h;              /* HELO name */
    const char *p;              /* validated client name or "unknown" */
    const char *r;              /* receiver */
    const unsigned char *ip;    /* 4 or 16 bytes */
    int v6;
    unsigned long t;
};

/* spf_macro_expand - expand into out (NUL-terminated); returns the length,
 * -1 on a syntax error, -2 if the result would exceed size - 1 */
int spf_macro_expand(const char *s, size_t n, const struct spf_macro_ctx *c,
                     int exp, char *out, size_t size);
/* spf_macro_uses_p - s uses %{p} (needs a PTR lookup first) */
int spf_macro_uses_p(const char *s);
/* spf_domain_trim - drop leading labels until out is at most 253 bytes
 * (RFC 7208 7.3); returns the start of the kept part */
const char *spf_domain_trim(const char *d);

#endif
