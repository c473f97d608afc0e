/*
 * conf.h - the configuration model of one generation.
 *
 * The conf.d loader (conf_load.c) runs every Lua file of the configuration
 * root through the DSL (load/l_conf.c), which turns each main{}, router,
 * transport, list, acl and retry definition into the C structures below at
 * once, checking every option against typed option tables. Cross-references
 * (a router's transport) are resolved when all files are read.
 *
 * INTERFACE: conf_load, conf_free, conf_find_router/transport/list,
 *            conf_main (typed main options), the opt_spec machinery
 *            (opt_find, opt_set_default, opt_format) shared with the DSL
 *            and with -bP, xval (a string or a Lua function).
 * ERRORS:    conf_load returns NULL and puts "FILE:LINE: reason" in eb.
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stddef.h>

#include "core/base/errbuf.h"
#include "core/base/pool.h"

struct strbuf;
struct mlist;
struct lstate;
struct hash;
struct router;
struct transport;
struct lookup_spec;

/* Where a definition came from, for error messages and -bP config. */
struct origin {
    const char *file;       /* as read, e.g. "conf.d/router/200_x.lua" */
    int line;
};

/* A value that is either a string (with ${var} expansion) or a Lua
 * function called per address/session. Unset: str == NULL && fn < 0. */
struct xval {
    const char *str;
    int fn;                 /* Lua registry reference, or -1 */
};

struct strlist {
    size_t n;
    const char **v;
};

enum opt_type {
    OPT_STR,        /* const char * */
    OPT_BOOL,       /* int */
    OPT_INT,        /* long */
    OPT_TIME,       /* long, seconds: "90s", "15m", "2h", "4d", "1w", 30 */
    OPT_SIZE,       /* long, bytes: "10M", "512K", 1024 */
    OPT_XVAL,       /* struct xval: string or function */
    OPT_FUNC,       /* struct xval with fn only: a function is required */
    OPT_STRLIST,    /* struct strlist: Lua table or "a : b" string */
    OPT_MLIST,      /* struct mlist *: Exim match list (kind in spec) */
    OPT_ENUM,       /* const char *, one of spec->choices ("a|b|c") */
    OPT_MODE,       /* long, permission bits, always octal digits:
                       "0640", 0640 (a Lua number's digits are read as
                       octal, as chmod reads them); -bP prints 0640 */
};

/* list kinds, for OPT_MLIST and named lists */
enum mlist_kind { ML_DOMAIN, ML_HOST, ML_ADDRESS, ML_LOCALPART, ML_STRING };

struct opt_spec {
    const char *name;
    enum opt_type type;
    size_t offset;          /* into the struct the table describes */
    const char *dflt;       /* default as text (NULL: unset / 0) */
    int kind;               /* mlist kind for OPT_MLIST */
    const char *choices;    /* for OPT_ENUM: "defer|fail|pass" */
};

#define OPT_END { NULL, OPT_STR, 0, NULL, 0, NULL }

/* Main options: Exim's names (DESIGN §4). */
struct conf_main {
    const char *primary_hostname;
    const char *qualify_domain;
    const char *qualify_recipient;
    struct mlist *local_domains;
    struct mlist *relay_to_domains;
    struct mlist *relay_from_hosts;
    struct mlist *hosts_treat_as_local;
    const char *spool_directory;
    const char *log_file_path;
    const char *pid_file_path;
    struct strlist local_interfaces;
    struct strlist daemon_smtp_ports;
    struct strlist dns_servers;
    long dns_timeout;
    long dns_retry;
    long dns_answer_cache;      /* answers each resolver remembers */
    const char *spf_guess;          /* record for the spf_guess condition */
    const char *spf_smtp_comment_template;  /* a fail's default explanation */
    long lua_memory_limit;
    long lua_instruction_limit;
    long lua_time_limit;            /* seconds; each Lua run between yields */
    long redirect_max_depth;
    /* the SMTP server */
    long smtp_workers;
    const char *tern_user;
    const char *tern_group;
    long smtp_accept_max;
    long smtp_accept_max_per_host;
    long smtp_accept_max_per_minute_per_host;
    long smtp_receive_timeout;
    long smtp_data_timeout;
    long smtp_max_synprot_errors;
    long smtp_max_unknown_commands;
    long recipients_max;
    long smtp_reject_log_limit;     /* rejection lines per session and reason */
    long message_size_limit;
    long header_size_limit;
    long shutdown_timeout;
    long process_stall_limit;       /* a child stuck this long is killed */
    struct strlist tls_on_connect_ports;
    const char *tls_certificate;
    const char *tls_privatekey;
    const char *tls_chain;
    const char *tls_ciphers;
    const char *tls_min_protocol;
    struct mlist *tls_advertise_hosts;
    struct mlist *auth_advertise_hosts;
    const char *auth_passwords;
    struct xval auth_check;
    long auth_failure_max;
    struct mlist *smtp_vrfy_hosts;
    int smtp_enforce_sync;          /* early talkers, unadvertised pipelining */
    long smtp_banner_delay;         /* seconds before the 220 (pre-greet) */
    struct mlist *pipelining_advertise_hosts;
    int queue_only;
    /* delivery */
    long queue_run_max;             /* messages in delivery at once */
    long remote_max_parallel;       /* SMTP connections at once */
    long local_helper_max;          /* local delivery processes kept */
    long local_helper_idle;         /* seconds one is kept without work */
    long delay_warning;
    long ignore_bounce_errors_after;
    long timeout_frozen_after;
    long bounce_return_size_limit;
    /* greylisting (acl/acl_greylist.c), postgrey's defaults */
    long greylist_delay;
    long greylist_retry_window;
    long greylist_lifetime;
    long greylist_auto_whitelist;
    long greylist_netmask_v4;
    long greylist_netmask_v6;
};

