/*
 * smtp.c - the smtp transport: options and their load-time checks.
 *
 * PURPOSE: remote delivery by SMTP to the hosts a router chose (DESIGN §6).
 * Options: port, hosts_require_tls, hosts_avoid_tls, tls_verify_hosts,
 * tls_verify_certificates (CA file), tls_sni, hosts_require_auth,
 * auth_credentials (lookup spec "lsearch;FILE" keyed by host name, value
 * "user:password"), connect_timeout, command_timeout, data_timeout,
 * max_rcpt, connection_max_messages, connection_max_per_host (open
 * connections to one IP; the total is the main option remote_max_parallel),
 * helo_data.
 * The delivery itself: smtp_client.c (hosts, session), smtp_client_txn.c
 * (transactions), smtp_conn.c (I/O), smtp_conn_cache.c (reuse, limits).
 */
#include <stddef.h>

#include "core/lookup/lookup.h"
#include "transports/smtp_client.h"
#include "transports/transport.h"


#define O(n) offsetof(struct smtp_opts, n)

static const struct opt_spec smtp_opts[] = {
    { "port", OPT_INT, O(port), "25", 0, NULL },
    { "hosts_require_tls", OPT_MLIST, O(hosts_require_tls), NULL, ML_HOST,
      NULL },
    { "hosts_avoid_tls", OPT_MLIST, O(hosts_avoid_tls), NULL, ML_HOST, NULL },
    { "tls_verify_hosts", OPT_MLIST, O(tls_verify_hosts), NULL, ML_HOST,
      NULL },
    { "tls_verify_certificates", OPT_STR, O(tls_verify_certificates),
      "system", 0, NULL },
    { "tls_sni", OPT_STR, O(tls_sni), NULL, 0, NULL },
    { "hosts_require_auth", OPT_MLIST, O(hosts_require_auth), NULL, ML_HOST,
      NULL },
    { "auth_credentials", OPT_STR, O(auth_credentials), NULL, 0, NULL },
    { "connect_timeout", OPT_TIME, O(connect_timeout), "5m", 0, NULL },
    { "command_timeout", OPT_TIME, O(command_timeout), "5m", 0, NULL },
    { "data_timeout", OPT_TIME, O(data_timeout), "5m", 0, NULL },
    { "max_rcpt", OPT_INT, O(max_rcpt), "100", 0, NULL },
    { "connection_max_messages", OPT_INT, O(connection_max_messages), "500",
      0, NULL },
    { "connection_max_per_host", OPT_INT, O(connection_max_per_host), "5",
      0, NULL },
    { "helo_data", OPT_XVAL, O(helo_data), "$primary_hostname", 0, NULL },
    OPT_END
};

static int smtp_check(struct transport *t, struct conf *c, struct errbuf *eb)
{
    struct smtp_opts *o = t->priv;
    struct lookup_spec spec;

    (void)c;
    if (o->port < 1 || o->port > 65535) {
        errbuf_set(eb, "port %ld is out of range", o->port);
        return -1;
    }
    if (o->max_rcpt < 1) {
        errbuf_set(eb, "max_rcpt must be at least 1");
        return -1;
    }
    if (o->connection_max_messages < 1 || o->connection_max_per_host < 1) {
        errbuf_set(eb, "connection_max_messages and connection_max_per_host "
                   "must be at least 1");
        return -1;
    }
    if (o->auth_credentials != NULL) {
        if (lookup_spec_parse(o->auth_credentials, &spec, eb) != 0)
            return -1;
        lookup_spec_free(&spec);
    }
    return 0;
}

/* hosts without a port of their own ("host::port") get the transport's */
static int smtp_default_port(const struct transport *t)
{
    return (int)((const struct smtp_opts *)t->priv)->port;
}

const struct transport_driver tp_smtp = {
    .name = "smtp",
    .opts = smtp_opts,
    .opts_size = sizeof(struct smtp_opts),
    .local = 0,
    .check = smtp_check,
    .deliver_remote = smtp_deliver_remote,
    .flush = smtp_flush,
    .default_port = smtp_default_port,
};
