/*
 * lmtp.c - the lmtp transport: options and load-time checks.
 *
 * PURPOSE: deliver by LMTP to a unix socket or host:port (e.g. Dovecot),
 * with one reply per recipient after DATA (DESIGN §6).
 * Options: socket (a path) or host + port, timeout, batch_max.
 */
#include <stddef.h>

#include "transports/transport.h"

struct lmtp_opts {
    struct xval socket;
    const char *host;
    long port;
    long timeout;
    long batch_max;
};

#define O(n) offsetof(struct lmtp_opts, n)

static const struct opt_spec lmtp_opts[] = {
    { "socket", OPT_XVAL, O(socket), NULL, 0, NULL },
    { "host", OPT_STR, O(host), NULL, 0, NULL },
    { "port", OPT_INT, O(port), "24", 0, NULL },
    { "timeout", OPT_TIME, O(timeout), "5m", 0, NULL },
    { "batch_max", OPT_INT, O(batch_max), "100", 0, NULL },
    OPT_END
};

static int lmtp_check(struct transport *t, struct conf *c, struct errbuf *eb)
{
    struct lmtp_opts *o = t->priv;

    (void)c;
    if (xval_set(&o->socket) == (o->host != NULL)) {
        errbuf_set(eb, "exactly one of socket and host is required");
        return -1;
    }
    if (o->port < 1 || o->port > 65535) {
        errbuf_set(eb, "port %ld is out of range", o->port);
        return -1;
    }
    return 0;
}

const struct transport_driver tp_lmtp = {
    .name = "lmtp",
    .opts = lmtp_opts,
    .opts_size = sizeof(struct lmtp_opts),
    .local = 1,
    .check = lmtp_check,
};
