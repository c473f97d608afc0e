/*
 * mlist.c - parsing and matching of Exim-style match lists.
 *
 * Items are classified once when the list is parsed; matching is a linear
 * walk (lists are short) with no allocation except a lookup's result.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/hash.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/lookup/lookup.h"
#include "core/net/netaddr.h"
#include "mlist.h"

enum item_type {
    MI_ANY, MI_LITERAL, MI_WILD_SUFFIX, MI_WILD_PREFIX, MI_REGEX, MI_NAMED,
    MI_LOOKUP, MI_NET, MI_NOHOST, MI_SELF, MI_LOCAL_LITERAL, MI_NULL_ADDR,
    MI_ADDR
};

struct mitem {
    enum item_type type;
    int neg;
    const char *text;           /* as written, without "!" */
    const char *arg;            /* literal / wildcard remainder / name */
    regex_t *re;
    struct lookup_spec *lookup;
    const struct named_list *named;
    struct netaddr net;
    struct mlist *lp, *dom;     /* MI_ADDR: local part and domain parts */
};

struct mlist {
    enum mlist_kind kind;
    size_t n, cap;
    struct mitem *items;
};

static enum match_result match_list(const struct mlist *l, const char *subj,
                                    struct match_ctx *ctx, int depth);

/* mlist_new - an empty list of kind */
struct mlist *mlist_new(struct pool *p, enum mlist_kind kind)
{
    struct mlist *l = pool_zalloc(p, sizeof(*l));

    l->kind = kind;
    return l;
}

/* mlist_count - number of items */
size_t mlist_count(const struct mlist *l)
{
    return l ? l->n : 0;
}

/* mlist_kind_name - "domain", "host", ... */
const char *mlist_kind_name(enum mlist_kind kind)
{
    static const char *const names[] = { "domain", "host", "address",
                                         "localpart", "string" };
    return names[kind];
}

static struct mitem *item_push(struct mlist *l, struct pool *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct mitem *v = pool_zalloc(p, cap * sizeof(*v));
        if (l->n)
            memcpy(v, l->items, l->n * sizeof(*v));
        l->items = v;
        l->cap = cap;
    }
    memset(&l->items[l->n], 0, sizeof(struct mitem));
    return &l->items[l->n++];
}

static int lookup_item(const char *s)
{
    const char *semi = strchr(s, ';');

    return semi != NULL && lookup_type_valid(s, (size_t)(semi - s));
}

static void regex_cleanup(void *arg)
{
    regfree(arg);
}

#define REGEX_MAX 1000

/* Stacked repetition ("a++", "a*{2}") is undefined in POSIX EREs and makes
 * glibc's regcomp use memory exponential in the run length: refuse it. */
static int stacked_repetition(const char *re)
{
    int prev_rep = 0, in_class = 0;

    for (const char *c = re; *c != '\0'; c++) {
        if (*c == '\\' && c[1] != '\0') {
            c++;
            prev_rep = 0;
            continue;
        }
        if (in_class) {
            in_class = *c != ']';
            continue;
        }
        int rep = strchr("+*?{", *c) != NULL;
        if (rep && prev_rep)
            return 1;
        if (*c == '{')
            c += strcspn(c, "}") - (c[strcspn(c, "}")] == '\0');
        in_class = *c == '[';
        prev_rep = rep;
    }
    return 0;
}

/* mlist_regcomp - compile a POSIX ERE into the pool (freed with it),
 * refusing what makes glibc's regcomp blow up; NULL with eb */
regex_t *mlist_regcomp(struct pool *p, const char *pattern, int flags,
                       struct errbuf *eb)
{
    char msg[128];
    regex_t *re;
    int rc;

    if (strlen(pattern) > REGEX_MAX || stacked_repetition(pattern)) {
        errbuf_set(eb, "regular expression \"%.60s\" is too long or stacks "
                   "repetition operators", pattern);
        return NULL;
    }
    re = pool_zalloc(p, sizeof(regex_t));
    rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB | flags);
    if (rc != 0) {
        regerror(rc, re, msg, sizeof(msg));
        errbuf_set(eb, "bad regular expression \"%s\": %s", pattern, msg);
        return NULL;
    }
    pool_cleanup(p, regex_cleanup, re);
    return re;
}

static int compile_regex(struct mitem *it, struct pool *p, int icase,
                         struct errbuf *eb)
{
    it->re = mlist_regcomp(p, it->text, icase ? REG_ICASE : 0, eb);
    return it->re != NULL ? 0 : -1;
}

