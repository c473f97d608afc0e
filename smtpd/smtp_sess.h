/*
 * smtp_sess.h - private to the SMTP server files (smtp_*.c): the session
 *               and the server a worker runs.
 *
 * A session owns: a small input buffer (commands; DATA bytes pass through
 * it in chunks), an output buffer (replies are batched while pipelined
 * commands remain, flushed when input runs dry), the transaction
 * (sender, recipients, message buffer) and at most one asynchronous
 * operation at a time (an ACL check, a spool commit, a TLS handshake, an
 * AUTH delay), during which no further input is interpreted.
 */
#ifndef TERN_SMTP_SESS_H
#define TERN_SMTP_SESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/strbuf.h"
#include "core/conf/policy.h"
#include "smtpd/smtp_in.h"
#include "smtpd/smtp_parse.h"

#define SESS_IN_MAX 8192        /* input buffer: commands, DATA chunks */

enum sess_state {
    SS_START,       /* connect ACL running */
    SS_CMD,         /* reading commands */
    SS_DATA,        /* reading DATA until CRLF.CRLF */
    SS_BDAT,        /* reading a BDAT chunk */
    SS_AUTH,        /* reading SASL responses */
    SS_CLOSING,     /* flushing the last reply, then close */
    SS_NSTATES      /* not a state: sizes the name table in smtp_io.c */
};

struct smtp_server {
    struct smtp_server_opts o;
    struct sess *sessions;      /* all open sessions (drain walks them) */
    unsigned nsessions;
    int draining;
    size_t buffered;            /* message bytes held by all sessions */
    uint64_t next_id;           /* session ids, for stale callbacks */
    struct notifier *notifier;  /* to the scheduler (NULL: fake) */
};

struct sess_txn {
    char *sender;               /* NULL: no MAIL yet; "" null sender */
    size_t nrcpt, cap;
    char **rcpts;
    long size_hint;             /* SIZE= */
    int body_8bit;
    int smtputf8;
    struct strbuf msg;          /* the message as received */
    struct strbuf added;        /* headers added by ACLs */
    struct acl_vars vars;       /* acl_m_* */
    struct acl_vars rates;      /* ratelimit: this message's rates */
    int discard;                /* an ACL said discard */
    size_t discarded;           /* recipients discarded by the rcpt ACL */
    int queue_only;
    int freeze;                 /* control = freeze */
    int submission;
    unsigned long long bdat_left;   /* bytes of the current chunk */
    int bdat_last;
    int bdat_failed;            /* a chunk error: refuse until RSET */
    int bdat_skip;              /* dropping a chunk refused for no EHLO */
    struct mime_list *mime;     /* parts for the mime ACL */
    size_t mime_next;           /* the part being checked + 1 */
};

struct sess {
    struct smtp_server *srv;
    struct sess *next, *prev;   /* the server's list */
    uint64_t id;
    int fd_in, fd_out;          /* the same socket, or stdin/stdout */
    struct tls_conn *tls;
    enum sess_state state;
    int busy;                   /* an asynchronous step is running */
    int committing;             /* a spool commit will call back */
    int closed;                 /* the connection is gone */
    char in[SESS_IN_MAX];
    size_t in_len;
    struct strbuf out;
    struct ev_timer *timer;     /* command / data timeout */
    uint64_t timeout_at;        /* ev_now_ms() when the timeout is due */
    uint64_t timer_due;         /* when s->timer fires (<= timeout_at) */
    struct ev_timer *delay;     /* ACL delay, AUTH failure delay */
    struct acl_check *acl;      /* running ACL check */
    struct route_verify *verify;    /* running VRFY verification */
    /* the client */
    char ip[64];
    int port;
    int local_port;
    char *name;                 /* verified reverse name, or NULL */
    char *helo;
    int esmtp;
    char *auth_id;
    char auth_mech[16];         /* "plain", "login" */
    char last_cmd[64];          /* the latest command line, cut, for Exim's
                                 * "(last command was ...)" log suffix */
    int auth_failures;
    int quit_seen;              /* QUIT was received */
    int skip_line;              /* dropping the rest of an overlong line */
    int handshaking;            /* a TLS handshake owns the fd */
    int eof;                    /* the client sent everything it will */
    unsigned watching;          /* events registered with ev, -1 unknown */
    int bad_commands;
    int unknown_commands;
    struct acl_vars conn_vars;  /* acl_c_* */
    struct acl_vars conn_rates; /* ratelimit: this connection's rates */
    struct data_parser dp;
    struct sess_txn txn;
    void *sasl;                 /* SASL exchange in progress */
    struct rejlog *rejlog;      /* rejection lines logged (smtp_rejlog.c) */
    void *pending;              /* what an async step will act on */
    int pending_esmtp;          /* the HELO ACL is checking an EHLO */
    /* SMTP synchronization (smtp_sync.c) */
    int sync;                   /* checks enforced for this session */
    int sync_net;               /* a network session (not -bs, -bh) */
    int pipelining;             /* PIPELINING was advertised (last EHLO) */
    int no_pipelining;          /* control = no_pipelining seen */
    size_t in_next;             /* s->in offset after the current line */
};

