/*
 * l_conf.c - the conf.d DSL: main{}, domainlist/hostlist/addresslist/
 *            localpartlist, router, transport, acl, retry.
 *
 * PURPOSE: each call converts its Lua table into C structures immediately,
 * checking every key against the typed option tables, so an error names the
 * file and line of the definition. Cross-references (transports named by
 * routers, +lists) are resolved by load/conf_load.c once all files are read.
 * INTERFACE: l_conf_install (adds the DSL to the sandbox environment: the
 *            loader does, lua/ never names the DSL),
 *            l_conf_value (Lua value -> typed option, shared with l_acl).
 * ERRORS: raised as Lua errors "FILE:LINE: what: reason", which the loader
 *         reports and turns into a non-zero exit.
 */
#include <stdint.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "acl/acl.h"
#include "core/base/strbuf.h"
#include "core/base/version.h"
#include "core/conf/conf_build.h"
#include "core/conf/driver.h"
#include "core/mail/expand.h"
#include "core/conf/mlist.h"
#include "load/conf_keyline.h"
#include "load/l_conf.h"
#include "lua/lcoro.h"
#include "lua/lstate_impl.h"

/* raise "FILE:LINE: what: msg" for the definition being processed */
static int def_error(lua_State *L, const struct origin *o, const char *what,
                     const char *msg)
{
    lua_pushfstring(L, "%s:%d: %s: %s", o->file, o->line, what, msg);
    return lua_error(L);
}

static struct origin caller_origin(lua_State *L, struct conf *c)
{
    struct origin o;

    lstate_where(L, 1, &o.file, &o.line);
    o.file = pool_strdup(c->pool, o.file);
    return o;
}

static const char *value_text(lua_State *L, int idx, struct conf *c)
{
    if (lua_type(L, idx) == LUA_TBOOLEAN)
        return lua_toboolean(L, idx) ? "true" : "false";
    return pool_strdup(c->pool, lua_tostring(L, idx));
}

static int set_mlist(lua_State *L, int idx, struct conf *c,
                     const struct opt_spec *o, void *base,
                     const struct origin *org, struct errbuf *eb)
{
    struct mlist **slot = (struct mlist **)((char *)base + o->offset);
    struct mlist *l;

    if (lua_type(L, idx) == LUA_TSTRING) {
        l = mlist_parse_text(c->pool, o->kind, lua_tostring(L, idx), eb);
        if (l == NULL)
            return -1;
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        l = mlist_new(c->pool, o->kind);
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            int t = lua_type(L, -1);
            if (t != LUA_TSTRING && t != LUA_TNUMBER) {
                lua_pop(L, 1);
                errbuf_set(eb, "list items must be strings");
                return -1;
            }
            int rc = mlist_add(l, c->pool, lua_tostring(L, -1), eb);
            lua_pop(L, 1);
            if (rc != 0)
                return -1;
        }
    } else {
        errbuf_set(eb, "expects a list (string or table), got %s",
                   luaL_typename(L, idx));
        return -1;
    }
    *slot = l;
    conf_track_mlist(c, l, org);
    return 0;
}

/* Append the "name=value" pairs of a table's string keys (set = {...}). */
static void strlist_pairs(lua_State *L, int idx, struct conf *c,
                          struct strlist *sl, size_t *cap)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            if (sl->n + 1 >= *cap) {
                const char **v = pool_zalloc(c->pool, *cap * 2 * sizeof(char *));
                memcpy(v, sl->v, sl->n * sizeof(char *));
                sl->v = v;
                *cap *= 2;
            }
            lua_pushvalue(L, -1);
            sl->v[sl->n++] = pool_printf(c->pool, "%s=%s",
                                         lua_tostring(L, -3),
                                         lua_tostring(L, -1) ? lua_tostring(L, -1)
                                         : "");
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

static int set_strlist(lua_State *L, int idx, struct conf *c,
                       const struct opt_spec *o, void *base,
                       struct errbuf *eb)
{
    struct strlist *sl = (struct strlist *)((char *)base + o->offset);

