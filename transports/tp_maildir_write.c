/*
 * tp_maildir_write.c - one copy into one Maildir (tp_maildir.h).
 *
 * PURPOSE: the Maildir delivery order (cr.yp.to/proto/maildir.html, as
 * Postfix local/maildir.c): DIR/tmp/NAME created O_EXCL, written, fsync'ed
 * and closed, moved to DIR/new/NAME without replacing anything there
 * (md_move: rename with RENAME_NOREPLACE, or link and unlink), DIR/new
 * fsync'ed. NAME is time.M<usec>P<pid>Q<n>.<host>,S=<size>. The
 * directories are opened by tp_maildir_dirs.c (once per group of copies).
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

/* the host part of a name: '/' ':' ',' and odd bytes as \ooo (spec);
 * worked out once per process (a helper names thousands of files) */
static const char *host_part(void)
{
    static struct strbuf out;
    char host[256];

    if (out.data != NULL)
        return sb_str(&out);
    sb_init(&out);
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (const char *p = host; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == ':' || c == ',' || c == '\\' || c <= ' '
            || c >= 127)
            sb_printf(&out, "\\%03o", c);
        else
            sb_putc(&out, (char)c);
    }
    return sb_str(&out);
}

static int md_name(char *buf, size_t size, size_t len)
{
    static unsigned long counter;
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return bsnprintf(buf, size, "%lld.M%06ldP%ldQ%lu.%s,S=%zu",
                     (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
                     ++counter, host_part(), len) < 0 ? -1 : 0;
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

    if (md_move(tmpfd, newfd, name) != 0) {
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

static void md_store(const struct md_dirs *d, const char *dir,
                     const struct strbuf *copy, const struct md_params *p,
                     struct dlv_rcpt *r)
{
    char name[MD_NAME_MAX];

    if (md_name(name, sizeof(name), sb_len(copy)) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "maildir file name too long");
    } else if (md_write_tmp(d->tmpfd, name, copy, p->mode, !p->group_sync)
               != 0) {
        dlv_set(r, DLV_DEFER, 0, tp_errtype(errno), "writing %s/tmp/%s: %s",
                dir, name, strerror(errno));
    } else if (p->group_sync) {
        md_group_add(d, dir, name, r);
    } else if (md_commit(d->tmpfd, d->newfd, name) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "moving %s/tmp/%s to new/: %s", dir,
                name, strerror(errno));
    } else {
        dlv_set(r, DLV_OK, 0, NULL, "%s/new/%s", dir, name);
    }
}

/* md_deliver - copy into the Maildir dir; settles r. A copy of a group
 * uses the group's open directories (md_dirs_cached). */
void md_deliver(const char *dir, const struct strbuf *copy,
                const struct md_params *p, struct dlv_rcpt *r)
{
    struct md_dirs own;
    const struct md_dirs *d = &own;

    if (p->group_sync)
        d = md_dirs_cached(dir, p, r);
    else if (md_dirs_open(dir, p, r, &own) != 0)
        d = NULL;
    if (d == NULL)
        return;
    if (md_quota_ok(d->dirfd, dir, sb_len(copy), p, r))
        md_store(d, dir, copy, p, r);
    if (!p->group_sync)
        md_dirs_close(&own);
}
