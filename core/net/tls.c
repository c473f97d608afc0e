/*
 * tls.c - OpenSSL 3 contexts and non-blocking connections.
 *
 * PURPOSE:   TLS for the SMTP server (STARTTLS, implicit TLS) and client on
 *            sockets driven by the event loop; see tls.h for the contract.
 * INTERFACE: tls_server_ctx_new, tls_client_ctx_new, tls_ctx_free,
 *            tls_conn_new, tls_conn_free, tls_handshake, tls_read,
 *            tls_write, tls_pending, tls_shutdown, tls_error, tls_cipher,
 *            tls_sni, tls_verify_name, tls_peer_verified.
 * ERRORS:    context errors go to the errbuf as "tls: ..." naming the file
 *            or option; connection errors are TLS_ERROR plus a line in the
 *            connection's own buffer (tls_error).
 * SECURITY:  certificates, names and records come from the network. The
 *            OpenSSL error queue is cleared before each call so a stale
 *            error never decides a result. A key file with a passphrase is
 *            refused instead of prompting on the terminal. Renegotiation
 *            is refused (CPU exhaustion by clients).
 *
 * Memory: an idle connection is one SSL plus this file's small struct;
 * SSL_MODE_RELEASE_BUFFERS gives the 16 KiB record buffers back whenever
 * they are empty, and the session cache and tickets are off, so nothing
 * grows per connection after the handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/base/errbuf.h"
#include "core/base/xalloc.h"
#include "core/net/tls.h"

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    int server;
};

struct tls_conn {
    SSL *ssl;
    int failed;             /* a fatal error was seen: no close_notify */
    int up;                 /* the handshake had completed */
    char err[128];          /* tls_error() */
    char cipher[80];        /* tls_cipher(), filled once */
};

static const struct {
    const char *name;
    int version;
} protocols[] = {
    { "TLSv1", TLS1_VERSION },
    { "TLSv1.1", TLS1_1_VERSION },
    { "TLSv1.2", TLS1_2_VERSION },
    { "TLSv1.3", TLS1_3_VERSION },
};

/* ---- contexts ------------------------------------------------------------ */

/* ssl_reason - text of the newest queued OpenSSL error; clears the queue */
static void ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    if (r != NULL)
        snprintf(buf, size, "%s", r);
    else if (e != 0)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "unknown error");
    ERR_clear_error();
}

/* ctx_fail - "tls: cannot load WHAT PATH: reason"; returns -1 */
static int ctx_fail(struct errbuf *eb, const char *what, const char *path)
{
    char why[256];

    ssl_reason(why, sizeof(why));
    errbuf_set(eb, "tls: cannot load %s %s: %s", what, path, why);
    return -1;
}

/* file_check - -1 with a clear message unless path can be opened; the
 * OpenSSL loaders would only say "system library" */
static int file_check(struct errbuf *eb, const char *what, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        errbuf_set(eb, "tls: cannot read %s %s: %s", what, path,
                   strerror(errno));
        return -1;
    }
    if (close(fd) != 0) {
        errbuf_set(eb, "tls: close %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* no_passphrase_cb - refuse encrypted keys rather than read a terminal */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

/* load_chain - add every certificate of a PEM file to the chain sent */
static int load_chain(SSL_CTX *sc, const char *path, struct errbuf *eb)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x;
    int n = 0;

    if (b == NULL)
        return ctx_fail(eb, "chain", path);
    ERR_clear_error();
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(sc, x) != 1) {
            X509_free(x);
            goto fail;
        }
        n++;
    }
    /* the loop ends on "no start line" at EOF; anything else is damage */
    if (n == 0 || ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
        goto fail;
    ERR_clear_error();
    BIO_free(b);
    return 0;
fail:
    BIO_free(b);
    return ctx_fail(eb, "chain", path);
}

/* load_keypair - certificate (+ chain) and private key, checked to match */
static int load_keypair(SSL_CTX *sc, const struct tls_config *cfg,
                        struct errbuf *eb)
{
    const char *cert = cfg->certificate;
    const char *key = cfg->privatekey != NULL ? cfg->privatekey : cert;

