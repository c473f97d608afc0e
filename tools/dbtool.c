/*
 * dbtool.c - the command line and the record format tern_dumpdb and
 *            tern_fixdb share.
 *
 * PURPOSE:   "[-C confdir | SPOOL_DIR] DATABASE" (retry, greylist,
 *            ratelimit: the tool's list): the spool directory comes
 *            from the argument or from the configuration's
 *            spool_directory; records print as Exim's exim_dumpdb does.
 * INTERFACE: dbtool_args, dbtool_done, dbtool_print, dbtool_flush.
 * ERRORS:    dbtool_args returns 0, 1 (an error, message printed) or 64
 *            (usage, the caller prints its usage line).
 * SECURITY:  keys and texts come from a file others write: bytes outside
 *            printable ASCII are shown as \xHH.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/base/errbuf.h"
#include "core/conf/conf.h"
#include "core/hints/ratelimitdb.h"
#include "core/hints/greylistdb.h"
#include "core/hints/retrydb.h"
#include "tools/dbtool.h"

static int load_conf(struct dbtool *t, const char *dir)
{
    struct errbuf eb;

    errbuf_clear(&eb);
    t->conf = conf_load(dir, &eb);
    if (t->conf == NULL) {
        fprintf(stderr, "%s: %s\n", t->prog, eb.msg);
        return 1;
    }
    t->spool = t->conf->main.spool_directory;
    return 0;
}

static int known_db(const struct dbtool *t, const char *name)
{
    static const char *const retry_only[] = { "retry", NULL };

    for (const char *const *d = t->dbs ? t->dbs : retry_only; *d; d++)
        if (strcmp(*d, name) == 0)
            return 1;
    return 0;
}

/* dbtool_args - parse "[-C confdir | SPOOL_DIR] DATABASE" (one of t->dbs);
 * 0, 1 or 64 */
int dbtool_args(struct dbtool *t, int argc, char **argv)
{
    struct stat st;
    int i = 1;

    t->conf = NULL;
    t->spool = NULL;
    if (argc > 2 && strcmp(argv[1], "-C") == 0) {
        if (argc < 4 || argv[2][0] == '\0')
            return DBTOOL_EX_USAGE;
        i = 3;
    } else if (argc < 3 || argv[1][0] == '-' || argv[1][0] == '\0') {
        return DBTOOL_EX_USAGE;
    } else {
        t->spool = argv[1];
        i = 2;
    }
    if (!known_db(t, argv[i])) {
        fprintf(stderr, "%s: unknown database \"%s\"\n", t->prog, argv[i]);
        return DBTOOL_EX_USAGE;
    }
    t->db = argv[i];
    t->next = i + 1;
    if (t->spool == NULL && load_conf(t, argv[2]) != 0)
        return 1;
    if (stat(t->spool, &st) != 0) {
        fprintf(stderr, "%s: spool directory %s: %s\n", t->prog, t->spool,
                strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: spool directory %s: not a directory\n",
                t->prog, t->spool);
        return 1;
    }
    return 0;
}

/* dbtool_done - release what dbtool_args loaded */
void dbtool_done(struct dbtool *t)
{
    conf_free(t->conf);
    t->conf = NULL;
}

static void put_clean(FILE *fp, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c >= 0x7f || c == '\\')
            fprintf(fp, "\\x%02x", c);
        else
            putc(c, fp);
    }
}

static void put_time(FILE *fp, const char *label, long long t)
{
    char buf[64];
    struct tm tm;
    time_t tt = (time_t)t;

    if (localtime_r(&tt, &tm) == NULL
        || strftime(buf, sizeof(buf), "%d-%b-%Y %H:%M:%S", &tm) == 0)
        snprintf(buf, sizeof(buf), "@%lld", t);
    fprintf(fp, "%s: %s", label, buf);
}

/* dbtool_print - one record: "KEY  ERRTYPE TEXT" then the times, with a
 * final " *" when the record has expired (past its last cutoff) */
void dbtool_print(FILE *fp, const char *key, const struct retry_rec *r)
{
    put_clean(fp, key);
    fputs("  ", fp);
    put_clean(fp, r->errtype[0] ? r->errtype : "-");
    putc(' ', fp);
    put_clean(fp, r->text);
    fputs("\n  ", fp);
    put_time(fp, "first failed", r->first_failed);
    put_time(fp, "  last try", r->last_try);
    put_time(fp, "  next try", r->next_try);
    fputs(r->expired ? " *\n" : "\n", fp);
}

/* dbtool_print_rate - one ratelimit record, as exim_dumpdb prints it:
 * "TIME.USEC rate: RATE [epoch: TIME size: N] key: KEY" */
void dbtool_print_rate(FILE *fp, const char *key, const struct rl_rec *r)
{
    char buf[64];
    struct tm tm;
    time_t tt = (time_t)r->sec;

    if (localtime_r(&tt, &tm) == NULL
        || strftime(buf, sizeof(buf), "%d-%b-%Y %H:%M:%S", &tm) == 0)
        snprintf(buf, sizeof(buf), "@%lld", r->sec);
    fprintf(fp, "%s.%06ld rate: %10.3f ", buf, r->usec, r->rate);
    if (r->has_bloom) {
        put_time(fp, "epoch", r->bloom_epoch);
        fprintf(fp, " size: %zu ", r->bloom_size);
    }
    fputs("key: ", fp);
    put_clean(fp, key);
    putc('\n', fp);
}

/* dbtool_flush - 0, or 1 after reporting a write error on stdout */
int dbtool_flush(const struct dbtool *t)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: write error on standard output\n", t->prog);
        return 1;
    }
    return 0;
}

/* dbtool_grey_params - the settings records are judged by */
void dbtool_grey_params(const struct dbtool *t, struct grey_params *p)
{
    if (t->conf == NULL) {
        *p = (struct grey_params){ 300, 2 * 86400, 35 * 86400, 5 };
        return;
    }
    *p = (struct grey_params){ t->conf->main.greylist_delay,
                               t->conf->main.greylist_retry_window,
                               t->conf->main.greylist_lifetime,
                               t->conf->main.greylist_auto_whitelist };
}

/* dbtool_grey_print - "KEY  STATE", then first seen, last seen, passes */
void dbtool_grey_print(FILE *fp, const struct grey_params *p, const char *key,
                       const struct grey_rec *r, long long now)
{
    put_clean(fp, key);
    fprintf(fp, "  %s\n  ", greylist_state(p, key, r, now));
    put_time(fp, key[0] == 'C' ? "first pass" : "first seen", r->first);
    put_time(fp, key[0] == 'C' ? "  last pass" : "  last seen", r->last);
    fprintf(fp, "  passes: %ld\n", r->passes);
}
