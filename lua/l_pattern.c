/*
 * l_pattern.c - string.find, string.match, string.gmatch and string.gsub
 *               for the sandbox: Lua 5.4's pattern language (reference
 *               manual §6.4.1) on a backtracking matcher that watches the
 *               budget of the running call.
 *
 * PURPOSE: the stock matcher runs in C, where the count hook never fires:
 * string.find(("a"):rep(40), ("a*"):rep(40) .. "b") backtracks for hours
 * and hangs a worker. This matcher counts its steps and every
 * PM_CHECK_EVERY steps asks lstate_charge() whether the call is past its
 * lua_time_limit, which raises "time limit exceeded" with the caller's
 * file:line. Plain finds use memmem (linear) instead of a quadratic
 * search. Semantics follow the manual: classes %a %c %d %g %l %p %s %u %w
 * %x and their complements, sets with ranges, quantifiers * + - ?,
 * anchors ^ and $, captures and position captures, %1-%9, %bxy, %f[set],
 * gmatch's init argument and its no-repeat-at-the-same-end rule.
 * INTERFACE: l_pattern_open (lstate_impl.h).
 * ERRORS: Lua errors, with the stock messages ("malformed pattern ...",
 *         "pattern too complex", "invalid capture index %N ...").
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "lua/lstate_impl.h"

#define ESC             '%'
#define SPECIALS        "^$*+?.([%-"
#define PM_MAXCAPTURES  32
#define PM_MAXDEPTH     200         /* nested items, as Lua's MAXCCALLS */
#define PM_CHECK_EVERY  1024        /* steps between two looks at the clock */
#define CAP_UNFINISHED  (-1)
#define CAP_POSITION    (-2)

struct pm {
    lua_State *L;
    const char *src, *src_end;      /* the subject */
    const char *pat_end;
    int level;                      /* captures opened so far */
    int depth;                      /* recursion left */
    unsigned steps;
    struct {
        const char *init;
        ptrdiff_t len;              /* or CAP_UNFINISHED / CAP_POSITION */
    } cap[PM_MAXCAPTURES];
};

enum { GO_ON, DONE };

static const char *match(struct pm *m, const char *s, const char *p);

static void pm_step(struct pm *m, unsigned n)
{
    m->steps += n;
    if (m->steps >= PM_CHECK_EVERY) {
        m->steps = 0;
        lstate_charge(m->L, 0);
    }
}

static void pm_init(struct pm *m, lua_State *L, const char *s, size_t ls,
                    const char *p, size_t lp)
{
    m->L = L;
    m->src = s;
    m->src_end = s + ls;
    m->pat_end = p + lp;
    m->steps = 0;
}

static void pm_reset(struct pm *m)
{
    m->level = 0;
    m->depth = PM_MAXDEPTH;
}

/* the end of the single-character class starting at p */
static const char *class_end(struct pm *m, const char *p)
{
    if (*p == ESC) {
        if (p + 1 >= m->pat_end)
            luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 2;
    }
    if (*p != '[')
        return p + 1;
    if (*++p == '^')
        p++;
    do {                            /* the first character may be ']' */
        if (p >= m->pat_end)
            luaL_error(m->L, "malformed pattern (missing ']')");
        if (*p++ == ESC && p < m->pat_end)
            p++;
    } while (*p != ']');            /* Lua strings end with a NUL */
    return p + 1;
}

static int class_match(int c, int cl)
{
    int res;

    switch (tolower(cl)) {
    case 'a': res = isalpha(c); break;
    case 'c': res = iscntrl(c); break;
    case 'd': res = isdigit(c); break;
    case 'g': res = isgraph(c); break;
    case 'l': res = islower(c); break;
    case 'p': res = ispunct(c); break;
    case 's': res = isspace(c); break;
    case 'u': res = isupper(c); break;
    case 'w': res = isalnum(c); break;
    case 'x': res = isxdigit(c); break;
    default: return cl == c;
    }
    return isupper(cl) ? !res : res != 0;
}

