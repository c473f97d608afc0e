/*
 * conf.c - the configuration model: main options, named lists, routers,
 *          transports, ACLs and retry rules of one generation, with the
 *          override/disabled rules of DESIGN §4.
 *
 * PURPOSE: definitions arrive from the DSL one by one (conf_build.h); a
 * second definition with the same name is an error unless it says
 * override = true, in which case it takes the earlier one's place in the
 * order; disabled = true takes the earlier one out.
 * INTERFACE: see conf.h and conf_build.h.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/hash.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf_build.h"
#include "core/conf/mlist.h"

#define M(n) offsetof(struct conf_main, n)

static const struct opt_spec main_opts[] = {
    { "primary_hostname", OPT_STR, M(primary_hostname), NULL, 0, NULL },
    { "qualify_domain", OPT_STR, M(qualify_domain), NULL, 0, NULL },
    { "qualify_recipient", OPT_STR, M(qualify_recipient), NULL, 0, NULL },
    { "local_domains", OPT_MLIST, M(local_domains), "@ : localhost",
      ML_DOMAIN, NULL },
    { "relay_to_domains", OPT_MLIST, M(relay_to_domains), NULL, ML_DOMAIN,
      NULL },
    { "relay_from_hosts", OPT_MLIST, M(relay_from_hosts),
      "<; 127.0.0.1 ; ::1", ML_HOST, NULL },
    { "hosts_treat_as_local", OPT_MLIST, M(hosts_treat_as_local), NULL,
      ML_DOMAIN, NULL },
    { "spool_directory", OPT_STR, M(spool_directory), "/var/spool/tern", 0,
      NULL },
    { "log_file_path", OPT_STR, M(log_file_path), "/var/log/tern/%slog", 0,
      NULL },
    { "pid_file_path", OPT_STR, M(pid_file_path), NULL, 0, NULL },
    { "local_interfaces", OPT_STRLIST, M(local_interfaces), NULL, 0, ";," },
    { "daemon_smtp_ports", OPT_STRLIST, M(daemon_smtp_ports), "25, 587", 0,
      ":;, " },
    { "dns_servers", OPT_STRLIST, M(dns_servers), NULL, 0, ";, " },
    { "dns_timeout", OPT_TIME, M(dns_timeout), "5s", 0, NULL },
    { "dns_retry", OPT_INT, M(dns_retry), "2", 0, NULL },
    { "dns_answer_cache", OPT_INT, M(dns_answer_cache), "4096", 0, NULL },
    { "spf_guess", OPT_STR, M(spf_guess), "v=spf1 a/24 mx/24 ptr ?all", 0,
      NULL },
    { "spf_smtp_comment_template", OPT_STR, M(spf_smtp_comment_template),
      "Please%_see%_http://www.open-spf.org/Why", 0, NULL },
    { "lua_memory_limit", OPT_SIZE, M(lua_memory_limit), "64M", 0, NULL },
    { "lua_instruction_limit", OPT_INT, M(lua_instruction_limit), "1000000",
      0, NULL },
    { "lua_time_limit", OPT_TIME, M(lua_time_limit), "1s", 0, NULL },
    { "redirect_max_depth", OPT_INT, M(redirect_max_depth), "30", 0, NULL },
    { "smtp_workers", OPT_INT, M(smtp_workers), "0", 0, NULL },
    { "tern_user", OPT_STR, M(tern_user), "tern", 0, NULL },
    { "tern_group", OPT_STR, M(tern_group), NULL, 0, NULL },
    { "smtp_accept_max", OPT_INT, M(smtp_accept_max), "1000", 0, NULL },
    { "smtp_accept_max_per_host", OPT_INT, M(smtp_accept_max_per_host), "0",
      0, NULL },
    { "smtp_accept_max_per_minute_per_host", OPT_INT,
      M(smtp_accept_max_per_minute_per_host), "0", 0, NULL },
    { "smtp_receive_timeout", OPT_TIME, M(smtp_receive_timeout), "5m", 0,
      NULL },
    { "smtp_data_timeout", OPT_TIME, M(smtp_data_timeout), "5m", 0, NULL },
    { "smtp_max_synprot_errors", OPT_INT, M(smtp_max_synprot_errors), "3", 0,
      NULL },
    { "smtp_max_unknown_commands", OPT_INT, M(smtp_max_unknown_commands),
      "3", 0, NULL },
    { "recipients_max", OPT_INT, M(recipients_max), "100", 0, NULL },
    { "smtp_reject_log_limit", OPT_INT, M(smtp_reject_log_limit), "100", 0,
      NULL },
    { "message_size_limit", OPT_SIZE, M(message_size_limit), "50M", 0, NULL },
    { "header_size_limit", OPT_SIZE, M(header_size_limit), "1M", 0, NULL },
    { "shutdown_timeout", OPT_TIME, M(shutdown_timeout), "30s", 0, NULL },
    { "process_stall_limit", OPT_TIME, M(process_stall_limit), "30s", 0,
      NULL },
    { "tls_on_connect_ports", OPT_STRLIST, M(tls_on_connect_ports), NULL, 0,
      ":;, " },
    { "tls_certificate", OPT_STR, M(tls_certificate), NULL, 0, NULL },
    { "tls_privatekey", OPT_STR, M(tls_privatekey), NULL, 0, NULL },
    { "tls_chain", OPT_STR, M(tls_chain), NULL, 0, NULL },
    { "tls_ciphers", OPT_STR, M(tls_ciphers), NULL, 0, NULL },
    { "tls_min_protocol", OPT_ENUM, M(tls_min_protocol), "TLSv1.2", 0,
      "TLSv1|TLSv1.1|TLSv1.2|TLSv1.3" },
    { "tls_advertise_hosts", OPT_MLIST, M(tls_advertise_hosts), "*", ML_HOST,
      NULL },
    { "auth_advertise_hosts", OPT_MLIST, M(auth_advertise_hosts), NULL,
      ML_HOST, NULL },
    { "auth_passwords", OPT_STR, M(auth_passwords), NULL, 0, NULL },
    { "auth_check", OPT_FUNC, M(auth_check), NULL, 0, NULL },
    { "auth_failure_max", OPT_INT, M(auth_failure_max), "3", 0, NULL },
    { "smtp_vrfy_hosts", OPT_MLIST, M(smtp_vrfy_hosts), NULL, ML_HOST, NULL },
    { "smtp_enforce_sync", OPT_BOOL, M(smtp_enforce_sync), "true", 0, NULL },
    { "smtp_banner_delay", OPT_TIME, M(smtp_banner_delay), "0s", 0, NULL },
    { "pipelining_advertise_hosts", OPT_MLIST, M(pipelining_advertise_hosts),
      "*", ML_HOST, NULL },
    { "queue_only", OPT_BOOL, M(queue_only), "false", 0, NULL },
    /* delivery */
    { "queue_run_max", OPT_INT, M(queue_run_max), "100", 0, NULL },
    { "remote_max_parallel", OPT_INT, M(remote_max_parallel), "50", 0, NULL },
    { "local_helper_max", OPT_INT, M(local_helper_max), "16", 0, NULL },
    { "local_helper_idle", OPT_TIME, M(local_helper_idle), "60s", 0, NULL },
    { "delay_warning", OPT_TIME, M(delay_warning), "24h", 0, NULL },
    { "ignore_bounce_errors_after", OPT_TIME, M(ignore_bounce_errors_after),
      "10w", 0, NULL },
    { "timeout_frozen_after", OPT_TIME, M(timeout_frozen_after), "0s", 0,
      NULL },
    { "bounce_return_size_limit", OPT_SIZE, M(bounce_return_size_limit),
      "100K", 0, NULL },
    { "greylist_delay", OPT_TIME, M(greylist_delay), "5m", 0, NULL },
    { "greylist_retry_window", OPT_TIME, M(greylist_retry_window), "2d", 0,
      NULL },
    { "greylist_lifetime", OPT_TIME, M(greylist_lifetime), "35d", 0, NULL },
    { "greylist_auto_whitelist", OPT_INT, M(greylist_auto_whitelist), "5", 0,
      NULL },
    { "greylist_netmask_v4", OPT_INT, M(greylist_netmask_v4), "24", 0,
      NULL },
    { "greylist_netmask_v6", OPT_INT, M(greylist_netmask_v6), "64", 0,
      NULL },
    OPT_END
};

