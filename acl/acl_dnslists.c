/*
 * acl_dnslists.c - the dnslists condition (Exim's): is the client (or a
 *                  key such as $sender_address_domain) in one of the DNS
 *                  lists, with the answer the item asks for?
 *
 * PURPOSE: items are parsed at load time (acl_dnslists_prepare, syntax in
 * core/net/dnsbl.h). At SMTP time the A query of every item and key (a
 * key may be a list, Exim's "/<;key1;key2") starts at once on the loop;
 * when all have answered, the first in list order that lists its key
 * wins, as if they had been asked one by one (a merged list,
 * "detail.example,merged.example=V", is asked first and the detailed list
 * only when the merged one matches): its TXT record is fetched, and $dnslist_domain, $dnslist_matched, $dnslist_value
 * and $dnslist_text are left in the session's variables.
 * ERRORS: a DNS failure of an item means "not listed" unless
 * +include_unknown (listed) or +defer_unknown (the condition defers)
 * comes before it in the list. Answers outside 127.0.0.0/8 are ignored
 * and logged (a list whose domain was lost may answer anything).
 * SECURITY: keys expand client data and are checked as names by dnsbl.c;
 * TXT text is bounded and reduced to printable ASCII before it can reach
 * a reply or a header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl_impl.h"
#include "core/base/xalloc.h"
#include "core/mail/expand.h"
#include "core/mail/logfile.h"
#include "core/net/dns.h"
#include "core/net/dnsbl.h"

enum { Q_WAIT = 1, Q_LISTED, Q_NOT, Q_FAIL };

#define DNSL_MAX_Q 64           /* queries of one condition (items x keys) */

struct dnsl_q {
    struct dnsl *d;
    size_t item;                /* index in f->dnsl */
    int state;
    int detail;                 /* merged list matched: asking the list */
    char name[DNSBL_NAME_MAX + 2];
    char key[256];
    char value[200];            /* the 127/8 records, ", " between */
};

struct dnsl {
    struct acl_check *chk;      /* NULL once cancelled */
    const struct acl_fields *f;
    int outstanding;            /* A queries not answered yet */
    size_t nq;
    struct dnsl_q q[];
};

/* acl_dnslists_prepare - parse the statement's items once; see
 * acl_impl.h */
int acl_dnslists_prepare(struct conf *c, struct acl_fields *f,
                         struct errbuf *eb)
{
    enum dnsbl_unknown unknown = DNSBL_EXCLUDE;

    f->dnsl = pool_zalloc(c->pool, (f->dnslists.n + 1) * sizeof(*f->dnsl));
    f->ndnsl = 0;
    for (size_t i = 0; i < f->dnslists.n; i++) {
        struct dnsbl_item *it = &f->dnsl[f->ndnsl];
        int opt = dnsbl_option(f->dnslists.v[i]);
        if (opt >= 0) {
            unknown = (enum dnsbl_unknown)opt;
            continue;
        }
        if (dnsbl_parse(f->dnslists.v[i], it, eb) != 0
            || (it->key[0] != '\0' && expand_check(it->key, eb) != 0)) {
            errbuf_prefix(eb, "dnslists: ");
            return -1;
        }
        it->unknown = unknown;
        f->ndnsl++;
    }
    if (f->dnslists.n > 0 && f->ndnsl == 0) {
        errbuf_set(eb, "dnslists: no list, only options");
        return -1;
    }
    return 0;
}

static void dnsl_cancel(void *arg)
{
    ((struct dnsl *)arg)->chk = NULL;       /* callbacks still arrive */
}