    if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER)
        return opt_set_text(c, o, base, lua_tostring(L, idx), eb);
    if (lua_type(L, idx) != LUA_TTABLE) {
        errbuf_set(eb, "expects a list (string or table), got %s",
                   luaL_typename(L, idx));
        return -1;
    }
    size_t n = lua_rawlen(L, idx), cap = n + 2;
    sl->v = pool_zalloc(c->pool, cap * sizeof(char *));
    sl->n = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            errbuf_set(eb, "list items must be strings");
            return -1;
        }
        sl->v[sl->n++] = pool_strdup(c->pool, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    strlist_pairs(L, idx, c, sl, &cap);
    return 0;
}

static int set_xval(lua_State *L, int idx, struct conf *c,
                    const struct opt_spec *o, void *base, struct errbuf *eb)
{
    struct xval *x = (struct xval *)((char *)base + o->offset);
    int t = lua_type(L, idx);

    if (t == LUA_TFUNCTION) {
        lua_pushvalue(L, idx);
        x->fn = luaL_ref(L, LUA_REGISTRYINDEX);
        x->str = NULL;
        return 0;
    }
    if (o->type == OPT_FUNC) {
        errbuf_set(eb, "expects a function, got %s", luaL_typename(L, idx));
        return -1;
    }
    if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN) {
        errbuf_set(eb, "expects a string or a function, got %s",
                   luaL_typename(L, idx));
        return -1;
    }
    x->str = value_text(L, idx, c);
    x->fn = -1;
    return expand_check(x->str, eb);
}

static int type_error(lua_State *L, int idx, const char *want,
                      struct errbuf *eb)
{
    errbuf_set(eb, "expects %s, got %s", want, luaL_typename(L, idx));
    return -1;
}

/* l_conf_value - store the Lua value at idx into option o of base */
int l_conf_value(lua_State *L, int idx, struct conf *c,
                 const struct opt_spec *o, void *base,
                 const struct origin *org, struct errbuf *eb)
{
    int t = lua_type(L, idx);

    idx = lua_absindex(L, idx);
    switch (o->type) {
    case OPT_BOOL:
        if (t != LUA_TBOOLEAN)
            return type_error(L, idx, "true or false", eb);
        *(int *)((char *)base + o->offset) = lua_toboolean(L, idx);
        return 0;
    case OPT_MLIST:
        return set_mlist(L, idx, c, o, base, org, eb);
    case OPT_STRLIST:
        return set_strlist(L, idx, c, o, base, eb);
    case OPT_XVAL:
    case OPT_FUNC:
        return set_xval(L, idx, c, o, base, eb);
    case OPT_INT:
    case OPT_TIME:
    case OPT_SIZE:
    case OPT_MODE:
        if (t != LUA_TNUMBER && t != LUA_TSTRING)
            return type_error(L, idx, o->type == OPT_INT ? "a number"
                              : o->type == OPT_MODE ? "a mode (\"0640\")"
                              : o->type == OPT_TIME ? "a time (\"2h\", 90)"
                              : "a size (\"10M\", 1024)", eb);
        return opt_set_text(c, o, base, lua_tostring(L, idx), eb);
    default:
        if (t != LUA_TSTRING && t != LUA_TNUMBER)
            return type_error(L, idx, "a string", eb);
        return opt_set_text(c, o, base, lua_tostring(L, idx), eb);
    }
}

/* Set one key of a definition table from the first table that knows it. */
static int set_key(lua_State *L, struct conf *c, const char *key,
                   const struct opt_spec *t1, void *b1,
                   const struct opt_spec *t2, void *b2,
                   const struct origin *org, struct errbuf *eb)
{
    const struct opt_spec *o = opt_find(t1, key);
    void *base = b1;

    if (o == NULL && t2 != NULL) {
        o = opt_find(t2, key);
        base = b2;
    }
    if (o == NULL) {
        errbuf_set(eb, "unknown option \"%s\"", key);
        return -1;
    }
    if (l_conf_value(L, -1, c, o, base, org, eb) != 0) {
        errbuf_prefix(eb, "option \"%s\" ", key);
        return -1;
    }
    return 0;
}