/* c against the set [ ... ] from p (at '[') to ec (at ']') */
static int set_match(int c, const char *p, const char *ec)
{
    int yes = 1;

    if (p[1] == '^') {
        yes = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == ESC) {
            p++;
            if (class_match(c, (unsigned char)*p))
                return yes;
        } else if (p[1] == '-' && p + 2 < ec) {
            p += 2;
            if ((unsigned char)p[-2] <= c && c <= (unsigned char)*p)
                return yes;
        } else if ((unsigned char)*p == c) {
            return yes;
        }
    }
    return !yes;
}

static int single_match(struct pm *m, const char *s, const char *p,
                        const char *ep)
{
    int c;

    if (s >= m->src_end)
        return 0;
    c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case ESC: return class_match(c, (unsigned char)p[1]);
    case '[': return set_match(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *max_expand(struct pm *m, const char *s, const char *p,
                              const char *ep)
{
    ptrdiff_t i = 0;

    while (single_match(m, s + i, p, ep)) {
        i++;
        pm_step(m, 1);
    }
    for (; i >= 0; i--) {           /* try the longest first */
        const char *r = match(m, s + i, ep + 1);
        if (r != NULL)
            return r;
    }
    return NULL;
}

static const char *min_expand(struct pm *m, const char *s, const char *p,
                              const char *ep)
{
    for (;;) {
        const char *r = match(m, s, ep + 1);
        if (r != NULL)
            return r;
        if (!single_match(m, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(struct pm *m, const char *s, const char *p)
{
    int pos = p[1] == ')';
    const char *r;

    if (m->level >= PM_MAXCAPTURES)
        luaL_error(m->L, "too many captures");
    m->cap[m->level].init = s;
    m->cap[m->level].len = pos ? CAP_POSITION : CAP_UNFINISHED;
    m->level++;
    r = match(m, s, p + (pos ? 2 : 1));
    if (r == NULL)
        m->level--;
    return r;
}

static const char *close_capture(struct pm *m, const char *s, const char *p)
{
    int l = m->level - 1;
    const char *r;

    while (l >= 0 && m->cap[l].len != CAP_UNFINISHED)
        l--;
    if (l < 0)
        luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].init;
    r = match(m, s, p);
    if (r == NULL)
        m->cap[l].len = CAP_UNFINISHED;
    return r;
}

/* %bxy at p (p points after "%b") */
static const char *balance(struct pm *m, const char *s, const char *p)
{
    int depth = 1;

    if (p >= m->pat_end - 1)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != *p)
        return NULL;
    while (++s < m->src_end) {
        pm_step(m, 1);
        if (*s == p[1]) {
            if (--depth == 0)
                return s + 1;
        } else if (*s == *p) {
            depth++;
        }
    }
    return NULL;
}

/* %1 .. %9: the same text as capture l again */
static const char *backref(struct pm *m, const char *s, int l)
{
    ptrdiff_t len;

    l -= '1';
    if (l < 0 || l >= m->level || m->cap[l].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index %%%d in pattern", l + 1);
    len = m->cap[l].len;
    if (len < 0 || m->src_end - s < len
        || memcmp(m->cap[l].init, s, (size_t)len) != 0)
        return NULL;
    pm_step(m, (unsigned)(len / 64));
    return s + len;
}

static int match_frontier(struct pm *m, const char **s, const char **p)
{
    const char *set = *p + 2, *ep;
    int prev, cur;

    if (*set != '[')
        luaL_error(m->L, "missing '[' after '%%f' in pattern");
    ep = class_end(m, set);
    prev = *s == m->src ? '\0' : (unsigned char)(*s)[-1];
    cur = *s < m->src_end ? (unsigned char)**s : '\0';
    if (!set_match(prev, set, ep - 1) && set_match(cur, set, ep - 1)) {
        *p = ep;
        return GO_ON;
    }
    *s = NULL;
    return DONE;
}

static int match_escape(struct pm *m, const char **s, const char **p)
{
    char c = (*p)[1];

    if (c == 'b') {
        *s = balance(m, *s, *p + 2);
        *p += 4;
    } else if (c == 'f') {
        return match_frontier(m, s, p);
    } else {
        *s = backref(m, *s, (unsigned char)c);
        *p += 2;
    }
    return *s == NULL ? DONE : GO_ON;
}

/* one single-character class with its quantifier */
static int match_single(struct pm *m, const char **s, const char **p)
{
    const char *ep = class_end(m, *p), *r;

    if (!single_match(m, *s, *p, ep)) {
        if (*ep == '*' || *ep == '?' || *ep == '-') {
            *p = ep + 1;            /* zero repetitions are fine */
            return GO_ON;
        }
        *s = NULL;
        return DONE;
    }
    switch (*ep) {
    case '?':
        if ((r = match(m, *s + 1, ep + 1)) != NULL) {
            *s = r;
            return DONE;
        }
        *p = ep + 1;
        return GO_ON;
    case '+': *s = max_expand(m, *s + 1, *p, ep); return DONE;
    case '*': *s = max_expand(m, *s, *p, ep); return DONE;
    case '-': *s = min_expand(m, *s, *p, ep); return DONE;
    default:
        (*s)++;
        *p = ep;
        return GO_ON;
    }
}

/* one pattern item at *p: GO_ON with *s, *p advanced, or DONE with *s the
 * end of the whole match (NULL: no match) */
static int match_one(struct pm *m, const char **s, const char **p)
{
    switch (**p) {
    case '(':
        *s = open_capture(m, *s, *p);
        return DONE;
    case ')':
        *s = close_capture(m, *s, *p + 1);
        return DONE;
    case '$':
        if (*p + 1 != m->pat_end)
            break;
        if (*s != m->src_end)
            *s = NULL;
        return DONE;
    case ESC:
        if ((*p)[1] == 'b' || (*p)[1] == 'f' || isdigit((unsigned char)(*p)[1]))
            return match_escape(m, s, p);
        break;
    }
    return match_single(m, s, p);
}

static const char *match(struct pm *m, const char *s, const char *p)
{
    if (m->depth-- == 0)
        luaL_error(m->L, "pattern too complex");
    pm_step(m, 1);
    while (p != m->pat_end && match_one(m, &s, &p) == GO_ON)
        pm_step(m, 1);
    m->depth++;
    return s;
}

/* ---- the library functions ---- */

static void push_capture(struct pm *m, int i, const char *s, const char *e)
{
    if (i >= m->level) {
        if (i != 0)
            luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));  /* the whole match */
    } else if (m->cap[i].len == CAP_UNFINISHED) {
        luaL_error(m->L, "unfinished capture");
    } else if (m->cap[i].len == CAP_POSITION) {
        lua_pushinteger(m->L, (m->cap[i].init - m->src) + 1);
    } else {
        lua_pushlstring(m->L, m->cap[i].init, (size_t)m->cap[i].len);
    }
}

static int push_captures(struct pm *m, const char *s, const char *e)
{
    int n = m->level == 0 && s != NULL ? 1 : m->level;

    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* a 1-based, possibly negative, start position as an offset 0..len+1 */
static size_t start_offset(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos - 1 > len ? len + 1 : (size_t)pos - 1;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 0;
    return len - (size_t)(-pos);
}

static int no_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (memchr(SPECIALS, p[i], sizeof(SPECIALS) - 1) != NULL)
            return 0;
    return 1;
}

static int find_plain(lua_State *L, const char *s, size_t ls,
                      const char *p, size_t lp, size_t init)
{
    const char *hit = memmem(s + init, ls - init, p, lp);

    if (hit == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, (hit - s) + 1);
    lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
    return 2;
}

static int find_pattern(lua_State *L, int find, const char *s, size_t ls,
                        const char *p, size_t lp, size_t init)
{
    int anchor = *p == '^';
    const char *s1 = s + init;
    struct pm m;

    if (anchor) {
        p++;
        lp--;
    }
    pm_init(&m, L, s, ls, p, lp);
    do {
        const char *e;
        pm_reset(&m);
        if ((e = match(&m, s1, p)) == NULL)
            continue;
        if (!find)
            return push_captures(&m, s1, e);
        lua_pushinteger(L, (s1 - s) + 1);
        lua_pushinteger(L, e - s);
        return push_captures(&m, NULL, NULL) + 2;
    } while (s1++ < m.src_end && !anchor);
    lua_pushnil(L);
    return 1;
}

static int find_aux(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);

    if (init > ls) {
        lua_pushnil(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || no_specials(p, lp)))
        return find_plain(L, s, ls, p, lp, init);
    return find_pattern(L, find, s, ls, p, lp, init);
}

/* string.find(s, pattern [, init [, plain]]) */
static int l_str_find(lua_State *L)
{
    return find_aux(L, 1);
}

/* string.match(s, pattern [, init]) */
static int l_str_match(lua_State *L)
{
    return find_aux(L, 0);
}

struct gmatch_state {
    size_t next;                    /* where the next search starts */
    size_t last;                    /* end of the last match, or SIZE_MAX */
};

static int gmatch_next(lua_State *L)
{
    size_t ls, lp;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
    struct gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));
    struct pm m;

    pm_init(&m, L, s, ls, p, lp);
    for (size_t at = g->next; at <= ls; at++) {
        const char *e;
        pm_reset(&m);
        e = match(&m, s + at, p);
        if (e != NULL && (size_t)(e - s) != g->last) {
            g->next = g->last = (size_t)(e - s);
            return push_captures(&m, s + at, e);
        }
    }
    g->next = ls + 1;
    return 0;
}

