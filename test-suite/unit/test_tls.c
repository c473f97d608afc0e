/*
 * test_tls.c - unit tests of TLS on non-blocking sockets (core/net/tls.c).
 *
 * PURPOSE: context errors (files, key mismatch, ciphers, protocol names),
 *          handshakes driven by the event loop over socketpairs and one
 *          127.0.0.1 TCP pair, 1 MiB both ways through WANT_WRITE, the X=
 *          cipher format, tls_pending, client and server certificate
 *          verification, protocol floors, shutdown and EOF handling, the
 *          STARTTLS rule (tls_conn_new reads nothing), and the memory an
 *          idle established connection costs (printed as a diagnostic).
 * NEEDS:   the openssl binary to make a CA, an intermediate and leaves in
 *          a temp dir; without it the file is skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/net/tls.h"
#include "test-suite/unit/tap.h"

static struct ev *ev;
static char dir[64];

/* fp - path of a file in the temp dir ("system" and NULL pass through);
 * eight rotating buffers so a config can hold several at once */
static const char *fp(const char *name)
{
    static char buf[8][128];
    static int i;

    if (name == NULL || strcmp(name, "system") == 0)
        return name;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

/* ---- certificates --------------------------------------------------------- */

#define GEN_SCRIPT \
    "set -e; cd %s\n" \
    "R='openssl req -newkey rsa:2048 -nodes -days 1'\n" \
    "E='openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n" \
    "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical," \
    "keyCertSign,cRLSign\\n' > ca.ext\n" \
    "printf 'subjectAltName=DNS:localhost,DNS:mx.test.example," \
    "IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n" \
    "extendedKeyUsage=serverAuth,clientAuth\\n' > leaf.ext\n" \
    "$R -x509 -subj /CN=tern-test-root -keyout ca.key -out ca.pem " \
    "-addext basicConstraints=critical,CA:TRUE " \
    "-addext keyUsage=critical,keyCertSign,cRLSign\n" \
    "$R -subj /CN=localhost -keyout srv.key -out srv.csr\n" \
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 2 " \
    "-days 1 -extfile leaf.ext -out srv.pem\n" \
    "$E -subj /CN=tern-test-inter -keyout inter.key -out inter.csr\n" \
    "openssl x509 -req -in inter.csr -CA ca.pem -CAkey ca.key -set_serial 3 " \
    "-days 1 -extfile ca.ext -out inter.pem\n" \
    "$E -subj /CN=localhost -keyout leaf2.key -out leaf2.csr\n" \
    "openssl x509 -req -in leaf2.csr -CA inter.pem -CAkey inter.key " \
    "-set_serial 4 -days 1 -extfile leaf.ext -out leaf2.pem\n" \
    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 " \
    "-out other.key\n" \
    "openssl pkey -in srv.key -aes128 -passout pass:secret -out enc.key\n" \
    "cat srv.pem srv.key > both.pem\n" \
    "echo 'this is not PEM' > garbage.pem\n" \
    ""

/* make_certs - run GEN_SCRIPT in a fresh temp dir; 0 or -1 */
static int make_certs(void)
{
    char script[sizeof(GEN_SCRIPT) + 64], cmd[sizeof(script) + 128];

    snprintf(dir, sizeof(dir), "/tmp/tern-tls-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(script, sizeof(script), GEN_SCRIPT, dir);
    snprintf(cmd, sizeof(cmd), "( %s ) >%s/gen.log 2>&1", script, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void rm_certs(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

/* ---- contexts ------------------------------------------------------------- */

static struct tls_ctx *server_ctx(const char *cert, const char *key,
                                  const char *chain)
{
    struct tls_config cfg = { .certificate = fp(cert), .privatekey = fp(key),
                              .chain = fp(chain) };
    struct errbuf eb;
    struct tls_ctx *ctx = tls_server_ctx_new(&cfg, &eb);

    if (ctx == NULL)
        printf("# server ctx: %s\n", eb.msg);
    return ctx;
}

static struct tls_ctx *client_ctx(const struct tls_config *cfg)
{
    struct errbuf eb;
    struct tls_ctx *ctx = tls_client_ctx_new(cfg, &eb);

    if (ctx == NULL)
        printf("# client ctx: %s\n", eb.msg);
    return ctx;
}

static const struct ctx_case {
    const char *name;
    int client;
    const char *cert, *key, *chain, *ciphers, *suites, *min, *max, *ca;
    int verify;
    const char *want1, *want2;  /* substrings of the error; NULL: success */
} ctx_cases[] = {
    { "server ok", 0, "srv.pem", "srv.key", 0, 0, 0, 0, 0, 0, 0, 0, 0 },
    { "key inside the certificate file", 0, "both.pem", 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0 },
    { "server with chain and min TLSv1.3", 0, "leaf2.pem", "leaf2.key",
      "inter.pem", 0, 0, "TLSv1.3", 0, 0, 0, 0, 0 },
    { "no certificate", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      "no certificate", 0 },
    { "missing certificate", 0, "missing.pem", "srv.key", 0, 0, 0, 0, 0, 0,
      0, "cannot read certificate", "missing.pem: No such file" },
    { "missing key", 0, "srv.pem", "nokey.pem", 0, 0, 0, 0, 0, 0, 0,
      "cannot read private key", "nokey.pem" },
    { "garbage certificate", 0, "garbage.pem", "srv.key", 0, 0, 0, 0, 0, 0,
      0, "cannot load certificate", "garbage.pem" },
    { "garbage chain", 0, "srv.pem", "srv.key", "garbage.pem", 0, 0, 0, 0,
      0, 0, "cannot load chain", "garbage.pem" },
    { "key does not match certificate", 0, "srv.pem", "other.key", 0, 0, 0,
      0, 0, 0, 0, "does not match certificate", "other.key" },
    { "encrypted key refused, no prompt", 0, "srv.pem", "enc.key", 0, 0, 0,
      0, 0, 0, 0, "cannot load private key", "enc.key" },
    { "bad cipher list", 0, "srv.pem", "srv.key", 0, "NOPE:NOTHING", 0, 0,
      0, 0, 0, "bad ciphers \"NOPE:NOTHING\"", 0 },
    { "bad ciphersuites", 0, "srv.pem", "srv.key", 0, 0, "TLS_FOO_BAR", 0,
      0, 0, 0, "bad ciphersuites \"TLS_FOO_BAR\"", 0 },
    { "bad min_protocol", 0, "srv.pem", "srv.key", 0, 0, 0, "TLSv9", 0, 0,
      0, "unknown min_protocol \"TLSv9\"", 0 },
    { "bad max_protocol", 1, 0, 0, 0, 0, 0, 0, "SSLv3", 0, 0,
      "unknown max_protocol \"SSLv3\"", 0 },
    { "max below min", 1, 0, 0, 0, 0, 0, "TLSv1.3", "TLSv1.2", 0, 0,
      "below min_protocol", 0 },
    { "client ok, system CAs", 1, 0, 0, 0, 0, 0, 0, 0, "system", 1, 0, 0 },
    { "client ok, CA file", 1, 0, 0, 0, 0, 0, 0, 0, "ca.pem", 1, 0, 0 },
    { "client ok, CA dir", 1, 0, 0, 0, 0, 0, 0, 0, ".", 1, 0, 0 },
    { "client missing CA file", 1, 0, 0, 0, 0, 0, 0, 0, "noca.pem", 1,
      "cannot read ca_file", "noca.pem" },
    { "client garbage CA file", 1, 0, 0, 0, 0, 0, 0, 0, "garbage.pem", 1,
      "cannot load ca_file", "garbage.pem" },
    { "client with certificate", 1, "srv.pem", "srv.key", 0, 0, 0, 0, 0,
      "ca.pem", 1, 0, 0 },
};

static void run_ctx_case(const struct ctx_case *k)
{
    struct tls_config cfg = {
        .certificate = fp(k->cert), .privatekey = fp(k->key),
        .chain = fp(k->chain), .ciphers = k->ciphers,
        .ciphersuites = k->suites, .min_protocol = k->min,
        .max_protocol = k->max, .ca_file = k->ca ? fp(k->ca) : NULL,
        .verify_peer = k->verify,
    };
    struct errbuf eb;
    struct tls_ctx *ctx;

    if (k->ca != NULL && strcmp(k->ca, ".") == 0)
        cfg.ca_file = dir;
    errbuf_clear(&eb);
    ctx = k->client ? tls_client_ctx_new(&cfg, &eb)
                    : tls_server_ctx_new(&cfg, &eb);
    if (k->want1 == NULL) {
        if (!ok(ctx != NULL, "ctx: %s", k->name))
            printf("#   %s\n", eb.msg);
    } else {
        ok(ctx == NULL && strstr(eb.msg, k->want1) != NULL
           && (k->want2 == NULL || strstr(eb.msg, k->want2) != NULL),
           "ctx: %s: %s", k->name, eb.msg);
    }
    tls_ctx_free(ctx);
}

static void free_null_ctx(void)
{
    tls_ctx_free(NULL);
}

static void test_ctx_errors(void)
{
    for (size_t i = 0; i < sizeof(ctx_cases) / sizeof(ctx_cases[0]); i++)
        run_ctx_case(&ctx_cases[i]);
    ok(survives(free_null_ctx), "tls_ctx_free(NULL) returns");
}

/* ---- driving a pair ------------------------------------------------------- */

struct end {
    struct tls_conn *c;
    int fd;
    int state;              /* 0 running, 1 handshake done, -1 failed */
};

static void hs_cb(int fd, unsigned events, void *arg);

/* hs_step - one handshake call, then wait for what it asked for */
static void hs_step(struct end *e)
{
    enum tls_io st = tls_handshake(e->c);

    if (st == TLS_WANT_READ || st == TLS_WANT_WRITE) {
        ev_io_set(ev, e->fd, st == TLS_WANT_READ ? EV_READ : EV_WRITE, hs_cb,
                  e);
        return;
    }
    ev_io_del(ev, e->fd);
    e->state = st == TLS_OK ? 1 : -1;
}

static void hs_cb(int fd, unsigned events, void *arg)
{
    (void)fd, (void)events;
    hs_step(arg);
}

/* run_handshake - drive both ends on the loop; 1 when both finished */
static int run_handshake(struct end *s, struct end *c)
{
    hs_step(c);
    hs_step(s);
    for (int i = 0; i < 400 && (s->state == 0 || c->state == 0); i++)
        if (ev_run_once(ev, 50) == 0 && (s->state < 0 || c->state < 0))
            break;
    ev_io_del(ev, s->fd);
    ev_io_del(ev, c->fd);
    return s->state == 1 && c->state == 1;
}

/* pair_new - a non-blocking socketpair with TLS on both ends */
static int pair_new(struct end *s, struct end *c, struct tls_ctx *sctx,
                    struct tls_ctx *cctx, const char *sni)
{
    int sv[2];

    memset(s, 0, sizeof(*s));
    memset(c, 0, sizeof(*c));
    s->fd = c->fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0)
        return -1;
    s->fd = sv[0];
    c->fd = sv[1];
    s->c = tls_conn_new(sctx, s->fd, 1, NULL);
    c->c = tls_conn_new(cctx, c->fd, 0, sni);
    return s->c != NULL && c->c != NULL ? 0 : -1;
}

static void end_close(struct end *e)
{
    if (e->fd >= 0) {
        ev_io_del(ev, e->fd);
        close(e->fd);
    }
    e->fd = -1;
}

static void pair_free(struct end *s, struct end *c)
{
    tls_conn_free(s->c);
    tls_conn_free(c->c);
    end_close(s);
    end_close(c);
}

/* handshake - a fresh pair between sctx and cctx, handshake done or not */
static int handshake(struct end *s, struct end *c, struct tls_ctx *sctx,
                     struct tls_ctx *cctx, const char *sni,
                     const char *verify_name)
{
    if (pair_new(s, c, sctx, cctx, sni) < 0)
        return 0;
    if (verify_name != NULL && tls_verify_name(c->c, verify_name) < 0)
        return 0;
    return run_handshake(s, c);
}

/* ---- handshake and cipher names ------------------------------------------- */

static const struct cipher_case {
    const char *name;
    const char *ciphers, *suites, *max;
    const char *want;
} cipher_cases[] = {
    { "TLS 1.3 default", 0, 0, 0, "TLS1.3:TLS_AES_256_GCM_SHA384:256" },
    { "TLS 1.3 AES-128", 0, "TLS_AES_128_GCM_SHA256", 0,
      "TLS1.3:TLS_AES_128_GCM_SHA256:128" },
    { "TLS 1.3 ChaCha20", 0, "TLS_CHACHA20_POLY1305_SHA256", 0,
      "TLS1.3:TLS_CHACHA20_POLY1305_SHA256:256" },
    { "TLS 1.2 AES-256", "ECDHE-RSA-AES256-GCM-SHA384", 0, "TLSv1.2",
      "TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256" },
    { "TLS 1.2 AES-128", "ECDHE-RSA-AES128-GCM-SHA256", 0, "TLSv1.2",
      "TLS1.2:ECDHE-RSA-AES128-GCM-SHA256:128" },
};

static void run_cipher_case(struct tls_ctx *sctx, const struct cipher_case *k)
{
    struct tls_config cfg = { .ciphers = k->ciphers, .ciphersuites = k->suites,
                              .max_protocol = k->max, .ca_file = fp("ca.pem") };
    struct tls_ctx *cctx = client_ctx(&cfg);
    struct end s, c;
    char name[128];

    if (!ok(handshake(&s, &c, sctx, cctx, NULL, NULL), "%s: handshake",
            k->name))
        printf("#   server: %s\n#   client: %s\n", tls_error(s.c),
               tls_error(c.c));
    snprintf(name, sizeof(name), "%s: server X=", k->name);
    is_str(tls_cipher(s.c), k->want, name);
    snprintf(name, sizeof(name), "%s: client X=", k->name);
    is_str(tls_cipher(c.c), k->want, name);
    pair_free(&s, &c);
    tls_ctx_free(cctx);
}

static void test_handshake(struct tls_ctx *sctx)
{
    struct tls_config cfg = { .ca_file = fp("ca.pem") };
    struct tls_ctx *cctx = client_ctx(&cfg);
    struct end s, c;

    ok(pair_new(&s, &c, sctx, cctx, "mx.test.example") == 0, "pair created");
    is_str(tls_cipher(s.c), "", "no cipher before the handshake");
    is_str(tls_error(s.c), "", "no error before the handshake");
    ok(tls_conn_new(cctx, s.fd, 1, NULL) == NULL,
       "a server connection on a client context is refused");
    ok(run_handshake(&s, &c), "handshake on the event loop");
    is_str(tls_sni(s.c), "mx.test.example", "server sees the client's SNI");
    ok(tls_peer_verified(c.c), "client: server certificate verified by CA "
       "file (no name check asked)");
    ok(!tls_peer_verified(s.c), "server: no client certificate");
    is_int(tls_handshake(s.c), TLS_OK, "handshake again after done: TLS_OK");
    pair_free(&s, &c);
    ok(handshake(&s, &c, sctx, cctx, "127.0.0.1", NULL),
       "an IP literal as sni: handshake works");
    ok(tls_sni(s.c) == NULL, "an IP literal is not sent as SNI");
    pair_free(&s, &c);
    tls_ctx_free(cctx);
    for (size_t i = 0; i < sizeof(cipher_cases) / sizeof(cipher_cases[0]); i++)
        run_cipher_case(sctx, &cipher_cases[i]);
}

/* ---- bulk data ------------------------------------------------------------ */

#define BIG (1024 * 1024)
static unsigned char big[BIG];

struct xfer {
    struct end *w, *r;
    size_t len, chunk, off, rcvd;
    int wants;              /* TLS_WANT_* seen by the writer */
    int bad;
};

static void xw_cb(int fd, unsigned events, void *arg);
static void xr_cb(int fd, unsigned events, void *arg);

/* xw_cb - write chunk-sized pieces until the socket pushes back */
static void xw_cb(int fd, unsigned events, void *arg)
{
    struct xfer *x = arg;
    enum tls_io st = TLS_OK;
    size_t done, n;

    (void)fd, (void)events;
    while (x->off < x->len && st == TLS_OK) {
        n = x->len - x->off < x->chunk ? x->len - x->off : x->chunk;
        st = tls_write(x->w->c, big + x->off, n, &done);
        x->off += done;
        if (st == TLS_OK && done != n)
            x->bad = 1;
    }
    if (st == TLS_WANT_WRITE || st == TLS_WANT_READ) {
        x->wants++;
        ev_io_set(ev, x->w->fd, st == TLS_WANT_WRITE ? EV_WRITE : EV_READ,
                  xw_cb, x);
        return;
    }
    if (st != TLS_OK) {
        printf("# writer: %s\n", tls_error(x->w->c));
        x->bad = 1;
    }
    ev_io_del(ev, x->w->fd);
}

/* xr_cb - read everything there is and compare it with the pattern */
static void xr_cb(int fd, unsigned events, void *arg)
{
    struct xfer *x = arg;
    unsigned char buf[5000];
    enum tls_io st;
    size_t got;

    (void)events;
    while ((st = tls_read(x->r->c, buf, sizeof(buf), &got)) == TLS_OK) {
        if (x->rcvd + got > x->len || memcmp(buf, big + x->rcvd, got) != 0)
            x->bad = 1;
        x->rcvd += got;
    }
    if (st == TLS_WANT_READ || st == TLS_WANT_WRITE) {
        ev_io_set(ev, fd, st == TLS_WANT_READ ? EV_READ : EV_WRITE, xr_cb, x);
        return;
    }
    printf("# reader: %s\n", tls_error(x->r->c));
    x->bad = 1;
    ev_io_del(ev, fd);
}

static void small_buffers(int fd)
{
    int size = 8192;

    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) != 0
        || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) != 0)
        printf("# setsockopt: %s\n", strerror(errno));
}

/* transfer - send len bytes of big from w to r in chunk-sized writes */
static void transfer(struct end *w, struct end *r, size_t len, size_t chunk,
                     const char *name)
{
    struct xfer x = { .w = w, .r = r, .len = len, .chunk = chunk };

    xw_cb(w->fd, 0, &x);
    ev_io_set(ev, r->fd, EV_READ, xr_cb, &x);
    for (int i = 0; i < 100000 && !x.bad && x.rcvd < len; i++)
        if (ev_run_once(ev, 1000) == 0)
            break;
    ev_io_del(ev, w->fd);
    ev_io_del(ev, r->fd);
    ok(!x.bad && x.off == len && x.rcvd == len, "%s: %zu bytes in %zu-byte "
       "writes arrive intact (%zu sent, %zu received)", name, len, chunk,
       x.off, x.rcvd);
    ok(x.wants > 0, "%s: the writer saw TLS_WANT_* %d times", name, x.wants);
}

static void test_bulk(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct end s, c;

    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 131 + (i >> 12));
    ok(handshake(&s, &c, sctx, cctx, NULL, NULL), "bulk: handshake");
    small_buffers(s.fd);
    small_buffers(c.fd);
    transfer(&c, &s, BIG, 65536, "client to server");
    transfer(&s, &c, BIG, 100000, "server to client");
    transfer(&c, &s, BIG, BIG, "client to server, one call");
    pair_free(&s, &c);
}

