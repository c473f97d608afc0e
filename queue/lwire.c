/*
 * lwire.c - the job a local delivery helper gets and the results it
 *           sends back (format in lwire.h).
 *
 * PURPOSE: the scheduler encodes a group of local batches; the helper,
 * a fork of the scheduler running as the delivery's identity, decodes it
 * against the same configuration. Transports and routers travel as
 * their index in the configuration, strings with their length.
 * INTERFACE: lw_encode, lw_head, lw_decode, lw_job_free, lw_result_lines,
 *            lw_result_parse.
 * ERRORS: lw_decode returns -1 for anything that does not parse exactly:
 *         a short payload, trailing bytes, a string with a NUL, an index
 *         out of range, more messages than descriptors.
 * SECURITY: the helper trusts no count it reads: every length is checked
 *           against the bytes left before anything is allocated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "queue/sched_impl.h"
#include "queue/lwire.h"

#define NONE UINT32_MAX             /* a NULL string, no router */
#define RCPT_MIN_BYTES 44           /* the smallest encoded recipient */

/* ---- encoding (scheduler) ---------------------------------------------- */

static void put_u32(struct strbuf *o, uint32_t v)
{
    sb_append(o, &v, sizeof(v));
}

static void put_str(struct strbuf *o, const char *s)
{
    size_t n;

    if (s == NULL) {
        put_u32(o, NONE);
        return;
    }
    n = strlen(s);
    put_u32(o, (uint32_t)n);
    sb_append(o, s, n);
}

static uint32_t tp_index(const struct conf *c, const struct transport *t)
{
    for (size_t i = 0; i < c->ntransports; i++)
        if (c->transports[i] == t)
            return (uint32_t)i;
    return NONE;                    /* refused by the helper */
}

static void put_rcpt(struct strbuf *o, const struct dlv_rcpt *r)
{
    put_str(o, r->address);
    put_str(o, r->top);
    put_str(o, r->local_part);
    put_str(o, r->domain);
    put_str(o, r->prefix);
    put_str(o, r->suffix);
    put_str(o, r->home != NULL ? r->home : "");
    put_str(o, r->address_data != NULL ? r->address_data : "");
    put_u32(o, (uint32_t)r->kind);
    put_str(o, r->text);
    put_u32(o, r->router != NULL ? (uint32_t)r->router->index : NONE);
}

static void put_batch(struct strbuf *o, const struct dlv_batch *b,
                      uint32_t msg)
{
    put_u32(o, msg);
    put_u32(o, tp_index(b->conf, b->tp));
    put_str(o, b->return_path);
    put_u32(o, (uint32_t)b->uid);
    put_u32(o, (uint32_t)b->gid);
    put_u32(o, (uint32_t)b->nrcpt);
    for (size_t i = 0; i < b->nrcpt; i++)
        put_rcpt(o, &b->rcpts[i]);
}

/* the index of sbs[k]'s message among ms[0..*nm), added if new */
static uint32_t msg_index(const struct smsg **ms, size_t *nm,
                          const struct smsg *m)
{
    size_t i = 0;

    while (i < *nm && ms[i] != m)
        i++;
    if (i == *nm)
        ms[(*nm)++] = m;
    return (uint32_t)i;
}

/* lw_encode - see lwire.h */
void lw_encode(struct sbatch *const *sbs, size_t n, struct strbuf *out,
               int *fds, size_t *nfds)
{
    const struct smsg *ms[LW_BATCH_MAX];
    uint32_t of[LW_BATCH_MAX], head[3] = { 0, 0, 0 };
    size_t at = sb_len(out), start, nm = 0;

    for (size_t k = 0; k < n; k++)
        of[k] = msg_index(ms, &nm, sbs[k]->m);
    sb_append(out, head, sizeof(head));         /* filled in below */
    start = sb_len(out);
    put_u32(out, (uint32_t)nm);
    for (size_t i = 0; i < nm; i++) {
        put_str(out, ms[i]->id);
        fds[i] = ms[i]->lockfd;
    }
    put_u32(out, (uint32_t)n);
    for (size_t k = 0; k < n; k++)
        put_batch(out, &sbs[k]->b, of[k]);
    head[0] = LW_MAGIC;
    head[1] = (uint32_t)(sb_len(out) - start);
    head[2] = (uint32_t)nm;
    memcpy(out->data + at, head, sizeof(head));
    *nfds = nm;
}

/* ---- decoding (helper) ------------------------------------------------- */

struct rd {
    const char *p, *end;
    int bad;
    struct pool *pool;
};

static uint32_t get_u32(struct rd *r)
{
    uint32_t v;

    if (r->bad || (size_t)(r->end - r->p) < sizeof(v)) {
        r->bad = 1;
        return 0;
    }
    memcpy(&v, r->p, sizeof(v));
    r->p += sizeof(v);
    return v;
}

/* a string; NULL only when nullable (else "" and the job is refused) */
static const char *get_str(struct rd *r, int nullable)
{
    uint32_t n = get_u32(r);

    if (n == NONE && nullable && !r->bad)
        return NULL;
    if (r->bad || n == NONE || (size_t)(r->end - r->p) < n
        || memchr(r->p, '\0', n) != NULL) {
        r->bad = 1;
        return "";
    }
    r->p += n;
    return pool_strndup(r->pool, r->p - n, n);
}

