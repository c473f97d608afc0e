/*
 * tp_mbox_file.c - append one copy to an mbox file (tp_mbox.h).
 *
 * PURPOSE: the order Exim's appendfile uses: dotlock FILE.lock (O_EXCL,
 * retried until lock_timeout, removed when older than MBX_STALE_LOCK),
 * open (O_APPEND|O_NOFOLLOW, created O_EXCL when missing and allowed),
 * checks, fcntl write lock (polled until lock_timeout), check the name
 * still leads to the file locked, remember its size, write, fsync; on any
 * error ftruncate back to the remembered size. Unlock by close.
 * INTERFACE: mbx_append.
 * ERRORS: every failure defers (the administrator can fix it and no mail
 * is lost); a write error is rolled back before deferring.
 * SECURITY: runs as the recipient. Refuses a symbolic link (O_NOFOLLOW),
 * anything but a regular file, a file with more than one link, and a file
 * owned by another uid, so a user cannot aim a delivery at someone else's
 * file through a link.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/safe_io.h"
#include "core/base/strbuf.h"
#include "transports/tp_local.h"
#include "transports/tp_mbox.h"

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* sleep a little longer each time (2 ms .. 100 ms); 0 once past deadline */
static int backoff(double deadline, long *ms)
{
    struct timespec ts;

    if (now_mono() >= deadline)
        return 0;
    ts.tv_sec = 0;
    ts.tv_nsec = *ms * 1000000L;
    nanosleep(&ts, NULL);
    *ms = *ms * 2 > 100 ? 100 : *ms * 2;
    return 1;
}

/* a lock file older than MBX_STALE_LOCK is removed; 1 if it was */
static int remove_stale(const char *lock)
{
    struct stat st;

    if (lstat(lock, &st) != 0)
        return errno == ENOENT;
    if (time(NULL) - st.st_mtime < MBX_STALE_LOCK)
        return 0;
    return unlink(lock) == 0 || errno == ENOENT;
}

static int dotlock(const char *lock, long timeout, struct errbuf *eb)
{
    double deadline = now_mono() + (double)timeout;
    long ms = 2;
    int fd;

    for (;;) {
        fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
        if (fd >= 0)
            break;
        if (errno != EEXIST) {
            errbuf_set(eb, "cannot create lock file %s: %s", lock,
                       strerror(errno));
            return -1;
        }
        if (!remove_stale(lock) && !backoff(deadline, &ms)) {
            errbuf_set(eb, "timed out waiting for lock file %s", lock);
            return -1;
        }
    }
    if (safe_close(fd) != 0) {
        errbuf_set(eb, "lock file %s: %s", lock, strerror(errno));
        unlink(lock);
        return -1;
    }
    return 0;
}

static int fcntl_lock(int fd, const char *path, long timeout,
                      struct errbuf *eb)
{
    double deadline = now_mono() + (double)timeout;
    struct flock fl;
    long ms = 2;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (fcntl(fd, F_SETLK, &fl) != 0) {
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            errbuf_set(eb, "cannot lock %s: %s", path, strerror(errno));
            return -1;
        }
        if (!backoff(deadline, &ms)) {
            errbuf_set(eb, "timed out waiting for a lock on %s", path);
            return -1;
        }
    }
    return 0;
}

static int mbx_open(const char *path, const struct mbx_params *p,
                    struct errbuf *eb)
{
    int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK
                | O_CLOEXEC;
    int fd = open(path, flags);