    if (file_check(eb, "certificate", cert) < 0
        || file_check(eb, "private key", key) < 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(sc, cert) != 1)
        return ctx_fail(eb, "certificate", cert);
    if (cfg->chain != NULL && (file_check(eb, "chain", cfg->chain) < 0
                               || load_chain(sc, cfg->chain, eb) < 0))
        return -1;
    if (SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(eb, "private key", key);
    if (SSL_CTX_check_private_key(sc) != 1) {
        ERR_clear_error();
        errbuf_set(eb, "tls: private key %s does not match certificate %s",
                   key, cert);
        return -1;
    }
    return 0;
}

/* proto_version - map "TLSv1.2" to its version number; -1 if unknown */
static int proto_version(const char *opt, const char *name, int *version,
                         struct errbuf *eb)
{
    for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
        if (strcmp(name, protocols[i].name) == 0) {
            *version = protocols[i].version;
            return 0;
        }
    errbuf_set(eb, "tls: unknown %s \"%s\" (expected TLSv1, TLSv1.1, "
               "TLSv1.2 or TLSv1.3)", opt, name);
    return -1;
}

/* set_protocols - the minimum (default TLSv1.2) and optional maximum */
static int set_protocols(SSL_CTX *sc, const struct tls_config *cfg,
                         struct errbuf *eb)
{
    const char *min = cfg->min_protocol ? cfg->min_protocol : "TLSv1.2";
    int lo, hi = 0;

    if (proto_version("min_protocol", min, &lo, eb) < 0)
        return -1;
    if (cfg->max_protocol != NULL
        && proto_version("max_protocol", cfg->max_protocol, &hi, eb) < 0)
        return -1;
    if (hi != 0 && hi < lo) {
        errbuf_set(eb, "tls: max_protocol %s is below min_protocol %s",
                   cfg->max_protocol, min);
        return -1;
    }
    if (SSL_CTX_set_min_proto_version(sc, lo) != 1
        || SSL_CTX_set_max_proto_version(sc, hi) != 1) {
        ERR_clear_error();
        errbuf_set(eb, "tls: cannot set protocol range %s..%s", min,
                   cfg->max_protocol ? cfg->max_protocol : "");
        return -1;
    }
    return 0;
}

/* set_ciphers - TLS <= 1.2 cipher list and TLS 1.3 suites, if given */
static int set_ciphers(SSL_CTX *sc, const struct tls_config *cfg,
                       struct errbuf *eb)
{
    char why[256];

