/*
 * rt_redirect.c - redirection data into child addresses, pipes and files.
 *
 * SECURITY: alias and forward files are administrator or user input: every
 * generated address is parsed like any other, :include: is bounded in
 * depth and size and can be confined to include_directory, pipes and files
 * happen only when the policy allows them and a transport is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/mail/address.h"
#include "core/base/strbuf.h"
#include "routers/rt_redirect.h"

#define INCLUDE_MAX_DEPTH 5
#define INCLUDE_MAX_SIZE (1024 * 1024)

struct rd_state {
    struct route_req *req;
    struct route_res *res;
    const struct redirect_policy *pol;
    size_t cap;
    enum route_verdict verdict;     /* RV_REDIRECT unless something stops */
    int blackholed;                 /* a :blackhole: item was seen */
    int skipped;                    /* syntax errors skipped */
};

static enum route_verdict stop(struct rd_state *st, enum route_verdict v,
                               const char *msg)
{
    st->verdict = v;
    st->res->message = msg;
    return v;
}

static void add_child(struct rd_state *st, enum child_kind kind,
                      const char *text, struct transport *t)
{
    struct route_res *res = st->res;

    if (res->nchildren == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 4;
        struct route_child *v = pool_zalloc(st->req->pool, cap * sizeof(*v));
        if (res->nchildren)
            memcpy(v, res->children, res->nchildren * sizeof(*v));
        res->children = v;
        st->cap = cap;
    }
    res->children[res->nchildren++] = (struct route_child){ kind, text, t };
}

static int read_file(struct pool *p, const char *path, char **out,
                     const char **err)
{
    int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    struct strbuf sb;
    char buf[8192];
    ssize_t n;

    if (fd < 0) {
        *err = pool_printf(p, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    sb_init(&sb);
    while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            sb_append(&sb, buf, (size_t)n);
    if (n < 0 || sb_len(&sb) > INCLUDE_MAX_SIZE
        || memchr(sb_str(&sb), '\0', sb_len(&sb)) != NULL) {
        *err = pool_printf(p, "cannot read %s: %s", path, n < 0
                           ? strerror(errno) : "too large or binary");
        close(fd);
        sb_free(&sb);
        return -1;
    }
    close(fd);
    *out = pool_strndup(p, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
    return 0;
}

static int under_dir(const char *path, const char *dir)
{
    char real[PATH_MAX], realdir[PATH_MAX];
    size_t n;

    if (realpath(path, real) == NULL || realpath(dir, realdir) == NULL)
        return 0;
    n = strlen(realdir);
    return strncmp(real, realdir, n) == 0 && (real[n] == '/' || n == 1);
}

static enum route_verdict parse_items(struct rd_state *st, const char *data,
                                      int depth);

static enum route_verdict do_include(struct rd_state *st, const char *path,
                                     int depth)
{
    struct pool *p = st->req->pool;
    const char *err;
    char *text;

    if (st->pol->forbid_include)
        return stop(st, RV_DEFER, ":include: is not permitted here");
    if (depth >= INCLUDE_MAX_DEPTH)
        return stop(st, RV_DEFER, ":include: nested too deeply");
    if (path[0] != '/')
        return stop(st, RV_DEFER, pool_printf(p, ":include: needs an "
                    "absolute path: %s", path));
    if (st->pol->include_directory != NULL
        && !under_dir(path, st->pol->include_directory))
        return stop(st, RV_DEFER, pool_printf(p, ":include: file %s is not "
                    "under %s", path, st->pol->include_directory));
    if (read_file(p, path, &text, &err) != 0)
        return stop(st, RV_DEFER, err);
    return parse_items(st, text, depth + 1);
}

static int is_ancestor(const struct raddr *a, const char *text)
{
    for (; a != NULL; a = a->parent)
        if (strcasecmp(a->address, text) == 0)
            return 1;
    return 0;
}

static enum route_verdict do_address(struct rd_state *st, const char *item)
{
    struct pool *p = st->req->pool;
    struct addr_parsed ap;
    struct strbuf sb;
    const char *err, *text;

    if (item[0] == '\\')
        item++;
    text = rt_qualify(p, item, st->pol->qualify_domain);
    if (addr_parse(text, strlen(text), ADDR_UTF8, &ap, &err) != 0) {
        if (st->pol->skip_syntax_errors) {
            st->skipped++;
            return RV_REDIRECT;
        }
        return stop(st, RV_DEFER, pool_printf(p, "syntax error in "
                    "redirection data: \"%s\": %s", item, err));
    }
    sb_init(&sb);
    addr_format(ap.local_part, ap.domain, &sb);
    text = pool_strndup(p, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
    /* check_ancestor: an ancestor's address is replaced by the address
     * being redirected (Exim), which the loop rule then routes onwards */
    if (st->pol->check_ancestor && is_ancestor(st->req->addr->parent, text))
        text = st->req->addr->address;
    add_child(st, CHILD_ADDRESS, text, NULL);
    return RV_REDIRECT;
}

static enum route_verdict do_delivery(struct rd_state *st, const char *item,
                                      enum child_kind kind)
{
    int forbidden = kind == CHILD_PIPE ? st->pol->forbid_pipe
                                       : st->pol->forbid_file;
    struct transport *t = kind == CHILD_PIPE ? st->pol->pipe_transport
                                             : st->pol->file_transport;
    const char *what = kind == CHILD_PIPE ? "pipe" : "file";

    if (forbidden)
        return stop(st, RV_DEFER, pool_printf(st->req->pool, "delivery to a "
                    "%s is not permitted here: %s", what, item));
    if (t == NULL)
        return stop(st, RV_DEFER, pool_printf(st->req->pool, "%s delivery "
                    "requested (%s) but no %s_transport is set", what, item,
                    what));
    add_child(st, kind, item, t);
    return RV_REDIRECT;
}

/* The text after :fail: or :defer:, or a default when there is none. */
static const char *text_or(struct pool *p, const char *s, const char *dflt)
{
    s += strspn(s, " \t");
    return *s != '\0' ? pool_strdup(p, s) : dflt;
}

static enum route_verdict do_special(struct rd_state *st, const char *item,
                                     int depth)
{
    struct pool *p = st->req->pool;

    if (strncasecmp(item, ":fail:", 6) == 0) {
        if (!st->pol->allow_fail)
            return stop(st, RV_DEFER, ":fail: is not permitted here "
                        "(allow_fail = true)");
        return stop(st, RV_FAIL, text_or(p, item + 6, "forced rejection"));
    }
    if (strncasecmp(item, ":defer:", 7) == 0) {
        if (!st->pol->allow_defer)
            return stop(st, RV_DEFER, ":defer: is not permitted here "
                        "(allow_defer = true)");
        return stop(st, RV_DEFER, text_or(p, item + 7, "forced defer"));
    }
    if (strcasecmp(item, ":blackhole:") == 0) {
        if (st->pol->forbid_blackhole)
            return stop(st, RV_DEFER, ":blackhole: is not permitted here");
        st->blackholed = 1;
        return RV_REDIRECT;
    }
    if (strncasecmp(item, ":include:", 9) == 0)
        return do_include(st, item + 9 + strspn(item + 9, " \t"), depth);
    return stop(st, RV_DEFER, pool_printf(p, "unknown special item in "
                "redirection data: %s", item));
}

static enum route_verdict do_item(struct rd_state *st, const char *item,
                                  int depth)
{
    if (item[0] == ':')
        return do_special(st, item, depth);
    if (item[0] == '|')
        return do_delivery(st, item, CHILD_PIPE);
    if (item[0] == '/')
        return do_delivery(st, item, CHILD_FILE);
    return do_address(st, item);
}

/* The end of an item: ',' or newline outside quotes; :fail:/:defer: text
 * runs to the end of the line. */
static size_t item_end(const char *s)
{
    int quoted = 0;
    size_t i;

    if (strncasecmp(s, ":fail:", 6) == 0 || strncasecmp(s, ":defer:", 7) == 0)
        return strcspn(s, "\n");
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] == '\\' && s[i + 1] != '\0')
            i++;
        else if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && (s[i] == ',' || s[i] == '\n'))
            break;
    }
    return i;
}

