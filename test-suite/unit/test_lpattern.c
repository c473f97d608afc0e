/*
 * test_lpattern.c - the sandbox's string.find/match/gmatch/gsub
 * (lua/l_pattern.c) against the stock Lua 5.4 library: a table of fixed
 * cases, then thousands of random patterns and subjects (fixed seed, small
 * enough that the stock matcher cannot blow up) compared result by result,
 * errors included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/errbuf.h"
#include "lua/lstate_impl.h"
#include "test-suite/unit/tap.h"

/* Runs in the real global environment: `string` is the stock library,
 * `ours` (the argument) the sandbox's. Returns the number of cases and
 * the first difference, or nil. */
static const char DIFF[] =
"local ours, seed, rounds = ...\n"
"math.randomseed(seed)\n"
"local tokens = { 'a', 'b', 'c', '.', '%a', '%d', '%s', '%A', '%w', '%p',\n"
"  '[ab]', '[^a]', '[a-c]', '[%d_]', '[]]', '[^]a]', '*', '+', '-', '?',\n"
"  '(', ')', '()', '%1', '%2', '%0', '%b()', '%f[%w]', '%f[%W]', '^', '$',\n"
"  '%', '[a', '%b', '%f', '%%', '%.', ' ', '_', '1', 'x*', 'a-', '.-',\n"
"  '(a*)', '(.)%1', '[a-]', '[-a]', '\\0' }\n"
"local chars = 'abc1 _()-%$^]\\0'\n"
"local function pat()\n"
"  local t = {}\n"
"  for i = 1, math.random(0, 7) do t[#t + 1] = tokens[math.random(#tokens)] end\n"
"  return table.concat(t)\n"
"end\n"
"local function subj()\n"
"  local t = {}\n"
"  for i = 1, math.random(0, 12) do\n"
"    local k = math.random(#chars); t[#t + 1] = chars:sub(k, k)\n"
"  end\n"
"  return table.concat(t)\n"
"end\n"
"local function pack(ok, ...)\n"
"  if not ok then return 'error' end\n"
"  local t = table.pack(...)\n"
"  for i = 1, t.n do t[i] = type(t[i]) .. ':' .. tostring(t[i]) end\n"
"  return table.concat(t, ',', 1, t.n)\n"
"end\n"
"local function all(f, s, p, init)\n"
"  local out = {}\n"
"  for a, b, c in f(s, p, init) do\n"
"    out[#out + 1] = tostring(a) .. '|' .. tostring(b) .. '|' .. tostring(c)\n"
"    if #out > 40 then break end\n"
"  end\n"
"  return table.concat(out, ';')\n"
"end\n"
"local repl = { '%0', '<%1>', '%%', 'x', '%2', '%9', '%', 7,\n"
"  function(a, b) return b and (a .. b) or (a == 'a' and false or a:upper()) end,\n"
"  { a = 'A', b = false, ['1'] = 'one' } }\n"
"local n = 0\n"
"for round = 1, rounds do\n"
"  local s, p = subj(), pat()\n"
"  local init = ({ nil, 1, 2, 0, -1, -3, 20, -20 })[math.random(8)]\n"
"  local r = repl[math.random(#repl)]\n"
"  local lim = ({ nil, 0, 1, 2 })[math.random(4)]\n"
"  local cases = {\n"
"    { 'find', string.find, ours.find, s, p, init },\n"
"    { 'find plain', string.find, ours.find, s, p, init, true },\n"
"    { 'match', string.match, ours.match, s, p, init },\n"
"    { 'gsub', string.gsub, ours.gsub, s, p, r, lim },\n"
"  }\n"
"  for _, c in ipairs(cases) do\n"
"    local a = pack(pcall(c[2], table.unpack(c, 4, 7)))\n"
"    local b = pack(pcall(c[3], table.unpack(c, 4, 7)))\n"
"    n = n + 1\n"
"    if a ~= b then\n"
"      return n, string.format('%s(%q, %q, %s, %s): stock %s, ours %s',\n"
"        c[1], s, p, tostring(c[6]), tostring(c[7]), a, b)\n"
"    end\n"
"  end\n"
"  local a = pack(pcall(all, string.gmatch, s, p, init))\n"
"  local b = pack(pcall(all, ours.gmatch, s, p, init))\n"
"  n = n + 1\n"
"  if a ~= b then\n"
"    return n, string.format('gmatch(%q, %q, %s): stock %s, ours %s', s, p,\n"
"      tostring(init), a, b)\n"
"  end\n"
"end\n"
"return n\n";