    if (cfg->ciphers != NULL && SSL_CTX_set_cipher_list(sc, cfg->ciphers) != 1) {
        ssl_reason(why, sizeof(why));
        errbuf_set(eb, "tls: bad ciphers \"%s\": %s", cfg->ciphers, why);
        return -1;
    }
    if (cfg->ciphersuites != NULL
        && SSL_CTX_set_ciphersuites(sc, cfg->ciphersuites) != 1) {
        ssl_reason(why, sizeof(why));
        errbuf_set(eb, "tls: bad ciphersuites \"%s\": %s", cfg->ciphersuites,
                   why);
        return -1;
    }
    return 0;
}

/* set_ca - trust ca_file (file or hashed directory) or the system store */
static int set_ca(SSL_CTX *sc, const char *ca, struct errbuf *eb)
{
    struct stat st;
    int r;

    if (ca == NULL || strcmp(ca, "system") == 0) {
        if (SSL_CTX_set_default_verify_paths(sc) == 1)
            return 0;
        return ctx_fail(eb, "ca_file", "(system default)");
    }
    if (file_check(eb, "ca_file", ca) < 0)
        return -1;
    if (stat(ca, &st) != 0) {
        errbuf_set(eb, "tls: cannot read ca_file %s: %s", ca, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        r = SSL_CTX_load_verify_dir(sc, ca);
    else
        r = SSL_CTX_load_verify_file(sc, ca);
    return r == 1 ? 0 : ctx_fail(eb, "ca_file", ca);
}

/* ctx_common - what servers and clients share; NULL with eb set */
static SSL_CTX *ctx_common(const SSL_METHOD *method,
                           const struct tls_config *cfg, struct errbuf *eb)
{
    SSL_CTX *sc;

    ERR_clear_error();
    sc = SSL_CTX_new(method);
    if (sc == NULL) {
        ctx_fail(eb, "context", "(SSL_CTX_new)");
        return NULL;
    }
    SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS
                     | SSL_MODE_ENABLE_PARTIAL_WRITE
                     | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                        | SSL_OP_NO_TICKET);
    /* read-ahead stays off: the handshake must read exactly its records */
    SSL_CTX_set_read_ahead(sc, 0);
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_default_passwd_cb(sc, no_passphrase_cb);
    if (set_protocols(sc, cfg, eb) < 0 || set_ciphers(sc, cfg, eb) < 0) {
        SSL_CTX_free(sc);
        return NULL;
    }
    return sc;
}

/* ctx_wrap - the public handle around a finished SSL_CTX */
static struct tls_ctx *ctx_wrap(SSL_CTX *sc, int server)
{
    struct tls_ctx *ctx = xmalloc(sizeof(*ctx));

    ctx->ssl_ctx = sc;
    ctx->server = server;
    return ctx;
}

/* server_verify - ask for client certificates and trust cfg->ca_file */
static int server_verify(SSL_CTX *sc, const struct tls_config *cfg,
                         struct errbuf *eb)
{
    static const unsigned char sid_ctx[] = "tern";

    if (!cfg->verify_peer)
        return 0;
    if (set_ca(sc, cfg->ca_file, eb) < 0)
        return -1;
    SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof(sid_ctx) - 1) != 1)
        return ctx_fail(eb, "session id context", "");
    return 0;
}

/* tls_server_ctx_new - a server context from cfg */
struct tls_ctx *tls_server_ctx_new(const struct tls_config *cfg,
                                   struct errbuf *eb)
{
    SSL_CTX *sc;

    if (cfg->certificate == NULL) {
        errbuf_set(eb, "tls: no certificate configured");
        return NULL;
    }
    sc = ctx_common(TLS_server_method(), cfg, eb);
    if (sc == NULL)
        return NULL;
    SSL_CTX_set_options(sc, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* no tickets in TLS 1.3 either: nothing resumes them */
    if (SSL_CTX_set_num_tickets(sc, 0) != 1
        || SSL_CTX_set_dh_auto(sc, 1) != 1) {
        ctx_fail(eb, "context", "(tickets/dh)");
        goto fail;
    }
    if (load_keypair(sc, cfg, eb) < 0 || server_verify(sc, cfg, eb) < 0)
        goto fail;
    return ctx_wrap(sc, 1);
fail:
    SSL_CTX_free(sc);
    return NULL;
}

/* tls_client_ctx_new - a client context from cfg */
struct tls_ctx *tls_client_ctx_new(const struct tls_config *cfg,
                                   struct errbuf *eb)
{
    SSL_CTX *sc = ctx_common(TLS_client_method(), cfg, eb);

