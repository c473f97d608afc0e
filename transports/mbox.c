/*
 * mbox.c - the mbox transport: options and load-time checks.
 *
 * PURPOSE: append to an mbox file with From_ lines, >From quoting and
 * fcntl + dotlock locking (DESIGN §6).
 * Options: file (variables allowed; unset for a redirect router's
 * file_transport, where the path comes from the "/path" item), mode,
 * use_lockfile,
 * use_fcntl_lock, lock_timeout, create_file.
 */
#include <stddef.h>

#include "transports/transport.h"

struct mbox_opts {
    struct xval file;
    long mode;
    int use_lockfile;
    int use_fcntl_lock;
    long lock_timeout;
    int create_file;
};

#define O(n) offsetof(struct mbox_opts, n)

static const struct opt_spec mbox_opts[] = {
    { "file", OPT_XVAL, O(file), NULL, 0, NULL },
    { "mode", OPT_INT, O(mode), "0600", 0, NULL },
    { "use_lockfile", OPT_BOOL, O(use_lockfile), "true", 0, NULL },
    { "use_fcntl_lock", OPT_BOOL, O(use_fcntl_lock), "true", 0, NULL },
    { "lock_timeout", OPT_TIME, O(lock_timeout), "30s", 0, NULL },
    { "create_file", OPT_BOOL, O(create_file), "true", 0, NULL },
    OPT_END
};

static int mbox_check(struct transport *t, struct conf *c, struct errbuf *eb)
{
    struct mbox_opts *o = t->priv;

    (void)c;
    if (!o->use_lockfile && !o->use_fcntl_lock) {
        errbuf_set(eb, "at least one of use_lockfile and use_fcntl_lock "
                   "must be true");
        return -1;
    }
    return 0;
}

const struct transport_driver tp_mbox = {
    .name = "mbox",
    .opts = mbox_opts,
    .opts_size = sizeof(struct mbox_opts),
    .local = 1,
    .check = mbox_check,
};
