/*
 * tp_maildir_group.c - the syncs of a group of maildir copies, done once.
 *
 * PURPOSE: a local delivery helper delivers many messages as one job
 * (deliver.h: local_group_end). Each copy is written to tmp/ unsynced
 * and noted here; at the end of the group one syncfs() per filesystem
 * makes all of them durable, each is moved into new/, and each new/
 * directory is fsynced once. Only then does the helper report the copies
 * delivered, so the Maildir order (data durable before the name in new/,
 * new/ durable before "delivered") holds for each copy, as in md_deliver.
 * The group's directories (tp_maildir_dirs.c) are closed at the end.
 * INTERFACE: md_group_add, md_group_end (tp_maildir.h).
 * ERRORS: a failed sync or move defers the copies it concerns; their
 * names are removed from tmp/ and new/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/safe_io.h"
#include "core/base/xalloc.h"
#include "transports/tp_maildir.h"

struct md_pending {
    const struct md_dirs *d;    /* the group's, open until the end */
    char *dir;
    char *name;
    struct dlv_rcpt *r;
    int failed;
};

static struct md_pending *pend;
static size_t npend, cap;

/* md_group_add - note a copy written to tmp/name */
void md_group_add(const struct md_dirs *d, const char *dir,
                  const char *name, struct dlv_rcpt *r)
{
    if (npend == cap) {
        cap = cap ? cap * 2 : 32;
        pend = xreallocarray(pend, cap, sizeof(*pend));
    }
    pend[npend++] = (struct md_pending){ d, xstrdup(dir), xstrdup(name), r,
                                         0 };
    dlv_set(r, DLV_OK, 0, NULL, "%s/new/%s", dir, name);
}

static void fail(struct md_pending *p, const char *what, int err)
{
    p->failed = 1;
    (void)unlinkat(p->d->tmpfd, p->name, 0);
    (void)unlinkat(p->d->newfd, p->name, 0);
    dlv_set(p->r, DLV_DEFER, 0, NULL, "%s %s/new/%s: %s", what, p->dir,
            p->name, strerror(err));
}

/* fsync_each - where syncfs cannot report errors: fsync every copy of
 * the group on device dev, failing only those that fail */
static void fsync_each(dev_t dev)
{
    for (size_t k = 0; k < npend; k++) {
        struct md_pending *p = &pend[k];
        int fd;

        if (p->failed || p->d->dev != dev)
            continue;
        fd = openat(p->d->tmpfd, p->name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            fail(p, "syncing", errno);
        if (fd >= 0)
            (void)close(fd);    /* read-only: the fsync was the news */
    }
}

/* one syncfs per filesystem: the data of every tmp/ copy is durable */
static void sync_data(void)
{
    for (size_t i = 0; i < npend; i++) {
        size_t j = 0;
        while (j < i && pend[j].d->dev != pend[i].d->dev)
            j++;
        if (j < i)              /* synced (or failed) with an earlier one */
            continue;
        if (safe_syncfs(pend[i].d->tmpfd) != 0) {
            int err = errno;
            if (err == ENOTSUP) {
                fsync_each(pend[i].d->dev);
                continue;
            }
            for (size_t k = i; k < npend; k++)
                if (!pend[k].failed && pend[k].d->dev == pend[i].d->dev)
                    fail(&pend[k], "syncing", err);
        }
    }
}

/* tmp/name -> new/name */
static void move_all(void)
{
    for (size_t i = 0; i < npend; i++) {
        struct md_pending *p = &pend[i];
        if (!p->failed && md_move(p->d->tmpfd, p->d->newfd, p->name) != 0)
            fail(p, "moving to", errno);
    }
}

/* one fsync per new/ directory */
static void sync_dirs(void)
{
    for (size_t i = 0; i < npend; i++) {
        size_t j = 0;
        if (pend[i].failed)
            continue;
        while (j < i && (pend[j].failed || pend[j].d != pend[i].d))
            j++;
        if (j < i || safe_fsync_dir(pend[i].d->newfd, NULL) == 0)
            continue;
        int err = errno;
        for (size_t k = i; k < npend; k++)
            if (!pend[k].failed && pend[k].d == pend[i].d)
                fail(&pend[k], "syncing", err);
    }
}

/* md_group_end - the group's copies made durable in new/ */
void md_group_end(void)
{
    sync_data();
    move_all();
    sync_dirs();
    for (size_t i = 0; i < npend; i++) {
        free(pend[i].dir);
        free(pend[i].name);
    }
    npend = 0;
    md_dirs_release();
}
