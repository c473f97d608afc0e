/*
 * conf_print.c - printing the effective configuration: -bV and -bP.
 *
 * PURPOSE: -bP alone lists every main option ("name = value", booleans as
 * "name"/"no_name", as Exim prints them); -bP NAME one option; -bP router
 * NAME / transport NAME every option of one driver instance; -bP routers /
 * transports the names in order; -bP +NAME a named list; -bP retry the
 * retry rules; -bP config all of it with the file and line each item came
 * from (a main option, or an option a router or transport sets: the line
 * of its key). Sizes print as Exim prints
 * them (50M), times too (30m), modes in octal (0640). -bP -n alone: only
 * the main options a file sets to something else than the default, with
 * file:line (Postfix's postconf -n); -bP -n OPTION: the value alone
 * (Exim's -n).
 * INTERFACE: see conf_print.h.
 */
#include <ares.h>
#include <gdbm.h>
#include <openssl/crypto.h>
#include <string.h>

#include "core/base/hash.h"
#include "core/base/strbuf.h"
#include "cmd/conf_print.h"
#include "core/conf/driver.h"
#include "core/conf/mlist.h"
#include "core/base/version.h"
#include "load/conf_keyline.h"
#include "lua/lstate.h"

static void print_opt(FILE *out, const struct opt_spec *o, const void *base,
                      const char *indent, const struct origin *org)
{
    struct strbuf sb;

    sb_init(&sb);
    opt_format(o, base, &sb);
    fprintf(out, "%s%s", indent, sb_str(&sb));
    if (org != NULL && org->line > 0)
        fprintf(out, "    # %s:%d", org->file, org->line);
    fputc('\n', out);
    sb_free(&sb);
}

/* print_table - a driver's options; with kl (-bP config), those its
 * definition sets get the file:line of their key */
static void print_table(FILE *out, const struct opt_spec *tbl,
                        const void *base, const struct keylines *kl,
                        const struct origin *def)
{
    for (const struct opt_spec *o = tbl; o && o->name != NULL; o++) {
        struct origin at = { def->file, kl ? keylines_get(kl, o->name) : 0 };
        print_opt(out, o, base, "  ", at.line >= def->line ? &at : NULL);
    }
}

/* print_driver - "KIND NAME:    # file:line", the driver, its options */
static void print_driver(FILE *out, const char *kind, const char *name,
                         const char *driver, const struct origin *def,
                         int origins, const struct opt_spec *generic,
                         const void *gbase, const struct opt_spec *priv,
                         const void *pbase)
{
    struct keylines kl;
    int line;

    if (origins)
        keylines_scan(def->file, def->line, &kl);
    fprintf(out, "%s %s:    # %s:%d\n", kind, name, def->file, def->line);
    fprintf(out, "  driver = %s", driver);
    if (origins && (line = keylines_get(&kl, "driver")) >= def->line)
        fprintf(out, "    # %s:%d", def->file, line);
    fputc('\n', out);
    print_table(out, generic, gbase, origins ? &kl : NULL, def);
    print_table(out, priv, pbase, origins ? &kl : NULL, def);
    if (origins)
        keylines_free(&kl);
}

static void print_main(const struct conf *c, FILE *out, int origins)
{
    const struct opt_spec *tbl = conf_main_opts();

    for (size_t i = 0; tbl[i].name != NULL; i++)
        print_opt(out, &tbl[i], &c->main, "",
                  origins ? &c->main_origin[i] : NULL);
}

/* same_text - a and b equal but for trailing blanks */
static int same_text(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);

    while (na > 0 && a[na - 1] == ' ')
        na--;
    while (nb > 0 && b[nb - 1] == ' ')
        nb--;
    return na == nb && memcmp(a, b, na) == 0;
}

/* changed - is main option i set in a file to something other than its
 * default (dflt: the defaults, built by the caller) */
