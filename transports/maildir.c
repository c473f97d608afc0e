/*
 * maildir.c - the maildir transport: options and load-time checks.
 *
 * PURPOSE: delivery into a Maildir (tmp/ then new/, DESIGN §6).
 * Options: directory (required; variables such as $home, $local_part),
 * create_directory, directory_mode, mode, quota.
 * INTERFACE: tp_maildir (deliver_local: one copy per recipient, each with
 * its own Delivered-To; the file work is in tp_maildir_write.c).
 * ERRORS: a directory that does not expand or is not absolute defers, as
 * every local failure does (Exim); quota defers with errtype "quota".
 */
#include <stddef.h>
#include <string.h>

#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "transports/tp_local.h"
#include "transports/tp_maildir.h"
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
    { "directory_mode", OPT_MODE, O(directory_mode), "0700", 0, NULL },
    { "mode", OPT_MODE, O(mode), "0600", 0, NULL },
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
    if (o->mode < 0 || o->mode > 07777 || o->directory_mode < 0
        || o->directory_mode > 07777) {
        errbuf_set(eb, "mode and directory_mode are octal permissions "
                   "(write them as strings: \"0600\")");
        return -1;
    }
    if (o->quota < 0) {
        errbuf_set(eb, "quota must not be negative");
        return -1;
    }
    return 0;
}

static void maildir_one(struct transport *t, struct dlv_batch *b,
                        struct dlv_rcpt *r, struct pool *p)
{
    const struct maildir_opts *o = t->priv;
    struct md_params mp = { o->create_directory, (mode_t)o->directory_mode,
                            (mode_t)o->mode, o->quota, b->group_sync };
    struct errbuf eb;
    struct strbuf copy;
    const char *dir;

    if (tp_expand(b, r, &o->directory, p, &dir, &eb) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "%s transport: expansion of directory "
                "failed: %s", t->name, eb.msg);
        return;
    }
    if (dir == NULL || dir[0] != '/') {
        dlv_set(r, DLV_DEFER, 0, NULL, "%s transport: directory \"%s\" is "
                "not an absolute path", t->name, dir != NULL ? dir : "");
        return;
    }
    sb_init(&copy);
    tp_copy(b, r, 0, &copy);
    md_deliver(dir, &copy, &mp, r);
    sb_free(&copy);
}

/* maildir_deliver - one copy per pending recipient (deliver.h) */
static void maildir_deliver(struct transport *t, struct dlv_batch *b)
{
    tp_each_file(t, b, maildir_one);
}

const struct transport_driver tp_maildir = {
    .name = "maildir",
    .opts = maildir_opts,
    .opts_size = sizeof(struct maildir_opts),
    .local = 1,
    .as_recipient = 1,
    .check = maildir_check,
    .deliver_local = maildir_deliver,
    .local_group_end = md_group_end,
};
