/*
 * dns.c - c-ares on the event loop, answer parsing, and the answer cache.
 *
 * PURPOSE:   resolve A/AAAA/MX/TXT/PTR without blocking (STYLE §7) and keep
 *            one answer per (type, name) for a routing run (DESIGN §3).
 * INTERFACE: dns_new, dns_free, dns_query, dns_get_stats, dns_cache_new,
 *            dns_cache_set_ev, dns_cache_free, dns_cache_get, dns_cache_put,
 *            dns_cache_want, dns_cache_inflight, dns_type_name,
 *            dns_type_parse, dns_status_name.
 * ERRORS:    dns_new returns NULL with the reason in the errbuf. Every other
 *            failure is an answer: DNS_TEMPFAIL with a short "why".
 * SECURITY:  answers are hostile. MX and PTR names are lowercased and must
 *            match [a-z0-9._-]{1,255} without empty labels, else the record
 *            is skipped; A/AAAA are re-printed from binary. TXT is raw bytes.
 *
 * No user callback ever runs inside c-ares or inside dns_query: the c-ares
 * callback only queues the finished request, and a 0 ms "drain" timer hands
 * answers out. So a callback may call dns_query, dns_free or
 * dns_cache_free; an "alive" flag on the stack notices the last two.
 * The cache lives here, not in a file of its own, because it cancels
 * requests and is detached by dns_free: both need the request internals.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <ares.h>
#include <ares_nameser.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/base/hash.h"
#include "core/base/log.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/net/dns.h"
#include "core/net/dns_impl.h"

#define DNS_NAME_MAX 255

struct dns_req {
    struct dns_ctx *dc;
    int type;
    char *name;                 /* as queried, for traces */
    dns_query_cb cb;            /* NULL: cancelled, free without a call */
    void *arg;
    struct pool *pool;          /* the answer's records */
    struct dns_answer ans;
    char *qname;                /* the wire name, while in the backlog */
    struct dns_req *next;       /* on the done list or the backlog */
};

struct dns_ctx {
    struct ev *ev;
    ares_channel ch;
    struct ev_timer *ares_timer;    /* from ares_timeout() */
    struct ev_timer *drain_timer;   /* 0 ms: hand out finished requests */
    struct dns_req *done, **done_tail;
    size_t ndone;
    int closing;                    /* inside dns_free */
    int *alive;                     /* cleared by dns_free */
    struct dns_cache *caches;       /* bound to us, detached by dns_free */
    struct dns_stats st;
    unsigned onwire;                /* queries handed to c-ares */
    struct dns_req *backlog, **backlog_tail;    /* waiting for a slot */
    struct dns_memo *memo;          /* recent answers (dns_set_memo), or
                                       NULL */
};

/* no answer is remembered longer than this, whatever its TTL says */
#define DNS_MEMO_MAX_TTL 3600

/* At most this many queries on the wire at once: a burst of thousands of
 * answers would overflow the UDP receive buffer (net.core.rmem_max caps
 * it) and turn into timeouts. The rest wait in a FIFO backlog. */
#define DNS_MAX_ONWIRE 200

/* ---- names and answers ------------------------------------------------ */

/* ASCII only: the locale must not change what a host name is */
static int ascii_lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int name_byte(int ch)
{
    ch = ascii_lower(ch);
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.'
           || ch == '-' || ch == '_';
}

/* clean_name - lowercase, strip one trailing dot, check length and bytes;
 * out has DNS_NAME_MAX + 1 bytes. "" and "." give "" (the root). */
static int clean_name(const char *in, char *out)
{
    size_t n = strlen(in);

    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n > DNS_NAME_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (!name_byte(ch))
            return -1;
        if (ch == '.' && (i == 0 || in[i - 1] == '.'))
            return -1;                      /* empty label */
        out[i] = (char)ascii_lower(ch);
    }
    out[n] = '\0';
    return 0;
}

static void ans_set(struct dns_answer *a, enum dns_status st, const char *why)
{
    a->status = st;
    a->why = why != NULL ? why : dns_status_name(st);
    if (st != DNS_OK) {
        a->n = 0;
        a->rr = NULL;
    }
}

