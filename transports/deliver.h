/*
 * deliver.h - one delivery attempt: a batch of recipients of one message
 *             handed to one transport (DESIGN §6), and its results.
 *
 * The scheduler routes a message's pending recipients, groups the accepted
 * ones by (transport, host list, uid), fills a dlv_batch per group and
 * hands it to the transport:
 *   - local drivers (maildir, mbox, pipe, lmtp) get deliver_local() in a
 *     child process that already runs as b->uid/b->gid; they may block
 *     (with their own timeouts) and must set every recipient's status
 *     before returning. A child delivers a group of batches, then calls
 *     the driver's local_group_end(): with b->group_sync set, a driver
 *     may report DLV_OK for copies it has written but not yet synced, as
 *     long as local_group_end makes them durable (or turns them into
 *     deferrals) - results reach the scheduler only after it;
 *   - remote drivers (smtp) get deliver_remote() on the scheduler's event
 *     loop; they must not block, and call done(b, arg) exactly once, from
 *     the loop and never inside deliver_remote, when every recipient has a
 *     status.
 * The scheduler then journals, logs (=> -> ** ==), updates the retry
 * database from b->hostres and bounces failures.
 *
 * Message data in b->msg->data has CRLF line ends and is not dot-stuffed;
 * local transports write LF line ends, SMTP/LMTP dot-stuff on the wire.
 *
 * INTERFACE: the structs below, dlv_set (a recipient's result), dlv_body
 *            (headers to write: the transport's headers_add/remove and
 *            the Return-path/Envelope-to/Delivery-date additions).
 */
#ifndef TERN_DELIVER_H
#define TERN_DELIVER_H

#include <stddef.h>
#include <sys/types.h>

#include "core/conf/driver.h"

struct spool_msg;
struct strbuf;
struct ev;

enum dlv_status { DLV_PENDING, DLV_OK, DLV_DEFER, DLV_FAIL };

#define DLV_MSG_MAX 1024        /* a reply or reason, one line, cut */
#define DLV_ERR_MAX 32          /* a retry error type */

/* One recipient of a batch. Inputs are set by the scheduler; the
 * transport sets status, code, msg, errtype and host. */
struct dlv_rcpt {
    const char *address;        /* final address (after redirection) */
    const char *top;            /* the envelope recipient it came from */
    const char *local_part;     /* unquoted, affixes removed */
    const char *domain;
    const char *prefix;         /* local part affixes the router removed */
    const char *suffix;
    const char *home;           /* "" if none */
    const char *address_data;   /* "" if none */
    enum child_kind kind;       /* CHILD_PIPE / CHILD_FILE: text is set */
    const char *text;           /* "|command" or "/path" */
    const struct router *router;

    enum dlv_status status;
    int code;                   /* SMTP/LMTP reply code, 0 if none */
    char msg[DLV_MSG_MAX];      /* remote reply ("550 5.1.1 unknown") or
                                   the reason ("Permission denied: ...");
                                   for pipes, may end with their output */
    char errtype[DLV_ERR_MAX];  /* retry error type for a defer: "timeout",
                                   "refused", "rcpt_4xx", "mail_451",
                                   "quota", "lost_connection"... ("" = "*") */
    int host;                   /* index in b->hosts it was settled at,
                                   -1 for none (local, or never connected) */
};

/* What happened at one host during a remote attempt, in the order tried;
 * the scheduler turns these into host retry records. */
struct dlv_hostres {
    int host;                   /* index in b->hosts */
    enum dlv_status status;     /* DLV_OK: the host answered (even if some
                                   recipients were refused); DLV_DEFER: the
                                   host failed (connect, timeout, 4xx at
                                   connect/HELO/MAIL, TLS required...) */
    char msg[DLV_MSG_MAX];
    char errtype[DLV_ERR_MAX];
};

#define DLV_MAX_HOSTRES 64

struct dlv_batch {
    struct conf *conf;
    struct transport *tp;
    const struct spool_msg *msg;    /* envelope and data */
    const char *return_path;        /* MAIL FROM / Return-path ("" = <>) */
    size_t nrcpt;
    struct dlv_rcpt *rcpts;
    /* remote: the hosts in the order the router gave them */
    size_t nhosts;
    const struct route_host *hosts;
    const unsigned char *host_skip; /* nhosts flags: in a retry wait, do
                                       not connect (NULL: none skipped) */
    size_t nhostres;                /* at most DLV_MAX_HOSTRES */
    struct dlv_hostres *hostres;    /* malloc'ed by the transport as hosts
                                       are tried (a local batch has none:
                                       a batch stays small to allocate);
                                       the batch's owner frees it */
    char tls_cipher[128];           /* of the connection that delivered */
    int default_port;               /* the port of hosts with port 0 */
    /* local: the identity the child runs as (already switched to) */
    uid_t uid;
    gid_t gid;
    int group_sync;                 /* local: the driver may leave its
                                       fsyncs to local_group_end(), called
                                       before any result is reported */
    void *priv;                     /* the scheduler's */
};

typedef void (*dlv_done_fn)(struct dlv_batch *b, void *arg);

/* dlv_set - settle one recipient: status, code (0 if none) and a
 * printf-style one-line message (CR, LF and other controls become
 * spaces; cut at DLV_MSG_MAX). errtype may be NULL. */
void dlv_set(struct dlv_rcpt *r, enum dlv_status st, int code,
             const char *errtype, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* dlv_set_all - the same result for every recipient still DLV_PENDING */
void dlv_set_all(struct dlv_batch *b, enum dlv_status st, int code,
                 const char *errtype, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* dlv_host_port - the port host i of b is reached on: its own
 * ("host::587"), else the transport's (b->default_port), else 25 */
int dlv_host_port(const struct dlv_batch *b, size_t i);

/* dlv_headers - the header section a transport writes for recipient r
 * (r == NULL: a multi-recipient copy, no Envelope-to per address):
 * Return-path (return_path_add), Envelope-to (envelope_to_add, the
 * batch's tops), Delivery-date (delivery_date_add), headers_add, then
 * the message's own headers minus headers_remove. CRLF line ends.
 * *body is set to the offset in b->msg->data where the body starts
 * (after the blank line, which the caller writes itself). */
void dlv_headers(const struct dlv_batch *b, const struct dlv_rcpt *r,
                 struct strbuf *out, size_t *body);

/* dlv_xvars - the expansion variables of recipient r (for options such
 * as a maildir directory "$home/Maildir"); strings are borrowed from b
 * and r */
struct xvars;
void dlv_xvars(const struct dlv_batch *b, const struct dlv_rcpt *r,
               struct xvars *v);

#endif