static int classify_addr(struct mitem *it, struct pool *p, struct errbuf *eb)
{
    const char *at = strrchr(it->text, '@');

    if (strcmp(it->text, "<>") == 0) {
        it->type = MI_NULL_ADDR;
        return 0;
    }
    if (at == NULL) {                   /* a domain pattern */
        it->type = MI_ADDR;
        it->dom = mlist_new(p, ML_DOMAIN);
        return mlist_add(it->dom, p, it->text, eb);
    }
    it->type = MI_ADDR;
    it->lp = mlist_new(p, ML_LOCALPART);
    it->dom = mlist_new(p, ML_DOMAIN);
    if (mlist_add(it->lp, p, pool_strndup(p, it->text,
                  (size_t)(at - it->text)), eb) != 0)
        return -1;
    return mlist_add(it->dom, p, at + 1, eb);
}

static int classify_host(struct mitem *it, struct pool *p, struct errbuf *eb)
{
    (void)p;
    if (it->text[0] == '\0') {
        it->type = MI_NOHOST;
        return 0;
    }
    if (netaddr_parse(it->text, strlen(it->text), &it->net) == 0) {
        it->type = MI_NET;
        return 0;
    }
    if (strchr(it->text, '/') != NULL || strspn(it->text, "0123456789.:")
        == strlen(it->text)) {
        errbuf_set(eb, "bad IP address or network \"%s\"", it->text);
        return -1;
    }
    it->type = MI_LITERAL;      /* a host name pattern */
    return 0;
}

static int classify_wild(struct mitem *it)
{
    size_t len = strlen(it->text);

    if (it->text[0] == '*') {
        it->type = MI_WILD_SUFFIX;          /* "*.example.com", "*-req" */
        it->arg = it->text + 1;
        return 1;
    }
    if (len > 1 && it->text[len - 1] == '*') {
        it->type = MI_WILD_PREFIX;          /* "owner-*" */
        return 1;
    }
    return 0;
}

static int classify(struct mlist *l, struct mitem *it, struct pool *p,
                    struct errbuf *eb)
{
    const char *t = it->text;

    it->arg = t;
    if (strcmp(t, "*") == 0) {
        it->type = MI_ANY;
        return 0;
    }
    if (t[0] == '+' && t[1] != '\0') {
        it->type = MI_NAMED;
        it->arg = t + 1;
        return 0;
    }
    if (t[0] == '^')
        return it->type = MI_REGEX,
               compile_regex(it, p, !(l->kind == ML_LOCALPART
                                      || l->kind == ML_STRING), eb);
    if (lookup_item(t)) {
        it->type = MI_LOOKUP;
        it->lookup = pool_zalloc(p, sizeof(*it->lookup));
        return lookup_spec_parse_pool(p, t, it->lookup, eb);
    }
    switch (l->kind) {
    case ML_HOST:
        return classify_host(it, p, eb);
    case ML_ADDRESS:
        return classify_addr(it, p, eb);
    case ML_DOMAIN:
        if (strcmp(t, "@") == 0)
            return it->type = MI_SELF, 0;
        if (strcmp(t, "@[]") == 0)
            return it->type = MI_LOCAL_LITERAL, 0;
        break;
    default:
        break;
    }
    if (!classify_wild(it))
        it->type = MI_LITERAL;
    return 0;
}

/* mlist_add - append one item ("!" negation allowed) */
int mlist_add(struct mlist *l, struct pool *p, const char *item,
              struct errbuf *eb)
{
    struct mitem *it;

    while (*item == ' ' || *item == '\t')
        item++;
    it = item_push(l, p);
    if (*item == '!') {
        it->neg = 1;
        item++;
        while (*item == ' ' || *item == '\t')
            item++;
    }
    size_t len = strlen(item);
    while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
        len--;
    it->text = pool_strndup(p, item, len);
    return classify(l, it, p, eb);
}

/* Split "a : b" into items: "::" is a literal colon, "<X" changes the
 * separator; blanks around items are dropped. */
static int split_items(struct mlist *l, struct pool *p, const char *s,
                       struct errbuf *eb)
{
    char sep = ':';
    struct strbuf item;
    int rc = 0;

    while (*s == ' ' || *s == '\t')
        s++;
    if (s[0] == '<' && s[1] != '\0' && strchr(" \t", s[1]) == NULL
        && strchr(s, '>') == NULL) {
        sep = s[1];
        s += 2;
    }
    sb_init(&item);
    for (;; s++) {
        if (*s == sep && s[1] == sep && sep == ':') {
            sb_putc(&item, sep);
            s++;
            continue;
        }
        if (*s == sep || *s == '\0') {
            const char *t = sb_str(&item);
            while (*t == ' ' || *t == '\t')
                t++;
            if (*t != '\0' && (rc = mlist_add(l, p, t, eb)) != 0)
                break;
            sb_reset(&item);
            if (*s == '\0')
                break;
            continue;
        }
        sb_putc(&item, *s);
    }
    sb_free(&item);
    return rc;
}

