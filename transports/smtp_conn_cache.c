/*
 * smtp_conn_cache.c - idle SMTP connections kept for reuse, and the
 *                     connection limits: remote_max_parallel in total and
 *                     connection_max_per_host per destination IP.
 *
 * PURPOSE: a batch asks scache_acquire for a connection to (transport,
 * ip, port): it gets an idle one, or a slot to open a new one, or it waits
 * in a FIFO queue until a connection closes (sjob_resume is then called
 * from a timer, never from inside the closing code). An idle connection
 * lives SC_IDLE_MS, then is closed with QUIT; any byte or EOF from the
 * server while idle closes it at once. When the total is reached and an
 * idle connection to another destination exists, it is closed to make
 * room.
 * INTERFACE: scache_acquire, scache_counted, scache_gone, scache_put,
 *            scache_flush, scache_open_count.
 * The state is per process (one event loop per process, DESIGN §2).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/base/ev.h"
#include "transports/smtp_client.h"

struct hcount {
    char ip[64];
    unsigned n;
};

#define SCACHE_HOSTS 256        /* destinations with open connections */

static struct {
    struct ev *ev;
    unsigned total;
    struct hcount hosts[SCACHE_HOSTS];
    struct sconn *idle;         /* oldest first */
    struct sjob *wait_head, *wait_tail;
    struct ev_timer *kick;
} cache;

static struct hcount *host_slot(const char *ip, int create)
{
    struct hcount *free_slot = NULL;

    for (size_t i = 0; i < SCACHE_HOSTS; i++) {
        struct hcount *h = &cache.hosts[i];
        if (h->n > 0 && strcmp(h->ip, ip) == 0)
            return h;
        if (h->n == 0 && free_slot == NULL)
            free_slot = h;
    }
    if (create && free_slot != NULL)
        snprintf(free_slot->ip, sizeof(free_slot->ip), "%s", ip);
    return create ? free_slot : NULL;
}

static void kick_cb(void *arg)
{
    struct sjob *j = cache.wait_head;

    (void)arg;
    cache.kick = NULL;
    cache.wait_head = cache.wait_tail = NULL;
    while (j != NULL) {         /* each re-queues itself if still limited */
        struct sjob *next = j->qnext;
        j->qnext = NULL;
        sjob_resume(j);
        j = next;
    }
}

static void kick(void)
{
    if (cache.wait_head != NULL && cache.kick == NULL && cache.ev != NULL)
        cache.kick = ev_timer_add(cache.ev, 0, kick_cb, NULL);
}

static void idle_unlink(struct sconn *c)
{
    for (struct sconn **pp = &cache.idle; *pp != NULL;
         pp = &(*pp)->next_idle) {
        if (*pp == c) {
            *pp = c->next_idle;
            c->next_idle = NULL;
            return;
        }
    }
}

/* scache_counted - c now holds a slot (called when it is opened) */
void scache_counted(struct sconn *c)
{
    struct hcount *h = host_slot(c->ip, 1);

    c->counted = 1;
    cache.total++;
    if (h != NULL)
        h->n++;
}

/* scache_gone - c is being freed: release its slot, wake a waiter */
void scache_gone(struct sconn *c)
{
    idle_unlink(c);
    if (!c->counted)
        return;
    c->counted = 0;
    struct hcount *h = host_slot(c->ip, 0);
    if (h != NULL && h->n > 0)
        h->n--;
    if (cache.total > 0)
        cache.total--;
    kick();
}

static struct sconn *find_idle(const char *tpname, const char *ip, int port,
                               int tls_only)
{
    for (struct sconn *c = cache.idle; c != NULL; c = c->next_idle)
        if (c->port == port && strcmp(c->ip, ip) == 0 &&
            strcmp(c->tpname, tpname) == 0 && (!tls_only || c->tls != NULL))
            return c;
    return NULL;
}

static void enqueue(struct sjob *j)
{
    j->qnext = NULL;
    if (cache.wait_tail != NULL)
        cache.wait_tail->qnext = j;
    else
        cache.wait_head = j;
    cache.wait_tail = j;
}

/* scache_acquire - 1: *out is an idle connection, now the caller's;
 * 0: a new connection may be opened (call scache_counted on it);
 * -1: over a limit, j waits and sjob_resume(j) comes later */
int scache_acquire(struct sjob *j, struct ev *ev, const char *tpname,
                   const char *ip, int port, int tls_only, long max_total,
                   long max_host, struct sconn **out)
{
    struct sconn *c = find_idle(tpname, ip, port, tls_only);
    struct hcount *h;

    cache.ev = ev;
    if (c != NULL) {
        idle_unlink(c);
        ev_timer_cancel(ev, c->idle_timer);
        c->idle_timer = NULL;
        *out = c;
        return 1;
    }
    while (max_total > 0 && cache.total >= (unsigned long)max_total &&
           cache.idle != NULL)
        sconn_close(cache.idle, 1);     /* the oldest idle one makes room */
    h = host_slot(ip, 0);
    if ((max_total > 0 && cache.total >= (unsigned long)max_total) ||
        (max_host > 0 && h != NULL && h->n >= (unsigned long)max_host)) {
        enqueue(j);
        return -1;
    }
    return 0;
}

static void idle_timeout_cb(void *arg)
{
    struct sconn *c = arg;

    c->idle_timer = NULL;
    sconn_close(c, 1);
}

static void idle_error(void *owner, const char *errtype, const char *text)
{
    (void)errtype;
    (void)text;
    sconn_close(owner, 0);
}

static void idle_nothing(void *owner)
{
    (void)owner;
}

static void idle_reply(void *owner, const struct sc_reply *r)
{
    (void)owner;
    (void)r;
}

static const struct sconn_ops idle_ops = {
    idle_nothing, idle_reply, idle_error
};

/* scache_put - keep c idle for reuse (its transaction is complete) */
void scache_put(struct sconn *c)
{
    struct sconn **pp = &cache.idle;

    sconn_set_owner(c, &idle_ops, c);
    c->expect = 0;
    c->idle_timer = ev_timer_add(c->ev, SC_IDLE_MS, idle_timeout_cb, c);
    while (*pp != NULL)
        pp = &(*pp)->next_idle;
    *pp = c;
    c->next_idle = NULL;
    kick();     /* a waiter for this very host can take it */
}

/* scache_flush - QUIT and close every idle connection */
void scache_flush(void)
{
    while (cache.idle != NULL)
        sconn_close(cache.idle, 1);
}

/* scache_open_count - connections open now (tests) */
unsigned scache_open_count(void)
{
    return cache.total;
}
