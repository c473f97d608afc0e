/*
 * maildir.c - the maildir transport: options and load-time checks.
 *
 * PURPOSE: delivery into a Maildir (tmp/ then new/, DESIGN §6).
 * Options: directory (required; variables such as $home, $local_part),
 * create_directory, directory_mode, mode, quota.
 */
#include <stddef.h>

#include "transports/transport.h"

struct maildir_opts {
    struct xval directory;
    int create_directory;
    long directory_mode;
    long mode;
    long quota;
};

#define O(n) offsetof(struct maildir_opts, n)

static const struct opt_spec maildir_opts[] = {
    { "directory", OPT_XVAL, O(directory), NULL, 0, NULL },
    { "create_directory", OPT_BOOL, O(create_directory), "true", 0, NULL },
    { "directory_mode", OPT_INT, O(directory_mode), "0700", 0, NULL },
    { "mode", OPT_INT, O(mode), "0600", 0, NULL },
    { "quota", OPT_SIZE, O(quota), "0", 0, NULL },
    OPT_END
};

static int maildir_check(struct transport *t, struct conf *c,
                         struct errbuf *eb)
{
    struct maildir_opts *o = t->priv;

    (void)c;
    if (!xval_set(&o->directory)) {
        errbuf_set(eb, "directory is required (e.g. \"$home/Maildir\")");
        return -1;
    }
    return 0;
}

const struct transport_driver tp_maildir = {
    .name = "maildir",
    .opts = maildir_opts,
    .opts_size = sizeof(struct maildir_opts),
    .local = 1,
    .check = maildir_check,
};