    if (fd < 0 && errno == ENOENT && p->create_file) {
        fd = open(path, flags | O_CREAT | O_EXCL, p->mode & 07777);
        if (fd < 0 && errno == EEXIST)          /* created meanwhile */
            fd = open(path, flags);
        else if (fd >= 0 && fchmod(fd, p->mode & 07777) != 0) {
            errbuf_set(eb, "chmod %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (fd < 0) {
        if (errno == ELOOP)
            errbuf_set(eb, "mailbox %s is a symbolic link: refused", path);
        else
            errbuf_set(eb, "cannot open mailbox %s: %s", path,
                       strerror(errno));
    }
    return fd;
}

/* the open file is a regular file of ours with one link */
static int mbx_check(int fd, const char *path, struct stat *st,
                     struct errbuf *eb)
{
    if (fstat(fd, st) != 0) {
        errbuf_set(eb, "fstat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        errbuf_set(eb, "mailbox %s is not a regular file: refused", path);
        return -1;
    }
    if (st->st_nlink != 1) {
        errbuf_set(eb, "mailbox %s has %lu links: refused", path,
                   (unsigned long)st->st_nlink);
        return -1;
    }
    if (st->st_uid != geteuid()) {
        errbuf_set(eb, "mailbox %s is owned by uid %lu, not %lu: refused",
                   path, (unsigned long)st->st_uid,
                   (unsigned long)geteuid());
        return -1;
    }
    return 0;
}

/* after locking: the name still leads to the file we hold */
static int same_file(const char *path, const struct stat *st,
                     struct errbuf *eb)
{
    struct stat now;

    if (lstat(path, &now) != 0 || now.st_dev != st->st_dev
        || now.st_ino != st->st_ino) {
        errbuf_set(eb, "mailbox %s was replaced while being locked", path);
        return -1;
    }
    return 0;
}

/* write at the end; on failure truncate back to the old size */
static int mbx_write(int fd, const char *path, const struct strbuf *copy,
                     struct errbuf *eb)
{
    struct stat st;
    int err;

    if (fstat(fd, &st) != 0) {
        errbuf_set(eb, "fstat %s: %s", path, strerror(errno));
        return -1;
    }
    if (safe_write_all(fd, sb_str(copy), sb_len(copy)) == 0
        && fsync(fd) == 0)
        return 0;
    err = errno;
    if (ftruncate(fd, st.st_size) != 0 || fsync(fd) != 0)
        errbuf_set(eb, "error writing %s: %s; and could not truncate it "
                   "back to %lld bytes: %s", path, strerror(err),
                   (long long)st.st_size, strerror(errno));
    else
        errbuf_set(eb, "error writing %s: %s (appended data removed)", path,
                   strerror(err));
    errno = err;
    return -1;
}

static int mbx_locked_append(const char *path, const struct strbuf *copy,
                             const struct mbx_params *p, struct errbuf *eb)
{
    struct stat st;
    int fd = mbx_open(path, p, eb);
    int rc = -1, err = 0;

    if (fd < 0)
        return -1;
    if (mbx_check(fd, path, &st, eb) == 0
        && (!p->use_fcntl_lock
            || fcntl_lock(fd, path, p->lock_timeout, eb) == 0)
        && same_file(path, &st, eb) == 0
        && (rc = mbx_write(fd, path, copy, eb)) != 0)
        err = errno;
    if (safe_close(fd) != 0 && rc == 0) {
        /* XXX the copy is on disk (fsync'ed) but a close error after it
         * is reported as a defer: a duplicate is better than a loss */
        errbuf_set(eb, "close %s: %s", path, strerror(errno));
        rc = -1;
    }
    errno = err;
    return rc;
}

/* mbx_append - lock, append copy to path, unlock; settles r */
void mbx_append(const char *path, const struct strbuf *copy,
                const struct mbx_params *p, struct dlv_rcpt *r)
{
    char lock[4096];
    struct errbuf eb;
    int rc;

    if (bsnprintf(lock, sizeof(lock), "%s.lock", path) < 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "mailbox path too long: %s", path);
        return;
    }
    if (p->use_lockfile && dotlock(lock, p->lock_timeout, &eb) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "failed to lock mailbox: %s", eb.msg);
        return;
    }
    errno = 0;
    rc = mbx_locked_append(path, copy, p, &eb);
    if (rc == 0)
        dlv_set(r, DLV_OK, 0, NULL, "%s", path);
    else
        dlv_set(r, DLV_DEFER, 0, tp_errtype(errno), "%s", eb.msg);
    if (p->use_lockfile && unlink(lock) != 0 && rc == 0)
        dlv_set(r, DLV_OK, 0, NULL, "%s (lock file %s not removed: %s)",
                path, lock, strerror(errno));
}
