/*
 * manualroute.c - the manualroute router: hosts chosen by configuration,
 *                 the smart-host case ("all remote mail via one relay").
 *
 * PURPOSE: route_list is a list of "DOMAIN-PATTERN HOSTS" entries, the
 * first whose pattern matches the domain wins; route_data (a string with
 * variables, or a Lua function) gives the hosts directly. HOSTS is a colon
 * list ("a.example : b.example::587") or a Lua table; names are looked up
 * for A/AAAA, IP literals are used as they are.
 * Options: route_list, route_data, host_find_failed
 * (defer|fail|decline|pass|ignore), hosts_randomize.
 *
 * Verdicts:
 *   ACCEPT   hosts found, in the order given (or shuffled)
 *   DECLINE  no route_list entry matches; route_data expands to nothing;
 *            host_find_failed = decline
 *   PASS     host_find_failed = pass
 *   FAIL     host_find_failed = fail
 *   DEFER    a host lookup failed temporarily; host_find_failed = defer
 *            (the default); a route_data function raised an error
 *   NEED_DNS A/AAAA answers missing
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf/mlist.h"
#include "lua/lcall.h"
#include "routers/router.h"

struct route_entry {
    struct mlist *pattern;
    const char *hosts;
};

struct manualroute_opts {
    struct strlist route_list;
    struct xval route_data;
    const char *host_find_failed;
    int hosts_randomize;
    size_t nentries;
    struct route_entry *entries;        /* parsed route_list */
};

#define O(n) offsetof(struct manualroute_opts, n)

static const struct opt_spec manualroute_opts[] = {
    { "route_list", OPT_STRLIST, O(route_list), NULL, 0, ";" },
    { "route_data", OPT_XVAL, O(route_data), NULL, 0, NULL },
    { "host_find_failed", OPT_ENUM, O(host_find_failed), "defer", 0,
      "defer|fail|decline|pass|ignore" },
    { "hosts_randomize", OPT_BOOL, O(hosts_randomize), "false", 0, NULL },
    OPT_END
};

/* Split "PATTERN HOSTS" of one route_list entry. */
static int parse_entry(struct conf *c, const char *text,
                       struct route_entry *e, struct errbuf *eb)
{
    size_t plen = strcspn(text, " \t");
    const char *hosts = text + plen;

    hosts += strspn(hosts, " \t");
    if (plen == 0 || *hosts == '\0') {
        errbuf_set(eb, "route_list entry \"%s\" needs a domain pattern and "
                   "hosts", text);
        return -1;
    }
    e->pattern = mlist_new(c->pool, ML_DOMAIN);
    if (mlist_add(e->pattern, c->pool, pool_strndup(c->pool, text, plen),
                  eb) != 0 || mlist_link(e->pattern, c, eb) != 0)
        return -1;
    e->hosts = hosts;
    return 0;
}

static int manualroute_check(struct router *r, struct conf *c,
                             struct errbuf *eb)
{
    struct manualroute_opts *o = r->priv;

    if ((o->route_list.n > 0) == xval_set(&o->route_data)) {
        errbuf_set(eb, "exactly one of route_list and route_data is "
                   "required");
        return -1;
    }
    o->nentries = o->route_list.n;
    o->entries = pool_zalloc(c->pool, (o->nentries + 1) * sizeof(*o->entries));
    for (size_t i = 0; i < o->nentries; i++)
        if (parse_entry(c, o->route_list.v[i], &o->entries[i], eb) != 0)
            return -1;
    return 0;
}

/* Next item of a host list: newline-separated (a Lua table's items) or,
 * without newlines, Exim's colon list with "::" for a literal colon; a
 * colon inside "[...]" or right after "]" ("[ip]:port") does not split. */
static const char *next_item(const char *t, int by_line, char *item,
                             size_t size)
{
    size_t len = 0;
    int bracket = 0;            /* inside "[ip]": colons are the address's */

    while (*t != '\0' && *t != '\n' && len < size - 1) {
        bracket = *t == '[' ? 1 : *t == ']' ? 0 : bracket;
        if (!by_line && !bracket && t[0] == ':') {
            if (t[1] != ':' && !(len > 0 && item[len - 1] == ']'))
                break;
            if (t[1] == ':')
                t++;
        }
        item[len++] = *t++;
    }
    item[len] = '\0';
    return *t != '\0' ? t + 1 : t;
}

static char *trim(char *s)
{
    size_t e;

    s += strspn(s, " \t");
    for (e = strlen(s); e > 0 && strchr(" \t", s[e - 1]) != NULL; e--)
        s[e - 1] = '\0';
    return s;
}

