/*
 * safe_io.c - durable writes: O_EXCL temp, write all, fsync, checked close,
 * rename, fsync of the directory.
 *
 * PURPOSE:   the only place that knows the order of a durable write; the
 *            spool reuses the pieces for its group commit.
 * INTERFACE: see safe_io.h.
 * ERRORS:    -1 with errno; a failed safe_write_file leaves no temp file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "strbuf.h"
#include "safe_io.h"

/* safe_write_all - write all n bytes (EINTR and short writes retried) */
int safe_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {       /* cannot happen for n > 0 on a file */
            errno = EIO;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* safe_pwrite_all - pwrite all n bytes at off */
int safe_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* safe_read_full - read until n bytes or end of file; bytes read or -1 */
ssize_t safe_read_full(int fd, void *p, size_t n)
{
    char *c = p;
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, c + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* safe_close - close and report its error */
int safe_close(int fd)
{
    /* EINTR: the descriptor is gone on Linux; retrying could close a
     * descriptor another part of the process has just been given */
    return close(fd);
}

/* safe_open_excl - create name for writing: O_CREAT|O_EXCL, mode 0600 */
int safe_open_excl(int dirfd, const char *name)
{
    return openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

/* safe_mkdir - create a directory; an existing directory is success */
int safe_mkdir(int dirfd, const char *name, mode_t mode)
{
    struct stat st;

    if (mkdirat(dirfd, name, mode) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    if (fstatat(dirfd, name, &st, 0) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* safe_fsync_dir - fsync directory path (relative to dirfd) or dirfd */
int safe_fsync_dir(int dirfd, const char *path)
{
    int fd, saved;

    if (path == NULL)
        return fsync(dirfd);
    fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fsync(fd) < 0) {
        saved = errno;
        (void)close(fd);    /* read-only: the fsync error is the news */
        errno = saved;
        return -1;
    }
    return safe_close(fd);
}

/* syncfs_reports_errors - Linux 5.8 or later, where syncfs(2) returns
 * the filesystem's writeback errors (before, it always returned 0);
 * asked once per process */
static int syncfs_reports_errors(void)
{
    static int known = -1;
    struct utsname u;
    int major = 0, minor = 0;

    if (known >= 0)
        return known;
    known = uname(&u) == 0
            && sscanf(u.release, "%d.%d", &major, &minor) == 2
            && (major > 5 || (major == 5 && minor >= 8));
    return known;
}

/* safe_syncfs - syncfs where it reports errors; else ENOTSUP */
int safe_syncfs(int fd)
{
    if (!syncfs_reports_errors()) {
        errno = ENOTSUP;
        return -1;
    }
    return syncfs(fd);
}

/* parent_dir - the directory part of name into buf: 1, or 0 when name
 * has none (the directory is dirfd itself), -1 if buf is too small */
static int parent_dir(const char *name, char *buf, size_t size)
{
    const char *slash = strrchr(name, '/');
    size_t n;

    if (slash == NULL)
        return 0;
    n = slash == name ? 1 : (size_t)(slash - name);
    if (n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, name, n);
    buf[n] = '\0';
    return 1;
}

/* sync_parent - fsync the directory that holds name (relative to dirfd) */
static int sync_parent(int dirfd, const char *name)
{
    char buf[PATH_MAX];
    int r = parent_dir(name, buf, sizeof buf);

    if (r < 0)
        return -1;
    if (r > 0)
        return safe_fsync_dir(dirfd, buf);
    return safe_fsync_dir(dirfd, dirfd == AT_FDCWD ? "." : NULL);
}

/* same_parent - do a and b (relative to the same dirfd) share a directory */
static int same_parent(const char *a, const char *b)
{
    const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');

    if (sa == NULL || sb == NULL)
        return sa == sb;
    return sa - a == sb - b && memcmp(a, b, (size_t)(sa - a)) == 0;
}

/* safe_rename_durable - rename, then fsync the directories involved */
int safe_rename_durable(int fromdir, const char *from, int todir,
                        const char *to)
{
    if (renameat(fromdir, from, todir, to) < 0)
        return -1;
    if (sync_parent(todir, to) < 0)
        return -1;
    if (fromdir == todir && same_parent(from, to))
        return 0;
    return sync_parent(fromdir, from);
}

/* write_tmp - write, fsync and close the temp file; -1 with errno */
static int write_tmp(int fd, const void *p, size_t n)
{
    int saved;

    if (safe_write_all(fd, p, n) < 0 || fsync(fd) < 0) {
        saved = errno;
        (void)close(fd);    /* the write/fsync error is the one to report */
        errno = saved;
        return -1;
    }
    return safe_close(fd);
}

/* safe_write_file - durably replace name in dirfd with n bytes */
int safe_write_file(int dirfd, const char *name, const void *p, size_t n)
{
    char tmp[PATH_MAX];
    int fd, saved;

    if (bsnprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid()) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = safe_open_excl(dirfd, tmp);
    if (fd < 0)
        return -1;
    if (write_tmp(fd, p, n) < 0)
        goto fail;
    if (safe_rename_durable(dirfd, tmp, dirfd, name) < 0)
        goto fail;
    return 0;
fail:
    saved = errno;
    (void)unlinkat(dirfd, tmp, 0);
    errno = saved;
    return -1;
}
