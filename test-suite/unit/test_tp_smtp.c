/*
 * test_tp_smtp.c - the smtp transport's deliver_remote.
 *
 * Without arguments: TAP checks that need no peer (reply line parser case
 * table; connection refused; an unresolved host; every host in a retry
 * wait), each asserting that done() is called exactly once and never
 * inside deliver_remote.
 * With arguments it is the driver test-suite/py/test_tp_smtp.py uses
 * against real and scripted servers:
 *   test_tp_smtp drive CONFDIR TRANSPORT MSGFILE SENDER HOSTS [opts] RCPT..
 *   HOSTS  name=ip:port,name=ip:port   (ip "-": did not resolve)
 *   opts   -n N    N batches (one after the other, or all at once with -P)
 *          -8      body_type 8BITMIME      -u  smtputf8
 * and prints per batch "rcpt ADDR STATUS CODE HOST ERRTYPE|MSG",
 * "hostres HOST STATUS ERRTYPE|MSG", "tls CIPHER", then "done_calls N",
 * "open N" (connections still open, idle ones included) and after the
 * flush hook "open_after_flush N".
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "transports/deliver.h"
#include "core/spool/spool.h"
#include "test-suite/unit/tap.h"
#include "transports/smtp_client.h"

static const char *stname[] = { "PENDING", "OK", "DEFER", "FAIL" };

struct run {
    int in_deliver;
    int bad_done;
    int done_calls;
};

static void done_cb(struct dlv_batch *b, void *arg)
{
    struct run *r = arg;

    (void)b;
    r->done_calls++;
    if (r->in_deliver)
        r->bad_done++;
}

struct batch_spec {
    struct conf *conf;
    struct transport *tp;
    struct spool_msg msg;
    const char *sender;
    struct route_host hosts[8];
    size_t nhosts;
    unsigned char skip[8];
    int use_skip;
    char **rcpts;
    size_t nrcpt;
};

static struct dlv_batch *batch_new(struct batch_spec *s)
{
    struct dlv_batch *b = calloc(1, sizeof(*b));

    if (b == NULL)
        abort();
    b->conf = s->conf;
    b->tp = s->tp;
    b->msg = &s->msg;
    b->return_path = s->sender;
    b->nrcpt = s->nrcpt;
    b->rcpts = calloc(s->nrcpt + 1, sizeof(*b->rcpts));
    if (b->rcpts == NULL)
        abort();
    for (size_t i = 0; i < s->nrcpt; i++) {
        struct dlv_rcpt *r = &b->rcpts[i];
        char *at = strrchr(s->rcpts[i], '@');
        r->address = r->top = s->rcpts[i];
        r->local_part = s->rcpts[i];
        r->domain = at != NULL ? at + 1 : "";
        r->host = -1;
    }
    b->nhosts = s->nhosts;
    b->hosts = s->hosts;
    b->host_skip = s->use_skip ? s->skip : NULL;
    return b;
}

static void batch_free(struct dlv_batch *b)
{
    free(b->rcpts);
    free(b->hostres);
    free(b);
}

static void start(struct ev *ev, struct dlv_batch *b, struct run *r)
{
    r->in_deliver = 1;
    b->tp->drv->deliver_remote(b->tp, b, ev, done_cb, r);
    r->in_deliver = 0;
}

/* spin - run the loop until *calls reaches want (30 s at most) */
static void spin(struct ev *ev, const int *calls, int want)
{
    uint64_t end = ev_now_ms(ev) + 30000;

    while (*calls < want && ev_now_ms(ev) < end)
        ev_run_once(ev, 100);
}

static void print_batch(const struct dlv_batch *b, int n)
{
    printf("batch %d\n", n);
    for (size_t i = 0; i < b->nrcpt; i++) {
        const struct dlv_rcpt *r = &b->rcpts[i];
        printf("rcpt %s %s %d %d %s|%s\n", r->address, stname[r->status],
               r->code, r->host, r->errtype, r->msg);
    }
    for (size_t i = 0; i < b->nhostres; i++) {
        const struct dlv_hostres *h = &b->hostres[i];
        printf("hostres %d %s %s|%s\n", h->host, stname[h->status],
               h->errtype, h->msg);
    }
    printf("tls %s\n", b->tls_cipher);
}

/* ---------------------------------------------------------- driver -- */

static int parse_hosts(struct batch_spec *s, char *spec)
{
    for (char *tok = strtok(spec, ","); tok != NULL; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '='), *colon = strrchr(tok, ':');
        struct route_host *h = &s->hosts[s->nhosts];
        if (eq == NULL || colon == NULL || colon < eq || s->nhosts == 8)
            return -1;
        *eq = *colon = '\0';
        h->name = tok;
        h->ip = strcmp(eq + 1, "-") == 0 ? NULL : eq + 1;
        h->mx = -1;
        h->port = atoi(colon + 1);
        if (*h->name == '!') {  /* "!name": in a retry wait */
            h->name++;
            s->skip[s->nhosts] = 1;
            s->use_skip = 1;
        }
        s->nhosts++;
    }
    return 0;
}