/* mlist_parse_text - a list from its text form; an empty host list text
 * means "no host" (Exim's hosts = "" for local submission) */
struct mlist *mlist_parse_text(struct pool *p, enum mlist_kind kind,
                               const char *text, struct errbuf *eb)
{
    struct mlist *l = mlist_new(p, kind);
    const char *t = text;

    while (*t == ' ' || *t == '\t')
        t++;
    if (*t == '\0' && kind == ML_HOST)
        return mlist_add(l, p, "", eb) == 0 ? l : NULL;
    return split_items(l, p, text, eb) == 0 ? l : NULL;
}

/* mlist_link - resolve "+name" items against the loaded named lists */
int mlist_link(struct mlist *l, const struct conf *c, struct errbuf *eb)
{
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        struct mitem *it = &l->items[i];
        if (it->type == MI_ADDR) {
            if (mlist_link(it->lp, c, eb) != 0
                || mlist_link(it->dom, c, eb) != 0)
                return -1;
            continue;
        }
        if (it->type != MI_NAMED)
            continue;
        it->named = conf_find_list(c, it->arg);
        if (it->named == NULL) {
            errbuf_set(eb, "unknown named list \"+%s\"", it->arg);
            return -1;
        }
        if (it->named->kind != l->kind && l->kind != ML_STRING) {
            errbuf_set(eb, "+%s is a %slist, used where a %s list is needed",
                       it->arg, mlist_kind_name(it->named->kind),
                       mlist_kind_name(l->kind));
            return -1;
        }
    }
    return 0;
}

/* mlist_text - the items joined with " : ", or Exim's "<; a ; b" when an
 * item holds a colon (IPv6), so the text parses back to the same list */
void mlist_text(const struct mlist *l, struct strbuf *out)
{
    const char *sep = " : ";

    for (size_t i = 0; l != NULL && i < l->n; i++)
        if (strchr(l->items[i].text, ':') != NULL && strchr(l->items[i].text,
                                                            ';') == NULL) {
            sb_puts(out, "<; ");
            sep = " ; ";
            break;
        }
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        if (i > 0)
            sb_puts(out, sep);
        if (l->items[i].neg)
            sb_putc(out, '!');
        sb_puts(out, l->items[i].text);
    }
}

/* ---- matching ---- */

static int eq(const char *a, const char *b, int caseful)
{
    return caseful ? strcmp(a, b) == 0 : strcasecmp(a, b) == 0;
}

static int suffix_eq(const char *s, const char *suf, int caseful)
{
    size_t ls = strlen(s), lf = strlen(suf);

    return ls >= lf && eq(s + ls - lf, suf, caseful);
}

static int prefix_eq(const char *s, const char *pre, size_t n, int caseful)
{
    return caseful ? strncmp(s, pre, n) == 0 : strncasecmp(s, pre, n) == 0;
}

static enum match_result match_lookup(const struct mitem *it,
                                      const char *subj,
                                      struct match_ctx *ctx)
{
    struct strbuf val;
    struct errbuf local;
    enum lk_result r;

    sb_init(&val);
    r = lookup_find(it->lookup, subj, strlen(subj), &val,
                    ctx->eb ? ctx->eb : &local);
    sb_free(&val);
    if (r == LK_TEMPFAIL)
        return MATCH_DEFER;
    return r == LK_FOUND ? MATCH_YES : MATCH_NO;
}

static enum match_result match_host(const struct mitem *it, const char *ip,
                                    struct match_ctx *ctx)
{
    struct netaddr a;

    if (it->type == MI_NOHOST)
        return ip[0] == '\0' ? MATCH_YES : MATCH_NO;
    if (ip[0] == '\0')
        return MATCH_NO;
    if (it->type == MI_NET)
        return netaddr_parse(ip, strlen(ip), &a) == 0
               && netaddr_contains(&it->net, &a) ? MATCH_YES : MATCH_NO;
    /* name patterns need a verified host name */
    if (ctx->host_name == NULL)
        return MATCH_NO;
    if (it->type == MI_WILD_SUFFIX)
        return suffix_eq(ctx->host_name, it->arg, 0) ? MATCH_YES : MATCH_NO;
    return eq(ctx->host_name, it->arg, 0) ? MATCH_YES : MATCH_NO;
}