static int is_keyword(const char *key)
{
    return strcmp(key, "driver") == 0 || strcmp(key, "override") == 0
           || strcmp(key, "disabled") == 0 || strcmp(key, "_verb") == 0
           || strcmp(key, "_line") == 0;
}

/* An ACL statement's key: a condition may be negated by a leading '!'
 * (["!verify"] = "recipient"); acl/ records it and refuses a '!' on a
 * modifier. */
static int acl_key(lua_State *L, struct conf *c, const char *key, void *f,
                   const struct origin *org, struct errbuf *eb)
{
    int neg = key[0] == '!';

    if (neg && opt_find(acl_stmt_opts, key + 1) == NULL) {
        errbuf_set(eb, "unknown option \"%s\"", key);
        return -1;
    }
    if (set_key(L, c, key + neg, acl_stmt_opts, f, NULL, NULL, org, eb) != 0)
        return -1;
    return acl_stmt_key(f, key + neg, neg, eb);
}

/* Walk the string keys of the table at idx into the option tables. */
static int set_table(lua_State *L, int idx, struct conf *c,
                     const struct opt_spec *t1, void *b1,
                     const struct opt_spec *t2, void *b2,
                     const struct origin *org, struct errbuf *eb)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            errbuf_set(eb, "options must be name = value pairs");
            return -1;
        }
        const char *key = lua_tostring(L, -2);
        if (!is_keyword(key)
            && (t1 == acl_stmt_opts ? acl_key(L, c, key, b1, org, eb)
                : set_key(L, c, key, t1, b1, t2, b2, org, eb)) != 0) {
            lua_pop(L, 2);
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int opt_flag(lua_State *L, int idx, const char *key)
{
    int v;

    lua_getfield(L, idx, key);
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static struct conf *conf_of(lua_State *L)
{
    struct conf *c = lstate_of(L)->conf;

    if (c == NULL)
        luaL_error(L, "configuration definitions are only allowed while "
                      "the configuration is loaded");
    return c;
}

/* key_origin - where key of this main{} call is written: its own line
 * when the file's text shows it (conf_keyline.c), else the call's */
static struct origin key_origin(const struct keylines *kl,
                                const struct origin *call, const char *key)
{
    struct origin o = *call;
    int line = keylines_get(kl, key);

    if (line >= call->line)
        o.line = line;
    return o;
}

/* one "key = value" of main{}: 0, or -1 with eb */
static int main_field(lua_State *L, struct conf *c, const struct keylines *kl,
                      const struct origin *call, struct errbuf *eb)
{
    const char *key = lua_tostring(L, -2);
    const struct opt_spec *o = opt_find(conf_main_opts(), key);
    struct origin org = key_origin(kl, call, key);

    if (o == NULL) {
        errbuf_set(eb, "%s:%d: main: unknown option \"%s\"", org.file,
                   org.line, key);
        return -1;
    }
    if (l_conf_value(L, -1, c, o, &c->main, &org, eb) != 0) {
        errbuf_prefix(eb, "%s:%d: main: option \"%s\" ", org.file, org.line,
                      key);
        return -1;
    }
    conf_main_note(c, o, &org);
    return 0;
}

/* main { ... } */
static int l_main(lua_State *L)
{
    struct conf *c = conf_of(L);
    struct origin org = caller_origin(L, c);
    struct keylines kl;
    struct errbuf eb;

    if (lua_type(L, 1) != LUA_TTABLE)
        return def_error(L, &org, "main", "expects a table: main { ... }");
    keylines_scan(org.file, org.line, &kl);
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            keylines_free(&kl);
            return def_error(L, &org, "main", "options must be name = value");
        }
        if (main_field(L, c, &kl, &org, &eb) != 0) {
            keylines_free(&kl);
            lua_pushstring(L, eb.msg);
            return lua_error(L);
        }
        lua_pop(L, 1);
    }
    keylines_free(&kl);
    return 0;
}