/* test_pending - a record read in small pieces stays inside OpenSSL */
static void test_pending(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct end s, c;
    char buf[64];
    size_t done, got, total = 10;

    ok(handshake(&s, &c, sctx, cctx, NULL, NULL), "pending: handshake");
    is_int(tls_write(c.c, big, 3000, &done), TLS_OK, "3000 bytes written");
    is_int(done, 3000, "done counts them");
    is_int(tls_read(s.c, buf, 10, &got), TLS_OK, "read 10 of them");
    ok(got == 10 && memcmp(buf, big, 10) == 0, "the first 10 bytes");
    ok(tls_pending(s.c), "tls_pending: the rest waits inside OpenSSL");
    while (tls_pending(s.c) && tls_read(s.c, buf, sizeof(buf), &got) == TLS_OK
           && memcmp(buf, big + total, got) == 0)
        total += got;
    is_int(total, 3000, "draining by tls_pending gives all 3000 bytes");
    ok(!tls_pending(s.c), "nothing pending afterwards");
    is_int(tls_read(s.c, buf, sizeof(buf), &got), TLS_WANT_READ,
           "then TLS_WANT_READ");
    is_int(tls_read(s.c, buf, 0, &got), TLS_OK, "a 0-byte read is TLS_OK");
    is_int(tls_write(s.c, buf, 0, &done), TLS_OK, "a 0-byte write is TLS_OK");
    pair_free(&s, &c);
}

