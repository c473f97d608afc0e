/*
 * bt_print.c - the -bt and -bv output of one routed address, in Exim's
 *              shape (DESIGN §5).
 *
 * PURPOSE: failures and deferrals first, then discarded addresses, then
 * local deliveries, then remote ones; each final address with one
 * "    <-- parent" line per ancestor (nearest first), then
 * "  router = R, transport = T" and, for remote deliveries, one
 * "  host NAME [IP] MX=N port=N" line per host, names and bracketed
 * addresses padded to the widest as Exim does. A repeated address is
 * shown once more with "   [duplicate, would not be delivered]". When
 * every branch was discarded: "mail to ADDR is discarded".
 * INTERFACE: bt_print_top, bt_print_verify.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/base/hash.h"
#include "route/bt_impl.h"

struct leaves {
    size_t n, cap;
    struct raddr **v;
};

struct sorted {
    struct leaves fail, defer, discard, local, remote;
};

static void push(struct leaves *l, struct raddr *a)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
    }
    l->v[l->n++] = a;
}

static void sort_leaf(struct raddr *a, void *arg)
{
    struct sorted *s = arg;

    switch (a->state) {
    case RA_FAILED: push(&s->fail, a); break;
    case RA_DEFERRED: push(&s->defer, a); break;
    case RA_DISCARDED: push(&s->discard, a); break;
    case RA_ACCEPTED:
        push(a->transport && !a->transport->drv->local && a->kind ==
             CHILD_ADDRESS ? &s->remote : &s->local, a);
        break;
    default:
        break;
    }
}

static void print_parents(FILE *out, const struct raddr *a)
{
    for (const struct raddr *p = a; p != NULL; p = p->parent)
        fprintf(out, "    <-- %s\n", p->address);
}

static void print_hosts(FILE *out, const struct raddr *a)
{
    int maxname = 0, maxaddr = 0;

    for (size_t i = 0; i < a->nhosts; i++) {
        int n = (int)strlen(a->hosts[i].name);
        int m = a->hosts[i].ip ? (int)strlen(a->hosts[i].ip) : 7;
        maxname = n > maxname ? n : maxname;
        maxaddr = m > maxaddr ? m : maxaddr;
    }
    for (size_t i = 0; i < a->nhosts; i++) {
        const struct route_host *h = &a->hosts[i];
        const char *ip = h->ip ? h->ip : "unknown";
        fprintf(out, "  host %-*s [%s%-*c", maxname, h->name, ip,
                maxaddr + 1 - (int)strlen(ip), ']');
        if (h->mx >= 0)
            fprintf(out, " MX=%d", h->mx);
        if (h->port > 0)
            fprintf(out, " port=%d", h->port);
        fputc('\n', out);
    }
}

static void print_delivery(FILE *out, const struct raddr *a, int dup)
{
    if (a->kind != CHILD_ADDRESS && a->parent != NULL) {
        fprintf(out, "%s -> %s\n", a->parent->address, a->address);
        print_parents(out, a->parent->parent);
    } else {
        fprintf(out, "%s%s\n", a->address,
                dup ? "   [duplicate, would not be delivered]" : "");
        print_parents(out, a->parent);
    }
    fprintf(out, "  router = %s, transport = %s\n", a->router->name,
            a->transport ? a->transport->name : "unset");
    print_hosts(out, a);
}

/* The same final address routed by the same router already listed? (The
 * router is part of the key so an unseen router's copy is not a
 * duplicate, as in Exim.) */
static int seen_before(struct hash *seen, const struct raddr *a)
{
    char key[700];
    int n = snprintf(key, sizeof(key), "%d:%s/%s", (int)a->kind, a->address,
                     a->router ? a->router->name : "");

    if (n < 0 || (size_t)n >= sizeof(key))
        return 0;
    for (char *k = key; *k; k++)
        *k = (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k);
    if (hash_get(seen, key, (size_t)n) != NULL)
        return 1;
    hash_put(seen, key, (size_t)n, (void *)1);
    return 0;
}

static void print_list(FILE *out, struct leaves *l, struct hash *seen)
{
    for (size_t i = 0; i < l->n; i++)
        print_delivery(out, l->v[i], seen_before(seen, l->v[i]));
}

static void free_sorted(struct sorted *s)
{
    free(s->fail.v);
    free(s->defer.v);
    free(s->discard.v);
    free(s->local.v);
    free(s->remote.v);
}

/* bt_print_top - -bt output for one top-level address; returns 2/1/0 */
int bt_print_top(FILE *out, struct route_top *top)
{
    struct sorted s = { 0 };
    struct hash *seen;
    int rc;

    route_walk(top, sort_leaf, &s);
    for (size_t i = 0; i < s.fail.n; i++) {
        fprintf(out, "%s is undeliverable: %s\n", s.fail.v[i]->address,
                s.fail.v[i]->message);
        print_parents(out, s.fail.v[i]->parent);
    }
    for (size_t i = 0; i < s.defer.n; i++) {
        fprintf(out, "%s cannot be resolved at this time: %s\n",
                s.defer.v[i]->address, s.defer.v[i]->message);
        print_parents(out, s.defer.v[i]->parent);
    }
    if (s.discard.n > 0 && s.fail.n + s.defer.n + s.local.n + s.remote.n
        == 0)
        fprintf(out, "mail to %s is discarded\n",
                route_top_addr(top)->address);
    seen = hash_new(s.local.n + s.remote.n);
    print_list(out, &s.local, seen);
    print_list(out, &s.remote, seen);
    hash_free(seen, NULL);
    rc = s.fail.n ? 2 : s.defer.n ? 1 : 0;
    free_sorted(&s);
    return rc;
}

/* bt_print_verify - -bv output for one top-level address; 2/1/0 */
int bt_print_verify(FILE *out, struct route_top *top)
{
    struct sorted s = { 0 };
    const struct raddr *a = route_top_addr(top);
    int rc;

    route_walk(top, sort_leaf, &s);
    if (s.fail.n) {
        fprintf(out, "%s failed to verify: %s\n", a->address,
                s.fail.v[0]->message);
        rc = 2;
    } else if (s.defer.n) {
        fprintf(out, "%s cannot be resolved at this time: %s\n", a->address,
                s.defer.v[0]->message);
        rc = 1;
    } else {
        fprintf(out, "%s verified\n", a->address);
        rc = 0;
    }
    free_sorted(&s);
    return rc;
}
