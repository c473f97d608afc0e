/*
 * mbox.c - the mbox transport: options and load-time checks.
 *
 * PURPOSE: append to an mbox file with From_ lines, >From quoting and
 * fcntl + dotlock locking (DESIGN §6).
 * Options: file (variables allowed; unset for a redirect router's
 * file_transport, where the path comes from the "/path" item), mode,
 * use_lockfile,
 * use_fcntl_lock, lock_timeout, create_file.
 * Format: mboxrd - each copy starts "From SENDER DATE" (ctime date, local
 * time; MAILER-DAEMON for <>), every line matching ">*From " gets one more
 * '>' (reversible, unlike mboxo), LF line ends, and a blank line ends it.
 * INTERFACE: tp_mbox (deliver_local: one copy per recipient; the locking
 * and file work is in tp_mbox_file.c).
 * ERRORS: failures defer with the reason (see tp_mbox.h).
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "transports/tp_local.h"
#include "transports/tp_mbox.h"
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
    { "mode", OPT_MODE, O(mode), "0600", 0, NULL },
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
    if (o->mode < 0 || o->mode > 07777) {
        errbuf_set(eb, "mode is an octal permission (write it as a string: "
                   "\"0600\")");
        return -1;
    }
    if (o->lock_timeout <= 0) {
        errbuf_set(eb, "lock_timeout must be positive");
        return -1;
    }
    return 0;
}

/* "From SENDER DATE\n": no white space or control in SENDER */
static void from_line(const char *sender, struct strbuf *out)
{
    char date[64];
    struct tm tm;
    time_t now = time(NULL);

    sb_puts(out, "From ");
    if (sender == NULL || *sender == '\0')
        sender = "MAILER-DAEMON";
    for (const char *p = sender; *p != '\0'; p++)
        sb_putc(out, (unsigned char)*p <= ' ' || *p == 127 ? '_' : *p);
    if (localtime_r(&now, &tm) == NULL
        || strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
        date[0] = '\0';
    sb_printf(out, " %s\n", date);
}

/* the mailbox of r: the file option, or the "/path" of a redirect */
static const char *mbox_path(struct transport *t, struct dlv_batch *b,
                             struct dlv_rcpt *r, struct pool *p)
{
    const struct mbox_opts *o = t->priv;
    struct errbuf eb;
    const char *path;

    if (!xval_set(&o->file) && r->kind == CHILD_FILE && r->text != NULL)
        path = r->text;
    else if (tp_expand(b, r, &o->file, p, &path, &eb) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "%s transport: expansion of file "
                "failed: %s", t->name, eb.msg);
        return NULL;
    }
    if (path == NULL || path[0] != '/') {
        dlv_set(r, DLV_DEFER, 0, NULL, "%s transport: %s", t->name,
                path == NULL ? "no file set (file option unset, and the "
                "address is not a /path)" : "file is not an absolute path");
        return NULL;
    }
    return path;
}

static void mbox_one(struct transport *t, struct dlv_batch *b,
                     struct dlv_rcpt *r, struct pool *p)
{
    const struct mbox_opts *o = t->priv;
    struct mbx_params mp = { (mode_t)o->mode, o->create_file,
                             o->use_lockfile, o->use_fcntl_lock,
                             o->lock_timeout };
    const char *path = mbox_path(t, b, r, p);
    struct strbuf copy;

    if (path == NULL)
        return;
    sb_init(&copy);
    from_line(b->return_path, &copy);
    tp_copy(b, r, 1, &copy);
    if (sb_str(&copy)[sb_len(&copy) - 1] != '\n')
        sb_putc(&copy, '\n');
    sb_putc(&copy, '\n');
    mbx_append(path, &copy, &mp, r);
    sb_free(&copy);
}

/* mbox_deliver - one copy per pending recipient (deliver.h) */
static void mbox_deliver(struct transport *t, struct dlv_batch *b)
{
    tp_each_file(t, b, mbox_one);
}

const struct transport_driver tp_mbox = {
    .name = "mbox",
    .opts = mbox_opts,
    .opts_size = sizeof(struct mbox_opts),
    .local = 1,
    .as_recipient = 1,
    .check = mbox_check,
    .deliver_local = mbox_deliver,
};