static int read_msg(struct batch_spec *s, const char *path)
{
    struct strbuf sb;
    char buf[8192];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return -1;
    sb_init(&sb);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        sb_append(&sb, buf, n);
    fclose(f);
    s->msg.data = sb.data;      /* kept for the process's life */
    s->msg.len = sb.len;
    msgid_new(s->msg.env.id);
    s->msg.env.sender = s->sender;
    s->msg.env.body_type = "";
    return 0;
}

static void run_batches(struct batch_spec *s, struct ev *ev, int n,
                        int parallel)
{
    struct dlv_batch **bs = calloc((size_t)n, sizeof(*bs));
    struct run r = { 0, 0, 0 };

    if (bs == NULL)
        abort();
    for (int i = 0; i < n; i++) {
        bs[i] = batch_new(s);
        start(ev, bs[i], &r);
        if (!parallel)
            spin(ev, &r.done_calls, i + 1);
    }
    spin(ev, &r.done_calls, n);
    for (int i = 0; i < n; i++) {
        print_batch(bs[i], i + 1);
        batch_free(bs[i]);
    }
    free(bs);
    printf("done_calls %d\ndone_inside %d\n", r.done_calls, r.bad_done);
}

static int drive(int argc, char **argv)
{
    struct batch_spec s;
    struct errbuf eb;
    struct ev *ev;
    int i = 7, n = 1, parallel = 0;

    memset(&s, 0, sizeof(s));
    if (argc < 8)
        return fprintf(stderr, "usage: see test_tp_smtp.c\n"), 2;
    s.conf = conf_load(argv[2], &eb);
    if (s.conf == NULL)
        return fprintf(stderr, "conf: %s\n", eb.msg), 2;
    s.tp = conf_find_transport(s.conf, argv[3]);
    s.sender = argv[5];
    if (s.tp == NULL || read_msg(&s, argv[4]) != 0 ||
        parse_hosts(&s, argv[6]) != 0)
        return fprintf(stderr, "bad transport, message or hosts\n"), 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "-P") == 0)
            parallel = 1;
        else if (strcmp(argv[i], "-8") == 0)
            s.msg.env.body_type = "8BITMIME";
        else if (strcmp(argv[i], "-u") == 0)
            s.msg.env.smtputf8 = 1;
    }
    s.rcpts = argv + i;
    s.nrcpt = (size_t)(argc - i);
    ev = ev_new();
    run_batches(&s, ev, n, parallel);
    printf("open %u\n", scache_open_count());
    s.tp->drv->flush(ev);
    printf("open_after_flush %u\n", scache_open_count());
    ev_free(ev);
    conf_free(s.conf);
    free((char *)s.msg.data);
    return 0;
}

/* ------------------------------------------------------ self tests -- */

static const struct {
    const char *lines[4];
    int rc;             /* of the last line */
    int code;
} parse_cases[] = {
    { { "250 OK" }, 1, 250 },
    { { "250" }, 1, 250 },
    { { "250-a", "250-b", "250 c" }, 1, 250 },
    { { "250-a", "251 b" }, -1, 0 },            /* codes disagree */
    { { "25O ok" }, -1, 0 },
    { { "250xok" }, -1, 0 },
    { { "" }, -1, 0 },
    { { "600 no" }, -1, 0 },
    { { "099 no" }, -1, 0 },
    { { "550-5.1.1 first" }, 0, 550 },
};

static void test_parser(void)
{
    char longline[SC_LINE_MAX + 10];
    struct sc_reply r;
    int rc = 0;

    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
         i++) {
        memset(&r, 0, sizeof(r));
        sb_init(&r.text);
        for (size_t k = 0; k < 4 && parse_cases[i].lines[k] != NULL; k++)
            rc = sconn_parse_line(&r, parse_cases[i].lines[k],
                                  strlen(parse_cases[i].lines[k]));
        ok(rc == parse_cases[i].rc && (rc < 0 || r.code ==
           parse_cases[i].code), "reply parse case %zu (%s)", i,
           parse_cases[i].lines[0]);
        sb_free(&r.text);
    }
    memset(longline, 'x', sizeof(longline));
    memcpy(longline, "250 ", 4);
    memset(&r, 0, sizeof(r));
    sb_init(&r.text);
    is_int(sconn_parse_line(&r, longline, sizeof(longline)), -1,
           "a line over SC_LINE_MAX is garbage");
    for (int k = 0; k < SC_REPLY_LINES; k++)
        rc = sconn_parse_line(&r, "250-x", 5);
    is_int(sconn_parse_line(&r, "250-x", 5), -1,
           "more than SC_REPLY_LINES lines is garbage");
    sb_free(&r.text);
}

