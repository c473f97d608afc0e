/*
 * test_lwire.c - the job a local delivery helper receives and the result
 * lines it sends back (queue/lwire.c).
 *
 * A job of two batches of two messages is encoded as the scheduler does
 * and decoded as the helper does, against a configuration loaded from a
 * conf.d: every field must come back (NULL strings as NULL, transports as
 * the same transport), every descriptor must be owned by the job. Then the
 * decoder must refuse each truncation of the payload, trailing bytes, a
 * string with a NUL, a transport or message index out of range, a count
 * of messages that is not the count of descriptors; and the header check
 * must refuse a wrong magic or an oversized payload, and a refused job
 * must close the descriptors it came with. Result lines must round-trip
 * and malformed ones be ignored.
 */
#include <fcntl.h>
#include <stdint.h>

#include "tap.h"
#include "tp_fixture.h"
#include "core/base/pool.h"
#include "queue/lwire.h"
#include "queue/sched_impl.h"

static const char conf_text[] =
    "transport \"box\" { driver = \"maildir\", directory = \"@D@/box\" }\n"
    "transport \"pipe\" { driver = \"pipe\", command = \"/bin/true\" }\n";

struct job_fixture {
    struct smsg m[2];
    struct sbatch sb[2];
    struct sbatch *sbs[2];
    struct dlv_rcpt r[3];
};

static void make_job(struct fx *f, struct job_fixture *j)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->m[0].id, sizeof(j->m[0].id), "1vABCD-000000000Ab-0001");
    snprintf(j->m[1].id, sizeof(j->m[1].id), "1vABCD-000000000Ab-0002");
    j->m[0].lockfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    j->m[1].lockfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    j->r[0] = (struct dlv_rcpt){ .address = "a@example.org",
        .top = "list@example.org", .local_part = "a", .domain = "example.org",
        .prefix = "pre-", .suffix = NULL, .home = "/home/a",
        .address_data = "data\twith tab", .kind = CHILD_ADDRESS };
    j->r[1] = (struct dlv_rcpt){ .address = "|/bin/cmd", .top = "b@x",
        .local_part = "b", .domain = "x", .home = "", .address_data = "",
        .kind = CHILD_PIPE, .text = "|/bin/cmd" };
    j->r[2] = (struct dlv_rcpt){ .address = "c@y", .top = "c@y",
        .local_part = "c", .domain = "y", .home = "", .address_data = "",
        .kind = CHILD_ADDRESS };
    for (int k = 0; k < 2; k++) {
        j->sb[k].m = &j->m[k];
        j->sb[k].b.conf = f->c;
        j->sbs[k] = &j->sb[k];
    }
    j->sb[0].b.tp = conf_find_transport(f->c, "box");
    j->sb[0].b.return_path = "";
    j->sb[0].b.nrcpt = 1;
    j->sb[0].b.rcpts = &j->r[0];
    j->sb[0].b.uid = 1234;
    j->sb[0].b.gid = 99;
    j->sb[1].b.tp = conf_find_transport(f->c, "pipe");
    j->sb[1].b.return_path = "bounce@example.org";
    j->sb[1].b.nrcpt = 2;
    j->sb[1].b.rcpts = &j->r[1];
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL)
           || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int rcpt_eq(const struct dlv_rcpt *a, const struct dlv_rcpt *b)
{
    return str_eq(a->address, b->address) && str_eq(a->top, b->top)
        && str_eq(a->local_part, b->local_part)
        && str_eq(a->domain, b->domain) && str_eq(a->prefix, b->prefix)
        && str_eq(a->suffix, b->suffix) && str_eq(a->home, b->home)
        && str_eq(a->address_data, b->address_data) && a->kind == b->kind
        && str_eq(a->text, b->text) && a->router == b->router
        && a->status == DLV_PENDING && a->host == -1;
}

/* decode p[0..len) with fresh descriptors: the decoder's answer */
static int decode(struct fx *f, const char *p, size_t len, size_t nfds,
                  struct lw_job *out)
{
    int fds[LW_BATCH_MAX];
    struct lw_job j;
    int rc;

    for (size_t i = 0; i < nfds; i++)
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    rc = lw_decode(p, len, f->c, fds, nfds, &j);
    if (out != NULL && rc == 0)
        *out = j;
    else
        lw_job_free(&j);
    return rc;
}

static void test_round_trip(struct fx *f, struct job_fixture *jf,
                            const struct strbuf *enc, const int *fds)
{
    const char *p = enc->data + LW_HEAD_LEN;
    size_t len = sb_len(enc) - LW_HEAD_LEN;
    uint32_t plen, nm;
    struct lw_job j;

    ok(lw_head((const unsigned char *)enc->data, &plen, &nm) == 0
       && plen == len && nm == 2, "header: payload length, two messages");
    ok(fds[0] == jf->m[0].lockfd && fds[1] == jf->m[1].lockfd,
       "the descriptors are the messages' lock descriptors, in order");
    if (decode(f, p, len, 2, &j) != 0) {
        ok(0, "the job decodes");
        return;
    }
    ok(j.nmsgs == 2 && strcmp(j.msgs[0].id, jf->m[0].id) == 0
       && strcmp(j.msgs[1].id, jf->m[1].id) == 0 && j.msgs[0].fd >= 0,
       "message ids, each with its descriptor");
    ok(j.nb == 2 && j.msgof[0] == 0 && j.msgof[1] == 1,
       "two batches, each of its message");
    ok(j.bs[0].tp == jf->sb[0].b.tp && j.bs[1].tp == jf->sb[1].b.tp
       && j.bs[0].conf == f->c, "transports found again in the "
       "configuration");
    ok(str_eq(j.bs[0].return_path, "") && str_eq(j.bs[1].return_path,
       "bounce@example.org") && j.bs[0].uid == 1234 && j.bs[0].gid == 99,
       "return paths, uid and gid");
    ok(j.bs[0].nrcpt == 1 && rcpt_eq(&j.bs[0].rcpts[0], &jf->r[0]),
       "recipient fields, NULL affix kept NULL, a tab kept");
    ok(j.bs[1].nrcpt == 2 && rcpt_eq(&j.bs[1].rcpts[0], &jf->r[1])
       && rcpt_eq(&j.bs[1].rcpts[1], &jf->r[2]),
       "a pipe recipient with its command, and a second recipient");
    lw_job_free(&j);
}