struct tracked_mlist {
    struct mlist *l;
    struct origin origin;
};

/* loading state, hung off the conf while conf_load runs */
struct conf_loading {
    size_t n, cap;
    struct tracked_mlist *v;
    struct origin current;
};

static struct conf_loading *loading;

/* conf_main_opts - the main option table */
const struct opt_spec *conf_main_opts(void)
{
    return main_opts;
}

/* conf_track_mlist - remember l so its +names are linked at the end */
void conf_track_mlist(struct conf *c, struct mlist *l,
                      const struct origin *org)
{
    (void)c;
    if (loading == NULL || l == NULL)
        return;
    if (loading->n == loading->cap) {
        loading->cap = loading->cap ? loading->cap * 2 : 64;
        loading->v = xreallocarray(loading->v, loading->cap,
                                   sizeof(*loading->v));
    }
    loading->v[loading->n].l = l;
    loading->v[loading->n].origin = org ? *org : loading->current;
    loading->n++;
}

/* conf_main_note - record where a main option was set */
void conf_main_note(struct conf *c, const struct opt_spec *o,
                    const struct origin *org)
{
    size_t i = (size_t)(o - main_opts);

    if (i < sizeof(c->main_origin) / sizeof(c->main_origin[0]))
        c->main_origin[i] = *org;
}