/* ---- verification --------------------------------------------------------- */

static const struct verify_case {
    const char *name;
    const char *cert, *key, *chain;     /* the server's */
    const char *ca;                     /* the client's */
    int verify;
    const char *vname;                  /* tls_verify_name, NULL: none */
    int want_ok, want_verified;
    const char *want_err;               /* in the client's error */
} verify_cases[] = {
    { "name localhost", "srv.pem", "srv.key", 0, "ca.pem", 1, "localhost",
      1, 1, 0 },
    { "second DNS name", "srv.pem", "srv.key", 0, "ca.pem", 1,
      "mx.test.example", 1, 1, 0 },
    { "IP address SAN", "srv.pem", "srv.key", 0, "ca.pem", 1, "127.0.0.1",
      1, 1, 0 },
    { "wrong name", "srv.pem", "srv.key", 0, "ca.pem", 1, "wrong.example",
      0, 0, "certificate verify failed (hostname mismatch)" },
    { "partial wildcard-ish name", "srv.pem", "srv.key", 0, "ca.pem", 1,
      "x.localhost", 0, 0, "hostname mismatch" },
    { "wrong IP", "srv.pem", "srv.key", 0, "ca.pem", 1, "127.0.0.2", 0, 0,
      "IP address mismatch" },
    { "wrong name, verify_peer off", "srv.pem", "srv.key", 0, "ca.pem", 0,
      "wrong.example", 1, 0, 0 },
    { "without our CA (system store)", "srv.pem", "srv.key", 0, "system", 1,
      "localhost", 0, 0, "unable to get local issuer certificate" },
    { "without our CA, verify_peer off", "srv.pem", "srv.key", 0, "system",
      0, "localhost", 1, 0, 0 },
    { "chain file sent", "leaf2.pem", "leaf2.key", "inter.pem", "ca.pem", 1,
      "localhost", 1, 1, 0 },
    { "chain missing", "leaf2.pem", "leaf2.key", 0, "ca.pem", 1,
      "localhost", 0, 0, "unable to get local issuer certificate" },
};