static int open_fds(void)
{
    return fx_count("/proc/self/fd", NULL, 0);
}

static void test_refusals(struct fx *f, const struct strbuf *enc)
{
    const char *p = enc->data + LW_HEAD_LEN;
    size_t len = sb_len(enc) - LW_HEAD_LEN, bad = 0;
    int fds_before = open_fds();
    struct strbuf x;
    unsigned char h[LW_HEAD_LEN];
    uint32_t v[3], plen, nm;

    for (size_t n = 0; n < len; n++)
        bad += decode(f, p, n, 2, NULL) != 0;
    ok(bad == len, "every truncation is refused (%zu of %zu)", bad, len);
    sb_init(&x);
    sb_append(&x, p, len);
    sb_putc(&x, 'x');
    ok(decode(f, x.data, len + 1, 2, NULL) != 0, "trailing bytes refused");
    ok(decode(f, p, len, 1, NULL) != 0 && decode(f, p, len, 3, NULL) != 0,
       "descriptors that do not match the messages refused");
    sb_truncate(&x, len);
    x.data[4 + 23 - 1] = '\0';  /* inside the first message id */
    ok(decode(f, x.data, len, 2, NULL) != 0, "a string with a NUL refused");
    memcpy(x.data, p, len);
    memcpy(x.data + 4 + 4 + 23 + 4 + 23 + 4 + 4, "\xff\0\0\0", 4);
    ok(decode(f, x.data, len, 2, NULL) != 0,
       "a transport index out of range refused");
    memcpy(x.data, p, len);
    memcpy(x.data + 4 + 4 + 23 + 4 + 23 + 4, "\x07\0\0\0", 4);
    ok(decode(f, x.data, len, 2, NULL) != 0,
       "a message index out of range refused");
    sb_free(&x);
    v[0] = LW_MAGIC + 1;
    v[1] = 10;
    v[2] = 1;
    memcpy(h, v, sizeof(h));
    ok(lw_head(h, &plen, &nm) != 0, "a wrong magic refused");
    v[0] = LW_MAGIC;
    v[1] = LW_PAYLOAD_MAX + 1;
    memcpy(h, v, sizeof(h));
    ok(lw_head(h, &plen, &nm) != 0, "an oversized payload refused");
    ok(open_fds() == fds_before, "a refused job closes its descriptors "
       "(%d open before, %d after)", fds_before, open_fds());
}

static void test_results(struct job_fixture *jf)
{
    struct strbuf out;
    char line[200], *nl;
    const char *p;

    dlv_set(&jf->r[0], DLV_DEFER, 451, "quota", "mailbox full: %s", "a");
    sb_init(&out);
    lw_result_lines(&out, 0, &jf->sb[0].b);
    jf->r[0] = (struct dlv_rcpt){ .status = DLV_PENDING };
    for (p = out.data; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
        lw_result_parse(line, jf->sbs, 2);
    }
    ok(jf->r[0].status == DLV_DEFER && jf->r[0].code == 451
       && strcmp(jf->r[0].errtype, "quota") == 0
       && strcmp(jf->r[0].msg, "mailbox full: a") == 0,
       "a result line round-trips: status, code, errtype, message");
    snprintf(line, sizeof(line), "1 1 9 0 -\tbad status");
    lw_result_parse(line, jf->sbs, 2);
    snprintf(line, sizeof(line), "5 0 1 0 -\tno such batch");
    lw_result_parse(line, jf->sbs, 2);
    snprintf(line, sizeof(line), "1 0 1 0 -");
    lw_result_parse(line, jf->sbs, 2);
    ok(jf->r[2].status == DLV_PENDING && jf->r[1].status == DLV_PENDING,
       "malformed lines change nothing");
    jf->sbs[1] = NULL;
    snprintf(line, sizeof(line), "1 0 1 0 -\tsettled already");
    lw_result_parse(line, jf->sbs, 2);
    ok(jf->r[1].status == DLV_PENDING, "a line for a settled batch is "
       "dropped");
    sb_free(&out);
}

int main(void)
{
    struct fx f;
    struct job_fixture jf;
    struct strbuf enc;
    int fds[LW_BATCH_MAX];
    size_t nfds = 0;

    if (fx_setup(&f, "test_lwire", conf_text) != 0) {
        ok(0, "configuration loaded");
        return done_testing();
    }
    make_job(&f, &jf);
    sb_init(&enc);
    lw_encode(jf.sbs, 2, &enc, fds, &nfds);
    ok(nfds == 2, "one descriptor per message");
    test_round_trip(&f, &jf, &enc, fds);
    test_refusals(&f, &enc);
    test_results(&jf);
    sb_free(&enc);
    close(jf.m[0].lockfd);
    close(jf.m[1].lockfd);
    fx_teardown(&f);
    return done_testing();
}
