/*
 * bt.c - tern -bt / -bv: route many addresses at once on the event loop.
 *
 * PURPOSE: addresses (arguments, or stdin one per line) enter a window of
 * up to BT_WINDOW routings in flight; each waits only for its own DNS
 * answers, one query serves every address that needs it, and results are
 * printed in input order as soon as the oldest address is finished. So
 * 10,000 remote addresses cost about one DNS round trip per distinct
 * domain, and memory stays bounded however many addresses come in.
 * INTERFACE: bt_run.
 */
#include <stdio.h>
#include <string.h>

#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "route/bt.h"
#include "route/bt_impl.h"
#include "core/net/dns.h"
#include "core/conf/resolver.h"

#define BT_WINDOW 4096
#define BT_LINE_MAX 4096

struct bt_slot {
    struct route_top *top;
    int done;
};

struct bt {
    const struct bt_opts *o;
    FILE *out;
    struct route_run *rr;
    struct bt_slot ring[BT_WINDOW];
    size_t head, tail;          /* slots in use: [head, tail) mod WINDOW */
    int next_arg;
    int eof;
    int rc;
};

static void slot_done(struct route_top *top, void *arg)
{
    (void)top;
    ((struct bt_slot *)arg)->done = 1;
}

/* The next address text, or NULL at the end of input. */
static const char *next_input(struct bt *b, char *line, size_t size)
{
    if (b->o->addrs != NULL)
        return b->next_arg < b->o->naddrs ? b->o->addrs[b->next_arg++] : NULL;
    while (fgets(line, (int)size, stdin) != NULL) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        char *s = line + strspn(line, " \t");
        if (*s != '\0' && *s != '#')
            return s;
    }
    return NULL;
}

static void fill_window(struct bt *b)
{
    char line[BT_LINE_MAX];
    const char *text;

    while (!b->eof && b->tail - b->head < BT_WINDOW) {
        text = next_input(b, line, sizeof(line));
        if (text == NULL) {
            b->eof = 1;
            break;
        }
        struct bt_slot *s = &b->ring[b->tail % BT_WINDOW];
        s->done = 0;
        s->top = route_add(b->rr, text, slot_done, s);
        b->tail++;
    }
}

static int worse(int a, int b)
{
    return a == 2 || b == 2 ? 2 : a == 1 || b == 1 ? 1 : 0;
}

static void flush_done(struct bt *b)
{
    while (b->head < b->tail && b->ring[b->head % BT_WINDOW].done) {
        struct bt_slot *s = &b->ring[b->head % BT_WINDOW];
        int rc = b->o->verify ? bt_print_verify(b->out, s->top)
                              : bt_print_top(b->out, s->top);
        b->rc = worse(b->rc, rc);
        route_top_release(s->top);
        s->top = NULL;
        b->head++;
    }
}

static struct dns_ctx *resolver(struct conf *c, struct ev *ev)
{
    struct errbuf eb;
    struct dns_ctx *dc = conf_resolver(c, ev, &eb);

    if (dc == NULL)
        fprintf(stderr, "tern: cannot set up the DNS resolver: %s\n", eb.msg);
    return dc;
}

static void run_loop(struct bt *b, struct ev *ev)
{
    do {
        fill_window(b);
        route_step(b->rr);
        flush_done(b);
        if (b->head < b->tail && route_idle(b->rr))
            ev_run_once(ev, -1);
    } while (!b->eof || b->head < b->tail);
}

/* bt_run - route or verify every address; the exit code of -bt/-bv */
int bt_run(struct conf *c, const struct bt_opts *o, FILE *out)
{
    struct ev *ev = ev_new();
    struct dns_ctx *dc = resolver(c, ev);
    struct dns_cache *cache;
    struct bt *b;
    int rc;

    if (dc == NULL) {
        ev_free(ev);
        return 70;
    }
    cache = dns_cache_new(dc);
    b = xcalloc(1, sizeof(*b));
    b->o = o;
    b->out = out;
    b->rr = route_run_new(c, cache, o->sender, o->client_ip, o->verify);
    run_loop(b, ev);
    rc = b->rc;
    route_run_free(b->rr);
    free(b);
    dns_cache_free(cache);
    dns_free(dc);
    ev_free(ev);
    return rc;
}
