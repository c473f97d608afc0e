/*
 * lmtp_io.h - a blocking LMTP/SMTP client connection with timeouts, for
 *             the lmtp transport (it runs in a delivery child process).
 *
 * INTERFACE: lmtp_connect_unix, lmtp_connect_inet, lmtp_close,
 *            lmtp_cmd (a command line), lmtp_put (raw bytes, buffered),
 *            lmtp_put_stuffed (message bytes, dot-stuffed), lmtp_flush,
 *            lmtp_read_reply, lmtp_errtype, lmtp_errmsg.
 * ERRORS: every call returns -1 on failure and leaves a retry error type
 *         ("refused", "timeout", "lost_connection", "protocol") and a
 *         one-line reason in the connection; connects fill an errbuf and
 *         *errtype instead. After a failure the connection is unusable.
 * SECURITY: replies are hostile input: a line is at most LMTP_LINE_MAX
 *           bytes, a reply at most LMTP_REPLY_LINES lines, each must start
 *           with three digits; the text kept is cut at LMTP_TEXT_MAX.
 */
#ifndef TERN_LMTP_IO_H
#define TERN_LMTP_IO_H

#include <stddef.h>

#include "core/base/errbuf.h"

#define LMTP_LINE_MAX 2048
#define LMTP_REPLY_LINES 100
#define LMTP_TEXT_MAX 1024

/* capabilities seen in a reply's lines (LHLO) */
#define LMTP_CAP_PIPELINING 0x1u
#define LMTP_CAP_8BITMIME   0x2u
#define LMTP_CAP_SMTPUTF8   0x4u

struct lmtp_reply {
    int code;                   /* 100..599 */
    char text[LMTP_TEXT_MAX];   /* "250 2.1.5 Ok", continuation lines
                                   appended after a space */
    unsigned caps;              /* LMTP_CAP_* of the lines after the first */
};

struct lmtp_conn;

/* lmtp_connect_unix - connect to a unix stream socket */
struct lmtp_conn *lmtp_connect_unix(const char *path, long timeout,
                                    const char **errtype, struct errbuf *eb);
/* lmtp_connect_inet - connect to host:port (name or address), trying each
 * address in turn */
struct lmtp_conn *lmtp_connect_inet(const char *host, int port, long timeout,
                                    const char **errtype, struct errbuf *eb);
/* lmtp_close - close and free (NULL ok) */
void lmtp_close(struct lmtp_conn *c);

/* lmtp_cmd - buffer one command line (CRLF added; a line holding CR or LF
 * is refused); sent at the next lmtp_flush or lmtp_read_reply */
int lmtp_cmd(struct lmtp_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* lmtp_put - buffer raw bytes (flushed when the buffer fills) */
int lmtp_put(struct lmtp_conn *c, const void *p, size_t n);
/* lmtp_put_stuffed - buffer message bytes, doubling a dot at the start of
 * a line; *bol says whether p starts a line and is updated */
int lmtp_put_stuffed(struct lmtp_conn *c, const char *p, size_t n, int *bol);
/* lmtp_flush - send everything buffered */
int lmtp_flush(struct lmtp_conn *c);
/* lmtp_read_reply - flush, then read one (multi-line) reply */
int lmtp_read_reply(struct lmtp_conn *c, struct lmtp_reply *r);

const char *lmtp_errtype(const struct lmtp_conn *c);
const char *lmtp_errmsg(const struct lmtp_conn *c);

#endif