static int dup_error(struct errbuf *eb, const char *what,
                     const struct origin *first)
{
    errbuf_set(eb, "%s is already defined at %s:%d (say override = true to "
               "replace it)", what, first->file, first->line);
    return -1;
}

/* conf_add_list - define (or override, or remove) a named list */
int conf_add_list(struct conf *c, const char *name, enum mlist_kind kind,
                  struct mlist *l, const struct origin *org, int override,
                  int disabled, struct errbuf *eb)
{
    struct named_list *old = hash_get(c->lists, name, strlen(name));
    struct named_list *nl;

    if (old != NULL && !override)
        return dup_error(eb, "the list", &old->origin);
    if (old == NULL && override) {
        errbuf_set(eb, "override = true, but no such list is defined yet");
        return -1;
    }
    if (disabled) {
        free(hash_del(c->lists, name, strlen(name)));
        return 0;
    }
    nl = xcalloc(1, sizeof(*nl));
    nl->name = pool_strdup(c->pool, name);
    nl->kind = kind;
    nl->list = l;
    nl->origin = *org;
    free(hash_put(c->lists, name, strlen(name), nl));
    return 0;
}

/* conf_new_router - a router with generic and private defaults applied */
struct router *conf_new_router(struct conf *c, const char *name,
                               const struct router_driver *drv,
                               const struct origin *org, struct errbuf *eb)
{
    struct router *r = pool_zalloc(c->pool, sizeof(*r));

    r->name = pool_strdup(c->pool, name);
    r->drv = drv;
    r->origin = *org;
    r->priv = pool_zalloc(c->pool, drv->opts_size ? drv->opts_size : 1);
    if (opt_defaults(c, router_generic_opts(), r, eb) != 0
        || (drv->opts && opt_defaults(c, drv->opts, r->priv, eb) != 0))
        return NULL;
    return r;
}

/* conf_new_transport - a transport with defaults applied */
struct transport *conf_new_transport(struct conf *c, const char *name,
                                     const struct transport_driver *drv,
                                     const struct origin *org,
                                     struct errbuf *eb)
{
    struct transport *t = pool_zalloc(c->pool, sizeof(*t));

    t->name = pool_strdup(c->pool, name);
    t->drv = drv;
    t->origin = *org;
    t->priv = pool_zalloc(c->pool, drv->opts_size ? drv->opts_size : 1);
    if (opt_defaults(c, transport_generic_opts(), t, eb) != 0
        || (drv->opts && opt_defaults(c, drv->opts, t->priv, eb) != 0))
        return NULL;
    return t;
}

/* Ordered named items (routers, transports, ACLs) share these rules. */
struct named_vec {
    size_t *n;
    void ***v;
    const char *(*name_of)(void *);
    const struct origin *(*origin_of)(void *);
    const char *what;
};

static long vec_find(const struct named_vec *nv, const char *name)
{
    for (size_t i = 0; i < *nv->n; i++)
        if (strcmp(nv->name_of((*nv->v)[i]), name) == 0)
            return (long)i;
    return -1;
}

static int vec_add(struct conf *c, const struct named_vec *nv, void *item,
                   const char *name, int override, int disabled,
                   struct errbuf *eb)
{
    long at = vec_find(nv, name);
    char what[300];

    bsnprintf(what, sizeof(what), "%s \"%s\"", nv->what, name);
    if (at >= 0 && !override)
        return dup_error(eb, what, nv->origin_of((*nv->v)[at]));
    if (at < 0 && override) {
        errbuf_set(eb, "override = true, but no %s of that name is defined "
                   "yet", nv->what);
        return -1;
    }
    if (disabled) {
        if (at >= 0) {
            memmove(&(*nv->v)[at], &(*nv->v)[at + 1],
                    (*nv->n - (size_t)at - 1) * sizeof(void *));
            (*nv->n)--;
        }
        return 0;
    }
    if (at >= 0) {
        (*nv->v)[at] = item;
        return 0;
    }
    void **v = pool_alloc(c->pool, (*nv->n + 1) * sizeof(void *));
    if (*nv->n)
        memcpy(v, *nv->v, *nv->n * sizeof(void *));
    v[(*nv->n)++] = item;
    *nv->v = v;
    return 0;
}

