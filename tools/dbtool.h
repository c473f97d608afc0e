/*
 * dbtool.h - what tern_dumpdb and tern_fixdb share (see dbtool.c).
 */
#ifndef TERN_DBTOOL_H
#define TERN_DBTOOL_H

#include <stdio.h>

struct conf;
struct retry_rec;
struct rl_rec;
struct grey_params;
struct grey_rec;

#define DBTOOL_EX_USAGE 64

struct dbtool {
    const char *prog;
    const char *spool;          /* the spool directory */
    struct conf *conf;          /* with -C, else NULL */
    int next;                   /* argv index after the database name */
    const char *const *dbs;     /* databases the tool knows; NULL: retry */
    const char *db;             /* the one named */
};

int dbtool_args(struct dbtool *t, int argc, char **argv);
void dbtool_done(struct dbtool *t);
void dbtool_print(FILE *fp, const char *key, const struct retry_rec *r);
void dbtool_print_rate(FILE *fp, const char *key, const struct rl_rec *r);
int dbtool_flush(const struct dbtool *t);
/* dbtool_grey_params - greylist settings from -C's main options, else
 * tern's defaults (postgrey's) */
void dbtool_grey_params(const struct dbtool *t, struct grey_params *p);
/* dbtool_grey_print - one greylist record: "KEY  STATE" then the times */
void dbtool_grey_print(FILE *fp, const struct grey_params *p, const char *key,
                       const struct grey_rec *r, long long now);

#endif
