/*
 * tp_maildir.h - the file work of a maildir delivery (tp_maildir_write.c).
 *
 * INTERFACE: struct md_params, md_deliver (one copy into one Maildir),
 *            md_usage (bytes in new/ and cur/, for the quota).
 * ERRORS: md_deliver settles the recipient itself: DLV_OK, or DLV_DEFER
 *         with the reason (quota: errtype "quota").
 */
#ifndef TERN_TP_MAILDIR_H
#define TERN_TP_MAILDIR_H

#include <sys/types.h>

#include "core/deliver.h"

struct strbuf;

struct md_params {
    int create_directory;
    mode_t directory_mode;
    mode_t mode;
    long quota;                 /* bytes, 0: none */
};

void md_deliver(const char *dir, const struct strbuf *copy,
                const struct md_params *p, struct dlv_rcpt *r);
int md_usage(int dirfd, long long *total);

#endif
