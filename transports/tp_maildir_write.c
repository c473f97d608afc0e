/*
 * tp_maildir_write.c - one copy into one Maildir (tp_maildir.h).
 *
 * PURPOSE: the Maildir delivery order (cr.yp.to/proto/maildir.html, as
 * Postfix local/maildir.c): DIR/tmp/NAME created O_EXCL, written, fsync'ed
 * and closed, linked (or renamed) to DIR/new/NAME, tmp name unlinked,
 * DIR/new fsync'ed. NAME is time.M<usec>P<pid>Q<n>.<host>,S=<size>.
 * Before writing, files left in tmp/ for 36 hours (by a delivery process
 * that was killed) are removed, as the Maildir rule says (bounded work,
 * once per tmp/ per process, regular files only).
 * INTERFACE: md_deliver, md_usage.
 * ERRORS: every failure defers the recipient and leaves nothing in new/
 * (the tmp file is unlinked); over quota defers with errtype "quota".
 * SECURITY: runs as the recipient; the directory comes from the
 * configuration (a router is responsible for the local part it puts in
 * it); files are opened O_NOFOLLOW|O_EXCL, so a planted link is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "core/mail/logfile.h"
#include "transports/tp_local.h"
#include "transports/tp_maildir.h"

#define MD_NAME_MAX 256
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

/* size of a maildir file from its ",S=<n>" (Maildir++), -1 if none */
static long long name_size(const char *name)
{
    const char *s = strstr(name, ",S=");
    char *end;
    long long v;

    if (s == NULL || s[3] < '0' || s[3] > '9')
        return -1;
    errno = 0;
    v = strtoll(s + 3, &end, 10);
    if (errno != 0 || (*end != '\0' && *end != ',' && *end != ':'))
        return -1;
    return v;
}

static int sub_usage(int dirfd, const char *sub, long long *total)
{
    int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;
    struct stat st;

    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        long long n = e->d_name[0] == '.' ? 0 : name_size(e->d_name);
        if (n < 0 && fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            n = S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
        if (n > 0)
            *total += n;   /* a file gone since readdir counts nothing */
    }
    closedir(d);
    return 0;
}

/* md_usage - bytes of the messages in new/ and cur/ */
int md_usage(int dirfd, long long *total)
{
    *total = 0;
    if (sub_usage(dirfd, "new", total) != 0
        || sub_usage(dirfd, "cur", total) != 0)
        return -1;
    return 0;
}

/* the host part of a name: '/' ':' ',' and odd bytes as \ooo (spec) */
static void host_part(struct strbuf *out)
{
    char host[256];

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (const char *p = host; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == ':' || c == ',' || c == '\\' || c <= ' '
            || c >= 127)
            sb_printf(out, "\\%03o", c);
        else
            sb_putc(out, (char)c);
    }
}

static int md_name(char *buf, size_t size, size_t len)
{
    static unsigned long counter;
    struct timeval tv;
    struct strbuf h;
    int rc;

    gettimeofday(&tv, NULL);
    sb_init(&h);
    host_part(&h);
    rc = bsnprintf(buf, size, "%lld.M%06ldP%ldQ%lu.%s,S=%zu",
                   (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
                   ++counter, sb_str(&h), len);
    sb_free(&h);
    return rc < 0 ? -1 : 0;
}

/* tmp/name: created, written, fsync'ed (unless the group syncs),
 * closed; removed on failure */
static int md_write_tmp(int tmpfd, const char *name,
                        const struct strbuf *copy, mode_t mode, int sync)
{
    int fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                    | O_CLOEXEC, mode & 07777);
    int err;

    if (fd < 0)
        return -1;
    if (fchmod(fd, mode & 07777) != 0
        || safe_write_all(fd, sb_str(copy), sb_len(copy)) != 0
        || (sync && fsync(fd) != 0)) {
        err = errno;
        close(fd);
        goto fail;
    }
    if (safe_close(fd) != 0) {
        err = errno;
        goto fail;
    }
    return 0;
fail:
    unlinkat(tmpfd, name, 0);
    errno = err;
    return -1;
}