static void run_verify_case(const struct verify_case *k)
{
    struct tls_config cfg = { .ca_file = fp(k->ca), .verify_peer = k->verify };
    struct tls_ctx *sctx = server_ctx(k->cert, k->key, k->chain);
    struct tls_ctx *cctx = client_ctx(&cfg);
    struct end s, c;
    int hs = handshake(&s, &c, sctx, cctx, "localhost", k->vname);

    if (!ok(hs == k->want_ok, "verify %s: handshake %s", k->name,
            k->want_ok ? "succeeds" : "fails"))
        printf("#   client: %s\n", c.c ? tls_error(c.c) : "(no conn)");
    is_int(c.c && tls_peer_verified(c.c), k->want_verified,
           k->want_verified ? "  peer verified" : "  peer not verified");
    if (k->want_err != NULL && !ok(c.c && strstr(tls_error(c.c), k->want_err),
                                   "  client error names the cause"))
        printf("#   got \"%s\"\n", c.c ? tls_error(c.c) : "");
    if (!k->want_ok)
        ok(s.state == -1 && tls_error(s.c)[0] != '\0',
           "  server fails too: %s", tls_error(s.c));
    pair_free(&s, &c);
    tls_ctx_free(sctx);
    tls_ctx_free(cctx);
}

/* test_client_certs - a server with verify_peer asks, never requires */
static void test_client_certs(void)
{
    struct tls_config scfg = { .certificate = fp("srv.pem"),
                               .privatekey = fp("srv.key"),
                               .ca_file = fp("ca.pem"), .verify_peer = 1 };
    struct tls_config with = { .certificate = fp("leaf2.pem"),
                               .privatekey = fp("leaf2.key"),
                               .chain = fp("inter.pem"),
                               .ca_file = fp("ca.pem") };
    struct tls_config without = { .ca_file = fp("ca.pem") };
    struct errbuf eb;
    struct tls_ctx *sctx = tls_server_ctx_new(&scfg, &eb);
    struct tls_ctx *c1 = client_ctx(&with), *c2 = client_ctx(&without);
    struct end s, c;

    ok(handshake(&s, &c, sctx, c1, NULL, NULL), "client cert: handshake");
    ok(tls_peer_verified(s.c), "client cert: server verified it (via chain)");
    pair_free(&s, &c);
    ok(handshake(&s, &c, sctx, c2, NULL, NULL), "no client cert: handshake");
    ok(!tls_peer_verified(s.c), "no client cert: not verified");
    pair_free(&s, &c);
    tls_ctx_free(sctx);
    tls_ctx_free(c1);
    tls_ctx_free(c2);
}

