/*
 * tern_fixdb.c - remove records from a hints database (retry, greylist).
 *
 * PURPOSE:   "tern_fixdb [-C confdir | SPOOL_DIR] retry|greylist [-a | -x |
 *            -d KEY...]": -d deletes the record of KEY (repeatable), -a
 *            every record (damaged ones too: tern_dumpdb skips those with a
 *            warning), -x (greylist) the expired and damaged ones (a tidy
 *            pass, judged by -C's greylist options or the defaults);
 *            with none it lists the records as tern_dumpdb does. Unlike
 *            exim_fixdb it is not interactive and does not edit records.
 * INTERFACE: main only. Exit 0 done, 1 error (a KEY without a record, or
 *            the database could not be changed; the other keys are still
 *            deleted), 64 usage.
 * ERRORS:    messages on stderr as "tern_fixdb: ...".
 * SECURITY:  takes the writer's lock for each deletion; runs with the
 *            caller's rights (the spool's owner can change the file).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/base/errbuf.h"
#include "core/base/fatal.h"
#include "core/hints/greylistdb.h"
#include "core/hints/retrydb.h"
#include "tools/dbtool.h"

#define PROG "tern_fixdb"

struct fix {
    struct dbtool t;
    int all, list, tidy;
    size_t deleted;
    int rc;
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [-C confdir | SPOOL_DIR] retry|greylist"
            " [-a | -x | -d KEY...]\n"
            "Delete records: -d KEY that record, -a all of them, -x"
            " (greylist) the expired ones;\nwith none, list them.\n");
}

static void delete_key(struct fix *f, const char *key)
{
    struct errbuf eb;
    int rc;

    errbuf_clear(&eb);
    rc = strcmp(f->t.db, "retry") == 0 ? retrydb_delete(f->t.spool, key, &eb)
         : greylistdb_delete(f->t.spool, key, &eb);
    if (rc == 1) {
        printf("%s: deleted\n", key);
        f->deleted++;
    } else {
        if (rc == 0)
            fprintf(stderr, PROG ": %s: no such record\n", key);
        else
            fprintf(stderr, PROG ": %s\n", eb.msg);
        f->rc = 1;
    }
}

static int list_cb(const char *key, const struct retry_rec *r, void *arg)
{
    (void)arg;
    dbtool_print(stdout, key, r);
    return 0;
}

/* Options after the database name: -a, or -d KEY (repeatable). */
static int check_opts(struct fix *f, int argc, char **argv)
{
    int ndel = 0;

    for (int i = f->t.next; i < argc; i++) {
        if (strcmp(argv[i], "-a") == 0)
            f->all = 1;
        else if (strcmp(argv[i], "-x") == 0
                 && strcmp(f->t.db, "greylist") == 0)
            f->tidy = 1;
        else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc
                 && argv[i + 1][0] != '\0') {
            ndel++;
            i++;
        } else
            return DBTOOL_EX_USAGE;
    }
    if (f->all + f->tidy + (ndel > 0) > 1)
        return DBTOOL_EX_USAGE;
    f->list = !f->all && !f->tidy && ndel == 0;
    return 0;
}

struct grey_list {
    struct grey_params p;
    long long now;
};

static int grey_cb(const char *key, const struct grey_rec *r, void *arg)
{
    const struct grey_list *g = arg;

    dbtool_grey_print(stdout, &g->p, key, r, g->now);
    return 0;
}

/* the greylist database: list, -a or -x; 0 or -1 with eb */
static int run_grey(struct fix *f, struct errbuf *eb)
{
    struct grey_list g;

    dbtool_grey_params(&f->t, &g.p);
    g.now = (long long)time(NULL);
    if (f->list)
        return greylistdb_walk(f->t.spool, grey_cb, &g, eb);
    if (f->tidy)
        return greylistdb_tidy(f->t.spool, &g.p, g.now, &f->deleted, eb);
    return greylistdb_delete_all(f->t.spool, &f->deleted, eb);
}

static void run(struct fix *f, int argc, char **argv)
{
    struct errbuf eb;
    int retry = strcmp(f->t.db, "retry") == 0;

    errbuf_clear(&eb);
    if (!retry && (f->list || f->all || f->tidy)) {
        if (run_grey(f, &eb) != 0) {
            fprintf(stderr, PROG ": %s\n", eb.msg);
            f->rc = 1;
        }
        if (!f->list)
            printf("%zu record%s deleted\n", f->deleted,
                   f->deleted == 1 ? "" : "s");
        return;
    }
    if (f->list && retrydb_walk(f->t.spool, list_cb, NULL, &eb) != 0) {
        fprintf(stderr, PROG ": %s\n", eb.msg);
        f->rc = 1;
    }
    if (f->all) {
        if (retrydb_delete_all(f->t.spool, &f->deleted, &eb) != 0) {
            fprintf(stderr, PROG ": %s\n", eb.msg);
            f->rc = 1;
        }
        printf("%zu record%s deleted\n", f->deleted,
               f->deleted == 1 ? "" : "s");
    }
    if (f->list || f->all)
        return;
    for (int i = f->t.next; i + 1 < argc; i += 2)
        delete_key(f, argv[i + 1]);
}

int main(int argc, char **argv)
{
    static const char *const dbs[] = { "retry", "greylist", NULL };
    struct fix f = { .t = { .prog = PROG, .dbs = dbs } };
    int rc;

    fatal_set_progname(PROG);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    rc = dbtool_args(&f.t, argc, argv);
    if (rc == 0)
        rc = check_opts(&f, argc, argv);
    if (rc != 0) {
        if (rc == DBTOOL_EX_USAGE)
            usage(stderr);
        dbtool_done(&f.t);
        return rc;
    }
    run(&f, argc, argv);
    if (dbtool_flush(&f.t) != 0)
        f.rc = 1;
    dbtool_done(&f.t);
    return f.rc;
}
