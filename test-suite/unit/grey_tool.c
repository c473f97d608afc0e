/*
 * grey_tool.c - a helper test_acl_greylist.py runs (not a test itself):
 *
 *   grey_tool SPOOL hold        open SPOOL/db/greylist as a writer (the
 *                               GDBM lock) and hold it: prints "locked"
 *                               and waits until stdin closes
 *   grey_tool SPOOL put KEY VALUE
 *                               store VALUE under KEY as it is (to plant
 *                               a damaged record)
 *   grey_tool SPOOL get KEY     print the stored value of KEY
 *
 * Exit 0 done, 1 error (on stderr), 64 usage.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/hints/greylistdb.h"
#include "core/hints/hintsdb.h"

static int hold(struct hintsdb *db)
{
    char buf[64];

    (void)db;
    printf("locked\n");
    fflush(stdout);
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    return 0;
}

static int get(struct hintsdb *db, const char *key, struct errbuf *eb)
{
    struct strbuf v;
    int rc;

    sb_init(&v);
    rc = hintsdb_fetch(db, key, &v, eb);
    if (rc == 1)
        printf("%s\n", sb_str(&v));
    sb_free(&v);
    return rc == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct errbuf eb;
    struct hintsdb *db;
    int absent, rc = -1;

    if (argc < 3 || (strcmp(argv[2], "put") == 0 && argc != 5)
        || (strcmp(argv[2], "get") == 0 && argc != 4)) {
        fprintf(stderr, "usage: grey_tool SPOOL hold|put KEY VALUE|get KEY\n");
        return 64;
    }
    errbuf_clear(&eb);
    db = hintsdb_open(argv[1], GREY_DB, HINTS_WRITE, &absent, &eb);
    if (db == NULL) {
        fprintf(stderr, "grey_tool: %s\n", eb.msg);
        return 1;
    }
    if (strcmp(argv[2], "hold") == 0)
        rc = hold(db);
    else if (strcmp(argv[2], "put") == 0)
        rc = hintsdb_store(db, argv[3], argv[4], strlen(argv[4]), &eb);
    else if (strcmp(argv[2], "get") == 0)
        rc = get(db, argv[3], &eb);
    if (hintsdb_close(db, &eb) != 0 || rc != 0) {
        fprintf(stderr, "grey_tool: %s\n", eb.msg[0] ? eb.msg : "failed");
        return 1;
    }
    return 0;
}
