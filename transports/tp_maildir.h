/*
 * tp_maildir.h - the file work of a maildir delivery (tp_maildir_write.c).
 *
 * INTERFACE: struct md_params, md_deliver (one copy into one Maildir),
 *            md_usage (bytes in new/ and cur/, for the quota),
 *            md_dirs_* and md_move (tp_maildir_dirs.c: the directories,
 *            opened once per group of copies),
 *            md_group_add/md_group_end (a group's syncs done together).
 * ERRORS: md_deliver settles the recipient itself: DLV_OK, or DLV_DEFER
 *         with the reason (quota: errtype "quota").
 */
#ifndef TERN_TP_MAILDIR_H
#define TERN_TP_MAILDIR_H

#include <sys/types.h>

#include "transports/deliver.h"

struct strbuf;

struct md_params {
    int create_directory;
    mode_t directory_mode;
    mode_t mode;
    long quota;                 /* bytes, 0: none */
    int group_sync;             /* leave the syncs to md_group_end */
};

void md_deliver(const char *dir, const struct strbuf *copy,
                const struct md_params *p, struct dlv_rcpt *r);
int md_usage(int dirfd, long long *total);

/* the directories of one Maildir, open (tp_maildir_dirs.c) */
struct md_dirs {
    int dirfd, tmpfd, newfd;
    dev_t dev;                  /* tmp/'s filesystem */
};
/* md_dirs_open - dir, its tmp/ and new/ (created with create_directory;
 * tmp/ swept of 36-hour-old leftovers once per process): 0, or -1 with r
 * deferred and nothing left open */
int md_dirs_open(const char *dir, const struct md_params *p,
                 struct dlv_rcpt *r, struct md_dirs *d);
void md_dirs_close(struct md_dirs *d);
/* md_dirs_cached - the same for a copy of a group: opened at the first
 * copy into dir, shared by the next ones until md_dirs_release */
const struct md_dirs *md_dirs_cached(const char *dir,
                                     const struct md_params *p,
                                     struct dlv_rcpt *r);
void md_dirs_release(void);
/* md_move - tmp/name to new/name without replacing anything there:
 * 0, or -1 with errno and tmp/name still in place */
int md_move(int tmpfd, int newfd, const char *name);

/* md_group_add - (tp_maildir_group.c) a copy written to tmp/name of d,
 * not yet synced: md_group_end syncs it, moves it to new/ and syncs
 * new/ (d stays open until then) */
void md_group_add(const struct md_dirs *d, const char *dir,
                  const char *name, struct dlv_rcpt *r);
/* md_group_end - make every copy added durable in new/ with one syncfs
 * per filesystem and one fsync per new/; a failure defers its copies and
 * leaves nothing of them in new/; the group's directories are closed */
void md_group_end(void);

#endif