/* Up to 255 bytes of the first TXT string, printable ASCII only. */
static void set_text(struct acl_check *chk, const struct dns_answer *ans)
{
    char text[256];
    size_t n = 0;

    if (ans->status == DNS_OK && ans->n > 0)
        for (const char *s = ans->rr[0].data; *s && n < sizeof(text) - 1;
             s++)
            text[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
    text[n] = '\0';
    acl_var_set(chk->req->conn_vars, "dnslist_text", 12, text);
}

static void finish(struct dnsl *d, enum cond_result r)
{
    struct acl_check *chk = d->chk;

    free(d);
    acl_cond_done(chk, r);
}

static void txt_cb(const struct dns_answer *ans, void *arg)
{
    struct dnsl *d = arg;

    if (d->chk == NULL) {
        free(d);
        return;
    }
    set_text(d->chk, ans);
    finish(d, C_YES);
}

static void set_vars(struct dnsl *d, const struct dnsl_q *q, size_t i)
{
    struct acl_vars *v = d->chk->req->conn_vars;

    acl_var_set(v, "dnslist_domain", 14, d->f->dnsl[i].zone);
    acl_var_set(v, "dnslist_matched", 15, q->key);
    acl_var_set(v, "dnslist_value", 13, q->value);
    acl_var_set(v, "dnslist_text", 12, "");
    d->chk->cond_msg = pool_printf(d->chk->pool, "%s is listed in %s",
                                   q->key, d->f->dnsl[i].zone);
}

/* Every query answered: the first that lists its key, in list order
 * (items, then the keys of an item). */
static void decide(struct dnsl *d)
{
    struct acl_check *chk = d->chk;

    for (size_t k = 0; k < d->nq; k++) {
        struct dnsl_q *q = &d->q[k];
        size_t i = q->item;
        enum dnsbl_unknown u = d->f->dnsl[i].unknown;
        if (q->state == Q_FAIL && u == DNSBL_DEFER) {
            chk->cond_msg = pool_printf(chk->pool, "DNS list %s: lookup of "
                                        "%s failed temporarily",
                                        d->f->dnsl[i].zone, q->name);
            finish(d, C_DEFER);
            return;
        }
        if (q->state != Q_LISTED && (q->state != Q_FAIL
                                     || u != DNSBL_INCLUDE))
            continue;
        set_vars(d, q, i);
        if (q->state == Q_FAIL) {           /* +include_unknown */
            finish(d, C_YES);
            return;
        }
        dns_query(chk->req->dns, DNS_T_TXT, q->name, txt_cb, d);
        return;
    }
    chk->cond_msg = "not listed in any DNS list";
    finish(d, C_NO);
}

/* One line per answer however many records it has (a hostile list may
 * send hundreds): the first address outside 127/8 and the count. */
static void note_ignored(struct dnsl_q *q, const struct dns_answer *ans,
                         size_t ignored)
{
    for (size_t i = 0; i < ans->n; i++)
        if (strncmp(ans->rr[i].data, "127.", 4) != 0) {
            log_main("DNS list lookup of %s returned %.40s, outside "
                     "127.0.0.0/8: ignored (%zu such record%s)", q->name,
                     ans->rr[i].data, ignored, ignored == 1 ? "" : "s");
            return;
        }
}

static void collect_value(struct dnsl_q *q, const struct dns_answer *ans)
{
    size_t n = 0;

    q->value[0] = '\0';
    for (size_t i = 0; i < ans->n; i++) {
        if (strncmp(ans->rr[i].data, "127.", 4) != 0)
            continue;
        int w = snprintf(q->value + n, sizeof(q->value) - n, "%s%s",
                         n ? ", " : "", ans->rr[i].data);
        if (w < 0 || (size_t)w >= sizeof(q->value) - n)
            break;
        n += (size_t)w;
    }
}

static void a_cb(const struct dns_answer *ans, void *arg);

/* Is q's key listed by this answer? A merged list's detailed list (the
 * second query) lists it with any 127/8 record. */
static int judge(struct dnsl *d, struct dnsl_q *q, const struct dns_answer *ans)
{
    static const struct dnsbl_item any;     /* DNSBL_LISTED */
    const struct dnsbl_item *it = &d->f->dnsl[q->item];
    const char *recs[32];
    size_t n = ans->status == DNS_OK ? ans->n : 0, ignored = 0;

    for (size_t k = 0; k < n && k < 32; k++)
        recs[k] = ans->rr[k].data;
    int listed = dnsbl_listed(q->detail ? &any : it, recs, n < 32 ? n : 32,
                              &ignored);
    if (ignored > 0)
        note_ignored(q, ans, ignored);
    if (listed)
        collect_value(q, ans);
    acl_trace(d->chk, "DNS list check: %s: %s", q->name,
              ans->status == DNS_TEMPFAIL ? ans->why : listed ? q->value
              : n > 0 ? "not listed with that value" : "not listed");
    return listed;
}

/* The merged list matched: ask the detailed list, where q's answer now
 * comes from; 0 when its name cannot be made (then not listed). */
static int ask_detail(struct dnsl *d, struct dnsl_q *q)
{
    const struct dnsbl_item *it = &d->f->dnsl[q->item];

    q->detail = 1;
    if (dnsbl_query_name(q->key, it->zone, q->name, sizeof(q->name)) != 0)
        return 0;
    dns_query(d->chk->req->dns, DNS_T_A, q->name, a_cb, q);
    return 1;
}

static void a_cb(const struct dns_answer *ans, void *arg)
{
    struct dnsl_q *q = arg;
    struct dnsl *d = q->d;

    if (d->chk != NULL) {
        int listed = judge(d, q, ans);
        if (listed && d->f->dnsl[q->item].merged[0] != '\0' && !q->detail) {
            if (ask_detail(d, q))
                return;                     /* still outstanding */
            listed = 0;
        }
        q->state = ans->status == DNS_TEMPFAIL ? Q_FAIL
                   : listed ? Q_LISTED : Q_NOT;
    }
    if (--d->outstanding > 0)
        return;
    if (d->chk == NULL)
        free(d);
    else
        decide(d);
}

/* The keys of an item, at most max: its expanded /KEY, which may be a
 * list in Exim's form "<;key1;key2" (";", "|" or "," after "<"), or the
 * client's address. */
static size_t item_keys(struct acl_check *chk, const struct dnsbl_item *it,
                        const char **keys, size_t max)
{
    struct xvars v;
    struct errbuf eb;
    const char *s;
    size_t n = 0;

    if (max == 0)
        return 0;
    if (it->key[0] == '\0') {
        keys[0] = chk->req->client_ip;
        return keys[0][0] != '\0';
    }
    acl_xvars(chk, &v);
    if (expand_string(it->key, &v, chk->pool, &s, &eb) != 0)
        return 0;
    if (s[0] != '<' || s[1] == '\0' || strchr(";|,", s[1]) == NULL)
        return (keys[0] = s)[0] != '\0';
    const char sep[2] = { s[1], '\0' };
    for (const char *p = s + 2; *p != '\0' && n < max;) {
        size_t len = strcspn(p, sep);
        const char *next = p + len + (p[len] != '\0');
        while (len > 0 && *p == ' ')
            p++, len--;
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len > 0)
            keys[n++] = pool_strndup(chk->pool, p, len);
        p = next;
    }
    return n;
}

