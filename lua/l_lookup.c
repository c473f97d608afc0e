/*
 * l_lookup.c - the lookup table scripts see: lookup.lsearch(file, key),
 *              lookup.dbm, lookup.iplsearch, lookup.cidr,
 *              lookup.find("lsearch*@;file", key) and
 *              lookup.dnsdb(type, name).
 *
 * PURPOSE: file lookups return the value or nil; a temporary failure
 * (missing file, I/O error, DNS SERVFAIL) raises an error, which makes the
 * router or ACL defer, never treat it as "not found". dnsdb reads the
 * routing run's DNS cache; on a miss it names the query and raises the
 * need-DNS sentinel, and the router runs again once the answer is in
 * (restart-on-miss, STYLE §3).
 * INTERFACE: l_lookup_open.
 */
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/net/dns.h"
#include "core/lookup/lookup.h"
#include "lua/lstate_impl.h"

static int find_spec(lua_State *L, const char *spec_text, const char *key,
                     size_t klen)
{
    struct lookup_spec spec;
    struct strbuf val;
    struct errbuf eb;
    enum lk_result r;

    if (lookup_spec_parse(spec_text, &spec, &eb) != 0)
        return luaL_error(L, "%s", eb.msg);
    sb_init(&val);
    r = lookup_find(&spec, key, klen, &val, &eb);
    lookup_spec_free(&spec);
    if (r == LK_TEMPFAIL) {
        sb_free(&val);
        return luaL_error(L, "lookup temporarily failed: %s", eb.msg);
    }
    if (r == LK_FOUND)
        lua_pushlstring(L, sb_str(&val), sb_len(&val));
    else
        lua_pushnil(L);
    sb_free(&val);
    return 1;
}

/* lookup.TYPE(file, key) */
static int l_lookup_typed(lua_State *L)
{
    const char *type = lua_tostring(L, lua_upvalueindex(1));
    const char *file = luaL_checkstring(L, 1);
    size_t klen;
    const char *key = luaL_checklstring(L, 2, &klen);

    lua_pushfstring(L, "%s;%s", type, file);
    return find_spec(L, lua_tostring(L, -1), key, klen);
}

/* lookup.find("TYPE;file", key) */
static int l_lookup_find(lua_State *L)
{
    const char *spec = luaL_checkstring(L, 1);
    size_t klen;
    const char *key = luaL_checklstring(L, 2, &klen);

    return find_spec(L, spec, key, klen);
}

/* l_push_dns_answer - records as Lua sees them: {pref=, host=} for MX,
 * strings for the other types */
void l_push_dns_answer(lua_State *L, const struct dns_answer *a)
{
    lua_createtable(L, (int)a->n, 0);
    for (size_t i = 0; i < a->n; i++) {
        if (a->type == DNS_T_MX) {
            lua_createtable(L, 0, 2);
            lua_pushinteger(L, a->rr[i].pref);
            lua_setfield(L, -2, "pref");
            lua_pushstring(L, a->rr[i].data);
            lua_setfield(L, -2, "host");
        } else {
            lua_pushstring(L, a->rr[i].data);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* lookup.dnsdb(type, name) -> records | nil, "nxdomain"|"nodata" */
static int l_lookup_dnsdb(lua_State *L)
{
    struct lstate *ls = lstate_of(L);
    const char *tname = luaL_checkstring(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int type = dns_type_parse(tname);
    const struct dns_answer *a;

    if (type < 0)
        return luaL_argerror(L, 1, "DNS type must be a, aaaa, mx, txt or ptr");
    if (ls->dns == NULL)
        return luaL_error(L, "lookup.dnsdb cannot be called here");
    a = dns_cache_get(ls->dns, type, name);
    if (a == NULL) {
        if (ls->dns_want != NULL)
            ls->dns_want(ls->dns_want_arg, type, name);
        lstate_push_need_dns(L);
        return lua_error(L);
    }
    if (a->status == DNS_TEMPFAIL)
        return luaL_error(L, "DNS lookup of %s (%s) temporarily failed: %s",
                          name, tname, a->why ? a->why : "error");
    if (a->status != DNS_OK) {
        lua_pushnil(L);
        lua_pushstring(L, a->status == DNS_NXDOMAIN ? "nxdomain" : "nodata");
        return 2;
    }
    l_push_dns_answer(L, a);
    return 1;
}

/* l_lookup_open - install the lookup table into env */
void l_lookup_open(struct lstate *ls, int env)
{
    static const char *const types[] = { "lsearch", "dbm", "iplsearch",
                                         "cidr", NULL };
    lua_State *L = ls->L;

    lua_newtable(L);
    for (const char *const *t = types; *t != NULL; t++) {
        lua_pushstring(L, *t);
        lua_pushcclosure(L, l_lookup_typed, 1);
        lua_setfield(L, -2, *t);
    }
    lua_pushcfunction(L, l_lookup_find);
    lua_setfield(L, -2, "find");
    lua_pushcfunction(L, l_lookup_dnsdb);
    lua_setfield(L, -2, "dnsdb");
    lua_setfield(L, env, "lookup");
}