static void get_rcpt(struct rd *r, const struct conf *c, struct dlv_rcpt *d)
{
    uint32_t kind, ri;

    d->address = get_str(r, 0);
    d->top = get_str(r, 0);
    d->local_part = get_str(r, 0);
    d->domain = get_str(r, 0);
    d->prefix = get_str(r, 1);
    d->suffix = get_str(r, 1);
    d->home = get_str(r, 0);
    d->address_data = get_str(r, 0);
    kind = get_u32(r);
    d->text = get_str(r, 1);
    ri = get_u32(r);
    if (kind > CHILD_FILE || (ri != NONE && (ri >= c->nrouters
                                             || c->routers[ri]->index != ri))
        || (kind != CHILD_ADDRESS && d->text == NULL))
        r->bad = 1;
    d->kind = r->bad ? CHILD_ADDRESS : (enum child_kind)kind;
    d->router = r->bad || ri == NONE ? NULL : c->routers[ri];
    d->status = DLV_PENDING;
    d->host = -1;
}

static void get_batch(struct rd *r, struct conf *c, struct lw_job *j,
                      size_t k)
{
    struct dlv_batch *b = &j->bs[k];
    uint32_t mi = get_u32(r), ti = get_u32(r), n;

    b->conf = c;
    b->return_path = get_str(r, 0);
    b->uid = (uid_t)get_u32(r);
    b->gid = (gid_t)get_u32(r);
    n = get_u32(r);
    if (mi >= j->nmsgs || ti >= c->ntransports || n == 0
        || n > (size_t)(r->end - r->p) / RCPT_MIN_BYTES)
        r->bad = 1;
    if (r->bad)
        return;
    j->msgof[k] = mi;
    b->tp = c->transports[ti];
    b->nrcpt = n;
    b->rcpts = pool_zalloc(r->pool, n * sizeof(*b->rcpts));
    for (size_t i = 0; i < n && !r->bad; i++)
        get_rcpt(r, c, &b->rcpts[i]);
}

static void get_msgs(struct rd *r, struct lw_job *j)
{
    uint32_t n = get_u32(r);

    if (n != j->nmsgs)
        r->bad = 1;
    for (size_t i = 0; i < j->nmsgs && !r->bad; i++) {
        const char *id = get_str(r, 0);
        if (!msgid_valid(id))
            r->bad = 1;
        else
            memcpy(j->msgs[i].id, id, MSGID_LEN + 1);
    }
}

/* lw_decode - see lwire.h */
int lw_decode(const char *p, size_t len, struct conf *c, const int *fds,
              size_t nfds, struct lw_job *j)
{
    struct rd r = { p, p + len, 0, NULL };
    uint32_t nb;

    memset(j, 0, sizeof(*j));
    j->pool = r.pool = pool_new();
    for (size_t i = 0; i < nfds; i++) {
        if (i < LW_BATCH_MAX)
            j->msgs[j->nmsgs++].fd = fds[i];
        else
            (void)close(fds[i]);
    }
    get_msgs(&r, j);
    nb = get_u32(&r);
    if (nb == 0 || nb > LW_BATCH_MAX)
        r.bad = 1;
    if (r.bad)
        return -1;
    j->nb = nb;
    j->bs = pool_zalloc(r.pool, nb * sizeof(*j->bs));
    j->msgof = pool_zalloc(r.pool, nb * sizeof(*j->msgof));
    for (size_t k = 0; k < nb && !r.bad; k++)
        get_batch(&r, c, j, k);
    return r.bad || r.p != r.end ? -1 : 0;
}

/* lw_job_free - close what is still open, release everything */
void lw_job_free(struct lw_job *j)
{
    for (size_t i = 0; i < j->nmsgs; i++) {
        if (j->msgs[i].fd >= 0)
            (void)close(j->msgs[i].fd);
        spool_msg_free(&j->msgs[i].msg);
    }
    pool_free(j->pool);
    memset(j, 0, sizeof(*j));
}

/* lw_head - see lwire.h */
int lw_head(const unsigned char *h, uint32_t *len, uint32_t *nmsgs)
{
    uint32_t v[3];

    memcpy(v, h, sizeof(v));
    *len = v[1];
    *nmsgs = v[2];
    return v[0] == LW_MAGIC && v[1] <= LW_PAYLOAD_MAX
           && v[2] <= LW_BATCH_MAX ? 0 : -1;
}

/* ---- results ----------------------------------------------------------- */

/* lw_result_lines - see lwire.h */
void lw_result_lines(struct strbuf *out, size_t k, const struct dlv_batch *b)
{
    for (size_t i = 0; i < b->nrcpt; i++) {
        const struct dlv_rcpt *r = &b->rcpts[i];
        sb_printf(out, "%zu %zu %d %d %s\t%s\n", k, i, (int)r->status,
                  r->code, r->errtype[0] ? r->errtype : "-", r->msg);
    }
}

/* lw_result_parse - "K INDEX STATUS CODE ERRTYPE\tMESSAGE" */
void lw_result_parse(char *line, struct sbatch *const *sbs, size_t n)
{
    char *tab = strchr(line, '\t'), errtype[DLV_ERR_MAX];
    struct dlv_batch *b;
    size_t k, idx;
    int st, code;

    if (tab == NULL)
        return;
    *tab = '\0';
    if (sscanf(line, "%zu %zu %d %d %31s", &k, &idx, &st, &code,
               errtype) != 5 || k >= n || sbs[k] == NULL)
        return;
    b = &sbs[k]->b;
    if (idx >= b->nrcpt || st < DLV_OK || st > DLV_FAIL)
        return;
    dlv_set(&b->rcpts[idx], (enum dlv_status)st, code,
            strcmp(errtype, "-") ? errtype : NULL, "%s", tab + 1);
}