/* Parse a host list into specs; 0 hosts and *bad set on a bad item. */
static size_t split_hosts(struct route_req *req, const char *text,
                          struct rt_host_spec **out, const char **bad)
{
    int by_line = strchr(text, '\n') != NULL;
    size_t n = 0, cap = 1;
    char item[600];

    for (const char *t = text; *t; t++)
        cap += *t == ':' || *t == '\n';
    *out = pool_zalloc(req->pool, (cap + 1) * sizeof(**out));
    for (const char *t = text; *t != '\0';) {
        t = next_item(t, by_line, item, sizeof(item));
        char *b = trim(item);
        if (*b == '\0')
            continue;
        if (rt_parse_hostport(req->pool, b, &(*out)[n]) != 0) {
            *bad = pool_strdup(req->pool, b);
            return 0;
        }
        n++;
    }
    return n;
}

static void shuffle(struct rt_host_spec *s, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t k = rt_random() % i;
        struct rt_host_spec t = s[i - 1];
        s[i - 1] = s[k];
        s[k] = t;
    }
}

/* The host list text for this address, or NULL to decline. */
static int choose_hosts(struct router *r, struct route_req *req,
                        struct route_res *res, const char **hosts,
                        const char **err)
{
    struct manualroute_opts *o = r->priv;
    struct errbuf eb;

    *hosts = NULL;
    if (xval_set(&o->route_data))
        return rt_expand(req, res, &o->route_data, hosts, err);
    for (size_t i = 0; i < o->nentries; i++) {
        struct match_ctx mc = { .conf = req->conf, .eb = &eb };
        enum match_result m = mlist_match(o->entries[i].pattern,
                                          req->addr->domain, &mc);
        if (m == MATCH_DEFER) {
            *err = pool_strdup(req->pool, eb.msg);
            return LC_ERROR;
        }
        if (m == MATCH_YES)
            return expand_string(o->entries[i].hosts, req->vars, req->pool,
                                 hosts, &eb) == 0
                   ? LC_OK : (*err = pool_strdup(req->pool, eb.msg),
                              LC_ERROR);
    }
    return LC_OK;
}

static enum route_verdict find_failed(struct router *r, struct route_req *req,
                                      struct route_res *res, const char *host)
{
    struct manualroute_opts *o = r->priv;
    const char *f = o->host_find_failed;

    if (strcmp(f, "decline") == 0)
        return RV_DECLINE;
    if (strcmp(f, "pass") == 0)
        return RV_PASS;
    res->message = pool_printf(req->pool, "lookup of host \"%s\" failed in "
                               "%s router", host, r->name);
    return strcmp(f, "fail") == 0 ? RV_FAIL : RV_DEFER;
}

static enum route_verdict manualroute_route(struct router *r,
                                            struct route_req *req,
                                            struct route_res *res)
{
    struct manualroute_opts *o = r->priv;
    struct rt_host_spec *specs;
    const char *hosts, *err = NULL, *bad = NULL, *msg = NULL;
    size_t n, missing = 0;
    int rc = choose_hosts(r, req, res, &hosts, &err);

    if (rc != LC_OK)
        return rc == LC_NEED_DNS ? RV_NEED_DNS
               : (res->message = err, RV_DEFER);
    if (hosts == NULL || *hosts == '\0')
        return RV_DECLINE;
    n = split_hosts(req, hosts, &specs, &bad);
    if (n == 0) {
        res->message = pool_printf(req->pool, "bad host \"%s\" in the host "
                                   "list of router %s", bad ? bad : "",
                                   r->name);
        return RV_DEFER;
    }
    if (o->hosts_randomize)
        shuffle(specs, n);
    switch (rt_resolve_hosts(req, res, specs, n, NULL, &missing, &msg)) {
    case RTH_NEED_DNS:
        return RV_NEED_DNS;
    case RTH_DEFER:
        res->message = msg;
        return RV_DEFER;
    case RTH_NONE:
        return find_failed(r, req, res, msg ? msg : specs[0].name);
    case RTH_OK:
        break;
    }
    if (missing > 0 && strcmp(o->host_find_failed, "ignore") != 0)
        return find_failed(r, req, res, msg);
    return rt_check_self(r, req, res, "remote host address is the local "
                         "host");
}

const struct router_driver rt_manualroute = {
    .name = "manualroute",
    .opts = manualroute_opts,
    .opts_size = sizeof(struct manualroute_opts),
    .needs_transport = 1,
    .check = manualroute_check,
    .route = manualroute_route,
};
