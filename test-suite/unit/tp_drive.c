/*
 * tp_drive.c - drive one transport of a configuration by hand, for the
 *              end-to-end tests (built into build/test-bin/, not run as a
 *              test itself).
 *
 * Usage: tp_drive [-8] [-U] [-H IP[:PORT]]... CONFDIR TRANSPORT SENDER
 *                 RCPT... < message
 * The message on stdin (LF or CRLF line ends; bare LF becomes CRLF) gets
 * envelope SENDER (also the return path; "" for <>) and the recipients.
 * A RCPT is ADDRESS[;home=DIR][;data=ADDRESS_DATA][;text=|CMD or /PATH].
 * -8: body type 8BITMIME; -U: SMTPUTF8; -H: a host of a remote delivery.
 * Local drivers run deliver_local in this process (as the current user);
 * remote drivers run deliver_remote on an event loop until done.
 * Output, one line per recipient: ADDRESS STATUS CODE ERRTYPE MESSAGE
 * (STATUS OK/DEFER/FAIL/PENDING, ERRTYPE "-" if none). Exit 0 when the
 * transport ran, 2 on a usage or configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "transports/deliver.h"
#include "core/spool/spool.h"

#define MSG_MAX (64L * 1024 * 1024)
#define MAX_HOSTS 16

struct drive {
    struct pool *pool;          /* strings of the recipients and hosts */
    int bit8, utf8;
    size_t nhosts;
    struct route_host hosts[MAX_HOSTS];
};

static int usage(void)
{
    fprintf(stderr, "usage: tp_drive [-8] [-U] [-H IP[:PORT]]... CONFDIR "
            "TRANSPORT SENDER RCPT... < message\n");
    return 2;
}

/* read_message - stdin with bare LF turned into CRLF */
static int read_message(struct strbuf *out)
{
    int c, prev = 0;

    while ((c = getchar()) != EOF) {
        if (c == '\n' && prev != '\r')
            sb_putc(out, '\r');
        sb_putc(out, (char)c);
        prev = c;
        if ((long)sb_len(out) > MSG_MAX)
            return -1;
    }
    return ferror(stdin) ? -1 : 0;
}

/* field - the value of ";name=" in spec, or "" (a copy) */
static const char *field(struct pool *p, const char *spec,
                         const char *name)
{
    char key[32];
    const char *v, *end;

    snprintf(key, sizeof(key), ";%s=", name);
    if ((v = strstr(spec, key)) == NULL)
        return "";
    v += strlen(key);
    end = strchr(v, ';');
    return pool_strndup(p, v, end != NULL ? (size_t)(end - v) : strlen(v));
}

static void fill_rcpt(struct pool *p, struct dlv_rcpt *r, const char *spec)
{
    char *addr = pool_strndup(p, spec, strcspn(spec, ";"));
    char *at = strrchr(addr, '@');

    memset(r, 0, sizeof(*r));
    r->address = r->top = addr;
    r->local_part = at != NULL ? pool_strndup(p, addr, (size_t)(at - addr)) : addr;
    r->domain = at != NULL ? at + 1 : "";
    r->prefix = r->suffix = "";
    r->home = field(p, spec, "home");
    r->address_data = field(p, spec, "data");
    r->text = field(p, spec, "text");
    r->kind = r->text[0] == '|' ? CHILD_PIPE
        : r->text[0] == '/' ? CHILD_FILE : CHILD_ADDRESS;
    r->status = DLV_PENDING;
    r->host = -1;
}

static void fill_env(struct spool_env *e, const struct drive *d,
                     const char *sender, char **rcpts, size_t n)
{
    memset(e, 0, sizeof(*e));
    msgid_new(e->id);
    e->sender = sender;
    e->nrcpt = n;
    e->rcpts = (const char **)rcpts;
    e->helo = e->client_ip = e->client_name = e->auth_id = "";
    e->tls_cipher = e->local_user = "";
    e->protocol = "local";
    e->body_type = d->bit8 ? "8BITMIME" : "";
    e->smtputf8 = d->utf8;
    e->received_sec = (long long)time(NULL);
}

static void done_cb(struct dlv_batch *b, void *arg)
{
    (void)b;
    *(int *)arg = 1;
}

