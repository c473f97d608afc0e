/*
 * l_sandbox.c - the environment configuration code runs in.
 *
 * PURPOSE: an allow-list _ENV (Redis's idea, with stock 5.4 tables), and
 * the places where the stock libraries would let a script escape the
 * budget of lstate.c:
 *   - setmetatable refuses __gc and __close: finalizers run with hooks
 *     off (a loop in one hangs the process, or lua_close at a reload),
 *     and Lua only registers a finalizer if __gc is in the metatable when
 *     it is set, so checking then (raw) closes that path for good;
 *   - coroutine.create/wrap charge one hook period: a thread that dies
 *     before its own count reaches the hook would run free otherwise;
 *   - table.insert/remove/move loop in C over lengths a script chooses
 *     (__len, or plain integers): they charge each element first;
 *   - string.find/match/gmatch/gsub are l_pattern.c's, which watch the
 *     clock; the string metatable's __index is the sandbox's string
 *     table (not the real one, with dump) and getmetatable("") is false.
 * INTERFACE: l_sandbox_open (lstate_impl.h).
 * SECURITY: no io, os.execute/exit/remove, load/loadfile/dofile, require,
 * package, debug, collectgarbage, string.dump.
 */
#include <limits.h>

#include <lua.h>
#include <lauxlib.h>

#include "lua/lstate_impl.h"

static void copy_fields(lua_State *L, int from, int to,
                        const char *const *names)
{
    for (; *names != NULL; names++) {
        lua_getfield(L, from, *names);
        lua_setfield(L, to, *names);
    }
}

static void copy_library(lua_State *L, int env, const char *lib,
                         const char *const *names)
{
    lua_getglobal(L, lib);
    int from = lua_gettop(L);
    lua_newtable(L);
    if (names == NULL) {
        lua_pushnil(L);
        while (lua_next(L, from) != 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -4);
        }
    } else {
        copy_fields(L, from, lua_gettop(L), names);
    }
    lua_setfield(L, env, lib);
    lua_pop(L, 1);
}

/* setmetatable(t, mt) without finalizers or closers */
static int l_setmetatable(lua_State *L)
{
    static const char *const refused[] = { "__gc", "__close" };
    int t = lua_type(L, 2);

    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    for (size_t i = 0; t == LUA_TTABLE && i < 2; i++) {
        lua_pushstring(L, refused[i]);
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: %s metamethods are not "
                              "allowed in tern scripts", refused[i]);
        lua_pop(L, 1);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* coroutine.create / coroutine.wrap (the stock one is upvalue 1) */
static int l_coroutine_new(lua_State *L)
{
    lstate_charge(L, lstate_of(L)->period);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* charge the n elements a table function is about to move */
static void charge_elements(lua_State *L, lua_Integer n)
{
    if (n > 0)
        lstate_charge(L, n > LONG_MAX ? LONG_MAX : (long)n);
}

/* table.insert(t, [pos,] value) */
static int l_table_insert(lua_State *L)
{
    lua_Integer e, pos;

    luaL_checktype(L, 1, LUA_TTABLE);
    e = luaL_len(L, 1) + 1;         /* the first empty slot */
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2,
                      "position out of bounds");
        charge_elements(L, e - pos);
        for (lua_Integer i = e; i > pos; i--) {
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

/* table.remove(t [, pos]) */
static int l_table_remove(lua_State *L)
{
    lua_Integer size, pos;

    luaL_checktype(L, 1, LUA_TTABLE);
    size = luaL_len(L, 1);
    pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2,
                      "position out of bounds");
    charge_elements(L, size - pos);
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) {
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

/* table.move(a1, f, e, t [, a2]) */
static int l_table_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4), n;
    int tt = lua_isnoneornil(L, 5) ? 1 : 5;

    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, tt, LUA_TTABLE);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3,
                      "too many elements to move");
        n = e - f + 1;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4,
                      "destination wrap around");
        charge_elements(L, n);
        int up = t > e || t <= f || (tt != 1 && !lua_rawequal(L, 1, tt));
        for (lua_Integer i = 0; i < n; i++) {
            lua_Integer k = up ? i : n - 1 - i;
            lua_geti(L, 1, f + k);
            lua_seti(L, tt, t + k);
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

static void wrap_field(lua_State *L, int lib, const char *name,
                       lua_CFunction fn)
{
    lua_getfield(L, lib, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, lib, name);
}

static void set_field(lua_State *L, int lib, const char *name,
                      lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_setfield(L, lib, name);
}

/* strings index the sandbox's string table; the metatable is hidden */
static void string_metatable(lua_State *L, int strlib)
{
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushvalue(L, strlib);
        lua_setfield(L, -2, "__index");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void guard_libraries(lua_State *L, int env)
{
    lua_getfield(L, env, "coroutine");
    wrap_field(L, lua_gettop(L), "create", l_coroutine_new);
    wrap_field(L, lua_gettop(L), "wrap", l_coroutine_new);
    lua_getfield(L, env, "table");
    set_field(L, lua_gettop(L), "insert", l_table_insert);
    set_field(L, lua_gettop(L), "remove", l_table_remove);
    set_field(L, lua_gettop(L), "move", l_table_move);
    lua_getfield(L, env, "string");
    lua_pushnil(L);                 /* bytecode is never loaded: no dump */
    lua_setfield(L, -2, "dump");
    l_pattern_open(L, lua_gettop(L));
    string_metatable(L, lua_gettop(L));
    lua_pop(L, 3);
    set_field(L, env, "setmetatable", l_setmetatable);
}

/* l_sandbox_open - fill env (at that stack index) with the allow-list */
void l_sandbox_open(struct lstate *ls, int env)
{
    static const char *const base[] = {
        "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
        "tonumber", "tostring", "type", "xpcall", "rawequal", "rawget",
        "rawlen", "rawset", "getmetatable", "print", "_VERSION", NULL };
    static const char *const os_safe[] = { "time", "date", "clock",
                                           "difftime", NULL };
    lua_State *L = ls->L;

    lua_pushglobaltable(L);
    copy_fields(L, lua_gettop(L), env, base);
    lua_pop(L, 1);
    copy_library(L, env, "string", NULL);
    copy_library(L, env, "table", NULL);
    copy_library(L, env, "math", NULL);
    copy_library(L, env, "utf8", NULL);
    copy_library(L, env, "coroutine", NULL);
    copy_library(L, env, "os", os_safe);
    guard_libraries(L, env);
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    l_lookup_open(ls, env);
    l_verbs_open(ls, env);
    l_dns_open(ls, env);
}
