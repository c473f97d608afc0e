/*
 * tls.h - TLS (OpenSSL 3) on non-blocking sockets driven by the event loop,
 *         for the SMTP server (STARTTLS, implicit TLS on 465) and client.
 *
 * INTERFACE: tls_server_ctx_new, tls_client_ctx_new, tls_ctx_free;
 *            tls_conn_new, tls_conn_free, tls_handshake, tls_read,
 *            tls_write, tls_pending, tls_shutdown, tls_error, tls_cipher,
 *            tls_sni, tls_verify_name, tls_peer_verified.
 * USE:       every I/O call returns at once. TLS_WANT_READ / TLS_WANT_WRITE
 *            say which readiness to wait for (ev_io_set) before calling the
 *            same function again; note that a read may need the fd to be
 *            writable and a write may need it readable (TLS 1.2
 *            renegotiation is refused, but the handshake and alerts mix both
 *            directions). After TLS_OK from tls_read, call tls_pending():
 *            decrypted bytes may wait inside OpenSSL, and epoll will not
 *            report them.
 * STARTTLS:  tls_conn_new does no I/O, and the handshake reads the fd one
 *            record at a time (no read-ahead). The TLS layer therefore sees
 *            only bytes that are still in the kernel when the handshake
 *            starts, never what the caller already read. The SMTP session
 *            must throw away whatever plain text it buffered after
 *            "STARTTLS" (pipelined commands injected before the handshake,
 *            CVE-2011-0411) and must not hand it to TLS or parse it later.
 *            Plain text still unread in the kernel reaches OpenSSL as a
 *            broken ClientHello and fails the handshake, which is right.
 *            The SMTP client likewise drops anything it buffered after
 *            the 220 reply to STARTTLS before calling tls_conn_new.
 * ERRORS:    the ctx constructors return NULL with a message naming the
 *            option or file in the errbuf. Connection calls return
 *            TLS_ERROR with a one-line reason in tls_error(); after
 *            TLS_ERROR only tls_error, tls_conn_free (and the accessors) may
 *            be called. The fd belongs to the caller: tls_conn_free never
 *            closes it. Writes use write(2): the process must ignore
 *            SIGPIPE (EPIPE then becomes TLS_ERROR).
 * SECURITY:  peer certificates and names are network input. With
 *            verify_peer a client fails the handshake on an unverifiable
 *            chain or (after tls_verify_name) a name mismatch; without it
 *            the handshake goes on and tls_peer_verified() tells.
 *            Renegotiation, compression and session resumption are off.
 */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stddef.h>

struct errbuf;
struct tls_ctx;
struct tls_conn;

/* every string is borrowed for the duration of the *_ctx_new call only */
struct tls_config {
    const char *certificate;    /* PEM: leaf, optionally followed by chain;
                                   required for a server, optional client
                                   certificate for a client */
    const char *privatekey;     /* PEM; NULL: the key is in certificate */
    const char *chain;          /* PEM intermediates, NULL: none */
    const char *ciphers;        /* TLS <= 1.2 list, NULL: OpenSSL default */
    const char *ciphersuites;   /* TLS 1.3 list, NULL: OpenSSL default */
    const char *min_protocol;   /* "TLSv1" "TLSv1.1" "TLSv1.2" "TLSv1.3";
                                   NULL: "TLSv1.2" */
    const char *max_protocol;   /* same names; NULL: no upper bound */
    const char *ca_file;        /* PEM file or hashed directory of trusted
                                   CAs; "system" or NULL: OpenSSL's default
                                   paths. A server reads it only with
                                   verify_peer */
    int verify_peer;            /* client: fail the handshake unless the
                                   server's chain (and name) verify; server:
                                   ask for a client certificate and fail on
                                   one that does not verify (none is ok) */
};

enum tls_io { TLS_OK, TLS_WANT_READ, TLS_WANT_WRITE, TLS_CLOSED, TLS_ERROR };

/* tls_server_ctx_new - a server context; NULL with eb set when a file is
 * unreadable or unparsable, the key does not match the certificate, or a
 * cipher list or protocol name is bad */
struct tls_ctx *tls_server_ctx_new(const struct tls_config *cfg,
                                   struct errbuf *eb);
/* tls_client_ctx_new - a client context verifying against cfg->ca_file */
struct tls_ctx *tls_client_ctx_new(const struct tls_config *cfg,
                                   struct errbuf *eb);
/* tls_ctx_free - release a context (NULL ok); its connections keep a
 * reference and may outlive it */
void tls_ctx_free(struct tls_ctx *ctx);

/* tls_conn_new - TLS over the connected non-blocking fd, server side when
 * server is non-zero; sni (client only, NULL: none, an IP literal is not
 * sent) names the server. No I/O happens here; see STARTTLS above. NULL
 * when OpenSSL cannot allocate, sni is over 255 bytes, or server does not
 * match the kind of ctx. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, int server,
                              const char *sni);
/* tls_conn_free - release the connection state (NULL ok); the fd stays open */
void tls_conn_free(struct tls_conn *conn);

/* tls_handshake - advance the handshake: TLS_OK once it is complete */
enum tls_io tls_handshake(struct tls_conn *conn);
/* tls_read - read up to n bytes; TLS_OK with *got > 0, TLS_CLOSED on the
 * peer's close_notify, or on a bare EOF after the handshake (then
 * tls_error() says "connection closed without close_notify") */
enum tls_io tls_read(struct tls_conn *conn, void *buf, size_t n, size_t *got);
/* tls_write - write n bytes; *done counts those accepted. TLS_OK means all
 * n. After TLS_WANT_*, call again with buf + *done and n - *done (the same
 * bytes, possibly from a moved buffer; never fewer) */
enum tls_io tls_write(struct tls_conn *conn, const void *buf, size_t n,
                      size_t *done);
/* tls_pending - non-zero when tls_read can return data without the fd
 * becoming readable */
int tls_pending(const struct tls_conn *conn);
/* tls_shutdown - send close_notify, best effort: TLS_OK when sent (or when
 * there is nothing to close), TLS_WANT_WRITE to retry, TLS_ERROR otherwise.
 * It does not wait for the peer's close_notify. */
enum tls_io tls_shutdown(struct tls_conn *conn);

/* tls_error - the reason for the last TLS_ERROR (or unclean TLS_CLOSED),
 * "" when there is none; valid until the next call on conn */
const char *tls_error(const struct tls_conn *conn);
/* tls_cipher - "TLS1.3:TLS_AES_256_GCM_SHA384:256", Exim's X= field;
 * "" before the handshake completes */
const char *tls_cipher(struct tls_conn *conn);
/* tls_sni - the server name the client sent (server side), or NULL */
const char *tls_sni(const struct tls_conn *conn);
/* tls_verify_name - client: require hostname (DNS name or IP address) in
 * the server's certificate; call before tls_handshake. 0, or -1 with
 * tls_error set when OpenSSL refuses the name (nothing else changes) */
int tls_verify_name(struct tls_conn *conn, const char *hostname);
/* tls_peer_verified - 1 when the peer presented a certificate whose chain
 * (and, after tls_verify_name, name) verified, else 0 */
int tls_peer_verified(const struct tls_conn *conn);

#endif
