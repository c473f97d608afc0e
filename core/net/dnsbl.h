/*
 * dnsbl.h - DNS block/allow list items in Exim's dnslists syntax: the
 *           parser, the query name, and the test of an answer.
 *
 * An item is ZONE[,MERGED][=V,V..|==V,..|&M|!=V,..|!==V,..|!&M][/KEY]:
 * with MERGED (Exim's merged lists, "sbl.example,zen.example=127.0.0.2"),
 * the key is first asked in MERGED with the value test, and only when that
 * matches in ZONE, where any answer lists it. With no KEY
 * the client's address is asked for; an IPv4 or IPv6 KEY is reversed
 * (4.3.2.1.ZONE, 32 nibbles for IPv6, IPv4-mapped IPv6 as IPv4), any
 * other KEY is a domain asked for as is (KEY.ZONE). The special items +include_unknown,
 * +exclude_unknown and +defer_unknown say what a DNS failure of the items
 * after them means (default: not listed).
 *
 * INTERFACE: dnsbl_parse (one item -> struct dnsbl_item), dnsbl_option
 *            (+..._unknown words), dnsbl_query_name, dnsbl_listed (the
 *            value test over an answer's A records).
 * ERRORS:    dnsbl_parse: -1 with the reason in eb. dnsbl_query_name: -1
 *            when the key is not an address or a plausible domain.
 * SECURITY:  items come from the configuration; keys ($sender_address_
 *            domain) and answers come from the network: bounded, checked
 *            byte by byte; an answer outside 127.0.0.0/8 never lists
 *            (a list whose domain was lost answers anything).
 */
#ifndef TERN_DNSBL_H
#define TERN_DNSBL_H

#include <stddef.h>
#include <stdint.h>

struct errbuf;

#define DNSBL_MAXVALS 16
#define DNSBL_NAME_MAX 254

enum dnsbl_how {
    DNSBL_LISTED,       /* any 127/8 answer */
    DNSBL_ANY,          /* =V,..   some answer is one of the values */
    DNSBL_ALL,          /* ==V,..  every answer is one of the values */
    DNSBL_MASK          /* &M,..   some answer has all the bits of a mask */
};

enum dnsbl_unknown { DNSBL_EXCLUDE, DNSBL_INCLUDE, DNSBL_DEFER };

struct dnsbl_item {
    char zone[DNSBL_NAME_MAX];  /* the list ($dnslist_domain) */
    char merged[DNSBL_NAME_MAX];/* asked first when set; "" none */
    enum dnsbl_how how;
    int negate;                 /* != !== !&: listed, but not so */
    size_t nvals;
    uint32_t vals[DNSBL_MAXVALS];   /* host order */
    char key[256];              /* text after '/', unexpanded; "" none */
    enum dnsbl_unknown unknown; /* a DNS failure of this item */
};

/* dnsbl_parse - one list item; 0, or -1 with eb */
int dnsbl_parse(const char *text, struct dnsbl_item *out, struct errbuf *eb);
/* dnsbl_option - "+defer_unknown" etc: its value, or -1 for a list item */
int dnsbl_option(const char *text);
/* dnsbl_query_name - the name to ask for key (an address or a domain) in
 * zone; 0, or -1 when key is unusable or the name would not fit */
int dnsbl_query_name(const char *key, const char *zone, char *out,
                     size_t size);
/* dnsbl_listed - does an answer (n A records as text) list the key for
 * it? *ignored counts the records outside 127.0.0.0/8, never used */
int dnsbl_listed(const struct dnsbl_item *it, const char *const *addrs,
                 size_t n, size_t *ignored);

#endif