/* smtp_io.c */
/* smtpin_set_state - every state change goes through here (traced with
 * -dsmtp as "smtp: [ip]:port state OLD -> NEW"; tests match that text) */
void smtpin_set_state(struct sess *s, enum sess_state st);
void sess_reply(struct sess *s, int code, const char *status,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void sess_reply_multi(struct sess *s, int code, const char *status,
                      const char *text);
void sess_flush(struct sess *s);
void sess_close(struct sess *s, const char *why);
void sess_resume(struct sess *s);
/* sess_note - tell the watchdog (watchdog.h) that s is being served */
void sess_note(const struct sess *s);
int sess_commit_done(struct sess *s);
void sess_arm_timeout(struct sess *s);
const char *sess_host_text(const struct sess *s, struct strbuf *sb);
/* sess_host_ident - the same without "H=": "name (helo) [ip]:port", as
 * Exim's host_and_ident writes it in "authenticator failed for ..." */
const char *sess_host_ident(const struct sess *s, struct strbuf *sb);

/* smtp_cmd.c */
void sess_command_line(struct sess *s, const char *line, size_t len);
void sess_reset_txn(struct sess *s);
void sess_greet(struct sess *s);
void sess_set_greeting(struct sess *s, char *helo, int esmtp);

/* smtp_msg.c */
void sess_data_start(struct sess *s);
size_t sess_data_input(struct sess *s, const char *p, size_t n);
void sess_bdat_start(struct sess *s, const struct smtp_cmd *cmd);
size_t sess_bdat_input(struct sess *s, const char *p, size_t n);
void sess_bdat_skip(struct sess *s, const struct smtp_cmd *cmd);

/* smtp_rejlog.c */
int sess_reject_log(struct sess *s, const char *key, const char *line);
int sess_reject_logf(struct sess *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sess_reject_summary(struct sess *s);
void sess_rejlog_free(struct sess *s);

/* smtp_sync.c */
void sess_sync_init(struct sess *s);
void sess_sync_control(struct sess *s, int control, int no_pipelining);
void sess_banner(struct sess *s);
int sess_sync_command(struct sess *s, const struct smtp_cmd *cmd,
                      const char *line, size_t len);
int sess_sync_recheck(struct sess *s, enum smtp_verb verb, const char *arg);
int sess_sync_bdat(struct sess *s, const char *next, size_t n);
int sess_pipelining_offer(struct sess *s);

/* smtp_auth.c */
void sess_auth_start(struct sess *s, const struct smtp_cmd *cmd);
void sess_auth_line(struct sess *s, const char *line, size_t len);
int sess_auth_advertise(const struct sess *s);

/* smtp_acl.c */
void sess_acl(struct sess *s, const char *hook, const char *rcpt,
              void (*then)(struct sess *s, const struct acl_result *r));
int sess_acl_refused(struct sess *s, const struct acl_result *r,
                     int dflt_code, const char *what);
void sess_notquit(struct sess *s, const char *why);

#endif
