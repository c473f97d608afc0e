/*
 * fuzz_lua_result.c - libFuzzer target for the paths that read what a
 * Lua function returns (lua/l_call.c through lua/l_run.c): the input is
 * the body of a function(addr) in a conf.d file; once loaded, the
 * function is called as an option value (lcall_value), a condition
 * (lcall_truth) and a Lua router (lcall_route). Any result, error object,
 * metatable or runaway code must give LC_OK, LC_NEED_DNS or LC_ERROR with
 * a message: never a crash, a leak, undefined behaviour or a hang past
 * lua_time_limit (1 s here).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/base/pool.h"
#include "core/conf/conf.h"
#include "lua/lcall.h"
#include "lua/lstate_impl.h"

static char dir[64], sub[96], file[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* leave nothing in /tmp when libFuzzer exits */
static void cleanup(void)
{
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/tmp/tern-fuzz-lua.%d", (int)getpid());
    snprintf(sub, sizeof(sub), "%s/main", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(sub, 0700) != 0)
        abort();
    snprintf(file, sizeof(file), "%s/00.lua", sub);
    atexit(cleanup);
    return 0;
}

static void write_conf(const uint8_t *data, size_t size)
{
    static const char head[] = "main { lua_time_limit = \"1s\" }\n"
                               "fuzz_fn = function(addr)\n";
    static const char tail[] = "\nend\n";
    FILE *f = fopen(file, "w");

    if (f == NULL || fwrite(head, 1, sizeof(head) - 1, f) != sizeof(head) - 1
        || (size > 0 && fwrite(data, 1, size, f) != size)
        || fwrite(tail, 1, sizeof(tail) - 1, f) != sizeof(tail) - 1
        || fclose(f) != 0)
        abort();
}

/* the function the file defined, as a registry ref, or -1 */
static int function_ref(struct lstate *ls)
{
    lua_State *L = ls->L;
    int ref = -1;

    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->env_ref);
    lua_getfield(L, -1, "fuzz_fn");
    if (lua_type(L, -1) == LUA_TFUNCTION)
        ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    lua_pop(L, 1);
    return ref;
}

static void check(int rc, const struct errbuf *eb)
{
    if (rc != LC_OK && rc != LC_NEED_DNS && (rc != LC_ERROR
                                            || eb->msg[0] == '\0'))
        abort();                    /* every failure must say why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xvars v = { .local_part = "alice", .domain = "example.com",
                       .address = "alice@example.com" };
    struct errbuf eb;
    struct lroute lr;
    struct conf *c;
    struct pool *p;
    const char *out;
    int fn, truth;

    write_conf(data, size);
    if ((c = conf_load(dir, &eb)) == NULL) {
        if (eb.msg[0] == '\0')
            abort();
        return 0;
    }
    if ((fn = function_ref(c->lua)) >= 0) {
        p = pool_new();
        eb.msg[0] = '\0';
        check(lcall_value(c->lua, fn, &v, p, &out, &eb), &eb);
        eb.msg[0] = '\0';
        check(lcall_truth(c->lua, fn, &v, &truth, &eb), &eb);
        eb.msg[0] = '\0';
        check(lcall_route(c->lua, fn, &v, p, &lr, &eb), &eb);
        pool_free(p);
    }
    conf_free(c);
    return 0;
}