static int changed(const struct conf *c, size_t i,
                   const struct conf_main *dflt)
{
    const struct opt_spec *o = &conf_main_opts()[i];
    struct strbuf now, was;
    int differs;

    if (c->main_origin[i].line <= 0)
        return 0;
    sb_init(&now);
    sb_init(&was);
    opt_format(o, &c->main, &now);
    opt_format(o, dflt, &was);
    /* an empty list set (name = ) is the unset default (name =) */
    differs = !same_text(sb_str(&now), sb_str(&was));
    sb_free(&now);
    sb_free(&was);
    return differs;
}

/* -bP -n: the main options a file sets to a value other than the
 * default, each with its file:line (Postfix's postconf -n) */
static int print_changed(struct conf *c, FILE *out)
{
    const struct opt_spec *tbl = conf_main_opts();
    struct conf_main dflt;
    struct errbuf eb;

    memset(&dflt, 0, sizeof(dflt));
    if (opt_defaults(c, tbl, &dflt, &eb) != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 1;
    }
    for (size_t i = 0; tbl[i].name != NULL; i++)
        if (changed(c, i, &dflt))
            print_opt(out, &tbl[i], &c->main, "", &c->main_origin[i]);
    return 0;
}

/* -bP -n OPTION: the value alone, as Exim's -n prints it */
static void print_value(FILE *out, const struct opt_spec *o,
                        const void *base)
{
    struct strbuf sb;
    size_t n = strlen(o->name);
    const char *v;

    sb_init(&sb);
    opt_format(o, base, &sb);
    v = sb_str(&sb);
    if (strncmp(v, o->name, n) == 0 && strncmp(v + n, " =", 2) == 0)
        v += n + 2 + (v[n + 2] == ' ');
    fprintf(out, "%s\n", v);
    sb_free(&sb);
}

static void print_router(const struct router *r, FILE *out, int origins)
{
    print_driver(out, "router", r->name, r->drv->name, &r->origin, origins,
                 router_generic_opts(), r, r->drv->opts, r->priv);
}

static void print_transport(const struct transport *t, FILE *out,
                            int origins)
{
    print_driver(out, "transport", t->name, t->drv->name, &t->origin,
                 origins, transport_generic_opts(), t, t->drv->opts,
                 t->priv);
}

static void print_list(const struct named_list *nl, FILE *out, int origin)
{
    struct strbuf sb;

    sb_init(&sb);
    mlist_text(nl->list, &sb);
    fprintf(out, "%slist %s = %s", mlist_kind_name(nl->kind), nl->name,
            sb_str(&sb));
    if (origin && nl->origin.line > 0)
        fprintf(out, "    # %s:%d", nl->origin.file, nl->origin.line);
    fputc('\n', out);
    sb_free(&sb);
}

static void print_retry(const struct conf *c, FILE *out)
{
    for (size_t i = 0; i < c->nretry; i++) {
        const struct retry_def *r = &c->retry[i];
        fprintf(out, "retry %s %s ", r->pattern, r->error);
        struct strbuf sb;
        sb_init(&sb);
        for (size_t k = 0; k < r->n; k++) {
            sb_printf(&sb, "%s%c,", k ? "; " : "", r->rules[k].type);
            conf_format_time(r->rules[k].until, &sb);
            sb_putc(&sb, ',');
            conf_format_time(r->rules[k].interval, &sb);
            if (r->rules[k].type != 'F')
                sb_printf(&sb, ",%g", r->rules[k].factor);
        }
        fputs(sb_str(&sb), out);
        sb_free(&sb);
        if (r->origin.line > 0)
            fprintf(out, "    # %s:%d", r->origin.file, r->origin.line);
        fputc('\n', out);
    }
}

static void print_lists(const struct conf *c, FILE *out)
{
    size_t pos = 0;
    void *val;

    while (hash_next(c->lists, &pos, NULL, NULL, &val))
        print_list(val, out, 1);
}

