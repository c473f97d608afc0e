/*
 * conf_load.c - reading a configuration root: the conf.d directory rules
 *               of DESIGN §4 and the checks made once every file is read.
 *
 * PURPOSE: subdirectories main, acl, router, transport, retry, rewrite and
 * auth are read in that order; in each, the files ending in ".lua" are run
 * in byte-wise order of their names, skipping hidden files, editor backups
 * ("~") and package-manager leftovers (".dpkg-*", ".rpm*"), as Debian's
 * run-parts does. Afterwards named lists are linked, routers get their
 * transports, and every driver checks its options.
 * INTERFACE: conf_load.
 * ERRORS: "FILE:LINE: what: reason" in eb, NULL returned.
 * SECURITY: configuration files are trusted input from the administrator,
 * but still run in the Lua sandbox with limits.
 */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/hash.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf_build.h"
#include "core/conf/driver.h"
#include "core/lookup/lookup.h"
#include "core/conf/retry_conf.h"
#include "load/l_conf.h"
#include "lua/lstate.h"

void conf_loading_begin(void);
void conf_loading_end(void);
int conf_link_lists(struct conf *c, struct errbuf *eb);

static const char *const subdirs[] = {
    "main", "acl", "router", "transport", "retry", "rewrite", "auth", NULL
};

#define LOAD_MEM_LIMIT   (64L * 1024 * 1024)
/* a file's instruction budget: far more than any configuration needs, and
 * small enough that a runaway file meets it well inside lua_time_limit
 * (so the error says which limit, even on a slow or sanitized build) */
#define LOAD_INSTR_LIMIT 10000000L
#define LOAD_TIME_MAX_MS (60L * 1000)   /* a file's run when lua_time_limit = 0 */

