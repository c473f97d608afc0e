/*
 * driver.h - what core knows of routers and transports: the driver structs,
 *            the generic option blocks (generic_opts.c), the address being
 *            routed and the request/result of one routing step, and the registry through which core finds drivers by
 *            name without naming any (the tables live in routers/registry.c
 *            and transports/registry.c).
 *
 * The contract of route() (every verdict and its causes) is written in
 * routers/router.h; transports in transports/transport.h.
 *
 * INTERFACE: router_driver_find, transport_driver_find, the structs below.
 */
#ifndef TERN_DRIVER_H
#define TERN_DRIVER_H

#include <stddef.h>

#include "core/conf/conf.h"

struct dns_cache;
struct mlist;
struct router;
struct transport;
struct xvars;

enum route_verdict {
    RV_ACCEPT,      /* deliver with res->transport (and res->hosts) */
    RV_PASS,        /* next router, even after no_more */
    RV_DECLINE,     /* not for this router: next router unless no_more */
    RV_FAIL,        /* permanent failure, res->message */
    RV_DEFER,       /* temporary failure, res->message */
    RV_REDIRECT,    /* res->children replace the address (none: discard) */
    RV_NEED_DNS,    /* res->dns_wanted lists queries; call again later */
};

struct route_host {
    const char *name;
    const char *ip;         /* NULL if the name did not resolve */
    int mx;                 /* MX preference, -1 if not from an MX record */
    int port;               /* 0: the transport's default */
};

enum child_kind { CHILD_ADDRESS, CHILD_PIPE, CHILD_FILE };

struct route_child {
    enum child_kind kind;
    const char *text;       /* address, "|command" or "/path" */
    struct transport *transport;    /* pipe and file children */
};

#define ROUTE_MAX_WANTED 64

struct dns_want {
    int type;
    const char *name;
};

struct route_req {
    struct conf *conf;
    struct raddr *addr;
    struct dns_cache *dns;
    struct pool *pool;          /* lifetime of the routing run */
    const char *sender;         /* "" for the null sender */
    const char *client_ip;      /* "" for local submission */
    int verify;                 /* routing for verification (-bv, ACL) */
    const struct xvars *vars;   /* the address's variables for this router */
};

struct route_res {
    struct transport *transport;
    size_t nhosts;
    struct route_host *hosts;
    size_t nchildren;
    struct route_child *children;
    const char *message;        /* fail/defer reason */
    const char *home;           /* set by local_user and friends */
    const char *transport_name; /* a transport named at route time (lua) */
    size_t nwanted;
    struct dns_want wanted[ROUTE_MAX_WANTED];
};

/* An address being routed: what route() reads (req->addr) and what the
 * router runner (route/route.c) records of its fate. */
enum raddr_state {
    RA_ROUTING, RA_ACCEPTED, RA_FAILED, RA_DEFERRED, RA_REDIRECTED,
    RA_DISCARDED
};

struct raddr {
    const char *address;        /* as displayed: quoted lp @ domain */
    const char *local_part;     /* unquoted, case as written */
    const char *lc_local_part;  /* lowercased once, for caseless routers */
    const char *domain;         /* lowercased ("" for pipes and files) */
    unsigned flags;             /* AF_* of address.h */
    enum child_kind kind;
    struct raddr *parent;
    const struct router *redirected_by;
    const char *address_data;   /* carried to children */
    const char *home;
    const char *prefix;         /* affixes the deciding router removed */
    const char *suffix;
    int depth;                  /* generations of redirection */
    enum raddr_state state;
    const struct router *router;        /* the deciding router */
    struct transport *transport;
    size_t nhosts;
    struct route_host *hosts;
    const char *message;        /* why it failed or was deferred */
    size_t nchildren;           /* redirection results, in item order */
    struct raddr **children;
    struct raddr *unseen_copy;  /* goes on routing after an unseen router */
};

struct router_driver {
    const char *name;
    const struct opt_spec *opts;    /* private options */
    size_t opts_size;               /* private block size */
    int needs_transport;            /* accept without transport is an error */
    int any_local_part;             /* route() sees local parts with '%',
                                       '!' or a quoted '@' even without
                                       allow_special_local_parts (lua) */
    int (*check)(struct router *r, struct conf *c, struct errbuf *eb);
    enum route_verdict (*route)(struct router *r, struct route_req *req,
                                struct route_res *res);
};

/* Generic router options (DESIGN §5); drivers' own in r->priv. */
struct router {
    const char *name;
    const struct router_driver *drv;
    struct origin origin;
    size_t index;                   /* position in the chain */
    struct mlist *domains;
    struct mlist *local_parts;
    struct mlist *senders;
    struct xval condition;
    int check_local_user;
    struct strlist local_part_prefix;
    int local_part_prefix_optional;
    struct strlist local_part_suffix;
    int local_part_suffix_optional;
    int caseful_local_part;
    int no_more;
    int unseen;
    int verify_only;
    int verify;
    int allow_special_local_parts;
    struct xval address_data;
    struct xval errors_to;
    struct strlist headers_add;
    struct strlist headers_remove;
    const char *transport_name;
    struct transport *transport;
    const char *self;
    void *priv;
};

struct dlv_batch;
struct ev;

struct transport_driver {
    const char *name;
    const struct opt_spec *opts;
    size_t opts_size;
    int local;                      /* delivers on this host (-bt order) */
    int as_recipient;               /* a root tern runs it as the local
                                       user (maildir, mbox, pipe), not as
                                       tern_user (lmtp) */
    int (*check)(struct transport *t, struct conf *c, struct errbuf *eb);
    /* local drivers: deliver in a child process, blocking (deliver.h) */
    void (*deliver_local)(struct transport *t, struct dlv_batch *b);
    /* local drivers: finish the deferred syncs of a group (NULL: none) */
    void (*local_group_end)(void);
    /* remote drivers: start on ev; done(b, arg) once, later (deliver.h) */
    void (*deliver_remote)(struct transport *t, struct dlv_batch *b,
                           struct ev *ev,
                           void (*done)(struct dlv_batch *b, void *arg),
                           void *arg);
    /* remote drivers: close idle cached connections (NULL: none) */
    void (*flush)(struct ev *ev);
    /* remote drivers: the port of hosts that name none (NULL: 25); the
       scheduler keys retry records by it before the delivery starts */
    int (*default_port)(const struct transport *t);
};

struct transport {
    const char *name;
    const struct transport_driver *drv;
    struct origin origin;
    struct strlist headers_add;
    struct strlist headers_remove;
    const char *return_path;
    int return_path_add;
    int envelope_to_add;
    int delivery_date_add;
    const char *user;
    const char *group;
    void *priv;
};

const struct router_driver *router_driver_find(const char *name);
const struct transport_driver *transport_driver_find(const char *name);
const struct opt_spec *router_generic_opts(void);
const struct opt_spec *transport_generic_opts(void);
/* names of all drivers, for "unknown driver" messages: "a, b, c" */
void router_driver_names(struct strbuf *out);
void transport_driver_names(struct strbuf *out);

/* the tables, defined outside core */
extern const struct router_driver *const router_drivers[];
extern const struct transport_driver *const transport_drivers[];

#endif