static void test_verify(void)
{
    for (size_t i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++)
        run_verify_case(&verify_cases[i]);
    test_client_certs();
}

/* ---- protocol floors ------------------------------------------------------ */

static const struct proto_case {
    const char *name;
    const char *smin, *smax, *cmin, *cmax;
    int want_ok;
    const char *want_x;     /* prefix of tls_cipher */
    const char *want_serr;  /* in the server's error */
} proto_cases[] = {
    { "min TLSv1.3 refuses a TLSv1.2-only client", "TLSv1.3", 0, 0,
      "TLSv1.2", 0, 0, "unsupported protocol" },
    { "default min accepts TLSv1.2", 0, 0, 0, "TLSv1.2", 1, "TLS1.2:", 0 },
    { "TLSv1.2-only server vs TLSv1.3-only client", 0, "TLSv1.2", "TLSv1.3",
      0, 0, 0, "unsupported protocol" },
    { "default min refuses a TLSv1.1-only client", 0, 0, "TLSv1", "TLSv1.1",
      0, 0, 0 },
};

static void run_proto_case(const struct proto_case *k)
{
    struct tls_config scfg = { .certificate = fp("srv.pem"),
                               .privatekey = fp("srv.key"),
                               .min_protocol = k->smin,
                               .max_protocol = k->smax };
    struct tls_config ccfg = { .min_protocol = k->cmin,
                               .max_protocol = k->cmax };
    struct errbuf eb;
    struct tls_ctx *sctx = tls_server_ctx_new(&scfg, &eb);
    struct tls_ctx *cctx = client_ctx(&ccfg);
    struct end s, c;
    int hs = handshake(&s, &c, sctx, cctx, NULL, NULL);

    ok(hs == k->want_ok, "%s (server: \"%s\")", k->name,
       s.c ? tls_error(s.c) : "");
    if (k->want_x != NULL)
        ok(strncmp(tls_cipher(s.c), k->want_x, strlen(k->want_x)) == 0,
           "  X=%s", tls_cipher(s.c));
    if (k->want_serr != NULL)
        ok(strstr(tls_error(s.c), k->want_serr) != NULL,
           "  server error says why");
    pair_free(&s, &c);
    tls_ctx_free(sctx);
    tls_ctx_free(cctx);
}