static struct dnsl *make_queries(struct acl_check *chk,
                                 const struct acl_fields *f)
{
    const char *keys[DNSL_MAX_Q];
    size_t item[DNSL_MAX_Q], nq = 0;
    struct dnsl *d;

    for (size_t i = 0; i < f->ndnsl && nq < DNSL_MAX_Q; i++) {
        size_t nk = item_keys(chk, &f->dnsl[i], keys + nq, DNSL_MAX_Q - nq);
        for (size_t k = 0; k < nk; k++)
            item[nq++] = i;
    }
    d = xcalloc(1, sizeof(*d) + nq * sizeof(d->q[0]));
    d->chk = chk;
    d->f = f;
    for (size_t k = 0; k < nq; k++) {
        struct dnsl_q *q = &d->q[d->nq];
        q->d = d;
        q->item = item[k];
        snprintf(q->key, sizeof(q->key), "%s", keys[k]);
        const struct dnsbl_item *it = &f->dnsl[q->item];
        if (dnsbl_query_name(q->key, it->merged[0] ? it->merged : it->zone,
                             q->name, sizeof(q->name)) != 0)
            continue;                       /* not a name: not listed */
        q->state = Q_WAIT;
        d->nq++;
    }
    return d;
}

/* acl_dnslists - see acl_impl.h */
enum cond_result acl_dnslists(struct acl_check *chk,
                              const struct acl_fields *f)
{
    struct dnsl *d;

    if (f->ndnsl == 0)
        return C_YES;
    if (chk->req->dns == NULL)
        return C_NO;
    d = make_queries(chk, f);
    if (d->nq == 0) {
        free(d);
        chk->cond_msg = "not listed in any DNS list";
        return C_NO;
    }
    d->outstanding = (int)d->nq;
    for (size_t k = 0; k < d->nq; k++)
        dns_query(chk->req->dns, DNS_T_A, d->q[k].name, a_cb, &d->q[k]);
    chk->async = d;
    chk->async_cancel = dnsl_cancel;
    return C_PENDING;
}
