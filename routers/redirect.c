/*
 * redirect.c - the redirect router: aliases, virtual alias maps,
 *              .forward-style files.
 *
 * PURPOSE: the redirection data comes from exactly one of
 *   lookup = "lsearch;/etc/aliases"  (key lookup_key, default
 *            "$local_part"; "lsearch*@;FILE" with lookup_key =
 *            "$local_part@$domain" makes a virtual alias map),
 *   data   = "a@x, b@y" with variables, or a Lua function,
 *   file   = "$home/.forward" (a missing file declines),
 * and is parsed by rt_redirect.c under the policy options allow_fail,
 * allow_defer, forbid_pipe, forbid_file, forbid_include,
 * forbid_blackhole, skip_syntax_errors, check_ancestor, include_directory,
 * pipe_transport, file_transport, qualify_preserve_domain.
 *
 * Verdicts:
 *   REDIRECT the data gave items (none left after :blackhole: = discard)
 *   DECLINE  the key is not in the lookup; data is empty or nil; the file
 *            does not exist
 *   FAIL     :fail: (allow_fail)
 *   DEFER    :defer: (allow_defer); a lookup or file read failed
 *            temporarily; bad redirection data; a forbidden item
 *   NEED_DNS a data function used lookup.dnsdb
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "core/lookup/lookup.h"
#include "lua/lcall.h"
#include "routers/rt_redirect.h"

struct redirect_opts {
    const char *lookup;
    struct xval lookup_key;
    struct xval data;
    struct xval file;
    int qualify_preserve_domain;
    const char *pipe_transport;
    const char *file_transport;
    struct lookup_spec spec;            /* parsed lookup */
    struct redirect_policy policy;      /* the allow/forbid options */
};

#define O(n) offsetof(struct redirect_opts, n)
#define P(n) offsetof(struct redirect_opts, policy.n)

static const struct opt_spec redirect_opts[] = {
    { "lookup", OPT_STR, O(lookup), NULL, 0, NULL },
    { "lookup_key", OPT_XVAL, O(lookup_key), "$local_part", 0, NULL },
    { "data", OPT_XVAL, O(data), NULL, 0, NULL },
    { "file", OPT_XVAL, O(file), NULL, 0, NULL },
    { "allow_fail", OPT_BOOL, P(allow_fail), "false", 0, NULL },
    { "allow_defer", OPT_BOOL, P(allow_defer), "false", 0, NULL },
    { "forbid_pipe", OPT_BOOL, P(forbid_pipe), "false", 0, NULL },
    { "forbid_file", OPT_BOOL, P(forbid_file), "false", 0, NULL },
    { "forbid_include", OPT_BOOL, P(forbid_include), "false", 0, NULL },
    { "forbid_blackhole", OPT_BOOL, P(forbid_blackhole), "false", 0, NULL },
    { "skip_syntax_errors", OPT_BOOL, P(skip_syntax_errors), "false", 0,
      NULL },
    { "check_ancestor", OPT_BOOL, P(check_ancestor), "false", 0, NULL },
    { "qualify_preserve_domain", OPT_BOOL, O(qualify_preserve_domain),
      "false", 0, NULL },
    { "include_directory", OPT_STR, P(include_directory), NULL, 0, NULL },
    { "pipe_transport", OPT_STR, O(pipe_transport), NULL, 0, NULL },
    { "file_transport", OPT_STR, O(file_transport), NULL, 0, NULL },
    OPT_END
};

static int find_transport(struct conf *c, const char *name,
                          struct transport **out, const char *opt,
                          struct errbuf *eb)
{
    *out = NULL;
    if (name == NULL)
        return 0;
    *out = conf_find_transport(c, name);
    if (*out == NULL) {
        errbuf_set(eb, "%s \"%s\" is not defined", opt, name);
        return -1;
    }
    return 0;
}

static int redirect_check(struct router *r, struct conf *c,
                          struct errbuf *eb)
{
    struct redirect_opts *o = r->priv;
    struct redirect_policy *pol = &o->policy;
    int sources = (o->lookup != NULL) + xval_set(&o->data)
                  + xval_set(&o->file);