/* string.gmatch(s, pattern [, init]) */
static int l_str_gmatch(lua_State *L)
{
    size_t ls;
    struct gmatch_state *g;

    luaL_checklstring(L, 1, &ls);
    luaL_checkstring(L, 2);
    lua_Integer init = luaL_optinteger(L, 3, 1);
    lua_settop(L, 2);
    g = lua_newuserdatauv(L, sizeof(*g), 0);
    g->next = start_offset(init, ls);
    g->last = (size_t)-1;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* a replacement string with %0-%9 and %% */
static void add_string(struct pm *m, luaL_Buffer *b, const char *s,
                       const char *e)
{
    lua_State *L = m->L;
    size_t l;
    const char *news = lua_tolstring(L, 3, &l), *p;

    while ((p = memchr(news, ESC, l)) != NULL) {
        luaL_addlstring(b, news, (size_t)(p - news));
        p++;                        /* Lua strings end with a NUL */
        if (*p == ESC) {
            luaL_addchar(b, ESC);
        } else if (*p == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*p)) {
            push_capture(m, *p - '1', s, e);
            luaL_tolstring(L, -1, NULL);    /* a position is a number */
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", ESC);
        }
        l -= (size_t)(p + 1 - news);
        news = p + 1;
    }
    luaL_addlstring(b, news, l);
}