static const char *clean_item(struct pool *p, const char *s, size_t len)
{
    while (len > 0 && strchr(" \t\r", s[len - 1]) != NULL)
        len--;
    /* a wholly quoted pipe or file: "|cmd arg" */
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"'
        && (s[1] == '|' || s[1] == '/'))
        return pool_strndup(p, s + 1, len - 2);
    return pool_strndup(p, s, len);
}

static enum route_verdict parse_items(struct rd_state *st, const char *data,
                                      int depth)
{
    const char *s = data;

    while (*s != '\0' && st->verdict == RV_REDIRECT) {
        s += strspn(s, " \t\r\n,");
        if (*s == '#') {
            s += strcspn(s, "\n");
            continue;
        }
        if (*s == '\0')
            break;
        size_t len = item_end(s);
        const char *item = clean_item(st->req->pool, s, len);
        s += len;
        if (*item != '\0')
            do_item(st, item, depth);
    }
    return st->verdict;
}

/* rt_redirect_expand - parse data under policy pol into res->children */
enum route_verdict rt_redirect_expand(struct route_req *req,
                                      struct route_res *res,
                                      const struct redirect_policy *pol,
                                      const char *data)
{
    struct rd_state st = { req, res, pol, 0, RV_REDIRECT, 0, 0 };

    res->nchildren = 0;
    if (parse_items(&st, data, 0) != RV_REDIRECT)
        return st.verdict;
    /* nothing generated and nothing discarded on purpose: decline (a
     * .forward of comments only); all items bad: say so (Exim) */
    if (res->nchildren == 0 && !st.blackholed) {
        if (st.skipped > 0)
            res->message = "syntax error in redirection data";
        return RV_DECLINE;
    }
    return RV_REDIRECT;
}