static enum match_result match_addr(const struct mitem *it, const char *subj,
                                    struct match_ctx *ctx, int depth)
{
    const char *at = strrchr(subj, '@');
    enum match_result r;
    char *lp;

    if (it->type == MI_NULL_ADDR)
        return subj[0] == '\0' ? MATCH_YES : MATCH_NO;
    if (subj[0] == '\0')
        return MATCH_NO;
    if (it->lp == NULL)
        return match_list(it->dom, at ? at + 1 : "", ctx, depth + 1);
    if (at == NULL)
        return MATCH_NO;
    r = match_list(it->dom, at + 1, ctx, depth + 1);
    if (r != MATCH_YES)
        return r;
    lp = xstrndup(subj, (size_t)(at - subj));
    r = match_list(it->lp, lp, ctx, depth + 1);
    free(lp);
    return r;
}

static enum match_result match_simple(const struct mlist *l,
                                      const struct mitem *it,
                                      const char *subj, struct match_ctx *ctx)
{
    int caseful = l->kind == ML_LOCALPART ? ctx->caseful : 0;
    char lit[300];

    switch (it->type) {
    case MI_LITERAL:
        return eq(subj, it->arg, caseful) ? MATCH_YES : MATCH_NO;
    case MI_WILD_SUFFIX:
        return suffix_eq(subj, it->arg, caseful) ? MATCH_YES : MATCH_NO;
    case MI_WILD_PREFIX:
        return prefix_eq(subj, it->text, strlen(it->text) - 1, caseful)
               ? MATCH_YES : MATCH_NO;
    case MI_SELF:
        return ctx->conf && ctx->conf->main.primary_hostname
               && eq(subj, ctx->conf->main.primary_hostname, 0)
               ? MATCH_YES : MATCH_NO;
    case MI_LOCAL_LITERAL: {
        size_t n = strlen(subj);
        if (n < 3 || subj[0] != '[' || subj[n - 1] != ']' || n >= sizeof(lit))
            return MATCH_NO;
        memcpy(lit, subj + 1, n - 2);
        lit[n - 2] = '\0';
        const char *ip = strncasecmp(lit, "ipv6:", 5) == 0 ? lit + 5 : lit;
        return netaddr_is_local(ip) ? MATCH_YES : MATCH_NO;
    }
    default:
        return MATCH_NO;
    }
}

static enum match_result match_item(const struct mlist *l,
                                    const struct mitem *it, const char *subj,
                                    struct match_ctx *ctx, int depth)
{
    switch (it->type) {
    case MI_ANY:
        return MATCH_YES;
    case MI_NAMED:
        if (it->named == NULL)
            return MATCH_NO;
        return match_list(it->named->list, subj, ctx, depth + 1);
    case MI_REGEX:
        return regexec(it->re, subj, 0, NULL, 0) == 0 ? MATCH_YES : MATCH_NO;
    case MI_LOOKUP:
        if (l->kind == ML_HOST && subj[0] == '\0')
            return MATCH_NO;
        return match_lookup(it, subj, ctx);
    case MI_NET:
    case MI_NOHOST:
        return match_host(it, subj, ctx);
    case MI_ADDR:
    case MI_NULL_ADDR:
        return match_addr(it, subj, ctx, depth);
    default:
        if (l->kind == ML_HOST)
            return match_host(it, subj, ctx);
        return match_simple(l, it, subj, ctx);
    }
}

static enum match_result match_list(const struct mlist *l, const char *subj,
                                    struct match_ctx *ctx, int depth)
{
    enum match_result r;

    if (l == NULL || l->n == 0)
        return MATCH_NO;
    if (depth > 16) {
        if (ctx->eb)
            errbuf_set(ctx->eb, "named lists nested too deeply");
        return MATCH_DEFER;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct mitem *it = &l->items[i];
        r = match_item(l, it, subj, ctx, depth);
        if (r == MATCH_DEFER)
            return MATCH_DEFER;
        if (r == MATCH_YES) {
            ctx->matched = it->text;
            return it->neg ? MATCH_NO : MATCH_YES;
        }
    }
    /* a list ending in a negative item matches what is left (Exim) */
    return l->items[l->n - 1].neg ? MATCH_YES : MATCH_NO;
}

/* mlist_match - match subject against the list */
enum match_result mlist_match(const struct mlist *l, const char *subject,
                              struct match_ctx *ctx)
{
    ctx->matched = NULL;
    return match_list(l, subject, ctx, 0);
}
