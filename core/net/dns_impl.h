/*
 * dns_impl.h - private to the resolver's files in core/net/: dns.c (the
 *              c-ares channel on the loop), dns_ttl.c (how long a reply
 *              may be kept) and dns_memo.c (the replies kept).
 */
#ifndef TERN_DNS_IMPL_H
#define TERN_DNS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "core/net/dns.h"

/* dns_wire_ttl - the seconds reply b (len bytes, wire format) may be kept:
 * the smallest answer TTL, or for a reply without answers the SOA's
 * negative TTL; -1 when it has neither or cannot be walked */
int dns_wire_ttl(const unsigned char *b, size_t len, uint32_t *ttl);

/* dns_answer_dup - deep copy in one allocation: free() releases it all */
struct dns_answer *dns_answer_dup(const struct dns_answer *src);

/* The memo: answers of the (type, name) pairs asked lately, each until
 * its TTL runs out (times are the loop's milliseconds), at most max of
 * them. */
struct dns_memo;
struct dns_memo *dns_memo_new(size_t max);
void dns_memo_free(struct dns_memo *m);            /* NULL ok */
/* dns_memo_get - the answer kept for (type, name), or NULL (none, or it
 * expired: then it is dropped); valid until the next put or free */
const struct dns_answer *dns_memo_get(struct dns_memo *m, int type,
                                      const char *name, uint64_t now);
/* dns_memo_put - keep a copy of a until the time until */
void dns_memo_put(struct dns_memo *m, int type, const char *name,
                  const struct dns_answer *a, uint64_t now, uint64_t until);

#endif
