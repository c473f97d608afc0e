/*
 * l_call.c - run a configuration function with an address's variables.
 *
 * PURPOSE: the one place where core's routing calls into Lua: push the
 * function and an address table, run it under the call's budget
 * (l_run.c), and copy the result into C data while still inside the
 * protected call, with raw access only: a returned table's __index or
 * __len never runs, a wrong type or an oversized string is an error
 * naming the file:line where the function is defined.
 * INTERFACE: lcall.h.
 */
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/strbuf.h"
#include "lua/lcall.h"
#include "lua/lstate_impl.h"

#define LCALL_STRING_MAX  (1024 * 1024)         /* one string result */
#define LCALL_LIST_MAX    (16 * 1024 * 1024)    /* a joined list */
#define LCALL_ITEMS_MAX   (1024 * 1024)         /* items of a list */
#define LCALL_VERB_MAX    32

struct call {
    const struct xvars *v;
    const char *user, *password;    /* lcall_check_password */
    struct pool *pool;
    const char *value;
    int truth;
    struct lroute *route;
};

static void push_vars(lua_State *L, const struct xvars *v)
{
    const char *const *names = xvars_names();
    int known;

    lua_createtable(L, 0, 16);
    for (; *names != NULL; names++) {
        const char *val = v ? xvars_get(v, *names, &known) : NULL;
        if (val == NULL || val[0] == '\0')
            continue;
        lua_pushstring(L, val);
        lua_setfield(L, -2, *names);
    }
}

static int push_fn_vars(lua_State *L, struct lrun *r)
{
    struct call *c = r->arg;

    lua_rawgeti(L, LUA_REGISTRYINDEX, r->fn);
    push_vars(L, c->v);
    return 1;
}

static int push_fn_password(lua_State *L, struct lrun *r)
{
    struct call *c = r->arg;

    lua_rawgeti(L, LUA_REGISTRYINDEX, r->fn);
    lua_pushstring(L, c->user);
    lua_pushstring(L, c->password);
    return 2;
}

/* run fn under a fresh budget; LC_* status, the message in eb */
static int call(struct lstate *ls, int fn, struct lrun *r, struct errbuf *eb)
{
    struct errbuf err;

    r->ls = ls;
    r->fn = fn;
    switch (lrun_call(r, &err)) {
    case LRUN_OK:
        return LC_OK;
    case LRUN_NEED_DNS:
        return LC_NEED_DNS;
    default:
        errbuf_set(eb, "error in Lua function: %s", err.msg);
        return LC_ERROR;
    }
}

/* the array items 1..n of the table at idx, up to the first nil, copied
 * into the pool; each must be a string (or a number) */
static void take_list(lua_State *L, int idx, struct lrun *r, struct pool *p,
                      struct strlist *out)
{
    size_t n = lua_rawlen(L, idx), total = 0, len;

    if (n > LCALL_ITEMS_MAX)
        lrun_raise(L, r, "returned a list of %zu items (at most %d)", n,
                   LCALL_ITEMS_MAX);
    lstate_charge(L, (long)n);
    out->v = pool_zalloc(p, (n + 1) * sizeof(char *));
    out->n = 0;
    for (size_t i = 1; i <= n; i++) {
        if (lua_rawgeti(L, idx, (lua_Integer)i) == LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        const char *s = lrun_string(L, -1, LCALL_STRING_MAX, r,
                                    "a list item", &len);
        total += len + 1;
        if (total > LCALL_LIST_MAX)
            lrun_raise(L, r, "returned a list longer than %d bytes",
                       LCALL_LIST_MAX);
        out->v[out->n++] = pool_strndup(p, s, len);
        lua_pop(L, 1);
    }
}

/* items joined with newlines (redirect lists) */
static const char *join_items(lua_State *L, int idx, struct lrun *r,
                              struct pool *p)
{
    struct strlist sl;
    struct strbuf sb;
    const char *out;

    take_list(L, idx, r, p, &sl);
    sb_init(&sb);                   /* nothing below can raise */
    for (size_t i = 0; i < sl.n; i++)
        sb_printf(&sb, "%s%s", i ? "\n" : "", sl.v[i]);
    out = pool_strndup(p, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
    return out;
}

static void take_value(lua_State *L, int base, int n, struct lrun *r)
{
    struct call *c = r->arg;
    size_t len;
    const char *s;

    c->value = NULL;
    switch (n > 0 ? lua_type(L, base) : LUA_TNIL) {
    case LUA_TNIL:
        break;
    case LUA_TBOOLEAN:
        c->value = lua_toboolean(L, base) ? "true" : NULL;
        break;
    case LUA_TTABLE:
        c->value = join_items(L, base, r, c->pool);
        break;
    default:
        s = lrun_string(L, base, LCALL_STRING_MAX, r, "its value", &len);
        c->value = pool_strndup(c->pool, s, len);
    }
}

static void take_truth(lua_State *L, int base, int n, struct lrun *r)
{
    struct call *c = r->arg;

    c->truth = n > 0 && lua_toboolean(L, base);
}

/* lcall_value - call fn and return its result as a string */
int lcall_value(struct lstate *ls, int fn, const struct xvars *v,
                struct pool *p, const char **out, struct errbuf *eb)
{
    struct call c = { .v = v, .pool = p };
    struct lrun r = { .push = push_fn_vars, .take = take_value, .arg = &c,
                      .what = "Lua function" };
    int rc = call(ls, fn, &r, eb);