/* tmp/name -> new/name, durable; on failure neither name is left */
static int md_commit(int tmpfd, int newfd, const char *name)
{
    int err;

    if (linkat(tmpfd, name, newfd, name, 0) == 0) {
        unlinkat(tmpfd, name, 0);
    } else if (errno == EEXIST || renameat(tmpfd, name, newfd, name) != 0) {
        err = errno;
        unlinkat(tmpfd, name, 0);
        errno = err;
        return -1;
    }
    if (safe_fsync_dir(newfd, NULL) != 0) {
        err = errno;
        unlinkat(newfd, name, 0);
        errno = err;
        return -1;
    }
    return 0;
}

static int md_quota_ok(int dirfd, const char *dir, size_t len,
                       const struct md_params *p, struct dlv_rcpt *r)
{
    long long used;

    if (p->quota <= 0)
        return 1;
    if (md_usage(dirfd, &used) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "cannot read maildir %s for its "
                "quota: %s", dir, strerror(errno));
        return 0;
    }
    if (used + (long long)len > p->quota) {
        dlv_set(r, DLV_DEFER, 0, "quota", "mailbox is full (quota exceeded:"
                " %lld + %zu > %ld bytes): %s", used, len, p->quota, dir);
        return 0;
    }
    return 1;
}

/* tmp/ swept by this process already (a child delivers up to 32 batches,
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
 * of deliveries that died between create and link (a killed child);
 * remove them. Bounded: MD_SWEEP_SCAN entries per call, each tmp/ once
 * per process. Failures are ignored: the delivery does not depend on it. */
static void md_sweep_tmp(int tmpfd, const char *dir)
{
    time_t cut = time(NULL) - MD_STALE_SECS;
    unsigned removed = 0, scanned = 0;
    struct dirent *e;
    struct stat st;
    DIR *d;
    int fd;

    if (fstat(tmpfd, &st) != 0 || md_swept(&st))
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

static void md_store(int dirfd, const char *dir, const struct strbuf *copy,
                     const struct md_params *p, struct dlv_rcpt *r)
{
    char name[MD_NAME_MAX];
    int tmpfd, newfd = -1;

    tmpfd = openat(dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tmpfd >= 0) {
        md_sweep_tmp(tmpfd, dir);
        newfd = openat(dirfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (tmpfd < 0 || newfd < 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "maildir %s: %s/: %s", dir,
                tmpfd < 0 ? "tmp" : "new", strerror(errno));
    } else if (md_name(name, sizeof(name), sb_len(copy)) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "maildir file name too long");
    } else if (md_write_tmp(tmpfd, name, copy, p->mode, !p->group_sync)
               != 0) {
        dlv_set(r, DLV_DEFER, 0, tp_errtype(errno), "writing %s/tmp/%s: %s",
                dir, name, strerror(errno));
    } else if (p->group_sync) {
        md_group_add(tmpfd, newfd, dir, name, r);
        return;                 /* the group owns the descriptors now */
    } else if (md_commit(tmpfd, newfd, name) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "moving %s/tmp/%s to new/: %s", dir,
                name, strerror(errno));
    } else {
        dlv_set(r, DLV_OK, 0, NULL, "%s/new/%s", dir, name);
    }
    if (tmpfd >= 0)
        close(tmpfd);
    if (newfd >= 0)
        close(newfd);
}

/* md_deliver - copy into the Maildir dir; settles r */
void md_deliver(const char *dir, const struct strbuf *copy,
                const struct md_params *p, struct dlv_rcpt *r)
{
    int dirfd = md_open(dir, p, r);

    if (dirfd < 0)
        return;
    if (md_quota_ok(dirfd, dir, sb_len(copy), p, r))
        md_store(dirfd, dir, copy, p, r);
    close(dirfd);
}
