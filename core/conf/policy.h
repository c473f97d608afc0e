/*
 * policy.h - what the SMTP server asks of the ACL engine (acl/acl_run.c)
 *            without naming it: core declares, acl/ implements.
 *
 * An ACL check is asynchronous: conditions may wait for DNS (verify =
 * recipient runs the router chain, Lua conditions may call dns.*), for a
 * delay modifier, or for nothing; done() is always called later from the
 * event loop, never inside acl_check. A check can be cancelled when its
 * session closes; done() is then never called.
 *
 * INTERFACE: struct acl_req (what the session knows), acl_check,
 *            acl_cancel, enum acl_verdict.
 */
#ifndef TERN_POLICY_H
#define TERN_POLICY_H

#include <stddef.h>

struct conf;
struct ev;
struct dns_ctx;
struct strbuf;

enum acl_verdict {
    ACL_ACCEPT,         /* go on (also: no ACL, or "accept"/"warn" only) */
    ACL_DENY,           /* 5xx (or 550 by default) */
    ACL_DEFER,          /* 4xx (451 by default) */
    ACL_DISCARD,        /* accept, then throw the message/recipient away */
    ACL_DROP,           /* reply, then close the connection */
};

/* Variables a statement may set, kept with the session (acl_c_*) or the
 * message (acl_m_*). */
struct acl_vars {
    size_t n, cap;
    char **names;
    char **values;
};

struct acl_req {
    struct conf *conf;
    struct ev *ev;
    struct dns_ctx *dns;
    const char *hook;           /* "connect", "helo", "mail", "rcpt", ... */
    /* what the session knows */
    const char *client_ip;      /* "" for local submission */
    int client_port;
    const char *client_name;    /* verified reverse name, or NULL */
    const char *helo;
    const char *sender;         /* MAIL FROM ("" null sender) */
    const char *rcpt;           /* RCPT TO being checked */
    size_t nrcpts;
    const char *const *rcpts;   /* accepted so far (data ACLs: all) */
    const char *auth_id;        /* NULL unless authenticated */
    const char *tls_cipher;     /* NULL unless encrypted */
    const char *data;           /* data: the message; mime: the part */
    size_t data_len;
    const char *mime_content_type;  /* mime: the part's type/subtype */
    const char *mime_filename;      /* mime: its filename, or "" */
    struct acl_vars *conn_vars; /* acl_c_* */
    struct acl_vars *msg_vars;  /* acl_m_* */
    long long message_size;     /* SIZE= or, after DATA, the real size;
                                 * -1 unknown (ratelimit per_byte) */
    struct acl_vars *rate_conn; /* ratelimit: rates computed once per */
    struct acl_vars *rate_msg;  /* connection / message (NULL: none) */
    int trace;                  /* -bh: print each statement's result */
    int acl_depth;              /* nesting: acl.NAME() calls from Lua that
                                 * led to this request (a copy) */
    int submission;             /* out: control = submission seen */
    int queue_only;             /* out: control = queue_only seen */
    int freeze;                 /* out: control = freeze */
    int sync_control;           /* out: control = enforce_sync (1) or
                                 * no_enforce_sync (-1), the last one seen */
    int no_pipelining;          /* out: control = no_pipelining */
};

struct acl_result {
    enum acl_verdict verdict;
    int code;                   /* reply code to use, 0 = default; always
                                 * of the verdict's class (acl_code.c) */
    const char *status;         /* enhanced status to use, or NULL */
    int internal;               /* a local error (script, lookup, bad
                                 * code): 451 4.3.0 and a generic text */
    const char *message;        /* user-visible message or NULL; never
                                 * internal error text */
    const char *log_message;    /* for the logs, or NULL */
    struct strbuf *add_headers; /* "Name: value\r\n"..., owned by caller */
    const char *remove_headers; /* colon list, or NULL */
};

typedef void (*acl_done_fn)(const struct acl_result *res, void *arg);

struct acl_check;

/* acl_check - run the ACL of req->hook (or the built-in policy when none
 * is configured); done(res, arg) is called later from the loop */
struct acl_check *acl_check(struct acl_req *req, acl_done_fn done,
                            void *arg);
/* acl_cancel - the session is going away: never call done */
void acl_cancel(struct acl_check *chk);
void acl_vars_free(struct acl_vars *v);
/* acl_var_set - set or replace name (nlen bytes) in v (a copy is kept).
 * Conditions leave their results ($dnslist_domain, $spf_result, ...) in
 * the request's conn_vars or msg_vars under Exim's names, where $name
 * expansions and Lua's session.vars find them. */
void acl_var_set(struct acl_vars *v, const char *name, size_t nlen,
                 const char *value);
/* acl_var_get - the value of name (nlen bytes) in v (NULL ok), or NULL */
const char *acl_var_get(const struct acl_vars *v, const char *name,
                        size_t nlen);

#endif