    *out = rc == LC_OK ? c.value : NULL;
    return rc;
}

/* lcall_truth - call fn and test its result */
int lcall_truth(struct lstate *ls, int fn, const struct xvars *v, int *out,
                struct errbuf *eb)
{
    struct call c = { .v = v };
    struct lrun r = { .push = push_fn_vars, .take = take_truth, .arg = &c,
                      .what = "Lua function" };
    int rc = call(ls, fn, &r, eb);

    *out = rc == LC_OK && c.truth;
    return rc;
}

/* the string field key of the table at idx (raw), NULL if absent */
static const char *field_str(lua_State *L, int idx, const char *key,
                             size_t max, struct lrun *r)
{
    struct call *c = r->arg;
    const char *s = NULL;
    size_t len;

    lua_pushstring(L, key);
    if (lua_rawget(L, idx) != LUA_TNIL) {
        s = lrun_string(L, -1, max, r, key, &len);
        s = pool_strndup(c->pool, s, len);
    }
    lua_pop(L, 1);
    return s;
}

static void route_hosts(lua_State *L, int idx, struct lrun *r,
                        struct lroute *out)
{
    struct call *c = r->arg;

    size_t len;

    lua_pushliteral(L, "hosts");
    if (lua_rawget(L, idx) == LUA_TTABLE) {
        take_list(L, lua_gettop(L), r, c->pool, &out->hosts);
    } else if (!lua_isnil(L, -1)) {
        const char *s = lrun_string(L, -1, LCALL_STRING_MAX, r, "hosts",
                                    &len);
        out->hosts.v = pool_zalloc(c->pool, 2 * sizeof(char *));
        out->hosts.v[0] = pool_strndup(c->pool, s, len);
        out->hosts.n = 1;
    }
    lua_pop(L, 1);
}

static void route_table(lua_State *L, int idx, struct lrun *r)
{
    struct call *c = r->arg;
    struct lroute *out = c->route;

    out->verdict = field_str(L, idx, "_verb", LCALL_VERB_MAX, r);
    if (out->verdict == NULL)
        lrun_raise(L, r, "must return accept{...}, pass(), decline(), "
                   "fail(...), defer(...) or redirect(...)");
    out->transport = field_str(L, idx, "transport", LCALL_STRING_MAX, r);
    out->message = field_str(L, idx, "message", LCALL_STRING_MAX, r);
    out->data = field_str(L, idx, "data", LCALL_STRING_MAX, r);
    out->address_data = field_str(L, idx, "address_data", LCALL_STRING_MAX,
                                  r);
    route_hosts(L, idx, r, out);
    if (strcmp(out->verdict, "redirect") == 0)
        take_list(L, idx, r, c->pool, &out->items);
}

static void take_route(lua_State *L, int base, int n, struct lrun *r)
{
    struct call *c = r->arg;
    int t = n > 0 ? lua_type(L, base) : LUA_TNIL;

    if (t == LUA_TNIL)
        c->route->verdict = "decline";
    else if (t == LUA_TTABLE)
        route_table(L, base, r);
    else
        lrun_raise(L, r, "returned a %s; expected accept{...}, pass(), "
                   "decline(), fail(...), defer(...) or redirect(...)",
                   lua_typename(L, t));
}

/* lcall_route - call a Lua router's route function */
int lcall_route(struct lstate *ls, int fn, const struct xvars *v,
                struct pool *p, struct lroute *out, struct errbuf *eb)
{
    struct call c = { .v = v, .pool = p, .route = out };
    struct lrun r = { .push = push_fn_vars, .take = take_route, .arg = &c,
                      .what = "route function" };

    memset(out, 0, sizeof(*out));
    return call(ls, fn, &r, eb);
}

/* lcall_check_password - call fn(user, password) under the budget */
int lcall_check_password(struct lstate *ls, int fn, const char *user,
                         const char *password, int *ok, struct errbuf *eb)
{
    struct call c = { .user = user, .password = password };
    struct lrun r = { .push = push_fn_password, .take = take_truth,
                      .arg = &c, .what = "auth_check" };
    struct errbuf err;

    r.ls = ls;
    r.fn = fn;
    switch (lrun_call(&r, &err)) {
    case LRUN_OK:
        *ok = c.truth;
        return LC_OK;
    case LRUN_NEED_DNS:
        errbuf_set(&err, "lookup.dnsdb cannot be used in auth_check");
        break;
    }
    *ok = 0;
    errbuf_set(eb, "error in auth_check: %s", err.msg);
    return LC_ERROR;
}