static const char *router_name(void *p) { return ((struct router *)p)->name; }
static const struct origin *router_origin(void *p)
{
    return &((struct router *)p)->origin;
}
static const char *transport_name(void *p)
{
    return ((struct transport *)p)->name;
}
static const struct origin *transport_origin(void *p)
{
    return &((struct transport *)p)->origin;
}
static const char *acl_name(void *p) { return ((struct acl_def *)p)->hook; }
static const struct origin *acl_origin(void *p)
{
    return &((struct acl_def *)p)->origin;
}

/* conf_add_router - append r, or replace/remove an earlier definition */
int conf_add_router(struct conf *c, struct router *r, int override,
                    int disabled, struct errbuf *eb)
{
    struct named_vec nv = { &c->nrouters, (void ***)&c->routers,
                            router_name, router_origin, "router" };

    return vec_add(c, &nv, r, r->name, override, disabled, eb);
}

/* conf_add_transport - append t, or replace/remove an earlier one */
int conf_add_transport(struct conf *c, struct transport *t, int override,
                       int disabled, struct errbuf *eb)
{
    struct named_vec nv = { &c->ntransports, (void ***)&c->transports,
                            transport_name, transport_origin, "transport" };

    return vec_add(c, &nv, t, t->name, override, disabled, eb);
}

/* conf_add_acl - define the ACL of a hook */
int conf_add_acl(struct conf *c, struct acl_def *a, int override,
                 struct errbuf *eb)
{
    struct named_vec nv = { &c->nacls, (void ***)&c->acls, acl_name,
                            acl_origin, "acl" };

    return vec_add(c, &nv, a, a->hook, override, 0, eb);
}

/* conf_add_retry - append a retry rule (rules are tried in order) */
void conf_add_retry(struct conf *c, const struct retry_def *r)
{
    struct retry_def *v = pool_alloc(c->pool, (c->nretry + 1) * sizeof(*v));

    if (c->nretry)
        memcpy(v, c->retry, c->nretry * sizeof(*v));
    v[c->nretry++] = *r;
    c->retry = v;
}

/* conf_find_router - by name */
struct router *conf_find_router(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->nrouters; i++)
        if (strcmp(c->routers[i]->name, name) == 0)
            return c->routers[i];
    return NULL;
}

/* conf_find_transport - by name */
struct transport *conf_find_transport(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->ntransports; i++)
        if (strcmp(c->transports[i]->name, name) == 0)
            return c->transports[i];
    return NULL;
}

/* conf_find_acl - the ACL of a hook, or NULL (the built-in policy) */
struct acl_def *conf_find_acl(const struct conf *c, const char *hook)
{
    for (size_t i = 0; i < c->nacls; i++)
        if (strcmp(c->acls[i]->hook, hook) == 0)
            return c->acls[i];
    return NULL;
}

/* conf_find_list - a named list by name (without "+") */
struct named_list *conf_find_list(const struct conf *c, const char *name)
{
    return hash_get(c->lists, name, strlen(name));
}

/* conf_loading_begin/end - used by conf_load around reading the files */
void conf_loading_begin(void);
void conf_loading_end(void);
int conf_link_lists(struct conf *c, struct errbuf *eb);

void conf_loading_begin(void)
{
    loading = xcalloc(1, sizeof(*loading));
    loading->current = (struct origin){ "(default)", 0 };
}

void conf_loading_end(void)
{
    if (loading != NULL)
        free(loading->v);
    free(loading);
    loading = NULL;
}

/* conf_link_lists - resolve +names in every list read */
int conf_link_lists(struct conf *c, struct errbuf *eb)
{
    for (size_t i = 0; loading != NULL && i < loading->n; i++) {
        if (mlist_link(loading->v[i].l, c, eb) != 0) {
            errbuf_prefix(eb, "%s:%d: ", loading->v[i].origin.file,
                          loading->v[i].origin.line);
            return -1;
        }
    }
    return 0;
}

struct conf_cleanup {
    void (*fn)(void *);
    void *arg;
    struct conf_cleanup *next;
};

/* conf_on_free - register fn(arg) to run when c is freed */
void conf_on_free(struct conf *c, void (*fn)(void *), void *arg)
{
    struct conf_cleanup *k = xcalloc(1, sizeof(*k));

    k->fn = fn;
    k->arg = arg;
    k->next = c->cleanups;
    c->cleanups = k;
}

/* conf_free - release a generation (NULL ok) */
void conf_free(struct conf *c)
{
    if (c == NULL)
        return;
    while (c->cleanups != NULL) {
        struct conf_cleanup *k = c->cleanups;
        c->cleanups = k->next;
        k->fn(k->arg);
        free(k);
    }
    hash_free(c->lists, free);
    pool_free(c->pool);
    free(c);
}