/* A named definition: NAME { ... } or NAME(value), also f(name, value). */
typedef int (*def_fn)(lua_State *L, struct conf *c, const char *name,
                      int idx, const struct origin *org);

static int run_def(lua_State *L, def_fn fn, const char *what)
{
    struct conf *c = conf_of(L);
    struct origin org = caller_origin(L, c);
    const char *name = lua_tostring(L, lua_upvalueindex(2));

    if (lua_isnone(L, 1))
        return def_error(L, &org, what, "missing definition after the name");
    return fn(L, c, name, 1, &org);
}

static int def_closure(lua_State *L)
{
    def_fn fn = (def_fn)(uintptr_t)lua_touserdata(L, lua_upvalueindex(1));
    const char *what = lua_tostring(L, lua_upvalueindex(3));

    return run_def(L, fn, what);
}

static int def_entry(lua_State *L)
{
    def_fn fn = (def_fn)(uintptr_t)lua_touserdata(L, lua_upvalueindex(1));
    const char *what = lua_tostring(L, lua_upvalueindex(2));
    struct conf *c = conf_of(L);
    struct origin org = caller_origin(L, c);

    if (lua_toboolean(L, lua_upvalueindex(3)))  /* a __call: drop self */
        lua_remove(L, 1);
    if (lua_type(L, 1) != LUA_TSTRING || lua_rawlen(L, 1) == 0)
        return def_error(L, &org, what, "expects a name: "
                         "NAME \"name\" { ... }");
    if (!lua_isnone(L, 2)) {            /* f("name", value) */
        const char *name = lua_tostring(L, 1);
        return fn(L, c, pool_strdup(c->pool, name), 2, &org);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushstring(L, pool_strdup(c->pool, lua_tostring(L, 1)));
    lua_pushstring(L, what);
    lua_pushcclosure(L, def_closure, 3);
    return 1;
}

static void push_def(lua_State *L, const char *what, def_fn fn, int call)
{
    lua_pushlightuserdata(L, (void *)(uintptr_t)fn);
    lua_pushstring(L, what);
    lua_pushboolean(L, call);
    lua_pushcclosure(L, def_entry, 3);
}

static void install_def(lua_State *L, int env, const char *what, def_fn fn)
{
    push_def(L, what, fn, 0);
    lua_setfield(L, env, what);
}


static int fail_def(lua_State *L, const struct origin *org, const char *what,
                    const char *name, const char *msg)
{
    char head[256];

    bsnprintf(head, sizeof(head), "%s \"%s\"", what, name);
    return def_error(L, org, head, msg);
}

/* domainlist "name" { ... } / "a : b" - and the other three list kinds */
static int def_list(lua_State *L, struct conf *c, const char *name, int idx,
                    const struct origin *org, enum mlist_kind kind,
                    const char *what)
{
    struct opt_spec o = { "list", OPT_MLIST, 0, NULL, (int)kind, NULL };
    struct mlist *l = NULL;
    struct errbuf eb;
    int override = 0, disabled = 0;

    if (lua_type(L, idx) == LUA_TTABLE) {
        override = opt_flag(L, idx, "override");
        disabled = opt_flag(L, idx, "disabled");
    }
    if (l_conf_value(L, idx, c, &o, &l, org, &eb) != 0
        || conf_add_list(c, name, kind, l, org, override, disabled, &eb) != 0)
        return fail_def(L, org, what, name, eb.msg);
    return 0;
}

static int def_domainlist(lua_State *L, struct conf *c, const char *name,
                          int idx, const struct origin *org)
{
    return def_list(L, c, name, idx, org, ML_DOMAIN, "domainlist");
}

static int def_hostlist(lua_State *L, struct conf *c, const char *name,
                        int idx, const struct origin *org)
{
    return def_list(L, c, name, idx, org, ML_HOST, "hostlist");
}

static int def_addresslist(lua_State *L, struct conf *c, const char *name,
                           int idx, const struct origin *org)
{
    return def_list(L, c, name, idx, org, ML_ADDRESS, "addresslist");
}

static int def_localpartlist(lua_State *L, struct conf *c, const char *name,
                             int idx, const struct origin *org)
{
    return def_list(L, c, name, idx, org, ML_LOCALPART, "localpartlist");
}

static const char *driver_name(lua_State *L, int idx)
{
    const char *d;

    lua_getfield(L, idx, "driver");
    d = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return d;
}

static int unknown_driver(lua_State *L, const struct origin *org,
                          const char *what, const char *name, const char *d,
                          void (*names)(struct strbuf *))
{
    struct strbuf sb;
    char msg[512];

    sb_init(&sb);
    names(&sb);
    if (d == NULL)
        bsnprintf(msg, sizeof(msg), "no driver given (driver = one of: %s)",
                  sb_str(&sb));
    else
        bsnprintf(msg, sizeof(msg), "unknown driver \"%s\" (known: %s)", d,
                  sb_str(&sb));
    sb_free(&sb);
    return fail_def(L, org, what, name, msg);
}

/* router "name" { driver = "...", ... } */
static int def_router(lua_State *L, struct conf *c, const char *name,
                      int idx, const struct origin *org)
{
    const struct router_driver *drv;
    struct router *r;
    struct errbuf eb;
    const char *d;

    if (lua_type(L, idx) != LUA_TTABLE)
        return fail_def(L, org, "router", name, "expects a table { ... }");
    d = driver_name(L, idx);
    if (opt_flag(L, idx, "disabled")) {
        struct router gone = { .name = name, .origin = *org };
        if (conf_add_router(c, &gone, opt_flag(L, idx, "override"), 1,
                            &eb) != 0)
            return fail_def(L, org, "router", name, eb.msg);
        return 0;
    }
    if (d == NULL || (drv = router_driver_find(d)) == NULL)
        return unknown_driver(L, org, "router", name, d, router_driver_names);
    r = conf_new_router(c, name, drv, org, &eb);
    if (r == NULL
        || set_table(L, idx, c, router_generic_opts(), r, drv->opts, r->priv,
                     org, &eb) != 0
        || conf_add_router(c, r, opt_flag(L, idx, "override"), 0, &eb) != 0)
        return fail_def(L, org, "router", name, eb.msg);
    return 0;
}

/* transport "name" { driver = "...", ... } */
static int def_transport(lua_State *L, struct conf *c, const char *name,
                         int idx, const struct origin *org)
{
    const struct transport_driver *drv;
    struct transport *t;
    struct errbuf eb;
    const char *d;

    if (lua_type(L, idx) != LUA_TTABLE)
        return fail_def(L, org, "transport", name, "expects a table { ... }");
    if (opt_flag(L, idx, "disabled")) {
        struct transport gone = { .name = name, .origin = *org };
        if (conf_add_transport(c, &gone, opt_flag(L, idx, "override"), 1,
                               &eb) != 0)
            return fail_def(L, org, "transport", name, eb.msg);
        return 0;
    }
    d = driver_name(L, idx);
    if (d == NULL || (drv = transport_driver_find(d)) == NULL)
        return unknown_driver(L, org, "transport", name, d,
                              transport_driver_names);
    t = conf_new_transport(c, name, drv, org, &eb);
    if (t == NULL
        || set_table(L, idx, c, transport_generic_opts(), t, drv->opts,
                     t->priv, org, &eb) != 0
        || conf_add_transport(c, t, opt_flag(L, idx, "override"), 0,
                              &eb) != 0)
        return fail_def(L, org, "transport", name, eb.msg);
    return 0;
}

static int find_word(const char *const *words, const char *w)
{
    for (; *words != NULL; words++)
        if (strcmp(*words, w) == 0)
            return 1;
    return 0;
}

/* "a, b, c" from a NULL-terminated table, so an error message lists what
 * the table holds and cannot drift from it */
static const char *word_list(struct pool *p, const char *const *words)
{
    struct strbuf sb;
    const char *s;

    sb_init(&sb);
    for (size_t i = 0; words[i] != NULL; i++)
        sb_printf(&sb, "%s%s", i ? ", " : "", words[i]);
    s = pool_strndup(p, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
    return s;
}

static int acl_statement(lua_State *L, struct conf *c, const char *hook,
                         struct acl_stmt *st, const struct origin *org,
                         struct errbuf *eb)
{
    int idx = lua_gettop(L);

    lua_getfield(L, idx, "_verb");
    st->verb = lua_type(L, -1) == LUA_TSTRING
               ? pool_strdup(c->pool, lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    if (st->verb == NULL || !find_word(acl_verbs, st->verb)) {
        errbuf_set(eb, "statement %s is not an ACL verb (accept, deny, "
                   "defer, discard, drop, require, warn)",
                   st->verb ? st->verb : "without a verb");
        return -1;
    }
    st->origin = *org;
    lua_getfield(L, idx, "_line");      /* the statement's own line */
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0)
        st->origin.line = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    st->fields = pool_zalloc(c->pool, acl_stmt_size);
    if (opt_defaults(c, acl_stmt_opts, st->fields, eb) != 0
        || set_table(L, idx, c, acl_stmt_opts, st->fields, NULL, NULL, org,
                     eb) != 0) {
        errbuf_prefix(eb, "%s: ", st->verb);
        return -1;
    }
    if (acl_stmt_check(c, hook, st->verb, st->fields, eb) != 0) {
        errbuf_prefix(eb, "%s: ", st->verb);
        return -1;
    }
    return 0;
}

/* acl "hook" { verb{...}, ... } or acl "hook" (function); any other
 * name defines an ACL that acl = "name" calls */
static int def_acl(lua_State *L, struct conf *c, const char *hook, int idx,
                   const struct origin *org)
{
    struct acl_def *a = pool_zalloc(c->pool, sizeof(*a));
    struct errbuf eb;

    a->hook = pool_strdup(c->pool, hook);   /* hook is Lua-owned memory */
    a->origin = *org;
    a->fn = -1;
    if (!find_word(acl_hooks, hook) && !acl_name_ok(hook))
        return fail_def(L, org, "acl", hook,
                        pool_printf(c->pool, "not an ACL hook (%s) nor a "
                                    "name for acl = (letters, digits, _ - .)",
                                    word_list(c->pool, acl_hooks)));
    if (lua_type(L, idx) == LUA_TFUNCTION) {
        lua_pushvalue(L, idx);
        a->fn = luaL_ref(L, LUA_REGISTRYINDEX);
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        a->n = lua_rawlen(L, idx);
        a->stmts = pool_zalloc(c->pool, (a->n + 1) * sizeof(*a->stmts));
        for (size_t i = 0; i < a->n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i + 1);
            if (lua_type(L, -1) != LUA_TTABLE) {
                lua_pop(L, 1);
                return fail_def(L, org, "acl", hook, "statements must be "
                                "verb { ... } calls, e.g. accept { ... }");
            }
            if (acl_statement(L, c, hook, &a->stmts[i], org, &eb) != 0) {
                char msg[sizeof(eb.msg)];
                bsnprintf(msg, sizeof(msg), "statement %zu: %s", i + 1,
                          eb.msg);
                return fail_def(L, org, "acl", hook, msg);
            }
            lua_pop(L, 1);
        }
    } else {
        return fail_def(L, org, "acl", hook, "expects a list of statements "
                        "{ accept { ... }, deny { ... } } or a function");
    }
    if (conf_add_acl(c, a, lua_type(L, idx) == LUA_TTABLE
                     && opt_flag(L, idx, "override"), &eb) != 0)
        return fail_def(L, org, "acl", hook, eb.msg);
    return 0;
}

static const char *field_or_index(lua_State *L, int idx, const char *key,
                                  int n)
{
    const char *v;

    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_rawgeti(L, idx, n);
    }
    v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return v;
}

