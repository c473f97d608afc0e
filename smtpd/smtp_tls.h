/*
 * smtp_tls.h - private to the SMTP server: the session's TLS layer
 *              (smtp_tls.c) over core/net/tls.h.
 *
 * INTERFACE: sess_start_tls (STARTTLS or implicit TLS: handshake on the
 *            loop, then the session starts over), stls_read, stls_write
 *            (read/write semantics with errno EAGAIN), stls_free,
 *            stls_cipher (Exim's X= text, or NULL).
 */
#ifndef TERN_SMTP_TLS_H
#define TERN_SMTP_TLS_H

#include <sys/types.h>

struct sess;

ssize_t stls_read(struct sess *s, char *p, size_t n);
ssize_t stls_write(struct sess *s, const char *p, size_t n);
void stls_free(struct sess *s);
int stls_pending(const struct sess *s);
const char *stls_cipher(const struct sess *s);
int sess_start_tls(struct sess *s);

#endif
