/*
 * tp_maildir_dirs.c - the directories of a Maildir, opened for copies
 *                     (tp_maildir.h).
 *
 * PURPOSE: a copy needs the Maildir (for its quota), tmp/ and new/.
 * With create_directory, what is missing of the Maildir and of tmp/ new/
 * cur/ is created. Before the first copy into a tmp/ in this process,
 * files left there for 36 hours (by a delivery process that was killed)
 * are removed, as the Maildir rule says (bounded work, regular files
 * only). A copy on its own opens and closes them (md_dirs_open,
 * md_dirs_close); the copies of a group (deliver.h: local_group_end)
 * share them: md_dirs_cached opens a Maildir at its first copy of the
 * group and md_dirs_release closes them all at the group's end, so a
 * group of copies into one Maildir costs three opens, not three per copy.
 * Moving a copy into new/ (md_move) is here too, for both ways.
 * INTERFACE: md_dirs_open, md_dirs_close, md_dirs_cached, md_dirs_release,
 *            md_move.
 * ERRORS: a directory that cannot be opened or created defers the copy
 *         (the reason is set on the recipient) and is not cached.
 * SECURITY: runs as the recipient; the path comes from the configuration
 * (a router is responsible for the local part it puts in it); stale files
 * are looked at with AT_SYMLINK_NOFOLLOW and never followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/mail/logfile.h"
#include "transports/tp_maildir.h"

#define MD_STALE_SECS (36 * 3600)       /* the Maildir rule for tmp/ */
#define MD_SWEEP_SCAN 256               /* tmp/ entries looked at per call */
#define MD_SWEEP_SEEN 16                /* tmp/ dirs remembered as swept */

static const char *const md_subdirs[] = { "tmp", "new", "cur" };

/* mkdir -p: create the missing components of path */
static int mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];

    if (bsnprintf(buf, sizeof(buf), "%s", path) < 0)
        return errno = ENAMETOOLONG, -1;
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = c;
        if (c == '\0')
            return 0;
    }
}

/* the Maildir's fd; with create_directory, what is missing of it and of
 * tmp/ new/ cur/ is created (an existing Maildir costs one open and two
 * checks, not a mkdir per component) */