/* conf_name_ignored - is a directory entry not a configuration file */
static int conf_name_ignored(const char *name)
{
    size_t n = strlen(name);

    if (name[0] == '.' || n < 5 || strcmp(name + n - 4, ".lua") != 0)
        return 1;
    return strchr(name, '~') != NULL || strstr(name, ".dpkg-") != NULL
           || strstr(name, ".rpm") != NULL || strchr(name, '#') != NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* List the configuration files of one subdirectory, sorted. */
static int list_dir(const char *dir, char ***names, size_t *n,
                    struct errbuf *eb)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t cap = 0;

    *names = NULL;
    *n = 0;
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        errbuf_set(eb, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (conf_name_ignored(de->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = xreallocarray(*names, cap, sizeof(char *));
        }
        (*names)[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof(char *), cmp_names);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void note_file(struct conf *c, const char *path)
{
    const char **v = pool_alloc(c->pool, (c->files.n + 1) * sizeof(char *));

    if (c->files.n)
        memcpy(v, c->files.v, c->files.n * sizeof(char *));
    v[c->files.n++] = pool_strdup(c->pool, path);
    c->files.v = v;
}

/* seconds as milliseconds, saturated */
static long time_ms(long secs)
{
    return secs > LONG_MAX / 1000 ? LONG_MAX : secs * 1000;
}

static int run_file(struct conf *c, const char *path, struct errbuf *eb)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        errbuf_set(eb, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    note_file(c, path);
    /* each file runs under lua_time_limit as the main files read so far
     * set it: a hanging file fails with its name, never hangs -bV or a
     * reload */
    lstate_set_time_limit(c->lua, c->main.lua_time_limit > 0
                                  ? time_ms(c->main.lua_time_limit)
                                  : LOAD_TIME_MAX_MS);
    return lstate_run_file(c->lua, path, eb);
}

static int load_subdir(struct conf *c, const char *sub, struct errbuf *eb)
{
    char dir[4096], path[4096];
    char **names;
    size_t n;
    int rc = 0;

    if (bsnprintf(dir, sizeof(dir), "%s/%s", c->root_given, sub) < 0) {
        errbuf_set(eb, "configuration path too long");
        return -1;
    }
    if (list_dir(dir, &names, &n, eb) != 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (bsnprintf(path, sizeof(path), "%s/%s", dir, names[i]) < 0) {
            errbuf_set(eb, "%s/%s: path too long", dir, names[i]);
            rc = -1;
        } else {
            rc = run_file(c, path, eb);
        }
    }
    free_names(names, n);
    return rc;
}

static int check_root(const char *root, struct errbuf *eb)
{
    struct stat st;

    if (stat(root, &st) != 0) {
        errbuf_set(eb, "configuration directory %s: %s", root,
                   strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errbuf_set(eb, "configuration %s is not a directory (tern reads a "
                   "conf.d directory: -C DIR)", root);
        return -1;
    }
    return 0;
}

static void default_names(struct conf *c)
{
    struct conf_main *m = &c->main;
    char host[256];

    if (m->primary_hostname == NULL) {
        if (gethostname(host, sizeof(host)) != 0)
            memcpy(host, "localhost", sizeof("localhost"));
        host[sizeof(host) - 1] = '\0';
        m->primary_hostname = pool_strdup(c->pool, host);
    }
    if (m->qualify_domain == NULL)
        m->qualify_domain = m->primary_hostname;
    if (m->qualify_recipient == NULL)
        m->qualify_recipient = m->qualify_domain;
}

static int def_fail(struct errbuf *eb, const struct origin *o,
                    const char *what, const char *name)
{
    errbuf_prefix(eb, "%s:%d: %s \"%s\": ", o->file, o->line, what, name);
    return -1;
}

static int finish_router(struct conf *c, struct router *r, size_t index,
                         struct errbuf *eb)
{
    r->index = index;
    if (r->transport_name != NULL) {
        r->transport = conf_find_transport(c, r->transport_name);
        if (r->transport == NULL) {
            errbuf_set(eb, "transport \"%s\" is not defined",
                       r->transport_name);
            return def_fail(eb, &r->origin, "router", r->name);
        }
    } else if (r->drv->needs_transport) {
        errbuf_set(eb, "a transport is required for the %s driver "
                   "(transport = \"name\")", r->drv->name);
        return def_fail(eb, &r->origin, "router", r->name);
    }
    if (r->drv->check != NULL && r->drv->check(r, c, eb) != 0)
        return def_fail(eb, &r->origin, "router", r->name);
    return 0;
}

/* With no retry {} anywhere, Exim's default schedule applies. */
static int default_retry(struct conf *c, struct errbuf *eb)
{
    struct retry_def r = { .pattern = "*", .error = "*",
                           .origin = { "(default)", 0 } };

    if (c->nretry > 0)
        return 0;
    if (retry_parse_rules(c, retry_default_text(), &r, eb) != 0)
        return -1;
    conf_add_retry(c, &r);
    return 0;
}

/* main's local_domains, relay_to_domains and relay_from_hosts are also
 * the named lists +local_domains, ... (DESIGN §4); a list defined with
 * domainlist/hostlist under that name takes the option's place. */
static int main_lists(struct conf *c, struct errbuf *eb)
{
    static const struct { const char *name; size_t off; int kind; } l[] = {
        { "local_domains", offsetof(struct conf_main, local_domains),
          ML_DOMAIN },
        { "relay_to_domains", offsetof(struct conf_main, relay_to_domains),
          ML_DOMAIN },
        { "relay_from_hosts", offsetof(struct conf_main, relay_from_hosts),
          ML_HOST },
    };

    for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
        struct mlist **opt = (struct mlist **)((char *)&c->main + l[i].off);
        const struct opt_spec *o = opt_find(conf_main_opts(), l[i].name);
        const struct origin *set = &c->main_origin[o - conf_main_opts()];
        struct named_list *nl = conf_find_list(c, l[i].name);

        if (nl != NULL && set->line > 0) {
            errbuf_set(eb, "%s:%d: %s is set in main{} and also defined as "
                       "a list at %s:%d; keep one", set->file, set->line,
                       l[i].name, nl->origin.file, nl->origin.line);
            return -1;
        }
        if (nl != NULL)
            *opt = nl->list;
        else if (*opt != NULL
                 && conf_add_list(c, l[i].name, (enum mlist_kind)l[i].kind,
                                  *opt, set, 0, 0, eb) != 0)
            return -1;
    }
    return 0;
}

/* TLS files named in main{} must be readable: a daemon that quietly
 * serves without STARTTLS is worse than one that refuses to start. */
static int check_tls_files(struct conf *c, struct errbuf *eb)
{
    static const char *const names[] = { "tls_certificate", "tls_privatekey",
                                         "tls_chain" };
    const char *files[] = { c->main.tls_certificate, c->main.tls_privatekey,
                            c->main.tls_chain };

    for (int i = 0; i < 3; i++) {
        const struct opt_spec *o = opt_find(conf_main_opts(), names[i]);
        const struct origin *org = &c->main_origin[o - conf_main_opts()];
        if (files[i] == NULL || access(files[i], R_OK) == 0)
            continue;
        errbuf_set(eb, "%s:%d: main: %s %s: %s", org->file, org->line,
                   names[i], files[i], strerror(errno));
        return -1;
    }
    if (c->main.tls_privatekey != NULL && c->main.tls_certificate == NULL) {
        errbuf_set(eb, "tls_privatekey is set but tls_certificate is not");
        return -1;
    }
    return 0;
}

/* auth_passwords is parsed once, so a bad one is a load-time error */
static int parse_auth_table(struct conf *c, struct errbuf *eb)
{
    const struct opt_spec *o = opt_find(conf_main_opts(), "auth_passwords");
    const struct origin *org = &c->main_origin[o - conf_main_opts()];

    if (c->main.auth_passwords == NULL)
        return 0;
    c->auth_table = pool_zalloc(c->pool, sizeof(*c->auth_table));
    if (lookup_spec_parse_pool(c->pool, c->main.auth_passwords,
                               c->auth_table, eb) == 0)
        return 0;
    errbuf_prefix(eb, "%s:%d: main: auth_passwords: ", org->file, org->line);
    return -1;
}

/* Clients give up on a greeting after 5 minutes (RFC 5321 4.5.3.2.1):
 * a longer smtp_banner_delay would only turn everyone away. */
static int check_banner_delay(struct conf *c, struct errbuf *eb)
{
    const struct opt_spec *o = opt_find(conf_main_opts(),
                                        "smtp_banner_delay");
    const struct origin *org = &c->main_origin[o - conf_main_opts()];

    if (c->main.smtp_banner_delay <= 300)
        return 0;
    errbuf_set(eb, "%s:%d: main: smtp_banner_delay %lds is over 5m: "
               "clients wait only 5 minutes for the greeting", org->file,
               org->line, c->main.smtp_banner_delay);
    return -1;
}

static int finish(struct conf *c, struct errbuf *eb)
{
    default_names(c);
    if (main_lists(c, eb) != 0 || check_tls_files(c, eb) != 0
        || parse_auth_table(c, eb) != 0 || check_banner_delay(c, eb) != 0)
        return -1;
    if (default_retry(c, eb) != 0)
        return -1;
    if (conf_link_lists(c, eb) != 0 || acl_conf_link(c, eb) != 0)
        return -1;
    for (size_t i = 0; i < c->ntransports; i++) {
        struct transport *t = c->transports[i];
        if (t->drv->check != NULL && t->drv->check(t, c, eb) != 0)
            return def_fail(eb, &t->origin, "transport", t->name);
    }
    for (size_t i = 0; i < c->nrouters; i++)
        if (finish_router(c, c->routers[i], i, eb) != 0)
            return -1;
    return 0;
}

/* the conf's cleanup hook for its Lua state */
static void free_lua(void *ls)
{
    lstate_free(ls);
}

static struct conf *conf_new(const char *root, struct errbuf *eb)
{
    struct conf *c = xcalloc(1, sizeof(*c));
    char *abs;

    c->pool = pool_new();
    c->lists = hash_new(16);
    abs = realpath(root, NULL);
    c->root = pool_strdup(c->pool, abs ? abs : root);
    c->root_given = pool_strdup(c->pool, root);
    free(abs);
    c->lua = lstate_new(c, LOAD_MEM_LIMIT, LOAD_INSTR_LIMIT, LOAD_TIME_MAX_MS,
                        eb);
    if (c->lua != NULL) {
        conf_on_free(c, free_lua, c->lua);
        l_conf_install(c->lua);
    }
    if (c->lua == NULL || opt_defaults(c, conf_main_opts(), &c->main, eb)
        != 0) {
        conf_free(c);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(c->main_origin) / sizeof(c->main_origin[0]);
         i++)
        c->main_origin[i] = (struct origin){ "(default)", 0 };
    return c;
}

/* conf_load - read and check the configuration below root */
struct conf *conf_load(const char *root, struct errbuf *eb)
{
    struct conf *c;
    int rc = 0;

    if (check_root(root, eb) != 0)
        return NULL;
    conf_loading_begin();
    c = conf_new(root, eb);
    for (size_t i = 0; c != NULL && subdirs[i] != NULL && rc == 0; i++)
        rc = load_subdir(c, subdirs[i], eb);
    if (c != NULL && rc == 0)
        rc = finish(c, eb);
    conf_loading_end();
    if (c == NULL || rc != 0) {
        conf_free(c);
        return NULL;
    }
    lstate_end_load(c->lua);
    lstate_set_limits(c->lua, (size_t)c->main.lua_memory_limit,
                      c->main.lua_instruction_limit,
                      time_ms(c->main.lua_time_limit));
    return c;
}