/* Split Exim's one-line form "PATTERN ERROR RULES". */
static int retry_line(struct conf *c, const char *line, struct retry_def *r,
                      struct errbuf *eb)
{
    const char *p = line, *w[2];
    size_t wl[2];

    for (int i = 0; i < 2; i++) {
        p += strspn(p, " \t");
        w[i] = p;
        wl[i] = strcspn(p, " \t");
        p += wl[i];
        if (wl[i] == 0) {
            errbuf_set(eb, "expects \"PATTERN ERROR RULES\", e.g. "
                       "\"* * F,2h,15m; G,16h,1h,1.5; F,4d,6h\"");
            return -1;
        }
    }
    r->pattern = pool_strndup(c->pool, w[0], wl[0]);
    r->error = pool_strndup(c->pool, w[1], wl[1]);
    return retry_parse_rules(c, p, r, eb);
}

/* retry { "*", "*", "F,2h,15m; ..." } | { pattern=, error=, rules= }
 * | "PATTERN ERROR RULES" */
static int l_retry(lua_State *L)
{
    struct conf *c = conf_of(L);
    struct origin org = caller_origin(L, c);
    struct retry_def r = { 0 };
    struct errbuf eb;
    int rc;

    r.origin = org;
    if (lua_type(L, 1) == LUA_TSTRING) {
        rc = retry_line(c, lua_tostring(L, 1), &r, &eb);
    } else if (lua_type(L, 1) == LUA_TTABLE) {
        const char *pat = field_or_index(L, 1, "pattern", 1);
        const char *err = field_or_index(L, 1, "error", 2);
        const char *rules = field_or_index(L, 1, "rules", 3);
        if (pat == NULL || err == NULL || rules == NULL) {
            errbuf_set(&eb, "expects { pattern, error, rules }, e.g. "
                       "{ \"*\", \"*\", \"F,2h,15m; G,16h,1h,1.5; F,4d,6h\" }");
            rc = -1;
        } else {
            r.pattern = pool_strdup(c->pool, pat);
            r.error = pool_strdup(c->pool, err);
            rc = retry_parse_rules(c, rules, &r, &eb);
        }
    } else {
        errbuf_set(&eb, "expects a table or a \"PATTERN ERROR RULES\" line");
        rc = -1;
    }
    if (rc != 0)
        return def_error(L, &org, "retry", eb.msg);
    conf_add_retry(c, &r);
    return 0;
}