static int md_open(const char *dir, const struct md_params *p,
                   struct dlv_rcpt *r)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT && p->create_directory) {
        if (mkdir_p(dir, p->directory_mode) != 0)
            goto fail;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        goto fail;
    if (!p->create_directory || (faccessat(fd, "new", F_OK, 0) == 0
                                 && faccessat(fd, "tmp", F_OK, 0) == 0))
        return fd;
    for (size_t i = 0; i < 3; i++) {
        if (safe_mkdir(fd, md_subdirs[i], p->directory_mode) != 0) {
            dlv_set(r, DLV_DEFER, 0, NULL, "cannot create %s/%s: %s", dir,
                    md_subdirs[i], strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
fail:
    dlv_set(r, DLV_DEFER, 0, NULL, "maildir %s: %s", dir, strerror(errno));
    return -1;
}

/* tmp/ swept by this process already (a helper delivers many copies,
 * often to one Maildir): 1, else remember it and 0 */
static int md_swept(const struct stat *st)
{
    static struct { dev_t dev; ino_t ino; } seen[MD_SWEEP_SEEN];
    static size_t n;

    for (size_t i = 0; i < n && i < MD_SWEEP_SEEN; i++)
        if (seen[i].dev == st->st_dev && seen[i].ino == st->st_ino)
            return 1;
    seen[n % MD_SWEEP_SEEN].dev = st->st_dev;
    seen[n % MD_SWEEP_SEEN].ino = st->st_ino;
    n++;
    return 0;
}

/* one tmp/ entry: removed when it is a regular file (never a link: looked
 * at with AT_SYMLINK_NOFOLLOW) neither modified nor read for 36 hours */
static int md_stale_gone(int fd, const char *name, time_t cut)
{
    struct stat st;

    if (name[0] == '.' || fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0
        || !S_ISREG(st.st_mode) || st.st_mtime > cut || st.st_atime > cut)
        return 0;
    return unlinkat(fd, name, 0) == 0;
}

/* The Maildir rule: files in tmp/ untouched for 36 hours are leftovers
 * of deliveries that died between create and link (a killed process);
 * remove them. Bounded: MD_SWEEP_SCAN entries per call, each tmp/ once
 * per process. Failures are ignored: the delivery does not depend on it. */
static void md_sweep_tmp(int tmpfd, const struct stat *st, const char *dir)
{
    time_t cut = time(NULL) - MD_STALE_SECS;
    unsigned removed = 0, scanned = 0;
    struct dirent *e;
    DIR *d;
    int fd;

    if (md_swept(st))
        return;
    fd = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while (scanned++ < MD_SWEEP_SCAN && (e = readdir(d)) != NULL)
        if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN)
            removed += (unsigned)md_stale_gone(dirfd(d), e->d_name, cut);
    closedir(d);
    if (removed > 0)
        log_main("maildir %s: removed %u file%s left in tmp/ for more than "
                 "36 hours", dir, removed, removed == 1 ? "" : "s");
}

/* md_dirs_open - the Maildir dir, its tmp/ and new/ (see tp_maildir.h) */
int md_dirs_open(const char *dir, const struct md_params *p,
                 struct dlv_rcpt *r, struct md_dirs *d)
{
    struct stat st;
    const char *sub = "tmp";

    d->tmpfd = d->newfd = -1;
    if ((d->dirfd = md_open(dir, p, r)) < 0)
        return -1;
    d->tmpfd = openat(d->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->tmpfd >= 0 && fstat(d->tmpfd, &st) == 0) {
        d->dev = st.st_dev;
        md_sweep_tmp(d->tmpfd, &st, dir);
        sub = "new";
        d->newfd = openat(d->dirfd, "new", O_RDONLY | O_DIRECTORY
                          | O_CLOEXEC);
    }
    if (d->newfd >= 0)
        return 0;
    dlv_set(r, DLV_DEFER, 0, NULL, "maildir %s: %s/: %s", dir, sub,
            strerror(errno));
    md_dirs_close(d);
    return -1;
}

/* md_move - tmp/name -> new/name, never replacing a name in new/: one
 * renameat2 with RENAME_NOREPLACE, or where the filesystem refuses it,
 * link and unlink (or rename where links are refused too); on failure
 * tmp/name is left for the caller */
int md_move(int tmpfd, int newfd, const char *name)
{
    if (renameat2(tmpfd, name, newfd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -1;
    if (linkat(tmpfd, name, newfd, name, 0) == 0) {
        (void)unlinkat(tmpfd, name, 0);
        return 0;
    }
    if (errno == EEXIST)
        return -1;
    return renameat(tmpfd, name, newfd, name);
}

/* md_dirs_close - close what md_dirs_open opened */
void md_dirs_close(struct md_dirs *d)
{
    if (d->dirfd >= 0)
        (void)close(d->dirfd);
    if (d->tmpfd >= 0)
        (void)close(d->tmpfd);
    if (d->newfd >= 0)
        (void)close(d->newfd);
    d->dirfd = d->tmpfd = d->newfd = -1;
}

/* the Maildirs of the group so far, by path (each entry allocated on
 * its own: the pointers handed out stay valid as the list grows) */
struct md_open_dir {
    char *path;
    struct md_dirs d;
};
static struct md_open_dir **cache;
static size_t ncache;

/* md_dirs_cached - dir's directories for a copy of a group: opened at
 * its first copy, kept until md_dirs_release; NULL with r deferred */
const struct md_dirs *md_dirs_cached(const char *dir,
                                     const struct md_params *p,
                                     struct dlv_rcpt *r)
{
    struct md_open_dir *o;
    struct md_dirs d;

    for (size_t i = 0; i < ncache; i++)
        if (strcmp(cache[i]->path, dir) == 0)
            return &cache[i]->d;
    if (md_dirs_open(dir, p, r, &d) != 0)
        return NULL;
    o = xmalloc(sizeof(*o));
    o->path = xstrdup(dir);
    o->d = d;
    cache = xreallocarray(cache, ncache + 1, sizeof(*cache));
    cache[ncache++] = o;
    return &o->d;
}

/* md_dirs_release - close every directory md_dirs_cached opened (the
 * pointers it gave are dead) */
void md_dirs_release(void)
{
    for (size_t i = 0; i < ncache; i++) {
        md_dirs_close(&cache[i]->d);
        free(cache[i]->path);
        free(cache[i]);
    }
    free(cache);
    cache = NULL;
    ncache = 0;
}
