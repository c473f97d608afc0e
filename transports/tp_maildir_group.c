/*
 * tp_maildir_group.c - the syncs of a group of maildir copies, done once.
 *
 * PURPOSE: a local delivery child delivers many messages (deliver.h:
 * local_group_end). Each copy is written to tmp/ unsynced and noted here;
 * at the end of the group one syncfs() per filesystem makes all of them
 * durable, each is linked into new/, and each new/ directory is fsynced
 * once. Only then does the child report the copies delivered, so the
 * Maildir order (data durable before the name in new/, new/ durable
 * before "delivered") holds for each copy, as in md_deliver.
 * INTERFACE: md_group_add, md_group_end (tp_maildir.h).
 * ERRORS: a failed sync or link defers the copies it concerns; their
 * names are removed from tmp/ and new/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/safe_io.h"
#include "core/base/xalloc.h"
#include "transports/tp_maildir.h"

struct md_pending {
    int tmpfd, newfd;
    char *dir;
    char *name;
    struct dlv_rcpt *r;
    int failed;
};

static struct md_pending *pend;
static size_t npend;

/* md_group_add - note a copy written to tmp/name */
void md_group_add(int tmpfd, int newfd, const char *dir, const char *name,
                  struct dlv_rcpt *r)
{
    pend = xreallocarray(pend, npend + 1, sizeof(*pend));
    pend[npend++] = (struct md_pending){ tmpfd, newfd, xstrdup(dir),
                                         xstrdup(name), r, 0 };
    dlv_set(r, DLV_OK, 0, NULL, "%s/new/%s", dir, name);
}

static void fail(struct md_pending *p, const char *what, int err)
{
    p->failed = 1;
    (void)unlinkat(p->tmpfd, p->name, 0);
    (void)unlinkat(p->newfd, p->name, 0);
    dlv_set(p->r, DLV_DEFER, 0, NULL, "%s %s/new/%s: %s", what, p->dir,
            p->name, strerror(err));
}

static int same_file(int a, int b)
{
    struct stat sa, sb;

    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0
           && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int same_fs(int a, int b)
{
    struct stat sa, sb;

    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev;
}

/* one syncfs per filesystem: the data of every tmp/ copy is durable */
static void sync_data(void)
{
    for (size_t i = 0; i < npend; i++) {
        size_t j = 0;
        while (j < i && !same_fs(pend[j].tmpfd, pend[i].tmpfd))
            j++;
        if (j < i) {            /* synced with an earlier one */
            if (pend[j].failed)
                fail(&pend[i], "syncing", EIO);
            continue;
        }
        if (syncfs(pend[i].tmpfd) != 0) {
            int err = errno;
            for (size_t k = i; k < npend; k++)
                if (!pend[k].failed && same_fs(pend[k].tmpfd, pend[i].tmpfd))
                    fail(&pend[k], "syncing", err);
        }
    }
}

/* tmp/name -> new/name (link, or rename where links are refused) */
static void move_all(void)
{
    for (size_t i = 0; i < npend; i++) {
        struct md_pending *p = &pend[i];
        if (p->failed)
            continue;
        if (linkat(p->tmpfd, p->name, p->newfd, p->name, 0) == 0)
            (void)unlinkat(p->tmpfd, p->name, 0);
        else if (errno == EEXIST
                 || renameat(p->tmpfd, p->name, p->newfd, p->name) != 0)
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
        while (j < i && (pend[j].failed
                         || !same_file(pend[j].newfd, pend[i].newfd)))
            j++;
        if (j < i || safe_fsync_dir(pend[i].newfd, NULL) == 0)
            continue;
        int err = errno;
        for (size_t k = i; k < npend; k++)
            if (!pend[k].failed && same_file(pend[k].newfd, pend[i].newfd))
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
        (void)close(pend[i].tmpfd);
        (void)close(pend[i].newfd);
        free(pend[i].dir);
        free(pend[i].name);
    }
    free(pend);
    pend = NULL;
    npend = 0;
}
