/*
 * tp_maildir.h - the file work of a maildir delivery (tp_maildir_write.c).
 *
 * INTERFACE: struct md_params, md_deliver (one copy into one Maildir),
 *            md_usage (bytes in new/ and cur/, for the quota),
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
/* md_group_add - (tp_maildir_group.c) a copy written to tmp/name, not yet
 * synced: md_group_end syncs it, moves it to new/ and syncs new/; the
 * descriptors are the group's from now on */
void md_group_add(int tmpfd, int newfd, const char *dir, const char *name,
                  struct dlv_rcpt *r);
/* md_group_end - make every copy added durable in new/ with one syncfs
 * per filesystem and one fsync per new/; a failure defers its copies and
 * leaves nothing of them in new/ */
void md_group_end(void);

#endif