static void print_config(const struct conf *c, FILE *out)
{
    fprintf(out, "# main options\n");
    print_main(c, out, 1);
    fprintf(out, "\n# named lists\n");
    print_lists(c, out);
    for (size_t i = 0; i < c->nacls; i++)
        fprintf(out, "%sacl %s: %zu statement%s    # %s:%d\n",
                i ? "" : "\n# ACLs\n", c->acls[i]->hook, c->acls[i]->n,
                c->acls[i]->n == 1 ? "" : "s", c->acls[i]->origin.file,
                c->acls[i]->origin.line);
    fprintf(out, "\n# routers, in order\n");
    for (size_t i = 0; i < c->nrouters; i++)
        print_router(c->routers[i], out, 1);
    fprintf(out, "\n# transports\n");
    for (size_t i = 0; i < c->ntransports; i++)
        print_transport(c->transports[i], out, 1);
    fprintf(out, "\n# retry rules\n");
    print_retry(c, out);
}

static int unknown(const char *what, const char *name)
{
    fprintf(stderr, "tern: %s \"%s\" is not defined\n", what, name);
    return 1;
}

static int print_named(const struct conf *c, const char *kind,
                       const char *name, FILE *out)
{
    if (strcmp(kind, "router") == 0) {
        struct router *r = conf_find_router(c, name);
        if (r == NULL)
            return unknown("router", name);
        print_router(r, out, 0);
    } else {
        struct transport *t = conf_find_transport(c, name);
        if (t == NULL)
            return unknown("transport", name);
        print_transport(t, out, 0);
    }
    return 0;
}

static int print_word(const struct conf *c, const char *w, int terse,
                      FILE *out)
{
    const struct opt_spec *o;

    if (strcmp(w, "config") == 0)
        print_config(c, out);
    else if (strcmp(w, "routers") == 0 || strcmp(w, "router_list") == 0)
        for (size_t i = 0; i < c->nrouters; i++)
            fprintf(out, "%s\n", c->routers[i]->name);
    else if (strcmp(w, "transports") == 0
             || strcmp(w, "transport_list") == 0)
        for (size_t i = 0; i < c->ntransports; i++)
            fprintf(out, "%s\n", c->transports[i]->name);
    else if (strcmp(w, "retry") == 0)
        print_retry(c, out);
    else if (w[0] == '+') {
        struct named_list *nl = conf_find_list(c, w + 1);
        if (nl == NULL)
            return unknown("list", w);
        print_list(nl, out, 0);
    } else if ((o = opt_find(conf_main_opts(), w)) != NULL && terse)
        print_value(out, o, &c->main);
    else if (o != NULL)
        print_opt(out, o, &c->main, "", NULL);
    else
        return unknown("main option", w);
    return 0;
}

/* conf_print - -bP with its arguments */
int conf_print(struct conf *c, char **args, int nargs, int terse,
               FILE *out)
{
    int rc = 0;

    if (nargs == 0 && terse)
        return print_changed(c, out);
    if (nargs == 0) {
        print_main(c, out, 0);
        return 0;
    }
    for (int i = 0; i < nargs; i++) {
        if ((strcmp(args[i], "router") == 0
             || strcmp(args[i], "transport") == 0) && i + 1 < nargs) {
            rc |= print_named(c, args[i], args[i + 1], out);
            i++;
            continue;
        }
        rc |= print_word(c, args[i], terse, out);
    }
    return rc;
}

/* conf_print_version - -bV */
void conf_print_version(const struct conf *c, FILE *out)
{
    struct strbuf sb;

    sb_init(&sb);
    fprintf(out, "tern version %s\n", TERN_VERSION);
    fprintf(out, "Libraries: %s, %s, c-ares %s, %s\n", lstate_version(),
            OpenSSL_version(OPENSSL_VERSION), ares_version(NULL),
            gdbm_version);
    router_driver_names(&sb);
    fprintf(out, "Routers: %s\n", sb_str(&sb));
    sb_reset(&sb);
    transport_driver_names(&sb);
    fprintf(out, "Transports: %s\n", sb_str(&sb));
    fprintf(out, "Lookups: lsearch dbm iplsearch cidr dnsdb\n");
    fprintf(out, "Configuration directory: %s\n", c->root);
    fprintf(out, "Files read:\n");
    for (size_t i = 0; i < c->files.n; i++)
        fprintf(out, "  %s\n", c->files.v[i]);
    fprintf(out, "Configuration OK\n");
    sb_free(&sb);
}
