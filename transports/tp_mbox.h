/*
 * tp_mbox.h - the file work of an mbox delivery (tp_mbox_file.c): lock,
 *             checks, append with roll-back.
 *
 * INTERFACE: struct mbx_params, mbx_append (one prepared copy - From_
 *            line, quoted message, final blank line - onto one file).
 * ERRORS: mbx_append settles the recipient: DLV_OK or DLV_DEFER with the
 *         reason; the file is left at its old size on any failure.
 */
#ifndef TERN_TP_MBOX_H
#define TERN_TP_MBOX_H

#include <sys/types.h>

#include "transports/deliver.h"

struct strbuf;

#define MBX_STALE_LOCK 300      /* seconds: an older dotlock is removed */

struct mbx_params {
    mode_t mode;
    int create_file;
    int use_lockfile;
    int use_fcntl_lock;
    long lock_timeout;          /* seconds, for each kind of lock */
};

void mbx_append(const char *path, const struct strbuf *copy,
                const struct mbx_params *p, struct dlv_rcpt *r);

#endif