/* ans_add - append one record; data is copied into the pool */
static void ans_add(struct pool *p, struct dns_answer *a, size_t *cap,
                    const char *data, size_t len, int pref)
{
    if (a->n == *cap) {
        struct dns_rr *old = a->rr;
        *cap = *cap ? *cap * 2 : 4;
        a->rr = pool_alloc(p, *cap * sizeof(*a->rr));
        if (a->n > 0)
            memcpy(a->rr, old, a->n * sizeof(*a->rr));
    }
    char *d = pool_alloc(p, len + 1);
    memcpy(d, data, len);
    d[len] = '\0';
    a->rr[a->n].data = d;
    a->rr[a->n].len = len;
    a->rr[a->n].pref = pref;
    a->n++;
}

/* dns_rr_len - see dns.h */
size_t dns_rr_len(const struct dns_rr *rr)
{
    size_t n = strlen(rr->data);

    return rr->len > n ? rr->len : n;
}

/* dns_answer_dup - see dns_impl.h */
struct dns_answer *dns_answer_dup(const struct dns_answer *src)
{
    const char *why = src->why != NULL ? src->why : "";
    size_t size = sizeof(*src) + src->n * sizeof(struct dns_rr)
                  + strlen(why) + 1;
    struct dns_answer *a;
    char *p;

    for (size_t i = 0; i < src->n; i++)
        size += dns_rr_len(&src->rr[i]) + 1;
    a = xmalloc(size);
    *a = *src;
    a->rr = src->n > 0 ? (struct dns_rr *)(a + 1) : NULL;
    p = (char *)(a + 1) + src->n * sizeof(struct dns_rr);
    for (size_t i = 0; i < src->n; i++) {
        size_t len = dns_rr_len(&src->rr[i]);
        a->rr[i].pref = src->rr[i].pref;
        a->rr[i].len = len;
        a->rr[i].data = memcpy(p, src->rr[i].data, len);
        p[len] = '\0';
        p += len + 1;
    }
    a->why = memcpy(p, why, strlen(why) + 1);
    return a;
}

/* ---- parsing one reply per type --------------------------------------- */

static int parse_addr(struct dns_req *r, const unsigned char *buf, int len)
{
    struct hostent *h = NULL;
    char txt[INET6_ADDRSTRLEN];
    size_t cap = 0;
    int af = r->type == DNS_T_A ? AF_INET : AF_INET6;
    int st = af == AF_INET ? ares_parse_a_reply(buf, len, &h, NULL, NULL)
                           : ares_parse_aaaa_reply(buf, len, &h, NULL, NULL);

    if (st != ARES_SUCCESS)
        return st;
    for (char **a = h->h_addr_list; h->h_addrtype == af && *a != NULL; a++)
        if (inet_ntop(af, *a, txt, sizeof(txt)) != NULL)
            ans_add(r->pool, &r->ans, &cap, txt, strlen(txt), 0);
    ares_free_hostent(h);
    return ARES_SUCCESS;
}

static int parse_mx(struct dns_req *r, const unsigned char *buf, int len)
{
    struct ares_mx_reply *mx = NULL;
    char name[DNS_NAME_MAX + 1];
    size_t cap = 0, seen = 0;
    int st = ares_parse_mx_reply(buf, len, &mx);

    if (st != ARES_SUCCESS)
        return st;
    for (struct ares_mx_reply *m = mx; m != NULL; m = m->next, seen++) {
        if (clean_name(m->host, name) != 0) {
            log_debug(DBG_DNS, "dns: MX %s: bad name in answer skipped",
                      r->name);
            continue;
        }
        ans_add(r->pool, &r->ans, &cap, name, strlen(name), m->priority);
    }
    ares_free_data(mx);
    return seen > 0 && r->ans.n == 0 ? ARES_EBADNAME : ARES_SUCCESS;
}

static int parse_txt(struct dns_req *r, const unsigned char *buf, int len)
{
    struct ares_txt_ext *txt = NULL;
    struct strbuf sb;
    size_t cap = 0;
    int st = ares_parse_txt_reply_ext(buf, len, &txt);

    if (st != ARES_SUCCESS)
        return st;
    sb_init(&sb);
    /* a NUL inside a TXT string is kept: dns_rr.len counts it */
    for (struct ares_txt_ext *t = txt; t != NULL; t = t->next) {
        sb_append(&sb, t->txt, t->length);
        if (t->next == NULL || t->next->record_start) {
            ans_add(r->pool, &r->ans, &cap, sb_str(&sb), sb_len(&sb), 0);
            sb_reset(&sb);
        }
    }
    sb_free(&sb);
    ares_free_data(txt);
    return ARES_SUCCESS;
}