static const char self_conf[] =
    "main { primary_hostname = \"client.example\" }\n"
    "transport \"t\" { driver = \"smtp\", connect_timeout = \"5s\" }\n";

static struct conf *self_config(char *dir, size_t size)
{
    char path[160];
    struct errbuf eb;
    FILE *f;
    struct conf *c;

    snprintf(dir, size, "/tmp/test_tp_smtp.%d", (int)getpid());
    snprintf(path, sizeof(path), "%s/main", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(path, 0700) != 0)
        return NULL;
    snprintf(path, sizeof(path), "%s/main/00.lua", dir);
    if ((f = fopen(path, "w")) == NULL)
        return NULL;
    if (fputs(self_conf, f) < 0) {
        fclose(f);
        return NULL;
    }
    if (fclose(f) != 0)
        return NULL;
    c = conf_load(dir, &eb);
    if (c == NULL)
        printf("# %s\n", eb.msg);
    return c;
}

/* closed_port - a 127.0.0.1 port nobody listens on */
static int closed_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static struct dlv_batch *self_batch(struct batch_spec *s, struct ev *ev,
                                    struct run *r, const char *hosts)
{
    static char *rcpts[] = { "a@x.example", "b@x.example" };
    char buf[200];
    struct dlv_batch *b;

    s->nhosts = 0;
    s->use_skip = 0;
    memset(s->skip, 0, sizeof(s->skip));
    snprintf(buf, sizeof(buf), "%s", hosts);
    if (parse_hosts(s, buf) != 0)
        abort();
    for (size_t i = 0; i < s->nhosts; i++) {    /* they pointed into buf */
        int resolved = s->hosts[i].ip != NULL;
        s->hosts[i].name = resolved ? "here" : "nowhere";
        s->hosts[i].ip = resolved ? "127.0.0.1" : NULL;
    }
    s->rcpts = rcpts;
    s->nrcpt = 2;
    memset(r, 0, sizeof(*r));
    b = batch_new(s);
    start(ev, b, r);
    ok(r->done_calls == 0, "%s: done is not called inside deliver_remote",
       hosts);
    spin(ev, &r->done_calls, 1);
    return b;
}

static void test_failures(struct conf *c)
{
    struct batch_spec s;
    struct run r;
    struct ev *ev = ev_new();
    struct dlv_batch *b;
    char hosts[128];

    memset(&s, 0, sizeof(s));
    s.conf = c;
    s.tp = conf_find_transport(c, "t");
    s.sender = "s@client.example";
    s.msg.data = "Subject: x\r\n\r\nbody\r\n";
    s.msg.len = strlen(s.msg.data);
    s.msg.env.sender = s.sender;
    snprintf(hosts, sizeof(hosts), "h=127.0.0.1:%d", closed_port());
    b = self_batch(&s, ev, &r, hosts);
    is_int(r.done_calls, 1, "refused: done once");
    ok(b->rcpts[0].status == DLV_DEFER && b->rcpts[1].status == DLV_DEFER,
       "refused: both recipients deferred");
    is_str(b->rcpts[0].errtype, "refused", "refused: errtype");
    ok(b->nhostres == 1 && b->hostres[0].status == DLV_DEFER &&
       strcmp(b->hostres[0].errtype, "refused") == 0,
       "refused: one host result");
    batch_free(b);
    b = self_batch(&s, ev, &r, "n=-:25");
    ok(r.done_calls == 1 && b->rcpts[0].status == DLV_DEFER &&
       b->nhostres == 0 && strstr(b->rcpts[0].msg, "no address") != NULL,
       "unresolved host: deferred, not tried (%s)", b->rcpts[0].msg);
    batch_free(b);
    b = self_batch(&s, ev, &r, "!h=127.0.0.1:25");
    ok(r.done_calls == 1 && b->rcpts[1].status == DLV_DEFER &&
       b->nhostres == 0 && strstr(b->rcpts[1].msg, "retry time") != NULL,
       "host in a retry wait: not tried (%s)", b->rcpts[1].msg);
    batch_free(b);
    is_int(scache_open_count(), 0, "no connection left open");
    ev_free(ev);
}

int main(int argc, char **argv)
{
    char dir[64], cmd[120];
    struct conf *c;

    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && strcmp(argv[1], "drive") == 0)
        return drive(argc, argv);
    test_parser();
    c = self_config(dir, sizeof(dir));
    if (ok(c != NULL, "configuration loads")) {
        test_failures(c);
        conf_free(c);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return done_testing();
}
