/*
 * safe_io.h - the durable-write helpers every module shares (STYLE §5).
 *
 * PURPOSE:   one implementation of "temp file O_EXCL 0600 -> write all ->
 *            fsync -> checked close -> rename -> fsync the directory", and
 *            of its pieces for callers that batch them (the spool's group
 *            commit). Names are relative to a directory fd (AT_FDCWD for
 *            the working directory) so hot paths avoid path lookups.
 * INTERFACE: safe_write_all, safe_pwrite_all, safe_read_full, safe_close,
 *            safe_open_excl, safe_mkdir, safe_fsync_dir, safe_syncfs,
 *            safe_rename_durable, safe_write_file.
 * ERRORS:    0 (or a count) on success, -1 with errno on failure; nothing
 *            is retried except EINTR and short transfers.
 */
#ifndef TERN_SAFE_IO_H
#define TERN_SAFE_IO_H

#include <stddef.h>
#include <sys/types.h>

/* safe_write_all - write all n bytes (EINTR and short writes retried) */
int safe_write_all(int fd, const void *p, size_t n);
/* safe_pwrite_all - pwrite all n bytes at off */
int safe_pwrite_all(int fd, const void *p, size_t n, off_t off);
/* safe_read_full - read until n bytes or end of file; bytes read or -1 */
ssize_t safe_read_full(int fd, void *p, size_t n);
/* safe_close - close and report its error (no retry: Linux closes the fd
 * even when close fails) */
int safe_close(int fd);
/* safe_open_excl - create name for writing: O_CREAT|O_EXCL, mode 0600 */
int safe_open_excl(int dirfd, const char *name);
/* safe_mkdir - create a directory; an existing directory is success */
int safe_mkdir(int dirfd, const char *name, mode_t mode);
/* safe_fsync_dir - fsync directory path (relative to dirfd), or dirfd
 * itself when path is NULL */
int safe_fsync_dir(int dirfd, const char *path);
/* safe_syncfs - syncfs(2) on the filesystem of fd, where it reports
 * writeback errors (Linux >= 5.8); else -1 with ENOTSUP without syncing,
 * and the caller fsyncs each file instead */
int safe_syncfs(int fd);
/* safe_rename_durable - rename, then fsync the directory of to (and the
 * directory of from when it differs) */
int safe_rename_durable(int fromdir, const char *from, int todir,
                        const char *to);
/* safe_write_file - durably replace name in dirfd with n bytes: temp file
 * "name.tmp.PID", write, fsync, checked close, rename, directory fsync.
 * On failure the temp file is removed; name is untouched unless only the
 * final directory fsync failed (then the new file may or may not last). */
int safe_write_file(int dirfd, const char *name, const void *p, size_t n);

#endif