    if (sc == NULL)
        return NULL;
    /* the store is loaded even without verify_peer so that
     * tls_peer_verified() can still tell a good certificate */
    if (set_ca(sc, cfg->ca_file, eb) < 0)
        goto fail;
    if (cfg->certificate != NULL && load_keypair(sc, cfg, eb) < 0)
        goto fail;
    SSL_CTX_set_verify(sc, cfg->verify_peer ? SSL_VERIFY_PEER
                                            : SSL_VERIFY_NONE, NULL);
    return ctx_wrap(sc, 0);
fail:
    SSL_CTX_free(sc);
    return NULL;
}

/* tls_ctx_free - drop our reference; live SSLs hold their own */
void tls_ctx_free(struct tls_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* ---- connections --------------------------------------------------------- */

/* is_ip_literal - RFC 6066: SNI carries host names, never addresses */
static int is_ip_literal(const char *name)
{
    unsigned char a[16];

    return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

/* tls_conn_new - bind a new SSL to fd; does no I/O (STARTTLS rule) */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, int server,
                              const char *sni)
{
    struct tls_conn *conn;
    SSL *ssl;

    if (!server != !ctx->server)
        return NULL;
    ERR_clear_error();
    ssl = SSL_new(ctx->ssl_ctx);
    if (ssl == NULL)
        goto fail;
    if (SSL_set_fd(ssl, fd) != 1)
        goto fail;
    if (!server && sni != NULL && !is_ip_literal(sni)
        && SSL_set_tlsext_host_name(ssl, sni) != 1)
        goto fail;
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    conn = xcalloc(1, sizeof(*conn));
    conn->ssl = ssl;
    return conn;
fail:
    ERR_clear_error();
    SSL_free(ssl);
    return NULL;
}

/* tls_conn_free - free the SSL; the fd is the caller's to close */
void tls_conn_free(struct tls_conn *conn)
{
    if (conn == NULL)
        return;
    SSL_free(conn->ssl);
    free(conn);
}

/* set_err - format the connection's error line */
static void set_err(struct tls_conn *conn, const char *op, const char *why,
                    const char *detail)
{
    snprintf(conn->err, sizeof(conn->err), "%s: %s%s%s%s", op, why,
             detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}

/* fail_syscall - SSL_ERROR_SYSCALL: errno, or an EOF OpenSSL saw as one */
static enum tls_io fail_syscall(struct tls_conn *conn, const char *op,
                                int saved_errno)
{
    conn->failed = 1;
    if (ERR_peek_error() != 0) {
        char why[96];
        ssl_reason(why, sizeof(why));
        set_err(conn, op, why, NULL);
    } else {
        set_err(conn, op, saved_errno ? strerror(saved_errno)
                                      : "unexpected EOF", NULL);
    }
    return TLS_ERROR;
}

/* fail_ssl - SSL_ERROR_SSL: a protocol failure, or a bare EOF */
static enum tls_io fail_ssl(struct tls_conn *conn, const char *op)
{
    unsigned long e = ERR_peek_last_error();
    long vr = SSL_get_verify_result(conn->ssl);
    char why[96];

    conn->failed = 1;
    /* SMTP frames its own data (QUIT, "."), so a peer that closes the
     * socket after the handshake has closed, not attacked, the session */
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && conn->up
        && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        set_err(conn, op, "connection closed without close_notify", NULL);
        return TLS_CLOSED;
    }
    ssl_reason(why, sizeof(why));
    set_err(conn, op, why, ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED
                           ? X509_verify_cert_error_string(vr) : NULL);
    return TLS_ERROR;
}

/* io_result - map a failed OpenSSL call (ret <= 0) to enum tls_io */
static enum tls_io io_result(struct tls_conn *conn, int ret, const char *op)
{
    int saved_errno = errno;

    switch (SSL_get_error(conn->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        return fail_syscall(conn, op, saved_errno);
    default:
        return fail_ssl(conn, op);
    }
}

/* begin_io - common preamble: clean error queue and message; note the
 * handshake state now, as a fatal error makes OpenSSL forget it */
static void begin_io(struct tls_conn *conn)
{
    ERR_clear_error();
    errno = 0;
    conn->err[0] = '\0';
    conn->up = SSL_is_init_finished(conn->ssl);
}

/* tls_handshake - one non-blocking step of the handshake */
enum tls_io tls_handshake(struct tls_conn *conn)
{
    int r;

    begin_io(conn);
    r = SSL_do_handshake(conn->ssl);
    return r == 1 ? TLS_OK : io_result(conn, r, "handshake");
}

/* tls_read - read what is available, at most n bytes */
enum tls_io tls_read(struct tls_conn *conn, void *buf, size_t n, size_t *got)
{
    *got = 0;
    if (n == 0)
        return TLS_OK;
    begin_io(conn);
    if (SSL_read_ex(conn->ssl, buf, n, got) == 1)
        return TLS_OK;
    *got = 0;
    return io_result(conn, 0, "read");
}

/* tls_write - write records until all n bytes are taken or the socket is
 * full (partial writes are on: each SSL_write_ex takes one record) */
enum tls_io tls_write(struct tls_conn *conn, const void *buf, size_t n,
                      size_t *done)
{
    const unsigned char *p = buf;
    size_t w;

    *done = 0;
    while (*done < n) {
        begin_io(conn);
        if (SSL_write_ex(conn->ssl, p + *done, n - *done, &w) != 1)
            return io_result(conn, 0, "write");
        *done += w;
    }
    return TLS_OK;
}

/* tls_pending - decrypted or undecrypted bytes held inside OpenSSL */
int tls_pending(const struct tls_conn *conn)
{
    return SSL_pending(conn->ssl) > 0 || SSL_has_pending(conn->ssl);
}

/* tls_shutdown - queue and flush our close_notify; never wait for theirs */
enum tls_io tls_shutdown(struct tls_conn *conn)
{
    int r;

    if (conn->failed)
        return TLS_ERROR;
    if (!SSL_is_init_finished(conn->ssl))
        return TLS_OK;
    begin_io(conn);
    r = SSL_shutdown(conn->ssl);
    if (r >= 0)
        return TLS_OK;
    switch (io_result(conn, r, "shutdown")) {
    case TLS_WANT_WRITE:
        return TLS_WANT_WRITE;
    case TLS_ERROR:
        return TLS_ERROR;
    default:        /* ours is out; theirs may come or not */
        return TLS_OK;
    }
}

/* tls_error - last failure text, "" if none */
const char *tls_error(const struct tls_conn *conn)
{
    return conn->err;
}

/* tls_cipher - Exim's X= field: version without "v", cipher, bits */
const char *tls_cipher(struct tls_conn *conn)
{
    const SSL_CIPHER *c;
    const char *ver;
    int n;

    if (conn->cipher[0] != '\0' || !SSL_is_init_finished(conn->ssl))
        return conn->cipher;
    c = SSL_get_current_cipher(conn->ssl);
    ver = SSL_get_version(conn->ssl);
    if (c == NULL || ver == NULL)
        return conn->cipher;
    if (strncmp(ver, "TLSv", 4) == 0)
        n = snprintf(conn->cipher, sizeof(conn->cipher), "TLS%s:%s:%d",
                     ver + 4, SSL_CIPHER_get_name(c),
                     SSL_CIPHER_get_bits(c, NULL));
    else
        n = snprintf(conn->cipher, sizeof(conn->cipher), "%s:%s:%d", ver,
                     SSL_CIPHER_get_name(c), SSL_CIPHER_get_bits(c, NULL));
    if (n < 0 || (size_t)n >= sizeof(conn->cipher))
        conn->cipher[0] = '\0';
    return conn->cipher;
}

/* tls_sni - the host name the client asked for (server side) */
const char *tls_sni(const struct tls_conn *conn)
{
    return SSL_get_servername(conn->ssl, TLSEXT_NAMETYPE_host_name);
}

/* tls_verify_name - make the certificate check also match hostname (a DNS
 * name, or an IP address against IP subjectAltNames) */
int tls_verify_name(struct tls_conn *conn, const char *hostname)
{
    X509_VERIFY_PARAM *vp = SSL_get0_param(conn->ssl);
    int r;

    begin_io(conn);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip_literal(hostname))
        r = X509_VERIFY_PARAM_set1_ip_asc(vp, hostname);
    else
        r = SSL_set1_host(conn->ssl, hostname);
    if (r == 1)
        return 0;
    ERR_clear_error();
    set_err(conn, "verify name", "cannot use host name", hostname);
    return -1;
}

/* tls_peer_verified - the peer's certificate verified (chain and name) */
int tls_peer_verified(const struct tls_conn *conn)
{
    return SSL_get0_peer_certificate(conn->ssl) != NULL
           && SSL_get_verify_result(conn->ssl) == X509_V_OK;
}