/* the replacement of one match; 0 when the match is kept as it is */
static int add_value(struct pm *m, luaL_Buffer *b, const char *s,
                     const char *e, int tr)
{
    lua_State *L = m->L;

    if (tr == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string(m, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)",
                          luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

/* string.gsub(s, pattern, repl [, n]) */
static int l_str_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp), *last = NULL;
    int tr = lua_type(L, 3), changed = 0, anchor = *p == '^';
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
    struct pm m;
    luaL_Buffer b;

    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING
                     || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    pm_init(&m, L, s, ls, p, lp);
    while (n < max) {
        const char *e;
        pm_reset(&m);
        if ((e = match(&m, s, p)) != NULL && e != last) {
            n++;
            changed |= add_value(&m, &b, s, e, tr);
            s = last = e;
        } else if (s < m.src_end) {
            luaL_addchar(&b, *s++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, s, (size_t)(m.src_end - s));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

/* l_pattern_open - put the four functions into the string table at lib */
void l_pattern_open(lua_State *L, int lib)
{
    static const luaL_Reg fns[] = {
        { "find", l_str_find }, { "match", l_str_match },
        { "gmatch", l_str_gmatch }, { "gsub", l_str_gsub }, { NULL, NULL } };

    for (const luaL_Reg *f = fns; f->name != NULL; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, lib, f->name);
    }
}