/* install the DSL and the tern table into env */
/* acl is a table: acl.NAME(value) are the conditions for ACL functions
 * (lua/lcoro.h); calling it is the DSL's acl "hook" { ... } */
static void install_acl(struct lstate *ls, int env)
{
    lua_State *L = ls->L;

    lco_open_acl(ls, env, acl_lua_cond_ops());
    lua_createtable(L, 0, 2);
    push_def(L, "acl", def_acl, 1);
    lua_setfield(L, -2, "__call");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");     /* scripts cannot change it */
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

static void open_dsl(struct lstate *ls, int env)
{
    lua_State *L = ls->L;

    lua_pushcfunction(L, l_main);
    lua_setfield(L, env, "main");
    lua_pushcfunction(L, l_retry);
    lua_setfield(L, env, "retry");
    install_def(L, env, "domainlist", def_domainlist);
    install_def(L, env, "hostlist", def_hostlist);
    install_def(L, env, "addresslist", def_addresslist);
    install_def(L, env, "localpartlist", def_localpartlist);
    install_def(L, env, "router", def_router);
    install_def(L, env, "transport", def_transport);
    install_acl(ls, env);
    lua_newtable(L);
    lua_pushstring(L, ls->conf && ls->conf->root ? ls->conf->root : "");
    lua_setfield(L, -2, "config_dir");
    lua_pushstring(L, TERN_VERSION);
    lua_setfield(L, -2, "version");
    lua_setfield(L, env, "tern");
}

/* l_conf_install - add the DSL to the sandbox environment of ls */
void l_conf_install(struct lstate *ls)
{
    lstate_open_env(ls, open_dsl);
}
