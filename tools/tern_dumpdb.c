/*
 * tern_dumpdb.c - print a hints database, as exim_dumpdb does.
 *
 * PURPOSE:   "tern_dumpdb [-C confdir | SPOOL_DIR] retry|greylist|ratelimit":
 *            every record of SPOOL/db/NAME in key order; retry and
 *            greylist two lines each (dbtool_print, dbtool_grey_print),
 *            ratelimit one line each, as exim_dumpdb prints it
 *            (dbtool_print_rate).
 * INTERFACE: main only. Exit 0 printed (also when there is no database
 *            yet), 1 error (message on stderr), 64 usage.
 * ERRORS:    a database busy for over 2 seconds or unreadable is an error;
 *            damaged records are skipped with a warning.
 * SECURITY:  read-only (a shared GDBM lock); runs with the caller's rights.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/base/errbuf.h"
#include "core/base/fatal.h"
#include "core/hints/greylistdb.h"
#include "core/hints/ratelimitdb.h"
#include "core/hints/retrydb.h"
#include "tools/dbtool.h"

#define PROG "tern_dumpdb"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [-C confdir | SPOOL_DIR] "
            "retry|greylist|ratelimit\n"
            "Print the records of a hints database.\n");
}

static int print_cb(const char *key, const struct retry_rec *r, void *arg)
{
    (void)arg;
    dbtool_print(stdout, key, r);
    return 0;
}

static int print_rate(const char *key, const struct rl_rec *r, void *arg)
{
    (void)arg;
    dbtool_print_rate(stdout, key, r);
    return 0;
}

struct grey_print {
    struct grey_params p;
    long long now;
};

static int grey_cb(const char *key, const struct grey_rec *r, void *arg)
{
    const struct grey_print *g = arg;

    dbtool_grey_print(stdout, &g->p, key, r, g->now);
    return 0;
}

static int walk(const struct dbtool *t, struct errbuf *eb)
{
    struct grey_print g;

    if (strcmp(t->db, "retry") == 0)
        return retrydb_walk(t->spool, print_cb, NULL, eb);
    if (strcmp(t->db, RL_DB) == 0)
        return ratelimitdb_walk(t->spool, print_rate, NULL, eb);
    dbtool_grey_params(t, &g.p);
    g.now = (long long)time(NULL);
    return greylistdb_walk(t->spool, grey_cb, &g, eb);
}

int main(int argc, char **argv)
{
    static const char *const dbs[] = { "retry", "greylist", RL_DB, NULL };
    struct dbtool t = { .prog = PROG, .dbs = dbs };
    struct errbuf eb;
    int rc;

    fatal_set_progname(PROG);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    rc = dbtool_args(&t, argc, argv);
    if (rc == 0 && t.next != argc)
        rc = DBTOOL_EX_USAGE;
    if (rc != 0) {
        if (rc == DBTOOL_EX_USAGE)
            usage(stderr);
        dbtool_done(&t);
        return rc;
    }
    errbuf_clear(&eb);
    if (walk(&t, &eb) != 0) {
        fprintf(stderr, PROG ": %s\n", eb.msg);
        rc = 1;
    }
    if (dbtool_flush(&t) != 0)
        rc = 1;
    dbtool_done(&t);
    return rc;
}