static int parse_ptr(struct dns_req *r, const unsigned char *buf, int len)
{
    struct hostent *h = NULL;
    char name[DNS_NAME_MAX + 1];
    size_t cap = 0, seen = 0;
    int st = ares_parse_ptr_reply(buf, len, NULL, 0, AF_INET, &h);

    if (st != ARES_SUCCESS)
        return st;
    /* every PTR target is an alias; h_name is only the last of them */
    for (char **a = h->h_aliases; a != NULL && *a != NULL; a++, seen++)
        if (clean_name(*a, name) == 0 && name[0] != '\0')
            ans_add(r->pool, &r->ans, &cap, name, strlen(name), 0);
    ares_free_hostent(h);
    return seen > 0 && r->ans.n == 0 ? ARES_EBADNAME : ARES_SUCCESS;
}

/* ---- status mapping ----------------------------------------------------- */

static const char *ares_why(int st)
{
    static const struct { int st; const char *why; } words[] = {
        { ARES_ESERVFAIL, "SERVFAIL" }, { ARES_EREFUSED, "REFUSED" },
        { ARES_ETIMEOUT, "timeout" }, { ARES_ECONNREFUSED, "connection "
        "refused" }, { ARES_EBADRESP, "bad response" },
        { ARES_EFORMERR, "FORMERR" }, { ARES_ENOTIMP, "NOTIMP" },
        { ARES_EBADNAME, "bad name" }, { ARES_ENOMEM, "out of memory" },
        { ARES_ECANCELLED, "cancelled" }, { ARES_EBADQUERY, "bad query" },
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (words[i].st == st)
            return words[i].why;
    return "resolver error";
}

/* build_answer - the c-ares outcome as a dns_answer in r */
static void build_answer(struct dns_req *r, int st, const unsigned char *buf,
                         int len)
{
    r->ans.type = r->type;
    if (st == ARES_SUCCESS) {
        switch (r->type) {
        case DNS_T_A: case DNS_T_AAAA: st = parse_addr(r, buf, len); break;
        case DNS_T_MX:  st = parse_mx(r, buf, len); break;
        case DNS_T_TXT: st = parse_txt(r, buf, len); break;
        case DNS_T_PTR: st = parse_ptr(r, buf, len); break;
        default: st = ARES_ENOTIMP; break;
        }
        if (st == ARES_SUCCESS && r->ans.n == 0)
            st = ARES_ENODATA;
        if (st == ARES_EBADNAME) {          /* records there, all hostile */
            ans_set(&r->ans, DNS_TEMPFAIL, "bad name in answer");
            return;
        }
    }
    if (st == ARES_SUCCESS)
        ans_set(&r->ans, DNS_OK, NULL);
    else if (st == ARES_ENOTFOUND)
        ans_set(&r->ans, DNS_NXDOMAIN, NULL);
    else if (st == ARES_ENODATA)
        ans_set(&r->ans, DNS_NODATA, NULL);
    else
        ans_set(&r->ans, DNS_TEMPFAIL, ares_why(st));
}

/* ---- requests: queue, drain, free ------------------------------------- */

static void req_free(struct dns_req *r)
{
    pool_free(r->pool);
    free(r->name);
    free(r->qname);
    free(r);
}

static void drain_cb(void *arg);

static const char *type_word(int type)
{
    const char *tn = dns_type_name(type);

    return tn != NULL ? tn : "?";
}

/* req_done - queue a finished request; the drain timer delivers it */
static void req_done(struct dns_req *r)
{
    struct dns_ctx *dc = r->dc;

    r->next = NULL;
    *dc->done_tail = r;
    dc->done_tail = &r->next;
    dc->ndone++;
    if (dc->drain_timer == NULL)
        dc->drain_timer = ev_timer_add(dc->ev, 0, drain_cb, dc);
}

static struct dns_req *done_pop(struct dns_ctx *dc)
{
    struct dns_req *r = dc->done;

    dc->done = r->next;
    if (dc->done == NULL)
        dc->done_tail = &dc->done;
    dc->ndone--;
    return r;
}

/* drain_cb - deliver what was finished when the timer fired; later ones
 * wait for the next round (a callback may start and fail more queries) */
static void drain_cb(void *arg)
{
    struct dns_ctx *dc = arg;
    size_t n = dc->ndone;
    int alive = 1, *outer = dc->alive;

    dc->drain_timer = NULL;
    dc->alive = &alive;
    while (alive && n-- > 0 && dc->done != NULL) {
        struct dns_req *r = done_pop(dc);
        dc->st.inflight--;
        if (r->cb != NULL) {
            dc->st.completed++;
            log_debug(DBG_DNS, "dns: answer %s %s: %s (%zu records)",
                      type_word(r->type), r->name, r->ans.why, r->ans.n);
            r->cb(&r->ans, r->arg);
        }
        req_free(r);
    }
    if (alive)
        dc->alive = outer;
    else if (outer != NULL)
        *outer = 0;
}

/* remember - keep a definite answer (records, NXDOMAIN, NODATA) in the
 * memo for as long as its TTL allows; temporary failures never */
static void remember(struct dns_req *r, const unsigned char *buf, int len)
{
    struct dns_ctx *dc = r->dc;
    uint32_t ttl;
    uint64_t now;

    if (dc->memo == NULL || r->ans.status == DNS_TEMPFAIL || len <= 0
        || dns_wire_ttl(buf, (size_t)len, &ttl) != 0 || ttl == 0)
        return;
    now = ev_now_ms(dc->ev);
    dns_memo_put(dc->memo, r->type, r->name, &r->ans, now,
                 now + 1000 * (uint64_t)(ttl < DNS_MEMO_MAX_TTL
                                         ? ttl : DNS_MEMO_MAX_TTL));
}

/* recall - answer r from the memo: 1 done, 0 not there */
static int recall(struct dns_req *r)
{
    struct dns_ctx *dc = r->dc;
    const struct dns_answer *a;
    size_t cap = 0;

    if (dc->memo == NULL
        || (a = dns_memo_get(dc->memo, r->type, r->name,
                             ev_now_ms(dc->ev))) == NULL)
        return 0;
    r->ans.type = r->type;
    for (size_t i = 0; i < a->n; i++)
        ans_add(r->pool, &r->ans, &cap, a->rr[i].data, dns_rr_len(&a->rr[i]),
                a->rr[i].pref);
    ans_set(&r->ans, a->status, NULL);
    dc->st.memo_hits++;
    log_debug(DBG_DNS, "dns: %s %s from memory", type_word(r->type),
              r->name);
    req_done(r);
    return 1;
}

/* query_cb - c-ares is done with a query: queue it, run no user code here */
static void backlog_launch(struct dns_ctx *dc);

static void query_cb(void *arg, int status, int timeouts, unsigned char *buf,
                     int len)
{
    struct dns_req *r = arg;

    (void)timeouts;
    r->dc->onwire--;
    if (status == ARES_EDESTRUCTION || r->dc->closing) {
        req_free(r);                    /* dns_free: nobody is told */
        return;
    }
    build_answer(r, status, buf, len);
    remember(r, buf, len);
    req_done(r);
    backlog_launch(r->dc);
}

/* ---- the channel on the loop ------------------------------------------ */

static void ares_timer_cb(void *arg);

/* rearm - one timer for c-ares's next timeout, after every process call */
static void rearm(struct dns_ctx *dc)
{
    struct timeval tv, *tvp;
    uint64_t ms;

    ev_timer_cancel(dc->ev, dc->ares_timer);
    dc->ares_timer = NULL;
    tvp = ares_timeout(dc->ch, NULL, &tv);
    if (tvp == NULL)
        return;
    ms = (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000;
    dc->ares_timer = ev_timer_add(dc->ev, ms, ares_timer_cb, dc);
}

static void ares_timer_cb(void *arg)
{
    struct dns_ctx *dc = arg;

    dc->ares_timer = NULL;
    ares_process_fd(dc->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(dc);
}

static void io_cb(int fd, unsigned events, void *arg)
{
    struct dns_ctx *dc = arg;

    ares_process_fd(dc->ch, (events & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (events & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    rearm(dc);
}

/* sock_state_cb - c-ares opens, re-arms or closes one of its sockets */
static void sock_state_cb(void *data, ares_socket_t fd, int readable,
                          int writable)
{
    struct dns_ctx *dc = data;
    unsigned events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

    if (events == 0)
        ev_io_del(dc->ev, fd);
    else if (ev_io_set(dc->ev, fd, events, io_cb, dc) != 0)
        log_warn("dns: cannot watch resolver socket %d: %s", fd,
                 strerror(errno));
}

/* servers_csv - "ip[:port], [ip6]:port, ..." trimmed for c-ares; -1 when an
 * element is empty or a port is out of range */
static int servers_csv(const char *p, struct strbuf *out)
{
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n, *colon;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (s == e)
            return -1;
        if (*s == '[' && e[-1] == ']' && e - s > 2) {   /* "[::1]": no port */
            s++;
            e--;
        }
        colon = memrchr(s, ':', (size_t)(e - s));
        if (colon != NULL && (*s == '[' ? colon[-1] == ']'
                              : memchr(s, ':', (size_t)(colon - s)) == NULL)) {
            char *end;
            unsigned long port = strtoul(colon + 1, &end, 10);
            if (end != e || !isdigit((unsigned char)colon[1]) || port == 0
                || port > 65535)
                return -1;
        }
        if (sb_len(out) > 0)
            sb_putc(out, ',');
        sb_append(out, s, (size_t)(e - s));
        p += n + (p[n] == ',');
    }
    return 0;
}

/* ---- the resolver ------------------------------------------------------- */

static int set_servers(struct dns_ctx *dc, const char *servers,
                       struct errbuf *eb)
{
    struct strbuf csv;
    int st = ARES_EBADSTR;

    sb_init(&csv);
    if (servers_csv(servers, &csv) == 0)
        st = ares_set_servers_ports_csv(dc->ch, sb_str(&csv));
    sb_free(&csv);
    if (st != ARES_SUCCESS) {
        errbuf_set(eb, "bad dns_servers value \"%s\": %s", servers,
                   ares_strerror(st));
        return -1;
    }
    return 0;
}

/* dns_new - a resolver on ev; servers NULL or "" reads /etc/resolv.conf;
 * timeout_ms and tries 0 keep the c-ares defaults */
struct dns_ctx *dns_new(struct ev *ev, const char *servers,
                        unsigned timeout_ms, unsigned tries,
                        struct errbuf *eb)
{
    struct dns_ctx *dc = xcalloc(1, sizeof(*dc));
    struct ares_options o;
    int mask = ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB, st;

    dc->ev = ev;
    dc->done_tail = &dc->done;
    dc->backlog_tail = &dc->backlog;
    memset(&o, 0, sizeof(o));
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP;
    o.sock_state_cb = sock_state_cb;
    o.sock_state_cb_data = dc;
    if (timeout_ms > 0) {
        o.timeout = (int)(timeout_ms > 0x7fffffff ? 0x7fffffff : timeout_ms);
        mask |= ARES_OPT_TIMEOUTMS;
    }
    if (tries > 0) {
        o.tries = (int)(tries > 100 ? 100 : tries);
        mask |= ARES_OPT_TRIES;
    }
    if ((st = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
        errbuf_set(eb, "c-ares: %s", ares_strerror(st));
        free(dc);
        return NULL;
    }
    if ((st = ares_init_options(&dc->ch, &o, mask)) != ARES_SUCCESS) {
        errbuf_set(eb, "cannot start resolver: %s", ares_strerror(st));
        goto fail;
    }
    if (servers != NULL && servers[0] != '\0'
        && set_servers(dc, servers, eb) != 0) {
        ares_destroy(dc->ch);
        goto fail;
    }
    return dc;
fail:
    ares_library_cleanup();
    free(dc);
    return NULL;
}

static void cache_detach(struct dns_cache *c);

/* dns_free - cancel everything: no callback runs afterwards (NULL ok). Caches
 * bound to dc keep a TEMPFAIL answer for what was in flight and drop its
 * waiters. Call before ev_free. */
void dns_free(struct dns_ctx *dc)
{
    if (dc == NULL)
        return;
    if (dc->alive != NULL)
        *dc->alive = 0;
    while (dc->caches != NULL)
        cache_detach(dc->caches);
    ev_timer_cancel(dc->ev, dc->ares_timer);
    ev_timer_cancel(dc->ev, dc->drain_timer);
    dc->closing = 1;
    ares_destroy(dc->ch);           /* query_cb(ARES_EDESTRUCTION) frees */
    while (dc->backlog != NULL) {   /* never reached c-ares */
        struct dns_req *r = dc->backlog;
        dc->backlog = r->next;
        req_free(r);
    }
    while (dc->done != NULL)
        req_free(done_pop(dc));
    dns_memo_free(dc->memo);
    ares_library_cleanup();
    free(dc);
}

/* dns_set_memo - see dns.h */
void dns_set_memo(struct dns_ctx *dc, size_t max)
{
    dns_memo_free(dc->memo);
    dc->memo = max > 0 ? dns_memo_new(max) : NULL;
}

/* ptr_qname - "192.0.2.1" -> "1.2.0.192.in-addr.arpa", IPv6 to ip6.arpa */
static int ptr_qname(const char *addr, struct strbuf *out)
{
    unsigned char b[16];

    if (inet_pton(AF_INET, addr, b) == 1) {
        sb_printf(out, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, b) != 1)
        return -1;
    for (int i = 15; i >= 0; i--)
        sb_printf(out, "%x.%x.", b[i] & 15u, (unsigned)b[i] >> 4);
    sb_puts(out, "ip6.arpa");
    return 0;
}

/* query_start - the request behind dns_query; the cache keeps it to cancel */
static struct dns_req *query_start(struct dns_ctx *dc, int type,
                                   const char *name, dns_query_cb cb,
                                   void *arg)
{
    struct dns_req *r = xcalloc(1, sizeof(*r));
    const char *tn = dns_type_name(type);
    struct strbuf q;

    r->dc = dc;
    r->type = type;
    r->name = xstrdup(name);
    r->cb = cb;
    r->arg = arg;
    r->pool = pool_new();
    dc->st.inflight++;
    sb_init(&q);
    if (tn == NULL) {
        r->ans.type = type;
        ans_set(&r->ans, DNS_TEMPFAIL, "unsupported type");
        req_done(r);
    } else if (type == DNS_T_PTR && ptr_qname(name, &q) != 0) {
        r->ans.type = type;
        ans_set(&r->ans, DNS_TEMPFAIL, "bad address");
        req_done(r);
    } else if (!recall(r)) {
        r->qname = xstrdup(type == DNS_T_PTR ? sb_str(&q) : name);
        *dc->backlog_tail = r;
        dc->backlog_tail = &r->next;
        backlog_launch(dc);
    }
    sb_free(&q);
    return r;
}

/* backlog_launch - hand waiting queries to c-ares while slots are free */
static void backlog_launch(struct dns_ctx *dc)
{
    int started = 0;

    while (dc->backlog != NULL && dc->onwire < DNS_MAX_ONWIRE
           && !dc->closing) {
        struct dns_req *r = dc->backlog;
        dc->backlog = r->next;
        if (dc->backlog == NULL)
            dc->backlog_tail = &dc->backlog;
        r->next = NULL;
        if (r->cb == NULL) {            /* cancelled while waiting */
            dc->st.inflight--;
            req_free(r);
            continue;
        }
        dc->st.started++;
        dc->onwire++;
        log_debug(DBG_DNS, "dns: query %s %s", dns_type_name(r->type),
                  r->name);
        ares_query(dc->ch, r->qname, C_IN, r->type, query_cb, r);
        started = 1;
    }
    if (started)
        rearm(dc);
}

/* dns_query - start a query; cb runs later from the loop, never in here */
void dns_query(struct dns_ctx *dc, int type, const char *name,
               dns_query_cb cb, void *arg)
{
    (void)query_start(dc, type, name, cb, arg);
}

/* dns_get_stats - counters for tests and traces */
void dns_get_stats(const struct dns_ctx *dc, struct dns_stats *st)
{
    *st = dc->st;
}

/* ---- the cache ---------------------------------------------------------- */

struct waiter {
    dns_ready_cb cb;
    void *arg;
    struct waiter *next;
};

struct wlist {
    struct waiter *head, **tail;
};

struct centry {
    struct dns_answer *ans;     /* NULL while in flight */
    struct dns_req *req;        /* the query while in flight */
    struct wlist wait;          /* waiters while in flight */
    struct dns_cache *c;
    int type;
    int inflight;               /* want() started a query, no answer yet */
    char *name;                 /* normalized */
};

struct dns_cache {
    struct dns_ctx *dc;         /* NULL: no resolver (or it was freed) */
    struct ev *ev;              /* for the ready timer */
    struct hash *h;             /* "type/name" -> struct centry */
    size_t inflight;
    struct wlist ready;         /* waiters on a cached answer */
    struct ev_timer *ready_timer;
    int *alive;                 /* cleared by dns_cache_free */
    struct dns_cache *next, **pprev;    /* on dc->caches */
};

static void wl_init(struct wlist *w)
{
    w->head = NULL;
    w->tail = &w->head;
}

static void wl_add(struct wlist *w, dns_ready_cb cb, void *arg)
{
    struct waiter *x = xmalloc(sizeof(*x));

    x->cb = cb;
    x->arg = arg;
    x->next = NULL;
    *w->tail = x;
    w->tail = &x->next;
}

static void wl_append(struct wlist *dst, struct wlist *src)
{
    if (src->head == NULL)
        return;
    *dst->tail = src->head;
    dst->tail = src->tail;
    wl_init(src);
}

static void wl_free(struct waiter *x)
{
    while (x != NULL) {
        struct waiter *next = x->next;
        free(x);
        x = next;
    }
}

/* wl_call - call and free every waiter of a detached list; stops calling
 * (but still frees) once a callback has freed the cache */
static void wl_call(struct dns_cache *c, struct waiter *x)
{
    int alive = 1, *outer = c->alive;

    c->alive = &alive;
    while (x != NULL) {
        struct waiter *next = x->next;
        if (alive)
            x->cb(x->arg);
        free(x);
        x = next;
    }
    if (alive)
        c->alive = outer;
    else if (outer != NULL)
        *outer = 0;
}

static void ready_cb(void *arg)
{
    struct dns_cache *c = arg;
    struct waiter *x = c->ready.head;

    c->ready_timer = NULL;
    wl_init(&c->ready);
    wl_call(c, x);
}

/* ready_add - move waiters to the ready list, delivered by a 0 ms timer.
 * XXX with neither a resolver nor dns_cache_set_ev there is no loop, so
 * they are called at once: only unit tests without a loop get there. */
static void ready_add(struct dns_cache *c, struct wlist *w)
{
    if (w->head == NULL)
        return;
    wl_append(&c->ready, w);
    if (c->ev == NULL) {
        ready_cb(c);
        return;
    }
    if (c->ready_timer == NULL)
        c->ready_timer = ev_timer_add(c->ev, 0, ready_cb, c);
}

/* cache_key - "mx/example.org" from the normalized name */
static void cache_key(struct strbuf *key, int type, const char *name)
{
    size_t n = strlen(name);
    const char *tn = dns_type_name(type);

    if (n > 0 && name[n - 1] == '.')
        n--;
    if (tn != NULL)
        sb_puts(key, tn);
    else
        sb_printf(key, "%d", type);
    sb_putc(key, '/');
    for (size_t i = 0; i < n; i++)
        sb_putc(key, (char)ascii_lower((unsigned char)name[i]));
}

static struct centry *entry_get(struct dns_cache *c, int type,
                                const char *name, int create)
{
    struct strbuf key;
    struct centry *e;

    sb_init(&key);
    cache_key(&key, type, name);
    e = hash_get(c->h, sb_str(&key), sb_len(&key));
    if (e == NULL && create) {
        e = xcalloc(1, sizeof(*e));
        e->c = c;
        e->type = type;
        e->name = xstrdup(strchr(sb_str(&key), '/') + 1);
        wl_init(&e->wait);
        hash_put(c->h, sb_str(&key), sb_len(&key), e);
    }
    sb_free(&key);
    return e;
}

static void entry_free(void *p)
{
    struct centry *e = p;

    if (e->req != NULL)
        e->req->cb = NULL;          /* the resolver frees it, silently */
    wl_free(e->wait.head);
    free(e->ans);
    free(e->name);
    free(e);
}

/* entry_answer - cache a copy of ans; the entry's waiters become ready */
static void entry_answer(struct centry *e, const struct dns_answer *ans)
{
    struct dns_answer *old = e->ans;

    e->ans = dns_answer_dup(ans);
    free(old);
    if (e->inflight) {
        if (e->req != NULL)
            e->req->cb = NULL;
        e->req = NULL;
        e->inflight = 0;
        e->c->inflight--;
    }
}

/* cache_answer_cb - the resolver answered for e: store, then call waiters */
static void cache_answer_cb(const struct dns_answer *ans, void *arg)
{
    struct centry *e = arg;
    struct waiter *x = e->wait.head;

    e->req = NULL;
    wl_init(&e->wait);
    entry_answer(e, ans);
    wl_call(e->c, x);
}

static void entry_fail(struct centry *e, const char *why)
{
    struct dns_answer a;

    memset(&a, 0, sizeof(a));
    a.type = e->type;
    ans_set(&a, DNS_TEMPFAIL, why);
    entry_answer(e, &a);
}

/* cache_detach - dns_free of the resolver: in-flight entries become
 * TEMPFAIL and their waiters are dropped (see dns_free) */
static void cache_detach(struct dns_cache *c)
{
    size_t pos = 0;
    void *v;

    while (hash_next(c->h, &pos, NULL, NULL, &v)) {
        struct centry *e = v;
        if (!e->inflight)
            continue;
        wl_free(e->wait.head);
        wl_init(&e->wait);
        entry_fail(e, "resolver closed");
    }
    *c->pprev = c->next;
    if (c->next != NULL)
        c->next->pprev = c->pprev;
    c->dc = NULL;
    c->pprev = NULL;
}

/* dns_cache_new - an empty cache over dc (NULL: no resolver, tests) */
struct dns_cache *dns_cache_new(struct dns_ctx *dc)
{
    struct dns_cache *c = xcalloc(1, sizeof(*c));

    c->h = hash_new(64);
    wl_init(&c->ready);
    if (dc != NULL) {
        c->dc = dc;
        c->ev = dc->ev;
        c->next = dc->caches;
        if (c->next != NULL)
            c->next->pprev = &c->next;
        c->pprev = &dc->caches;
        dc->caches = c;
    }
    return c;
}

/* dns_cache_set_ev - the loop for want() callbacks of a cache without a
 * resolver (a cache over a resolver uses the resolver's loop) */
void dns_cache_set_ev(struct dns_cache *c, struct ev *ev)
{
    if (c->ready_timer != NULL)
        panic("dns_cache_set_ev: callbacks pending on the old loop");
    c->ev = ev;
}

/* dns_cache_free - release everything; in-flight queries are cancelled and
 * their waiters dropped; safe from inside a waiter callback (NULL ok) */
void dns_cache_free(struct dns_cache *c)
{
    if (c == NULL)
        return;
    if (c->alive != NULL)
        *c->alive = 0;
    if (c->pprev != NULL) {
        *c->pprev = c->next;
        if (c->next != NULL)
            c->next->pprev = c->pprev;
    }
    if (c->ready_timer != NULL)
        ev_timer_cancel(c->ev, c->ready_timer);
    wl_free(c->ready.head);
    hash_free(c->h, entry_free);
    free(c);
}

/* dns_cache_get - the cached answer, NULL on a miss or while in flight */
const struct dns_answer *dns_cache_get(struct dns_cache *c, int type,
                                       const char *name)
{
    struct centry *e = entry_get(c, type, name, 0);

    return e != NULL ? e->ans : NULL;
}

/* dns_cache_put - store a copy of ans, replacing what was there (pointers
 * from dns_cache_get die); waiters of an in-flight query get this answer */
void dns_cache_put(struct dns_cache *c, int type, const char *name,
                   const struct dns_answer *ans)
{
    struct centry *e = entry_get(c, type, name, 1);

    entry_answer(e, ans);
    ready_add(c, &e->wait);
}

/* dns_cache_want - make sure (type, name) gets cached and call cb(arg) once
 * it is: never from inside this call, one query however many want it */
void dns_cache_want(struct dns_cache *c, int type, const char *name,
                    dns_ready_cb cb, void *arg)
{
    struct centry *e = entry_get(c, type, name, 1);
    struct wlist w;

    wl_init(&w);
    wl_add(&w, cb, arg);
    if (e->ans != NULL) {
        ready_add(c, &w);
        return;
    }
    wl_append(&e->wait, &w);
    if (e->inflight)
        return;                             /* one more waiter */
    e->inflight = 1;
    c->inflight++;
    if (c->dc == NULL) {
        entry_fail(e, "no resolver");
        ready_add(c, &e->wait);
        return;
    }
    e->req = query_start(c->dc, type, e->name, cache_answer_cb, e);
}

/* dns_cache_inflight - queries started by want() and not answered yet */
size_t dns_cache_inflight(const struct dns_cache *c)
{
    return c->inflight;
}

/* ---- names of things ---------------------------------------------------- */

static const struct { int type; const char *name; } type_names[] = {
    { DNS_T_A, "a" }, { DNS_T_AAAA, "aaaa" }, { DNS_T_MX, "mx" },
    { DNS_T_TXT, "txt" }, { DNS_T_PTR, "ptr" },
};

/* dns_type_name - "mx" for DNS_T_MX; NULL for a type we do not query */
const char *dns_type_name(int type)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (type_names[i].type == type)
            return type_names[i].name;
    return NULL;
}

/* dns_type_parse - "MX" or "mx" -> DNS_T_MX; -1 when unknown */
int dns_type_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcasecmp(type_names[i].name, s) == 0)
            return type_names[i].type;
    return -1;
}

/* dns_status_name - "OK", "NXDOMAIN", "NODATA", "TEMPFAIL" */
const char *dns_status_name(enum dns_status st)
{
    switch (st) {
    case DNS_OK:       return "OK";
    case DNS_NXDOMAIN: return "NXDOMAIN";
    case DNS_NODATA:   return "NODATA";
    case DNS_TEMPFAIL: return "TEMPFAIL";
    }
    return "?";
}