/* run_remote - deliver_remote on a fresh loop, at most 10 minutes */
static void run_remote(struct transport *t, struct dlv_batch *b)
{
    struct ev *ev = ev_new();
    int done = 0;
    time_t end = time(NULL) + 600;

    t->drv->deliver_remote(t, b, ev, done_cb, &done);
    while (!done && time(NULL) < end)
        ev_run_once(ev, 1000);
    if (t->drv->flush != NULL)
        t->drv->flush(ev);
    ev_free(ev);
}

static void print_results(const struct dlv_batch *b)
{
    static const char *const names[] = { "PENDING", "OK", "DEFER", "FAIL" };

    for (size_t i = 0; i < b->nrcpt; i++) {
        const struct dlv_rcpt *r = &b->rcpts[i];
        printf("%s %s %d %s %s\n", r->address, names[r->status], r->code,
               r->errtype[0] != '\0' ? r->errtype : "-", r->msg);
    }
}

static int add_host(struct drive *d, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    struct route_host *h;

    if (d->nhosts >= MAX_HOSTS)
        return -1;
    h = &d->hosts[d->nhosts++];
    h->name = h->ip = colon != NULL && strchr(arg, ':') == colon
        ? pool_strndup(d->pool, arg, (size_t)(colon - arg)) : arg;
    h->mx = -1;
    h->port = h->ip != arg ? atoi(colon + 1) : 0;
    return 0;
}

static int deliver(struct conf *c, struct transport *t, struct drive *d,
                   char **argv, int argc)
{
    struct strbuf data;
    struct spool_msg m;
    struct dlv_batch b;

    sb_init(&data);
    if (read_message(&data) != 0) {
        fprintf(stderr, "tp_drive: cannot read the message\n");
        return 2;
    }
    memset(&m, 0, sizeof(m));
    memset(&b, 0, sizeof(b));
    fill_env(&m.env, d, argv[0], argv + 1, (size_t)(argc - 1));
    m.data = sb_str(&data);
    m.len = sb_len(&data);
    b.conf = c;
    b.tp = t;
    b.msg = &m;
    b.return_path = argv[0];
    b.nrcpt = (size_t)(argc - 1);
    b.rcpts = xcalloc(b.nrcpt, sizeof(*b.rcpts));
    for (size_t i = 0; i < b.nrcpt; i++)
        fill_rcpt(d->pool, &b.rcpts[i], argv[i + 1]);
    b.nhosts = d->nhosts;
    b.hosts = d->hosts;
    b.uid = getuid();
    b.gid = getgid();
    if (t->drv->deliver_local != NULL)
        t->drv->deliver_local(t, &b);
    else
        run_remote(t, &b);
    print_results(&b);
    free(b.rcpts);
    sb_free(&data);
    return 0;
}

/* run - load the configuration, find the transport, deliver */
static int run(struct drive *d, char **argv, int argc)
{
    struct errbuf eb;
    struct conf *c;
    struct transport *t;
    int rc;

    if ((c = conf_load(argv[0], &eb)) == NULL) {
        fprintf(stderr, "tp_drive: %s\n", eb.msg);
        return 2;
    }
    t = conf_find_transport(c, argv[1]);
    if (t == NULL || (t->drv->deliver_local == NULL
                      && t->drv->deliver_remote == NULL)) {
        fprintf(stderr, "tp_drive: %s: %s\n", argv[1], t == NULL
                ? "no such transport" : "its driver cannot deliver yet");
        rc = 2;
    } else {
        rc = deliver(c, t, d, argv + 2, argc - 2);
    }
    conf_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    struct drive d;
    int opt, rc = 0;

    memset(&d, 0, sizeof(d));
    d.pool = pool_new();
    while (rc == 0 && (opt = getopt(argc, argv, "8UH:")) != -1) {
        if (opt == '8')
            d.bit8 = 1;
        else if (opt == 'U')
            d.utf8 = 1;
        else if (opt != 'H' || add_host(&d, optarg) != 0)
            rc = usage();
    }
    if (rc == 0)
        rc = argc - optind < 4 ? usage()
            : run(&d, argv + optind, argc - optind);
    pool_free(d.pool);
    return rc;
}
