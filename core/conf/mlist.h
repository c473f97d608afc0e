/*
 * mlist.h - Exim match lists: domain, host, address and local part lists.
 *
 * Text form "a : b : c" (":" separator, "::" a literal colon, a leading
 * "<X" picks another separator, e.g. "<; ::1 ; 10.0.0.0/8"); a Lua table
 * gives the items directly. Items: "!" negation, "*" everything, "+name"
 * a named list, "^regex" (POSIX ERE), "TYPE;FILE" a lookup (lookup.h) keyed
 * by the subject, and per kind:
 *   domain:   literal (caseless), "*.example.com", "*suffix", "@" (the
 *             primary hostname), "@[]" (a literal of a local IP address)
 *   host:     IP, CIDR ("192.0.2.0/24", "2001:db8::/32"), "" (no host:
 *             local submission), host-name patterns against a known name
 *   address:  "lp@domain", "*@domain", "lp@*", "<>" (null sender), an item
 *             without "@" matched as a domain against the domain part
 *   localpart: literal, "prefix*", "*suffix"
 * The first item that matches decides; a negated one means "no match". A
 * list whose last item is negated matches everything left over (Exim).
 *
 * INTERFACE: mlist_parse_text, mlist_new/mlist_add (items one by one),
 *            mlist_link (resolve +names after loading), mlist_match,
 *            mlist_text (the list as text for -bP), mlist_count.
 * ERRORS:    parse/link return -1 with eb ("bad regex", "unknown named list
 *            +x", "bad CIDR"); a lookup tempfail makes mlist_match return
 *            MATCH_DEFER with the reason in ctx->eb.
 */
#ifndef TERN_MLIST_H
#define TERN_MLIST_H

#include <regex.h>

#include "core/conf/conf.h"

enum match_result { MATCH_DEFER = -1, MATCH_NO = 0, MATCH_YES = 1 };

struct mlist;

struct match_ctx {
    const struct conf *conf;
    const char *host_name;      /* host lists: verified client name or NULL */
    int caseful;                /* local parts: compare case-sensitively */
    struct errbuf *eb;          /* tempfail reason */
    const char *matched;        /* out: the item text that decided (trace) */
};

struct mlist *mlist_new(struct pool *p, enum mlist_kind kind);
int mlist_add(struct mlist *l, struct pool *p, const char *item,
              struct errbuf *eb);
struct mlist *mlist_parse_text(struct pool *p, enum mlist_kind kind,
                               const char *text, struct errbuf *eb);
int mlist_link(struct mlist *l, const struct conf *c, struct errbuf *eb);
/* mlist_match - subject: domain, IP address ("" = no host), address
 * ("" = null sender) or local part, by the list's kind */
enum match_result mlist_match(const struct mlist *l, const char *subject,
                              struct match_ctx *ctx);
void mlist_text(const struct mlist *l, struct strbuf *out);
size_t mlist_count(const struct mlist *l);
/* mlist_regcomp - a guarded regcomp (REG_EXTENDED|REG_NOSUB|flags) whose
 * result lives as long as the pool; NULL with eb */
regex_t *mlist_regcomp(struct pool *p, const char *pattern, int flags,
                       struct errbuf *eb);
const char *mlist_kind_name(enum mlist_kind kind);

#endif