static void test_protocols(void)
{
    for (size_t i = 0; i < sizeof(proto_cases) / sizeof(proto_cases[0]); i++)
        run_proto_case(&proto_cases[i]);
}

/* ---- shutdown and EOF ----------------------------------------------------- */

static void test_clean_shutdown(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct end s, c;
    char buf[16];
    size_t got;

    ok(handshake(&s, &c, sctx, cctx, NULL, NULL), "shutdown: handshake");
    is_int(tls_shutdown(c.c), TLS_OK, "client sends close_notify");
    is_int(tls_shutdown(c.c), TLS_OK, "a second tls_shutdown is harmless");
    is_int(tls_read(s.c, buf, sizeof(buf), &got), TLS_CLOSED,
           "server reads TLS_CLOSED");
    is_str(tls_error(s.c), "", "  a clean close has no error text");
    is_int(tls_shutdown(s.c), TLS_OK, "server answers with close_notify");
    is_int(tls_read(c.c, buf, sizeof(buf), &got), TLS_CLOSED,
           "client reads TLS_CLOSED");
    pair_free(&s, &c);
}

static void test_unclean_close(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct end s, c;
    char buf[16];
    size_t got, done;

    ok(handshake(&s, &c, sctx, cctx, NULL, NULL), "EOF: handshake");
    end_close(&c);
    is_int(tls_read(s.c, buf, sizeof(buf), &got), TLS_CLOSED,
           "a bare EOF after the handshake reads as TLS_CLOSED");
    is_str(tls_error(s.c), "read: connection closed without close_notify",
           "  and tls_error says it was not clean");
    is_int(tls_shutdown(s.c), TLS_ERROR, "  no close_notify after that");
    pair_free(&s, &c);

    ok(handshake(&s, &c, sctx, cctx, NULL, NULL), "EPIPE: handshake");
    end_close(&c);
    is_int(tls_write(s.c, big, 100, &done), TLS_ERROR,
           "writing to a closed peer: TLS_ERROR (SIGPIPE ignored)");
    ok(strstr(tls_error(s.c), "Broken pipe") != NULL, "  \"%s\"",
       tls_error(s.c));
    pair_free(&s, &c);
}

