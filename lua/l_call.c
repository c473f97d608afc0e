/*
 * l_call.c - run a configuration function with an address's variables.
 *
 * PURPOSE: the one place where core's routing calls into Lua: push the
 * function and an address table, run it under the instruction budget,
 * translate the result (or the need-DNS sentinel, or an error) for C.
 */
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/strbuf.h"
#include "lua/lcall.h"
#include "lua/lstate_impl.h"

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

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL && !lua_isnoneornil(L, 1)
        && !lstate_is_need_dns(L, 1))
        msg = "error object is not a string";
    if (msg == NULL)
        return 1;               /* the sentinel passes through untouched */
    lua_pushstring(L, msg);
    return 1;
}

/* Call fn(vars) leaving one result on the stack; LC_* status. */
static int call(struct lstate *ls, int fn, const struct xvars *v,
                struct errbuf *eb)
{
    lua_State *L = ls->L;
    int rc;

    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
    lstate_note_fn(L, -1);
    push_vars(L, v);
    lstate_arm(ls);
    rc = lua_pcall(L, 1, 1, -3);
    lstate_disarm(ls);
    lua_remove(L, -2);          /* the message handler */
    if (rc == LUA_OK)
        return LC_OK;
    if (lstate_is_need_dns(L, -1)) {
        lua_pop(L, 1);
        return LC_NEED_DNS;
    }
    errbuf_set(eb, "error in Lua function: %s",
               lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
    return LC_ERROR;
}

static const char *join_table(lua_State *L, int idx, struct pool *p)
{
    struct strbuf sb;
    const char *out;

    sb_init(&sb);
    for (lua_Integer i = 1;; i++) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (i > 1)
            sb_putc(&sb, '\n');
        if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
            sb_puts(&sb, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    out = pool_strndup(p, sb_str(&sb), sb_len(&sb));
    sb_free(&sb);
    return out;
}

/* lcall_value - call fn and return its result as a string */
int lcall_value(struct lstate *ls, int fn, const struct xvars *v,
                struct pool *p, const char **out, struct errbuf *eb)
{
    lua_State *L = ls->L;
    int rc = call(ls, fn, v, eb);

    if (rc != LC_OK)
        return rc;
    switch (lua_type(L, -1)) {
    case LUA_TNIL:
        *out = NULL;
        break;
    case LUA_TBOOLEAN:
        *out = lua_toboolean(L, -1) ? "true" : NULL;
        break;
    case LUA_TTABLE:
        *out = join_table(L, lua_gettop(L), p);
        break;
    case LUA_TSTRING:
    case LUA_TNUMBER:
        *out = pool_strdup(p, lua_tostring(L, -1));
        break;
    default:
        errbuf_set(eb, "Lua function returned a %s where a string was "
                   "expected", luaL_typename(L, -1));
        rc = LC_ERROR;
    }
    lua_pop(L, 1);
    return rc;
}

/* lcall_truth - call fn and test its result */
int lcall_truth(struct lstate *ls, int fn, const struct xvars *v, int *out,
                struct errbuf *eb)
{
    int rc = call(ls, fn, v, eb);

    if (rc != LC_OK)
        return rc;
    *out = lua_toboolean(ls->L, -1);
    lua_pop(ls->L, 1);
    return LC_OK;
}

static const char *field_str(lua_State *L, int idx, const char *key,
                             struct pool *p)
{
    const char *v = NULL;

    lua_getfield(L, idx, key);
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
        v = pool_strdup(p, lua_tostring(L, -1));
    lua_pop(L, 1);
    return v;
}

static void collect_strings(lua_State *L, int idx, struct pool *p,
                            struct strlist *sl)
{
    size_t n = lua_rawlen(L, idx);

    sl->v = pool_zalloc(p, (n + 1) * sizeof(char *));
    sl->n = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER)
            sl->v[sl->n++] = pool_strdup(p, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

static void route_hosts(lua_State *L, int idx, struct pool *p,
                        struct lroute *out)
{
    lua_getfield(L, idx, "hosts");
    if (lua_type(L, -1) == LUA_TTABLE) {
        collect_strings(L, lua_gettop(L), p, &out->hosts);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        out->hosts.v = pool_zalloc(p, 2 * sizeof(char *));
        out->hosts.v[0] = pool_strdup(p, lua_tostring(L, -1));
        out->hosts.n = 1;
    }
    lua_pop(L, 1);
}

static int route_table(lua_State *L, int idx, struct pool *p,
                       struct lroute *out, struct errbuf *eb)
{
    out->verdict = field_str(L, idx, "_verb", p);
    if (out->verdict == NULL) {
        errbuf_set(eb, "route function must return accept{...}, pass(), "
                   "decline(), fail(...), defer(...) or redirect(...)");
        return LC_ERROR;
    }
    out->transport = field_str(L, idx, "transport", p);
    out->message = field_str(L, idx, "message", p);
    out->data = field_str(L, idx, "data", p);
    out->address_data = field_str(L, idx, "address_data", p);
    route_hosts(L, idx, p, out);
    if (strcmp(out->verdict, "redirect") == 0)
        collect_strings(L, idx, p, &out->items);
    return LC_OK;
}

/* lcall_route - call a Lua router's route function */
int lcall_route(struct lstate *ls, int fn, const struct xvars *v,
                struct pool *p, struct lroute *out, struct errbuf *eb)
{
    lua_State *L = ls->L;
    int rc = call(ls, fn, v, eb);

    memset(out, 0, sizeof(*out));
    if (rc != LC_OK)
        return rc;
    if (lua_isnil(L, -1)) {
        out->verdict = "decline";
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        rc = route_table(L, lua_gettop(L), p, out, eb);
    } else {
        errbuf_set(eb, "route function returned a %s; expected accept{...}, "
                   "pass(), decline(), fail(...), defer(...) or "
                   "redirect(...)", luaL_typename(L, -1));
        rc = LC_ERROR;
    }
    lua_pop(L, 1);
    return rc;
}

/* lcall_check_password - call fn(user, password) under the budget */
int lcall_check_password(struct lstate *ls, int fn, const char *user,
                         const char *password, int *ok, struct errbuf *eb)
{
    lua_State *L = ls->L;
    int rc;

    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
    lstate_note_fn(L, -1);
    lua_pushstring(L, user);
    lua_pushstring(L, password);
    lstate_arm(ls);
    rc = lua_pcall(L, 2, 1, -4);
    lstate_disarm(ls);
    lua_remove(L, -2);
    if (rc != LUA_OK) {
        errbuf_set(eb, "error in auth_check: %s",
                   lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_pop(L, 1);
        return LC_ERROR;
    }
    *ok = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return LC_OK;
}