/* fixed cases: { call, subject, pattern, third argument, expected } */
static const struct {
    const char *code;
    const char *want;
} fixed[] = {
    { "return ours.find('hello world', 'o w')", "5 7" },
    { "return ours.find('hello', 'l+')", "3 4" },
    { "return ours.match('key = value', '^(%w+)%s*=%s*(%w+)$')",
      "key value" },
    { "return ours.match('  x', '()x')", "3" },
    { "return ours.gsub('hello world', '(%w+)', '<%1>')",
      "<hello> <world> 2" },
    { "return ours.gsub('abc', '', '-')", "-a-b-c- 4" },
    { "return ours.match('f(a(b)c)d', '%b()')", "(a(b)c)" },
    { "return ours.find('THE (quick) fox', '%f[%a]%a+%f[%A]', 5)",
      "6 10" },
    { "return ours.find('a.b', '.', 1, true)", "2 2" },
    { "return ours.match('x=1, y=2', '(%a)=(%d)', 4)", "y 2" },
    { "local t = {} for k, v in ours.gmatch('a=1, b=2', '(%w+)=(%w+)') "
      "do t[#t+1] = k .. v end return table.concat(t, ',')", "a1,b2" },
    { "local t = {} for w in ours.gmatch('one two', '%a+', 4) "
      "do t[#t+1] = w end return table.concat(t, ',')", "two" },
    { "return ours.find(('a'):rep(200000), ('a'):rep(100000) .. 'b', 1, "
      "true)", "nil" },
};

static void check_fixed(lua_State *L)
{
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        char got[256] = "";
        int top = lua_gettop(L), rc;

        rc = luaL_loadstring(L, fixed[i].code);
        if (rc == LUA_OK) {
            lua_pushvalue(L, 1);            /* ours, as upvalue-free global */
            lua_setglobal(L, "ours");
            rc = lua_pcall(L, 0, LUA_MULTRET, 0);
        }
        for (int k = top + 1; rc == LUA_OK && k <= lua_gettop(L); k++) {
            size_t n = strlen(got);
            snprintf(got + n, sizeof(got) - n, "%s%s", n ? " " : "",
                     luaL_tolstring(L, k, NULL));
            lua_pop(L, 1);
        }
        if (rc != LUA_OK)
            snprintf(got, sizeof(got), "error: %s", lua_tostring(L, -1));
        is_str(got, fixed[i].want, fixed[i].code);
        lua_settop(L, top);
    }
}

static void check_random(lua_State *L, int seed, int rounds)
{
    int rc = luaL_loadstring(L, DIFF);

    if (rc == LUA_OK) {
        lua_pushvalue(L, 1);
        lua_pushinteger(L, seed);
        lua_pushinteger(L, rounds);
        rc = lua_pcall(L, 3, 2, 0);
    }
    if (rc != LUA_OK) {
        ok(0, "differential run (seed %d): %s", seed, lua_tostring(L, -1));
        lua_settop(L, 1);
        return;
    }
    if (!ok(lua_isnil(L, -1), "seed %d: %lld calls agree with the stock "
            "library", seed, (long long)lua_tointeger(L, -2)))
        printf("#   %s\n", lua_tostring(L, -1));
    lua_settop(L, 1);
}

int main(void)
{
    struct errbuf eb;
    struct lstate *ls = lstate_new(NULL, 0, 0, 0, &eb);
    lua_State *L;

    if (!ok(ls != NULL, "a Lua state"))
        return done_testing();
    L = ls->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->env_ref);
    lua_getfield(L, -1, "string");      /* index 1: the sandbox's library */
    lua_remove(L, -2);
    check_fixed(L);
    for (int seed = 1; seed <= 6; seed++)
        check_random(L, seed, 4000);
    lstate_free(ls);
    return done_testing();
}