static void test_handshake_eof(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct end s, c;

    ok(pair_new(&s, &c, sctx, cctx, NULL) == 0, "EOF in handshake: pair");
    is_int(tls_shutdown(s.c), TLS_OK, "tls_shutdown before the handshake: "
           "nothing to close");
    is_int(tls_handshake(s.c), TLS_WANT_READ, "server waits for ClientHello");
    end_close(&c);
    is_int(tls_handshake(s.c), TLS_ERROR, "EOF during the handshake: "
           "TLS_ERROR");
    ok(strstr(tls_error(s.c), "handshake: ") == tls_error(s.c)
       && strlen(tls_error(s.c)) > 11, "  \"%s\"", tls_error(s.c));
    pair_free(&s, &c);
}

/* ---- STARTTLS -------------------------------------------------------------- */

/* plain_exchange - what a session does before STARTTLS: the client
 * pipelines a command after STARTTLS, the server reads both (and will throw
 * the rest away), answers 220 */
static int plain_exchange(struct end *s, struct end *c)
{
    static const char cmds[] = "STARTTLS\r\nMAIL FROM:<evil@example>\r\n";
    char buf[128];
    ssize_t n;

    if (write(c->fd, cmds, sizeof(cmds) - 1) != (ssize_t)sizeof(cmds) - 1)
        return 0;
    n = read(s->fd, buf, sizeof(buf));
    if (n != (ssize_t)sizeof(cmds) - 1)
        return 0;
    if (write(s->fd, "220 2.0.0 Ready to start TLS\r\n", 30) != 30)
        return 0;
    return read(c->fd, buf, sizeof(buf)) == 30;
}

static void test_starttls(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct end s, c;
    char buf[64];
    size_t got, done;

    ok(pair_new(&s, &c, sctx, cctx, NULL) == 0, "STARTTLS: pair");
    ok(plain_exchange(&s, &c), "plain STARTTLS + pipelined MAIL, 220 reply");
    ok(run_handshake(&s, &c), "handshake on the same fds after plain text");
    tls_write(c.c, "EHLO client\r\n", 13, &done);
    is_int(tls_read(s.c, buf, sizeof(buf), &got), TLS_OK, "server reads");
    ok(got == 13 && memcmp(buf, "EHLO client\r\n", 13) == 0,
       "  only what was sent inside TLS, not the pipelined MAIL");
    pair_free(&s, &c);
}

/* test_conn_new_reads_nothing - bytes left in the kernel stay there until
 * the handshake, which then (rightly) fails on them */
static void test_conn_new_reads_nothing(struct tls_ctx *sctx)
{
    static const char plain[] = "NOOP\r\nQUIT\r\n";
    struct end s = { .fd = -1 }, c = { .fd = -1 };
    int sv[2];
    char buf[64];

    if (!ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0, sv) == 0, "fresh socketpair"))
        return;
    s.fd = sv[0];
    c.fd = sv[1];
    ok(write(c.fd, plain, sizeof(plain) - 1) == sizeof(plain) - 1,
       "client sends plain text instead of a ClientHello");
    s.c = tls_conn_new(sctx, s.fd, 1, NULL);
    ok(s.c != NULL, "tls_conn_new on the fresh fd");
    is_int(recv(s.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT),
           sizeof(plain) - 1, "  it consumed nothing from the fd");
    is_int(tls_handshake(s.c), TLS_ERROR, "  the handshake then fails on "
           "the plain text");
    ok(tls_error(s.c)[0] != '\0', "  \"%s\"", tls_error(s.c));
    pair_free(&s, &c);
}

/* ---- TCP on 127.0.0.1 (implicit TLS, as on port 465) ---------------------- */

/* tcp_pair - a connected non-blocking TCP pair on loopback; 0 or -1 */
static int tcp_pair(int *sfd, int *cfd)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r = -1;

    *sfd = *cfd = -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || listen(l, 1) != 0
        || getsockname(l, (struct sockaddr *)&sa, &len) != 0)
        goto out;
    *cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*cfd < 0 || (connect(*cfd, (struct sockaddr *)&sa, sizeof(sa)) != 0
                     && errno != EINPROGRESS))
        goto out;
    *sfd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    r = *sfd < 0 ? -1 : 0;
