/*
 * tern_dbmbuild.c - build a GDBM lookup file from an lsearch text file.
 *
 * PURPOSE:   "tern_dbmbuild SRC DST", the counterpart of exim_dbmbuild for
 *            "dbm;DST" lookups. The parsing and the atomic replacement are
 *            lookup_dbm_build's (core/lookup/lk_dbm.c), shared with the unit tests.
 * INTERFACE: main only. Exit 0 built, 1 failed (DST untouched), 2 usage.
 * ERRORS:    every malformed source line is printed as
 *            "tern_dbmbuild: SRC:LINE: reason"; duplicates are warnings.
 * SECURITY:  runs with the caller's rights; writes only DST.tmp.<pid>
 *            (O_EXCL) and renames it to DST.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/errbuf.h"
#include "core/base/fatal.h"
#include "core/lookup/lookup.h"

#define PROG "tern_dbmbuild"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [--] SRC DST\n"
            "Build the GDBM file DST (for dbm;DST lookups) from the lsearch"
            " text file SRC.\n");
}

static void diag(void *arg, enum lookup_diag level, const char *msg)
{
    (void)arg;
    fprintf(stderr, PROG ": %s%s\n", level == LOOKUP_WARNING ? "warning: "
            : "", msg);
}

/* Building onto the source would rename the database over the text. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev
           && sa.st_ino == sb.st_ino;
}

/* Returns the index of SRC in argv, or -1 after printing why (exit 2). */
static int parse_args(int argc, char **argv, int *help)
{
    int i = 1;

    *help = 0;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0
                      || strcmp(argv[1], "-h") == 0)) {
        *help = 1;
        return -1;
    }
    if (argc > 1 && strcmp(argv[1], "--") == 0)
        i = 2;
    else if (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0') {
        fprintf(stderr, PROG ": unknown option %s\n", argv[1]);
        return -1;
    }
    if (argc - i != 2 || argv[i][0] == '\0' || argv[i + 1][0] == '\0')
        return -1;
    if (same_file(argv[i], argv[i + 1])) {
        fprintf(stderr, PROG ": %s and %s are the same file\n", argv[i],
                argv[i + 1]);
        return -1;
    }
    return i;
}

int main(int argc, char **argv)
{
    struct errbuf eb;
    size_t n = 0;
    int help, i;

    fatal_set_progname(PROG);
    i = parse_args(argc, argv, &help);
    if (i < 0) {
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    errbuf_clear(&eb);
    if (lookup_dbm_build(argv[i], argv[i + 1], diag, NULL, &n, &eb) < 0) {
        fprintf(stderr, PROG ": %s\n", eb.msg);
        return 1;
    }
    printf(PROG ": %zu entr%s written to %s\n", n, n == 1 ? "y" : "ies",
           argv[i + 1]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROG ": write error on standard output\n");
        return 1;
    }
    return 0;
}