    if (sources != 1) {
        errbuf_set(eb, "exactly one of lookup, data and file is required");
        return -1;
    }
    if (o->lookup != NULL
        && lookup_spec_parse_pool(c->pool, o->lookup, &o->spec, eb) != 0)
        return -1;
    return find_transport(c, o->pipe_transport, &pol->pipe_transport,
                          "pipe_transport", eb)
           || find_transport(c, o->file_transport, &pol->file_transport,
                             "file_transport", eb) ? -1 : 0;
}

static enum route_verdict from_lookup(struct router *r, struct route_req *req,
                                      struct route_res *res,
                                      const char **data)
{
    struct redirect_opts *o = r->priv;
    const char *key, *err = NULL;
    struct strbuf val;
    struct errbuf eb;
    int rc = rt_expand(req, res, &o->lookup_key, &key, &err);

    if (rc != LC_OK)
        return rc == LC_NEED_DNS ? RV_NEED_DNS
               : (res->message = err, RV_DEFER);
    if (key == NULL)
        return RV_DECLINE;
    sb_init(&val);
    switch (lookup_find(&o->spec, key, strlen(key), &val, &eb)) {
    case LK_TEMPFAIL:
        res->message = pool_strdup(req->pool, eb.msg);
        sb_free(&val);
        return RV_DEFER;
    case LK_NOTFOUND:
        sb_free(&val);
        return RV_DECLINE;
    case LK_FOUND:
        break;
    }
    *data = pool_strndup(req->pool, sb_str(&val), sb_len(&val));
    sb_free(&val);
    return RV_REDIRECT;
}

static enum route_verdict from_file(struct router *r, struct route_req *req,
                                    struct route_res *res, const char **data)
{
    struct redirect_opts *o = r->priv;
    const char *path, *err = NULL;
    struct strbuf sb;
    char buf[8192];
    ssize_t n = 0;
    int fd, rc = rt_expand(req, res, &o->file, &path, &err);

    if (rc != LC_OK)
        return rc == LC_NEED_DNS ? RV_NEED_DNS
               : (res->message = err, RV_DEFER);
    if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (path == NULL || errno == ENOENT || errno == ENOTDIR)
            return RV_DECLINE;
        res->message = pool_printf(req->pool, "cannot open %s: %s", path,
                                   strerror(errno));
        return RV_DEFER;
    }
    sb_init(&sb);
    while (sb_len(&sb) < 1024 * 1024
           && ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            sb_append(&sb, buf, (size_t)n);
    close(fd);
    if (n < 0)
        res->message = pool_printf(req->pool, "cannot read %s", path);
    else
        *data = pool_strndup(req->pool, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
    return n < 0 ? RV_DEFER : RV_REDIRECT;
}

static enum route_verdict redirect_route(struct router *r,
                                         struct route_req *req,
                                         struct route_res *res)
{
    struct redirect_opts *o = r->priv;
    struct redirect_policy pol = o->policy;
    const char *data = NULL, *err = NULL;
    enum route_verdict v;

    if (o->lookup != NULL) {
        v = from_lookup(r, req, res, &data);
    } else if (xval_set(&o->file)) {
        v = from_file(r, req, res, &data);
    } else {
        int rc = rt_expand(req, res, &o->data, &data, &err);
        v = rc == LC_OK ? RV_REDIRECT : rc == LC_NEED_DNS ? RV_NEED_DNS
            : (res->message = err, RV_DEFER);
    }
    if (v != RV_REDIRECT)
        return v;
    if (data == NULL || data[strspn(data, " \t\r\n")] == '\0')
        return RV_DECLINE;
    pol.qualify_domain = o->qualify_preserve_domain
                         ? req->addr->domain
                         : req->conf->main.qualify_recipient;
    return rt_redirect_expand(req, res, &pol, data);
}

const struct router_driver rt_redirect = {
    .name = "redirect",
    .opts = redirect_opts,
    .opts_size = sizeof(struct redirect_opts),
    .needs_transport = 0,
    .check = redirect_check,
    .route = redirect_route,
};