out:
    if (l >= 0)
        close(l);
    return r;
}

static void test_tcp(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    struct end s = { .fd = -1 }, c = { .fd = -1 };
    char buf[64];
    size_t got, done;

    if (!ok(tcp_pair(&s.fd, &c.fd) == 0, "TCP pair on 127.0.0.1")) {
        pair_free(&s, &c);
        return;
    }
    s.c = tls_conn_new(sctx, s.fd, 1, NULL);
    c.c = tls_conn_new(cctx, c.fd, 0, "localhost");
    ok(tls_verify_name(c.c, "localhost") == 0, "tls_verify_name");
    ok(run_handshake(&s, &c), "TCP: implicit TLS handshake");
    ok(tls_peer_verified(c.c), "TCP: server verified");
    is_int(tls_write(s.c, "220 ready\r\n", 11, &done), TLS_OK,
           "TCP: server greets");
    for (int i = 0; i < 100 && tls_read(c.c, buf, sizeof(buf), &got)
                               == TLS_WANT_READ; i++)
        ev_run_once(ev, 10);
    ok(got == 11 && memcmp(buf, "220 ready\r\n", 11) == 0,
       "TCP: client reads the greeting");
    pair_free(&s, &c);
}

/* ---- memory per idle connection ------------------------------------------- */

enum { NCONN = 200 };

/* handshake_direct - both ends in turn, no loop: socketpairs never stall */
static int handshake_direct(struct end *s, struct end *c)
{
    char buf[8];
    size_t got;

    for (int i = 0; i < 100; i++) {
        enum tls_io a = tls_handshake(c->c), b = tls_handshake(s->c);
        if (a == TLS_OK && b == TLS_OK)
            /* idle as a session waiting for a command: a read that blocks */
            return tls_read(s->c, buf, sizeof(buf), &got) == TLS_WANT_READ
                   && tls_read(c->c, buf, sizeof(buf), &got) == TLS_WANT_READ;
        if (a == TLS_ERROR || b == TLS_ERROR)
            return 0;
    }
    return 0;
}

static void test_memory(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
    static struct end s[NCONN], c[NCONN];
    struct mallinfo2 m0, m1, m2;
    int good = 0;

    m0 = mallinfo2();
    for (int i = 0; i < NCONN; i++)
        if (pair_new(&s[i], &c[i], sctx, cctx, NULL) == 0
            && handshake_direct(&s[i], &c[i]))
            good++;
    m1 = mallinfo2();
    for (int i = 0; i < NCONN; i++) {
        tls_conn_free(c[i].c);
        c[i].c = NULL;
    }
    m2 = mallinfo2();
    is_int(good, NCONN, "memory: 200 connections established");
    long server = ((long)m2.uordblks - (long)m0.uordblks) / NCONN;
    long client = ((long)m1.uordblks - (long)m2.uordblks) / NCONN;
    printf("# idle established TLS connection: server side %ld bytes, "
           "client side %ld bytes (mallinfo2, %d connections)\n", server,
           client, NCONN);
    if (m1.uordblks == m0.uordblks)
        ok(1, "memory per server connection # SKIP mallinfo2 not "
           "available (sanitizer allocator)");
    else
        ok(server > 0 && server < 20 * 1024, "memory per idle server "
           "connection < 20 KiB (%ld bytes)", server);
    for (int i = 0; i < NCONN; i++)
        pair_free(&s[i], &c[i]);
}

/* ---- main ------------------------------------------------------------------ */

static void run_all(void)
{
    struct tls_config ccfg = { .ca_file = fp("ca.pem") };
    struct tls_ctx *sctx = server_ctx("srv.pem", "srv.key", NULL);
    struct tls_ctx *cctx = client_ctx(&ccfg);

    test_ctx_errors();
    if (!ok(sctx != NULL && cctx != NULL, "contexts for the I/O tests"))
        return;
    test_handshake(sctx);
    test_bulk(sctx, cctx);
    test_pending(sctx, cctx);
    test_verify();
    test_protocols();
    test_clean_shutdown(sctx, cctx);
    test_unclean_close(sctx, cctx);
    test_handshake_eof(sctx, cctx);
    test_starttls(sctx, cctx);
    test_conn_new_reads_nothing(sctx);
    test_tcp(sctx, cctx);
    test_memory(sctx, cctx);
    tls_ctx_free(sctx);
    tls_ctx_free(cctx);
}

int main(void)
{
    if (system("openssl version >/dev/null 2>&1") != 0) {
        printf("1..0 # SKIP openssl binary not found\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (make_certs() < 0) {
        printf("Bail out! cannot make test certificates (see %s/gen.log)\n",
               dir);
        return 1;
    }
    ev = ev_new();
    run_all();
    ev_free(ev);
    rm_certs();
    return done_testing();
}
