/*
 * l_verbs.c - the verb constructors scripts write: accept, deny, defer,
 *             discard, drop, require, warn (ACL statements) and accept,
 *             pass, decline, fail, defer, redirect (Lua router results).
 *
 * PURPOSE: verb{...} marks its table with _verb = "verb" and returns it;
 * verb("text") makes { _verb, message = "text" } (redirect: data = text);
 * verb() makes { _verb }. The context (an ACL list, a route function's
 * return value) decides which fields are valid.
 * INTERFACE: l_verbs_open.
 */
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "lua/lstate_impl.h"

static int l_verb(lua_State *L)
{
    const char *verb = lua_tostring(L, lua_upvalueindex(1));
    int t = lua_type(L, 1);

    if (t == LUA_TTABLE) {
        lua_settop(L, 1);
    } else {
        if (t != LUA_TSTRING && t != LUA_TNONE && t != LUA_TNIL)
            return luaL_argerror(L, 1, "expected a table or a string");
        lua_newtable(L);
        if (t == LUA_TSTRING) {
            lua_pushvalue(L, 1);
            lua_setfield(L, -2, strcmp(verb, "redirect") == 0 ? "data"
                                                              : "message");
        }
    }
    lua_pushstring(L, verb);
    lua_setfield(L, -2, "_verb");
    {                               /* where the statement was written */
        const char *file;
        int line;
        lstate_where(L, 1, &file, &line);
        lua_pushinteger(L, line);
        lua_setfield(L, -2, "_line");
    }
    return 1;
}

/* l_verbs_open - install the constructors into env */
void l_verbs_open(struct lstate *ls, int env)
{
    static const char *const verbs[] = {
        "accept", "deny", "defer", "discard", "drop", "require", "warn",
        "pass", "decline", "fail", "redirect", NULL };

    for (const char *const *v = verbs; *v != NULL; v++) {
        lua_pushstring(ls->L, *v);
        lua_pushcclosure(ls->L, l_verb, 1);
        lua_setfield(ls->L, env, *v);
    }
}