/* A named list: domainlist, hostlist, addresslist, localpartlist. */
struct named_list {
    const char *name;
    enum mlist_kind kind;
    struct mlist *list;
    struct origin origin;
};

/* One ACL statement: verb plus conditions/modifiers (validated). */
struct acl_stmt {
    const char *verb;
    struct origin origin;
    void *fields;           /* acl/ owns the layout */
};

struct acl_def {
    const char *hook;       /* "connect", "rcpt", ... */
    struct origin origin;
    int fn;                 /* a plain Lua function in place of statements */
    size_t n;
    struct acl_stmt *stmts;
};

struct retry_rule {
    char type;              /* 'F' fixed, 'G' geometric, 'H' random */
    long until;             /* seconds since first failure */
    long interval;
    double factor;
};

struct retry_def {
    const char *pattern;    /* address/domain pattern, "*" */
    const char *error;      /* error type: "*", "timeout", "rcpt_4xx", ... */
    size_t n;
    struct retry_rule *rules;
    struct origin origin;
};

struct conf {
    struct pool *pool;              /* everything of this generation */
    const char *root;               /* the configuration directory, absolute */
    const char *root_given;         /* as given with -C: file names in
                                       messages are built from it */
    struct strlist files;           /* files read, in order */
    struct conf_main main;
    struct origin main_origin[128];  /* per main option, by spec index */
    struct hash *lists;             /* name -> struct named_list * */
    size_t nrouters;
    struct router **routers;        /* in definition order */
    size_t ntransports;
    struct transport **transports;
    size_t nacls;
    struct acl_def **acls;
    size_t nretry;
    struct retry_def *retry;
    struct lstate *lua;             /* the generation's Lua state */
    struct conf_cleanup *cleanups;  /* run by conf_free, newest first */
    struct lookup_spec *auth_table; /* auth_passwords, parsed at load */
};

/* conf_load - read the configuration root dir; NULL with eb on error */
struct conf *conf_load(const char *root, struct errbuf *eb);
/* conf_free - run the cleanup hooks, then release the generation */
void conf_free(struct conf *c);
/* conf_on_free - have conf_free call fn(arg): whoever attaches something
 * of a higher layer to the generation (its Lua state) frees it this way,
 * so the configuration model never names what it holds */
void conf_on_free(struct conf *c, void (*fn)(void *), void *arg);

struct router *conf_find_router(const struct conf *c, const char *name);
struct transport *conf_find_transport(const struct conf *c, const char *name);
struct named_list *conf_find_list(const struct conf *c, const char *name);
struct acl_def *conf_find_acl(const struct conf *c, const char *hook);
const struct opt_spec *conf_main_opts(void);

/* option-table helpers shared by the DSL, drivers and -bP */
const struct opt_spec *opt_find(const struct opt_spec *tbl, const char *name);
int opt_set_text(struct conf *c, const struct opt_spec *o, void *base,
                 const char *text, struct errbuf *eb);
int opt_defaults(struct conf *c, const struct opt_spec *tbl, void *base,
                 struct errbuf *eb);
void opt_format(const struct opt_spec *o, const void *base,
                struct strbuf *out);
int opt_is_set(const struct opt_spec *o, const void *base);
int conf_parse_time(const char *s, long *out);
void conf_format_time(long secs, struct strbuf *out);
int conf_parse_size(const char *s, long *out);
int conf_parse_bool(const char *s, int *out);
int xval_set(const struct xval *x);

#endif
