/*
 * lk_dbm.c - GDBM lookups and the builder behind tern_dbmbuild.
 *
 * PURPOSE:   read-only GDBM handles for "dbm;FILE" (lookup.c caches them
 *            and reopens on change) and lookup_dbm_build, which turns an
 *            lsearch text file into a GDBM file replaced atomically.
 * INTERFACE: lk_dbm_backend (lk_impl.h); lookup_dbm_build (lookup.h).
 * ERRORS:    open/fetch failures are tempfails; the builder reports each
 *            bad source line through its diag callback, then fails with
 *            dst untouched and the temporary file removed.
 * SECURITY:  the temporary file "DST.tmp.<pid>" is created O_EXCL (no
 *            symlink or pre-created file is followed) with the source's
 *            permission bits; the result appears by rename only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gdbm.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/lookup/lk_impl.h"

struct dbm_build {
    const char *src, *dst;
    lookup_diag_cb diag;
    void *arg;
    struct strbuf text, tmp, entry, key, val, lc, msg;
    mode_t mode;
    int fd;                     /* ours; gdbm holds a dup */
    GDBM_FILE db;
    size_t count;
    unsigned nbad;
};

static int dbm_load(int fd, const char *path, void **data, struct errbuf *eb)
{
    GDBM_FILE db = gdbm_fd_open(fd, path, 0,
                                GDBM_READER | GDBM_NOLOCK | GDBM_CLOERROR,
                                NULL);

    if (db == NULL) {
        errbuf_set(eb, "failed to open %s: %s", path,
                   gdbm_strerror(gdbm_errno));
        return -1;
    }
    *data = db;
    return 0;
}

static void dbm_release(void *data)
{
    if (data != NULL)
        (void)gdbm_close(data);         /* read-only: nothing to lose */
}

/* XXX gdbm_fetch mallocs every result; GDBM has no fetch-into-buffer. */
static enum lk_result dbm_find(void *data, const char *key, size_t klen,
                               struct strbuf *value, struct errbuf *eb)
{
    datum k, v;
    size_t len;

    if (klen > INT_MAX)
        return LK_NOTFOUND;
    k.dptr = (char *)key;
    k.dsize = (int)klen;
    v = gdbm_fetch(data, k);
    if (v.dptr == NULL) {
        if (gdbm_last_errno(data) == GDBM_ITEM_NOT_FOUND)
            return LK_NOTFOUND;
        errbuf_set(eb, "dbm fetch failed: %s", gdbm_db_strerror(data));
        return LK_TEMPFAIL;
    }
    len = (size_t)v.dsize;
    if (len > 0 && v.dptr[len - 1] == '\0')
        len--;                          /* exim_dbmbuild stores the NUL */
    sb_reset(value);
    sb_append(value, v.dptr, len);
    free(v.dptr);
    return LK_FOUND;
}

const struct lk_backend lk_dbm_backend = {
    .name = "dbm", .caseless = 1, .star_ok = 1,
    .load = dbm_load, .release = dbm_release, .find = dbm_find,
};

/* ---- builder ---- */

static void report(struct dbm_build *b, enum lookup_diag level,
                   unsigned line, const char *reason)
{
    sb_reset(&b->msg);
    sb_printf(&b->msg, "%s:%u: %s", b->src, line, reason);
    if (b->diag != NULL)
        b->diag(b->arg, level, b->msg.data);
}

/* Key as printable text for a warning: controls and quotes as \xHH. */
static void printable(struct strbuf *out, const struct strbuf *in)
{
    sb_reset(out);
    for (size_t i = 0; i < in->len; i++) {
        unsigned char c = (unsigned char)in->data[i];

        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            sb_printf(out, "\\x%02x", c);
        else
            sb_putc(out, (char)c);
    }
}

static int read_source(struct dbm_build *b, struct errbuf *eb)
{
    struct stat st;
    int fd = open(b->src, O_RDONLY | O_CLOEXEC), rc, err;

    if (fd < 0) {
        errbuf_set(eb, "failed to open %s: %s", b->src, strerror(errno));
        return -1;
    }
    rc = fstat(fd, &st);
    if (rc == 0)
        rc = lk_read_fd(fd, &b->text);
    err = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        err = errno;
    }
    if (rc < 0) {
        errbuf_set(eb, "failed to read %s: %s", b->src, strerror(err));
        return -1;
    }
    b->mode = st.st_mode & 0666;
    return 0;
}

static int create_tmp(struct dbm_build *b, struct errbuf *eb)
{
    int gfd;

    sb_printf(&b->tmp, "%s.tmp.%ld", b->dst, (long)getpid());
    b->fd = open(b->tmp.data, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                 b->mode);
    if (b->fd < 0) {
        errbuf_set(eb, "failed to create %s: %s", b->tmp.data,
                   strerror(errno));
        return -1;
    }
    gfd = dup(b->fd);
    if (gfd < 0) {
        errbuf_set(eb, "dup: %s", strerror(errno));
        return -1;
    }
    b->db = gdbm_fd_open(gfd, b->tmp.data, 0, GDBM_NEWDB | GDBM_CLOERROR,
                         NULL);
    if (b->db == NULL) {
        errbuf_set(eb, "failed to open %s: %s", b->tmp.data,
                   gdbm_strerror(gdbm_errno));
        return -1;
    }
    return 0;
}

/* One entry: 0 stored or skipped, -1 a GDBM write error (eb). */
static int store_entry(struct dbm_build *b, unsigned line, struct errbuf *eb)
{
    datum k, v;
    int rc;

    if (b->key.len > INT_MAX || b->val.len > INT_MAX) {
        report(b, LOOKUP_ERROR, line, "entry too large");
        b->nbad++;
        return 0;
    }
    lk_lower(&b->lc, b->key.data, b->key.len);
    k.dptr = b->lc.data;
    k.dsize = (int)b->lc.len;
    v.dptr = b->val.data;
    v.dsize = (int)b->val.len;
    rc = gdbm_store(b->db, k, v, GDBM_INSERT);
    if (rc < 0) {
        errbuf_set(eb, "failed to write %s: %s", b->tmp.data,
                   gdbm_db_strerror(b->db));
        return -1;
    }
    if (rc == 1) {
        struct strbuf shown, why;

        sb_init(&shown);
        sb_init(&why);
        printable(&shown, &b->key);
        sb_printf(&why, "duplicate key \"%s\" ignored (first kept)",
                  shown.data);
        report(b, LOOKUP_WARNING, line, why.data);
        sb_free(&shown);
        sb_free(&why);
        return 0;
    }
    b->count++;
    return 0;
}

/* Every entry; bad ones are reported and counted, the walk goes on. */
static int store_all(struct dbm_build *b, struct errbuf *eb)
{
    struct lk_reader r;
    struct errbuf why;
    int rc;

    lk_reader_init(&r, b->text.data, b->text.len);
    while ((rc = lk_reader_next(&r, &b->entry, &why)) != 0) {
        if (rc > 0)
            rc = lsearch_parse_line(b->entry.data, b->entry.len, &b->key,
                                    &b->val, &why);
        if (rc < 0) {
            report(b, LOOKUP_ERROR, r.entry_line, why.msg);
            b->nbad++;
        } else if (rc > 0 && store_entry(b, r.entry_line, eb) < 0) {
            return -1;
        }
    }
    if (b->nbad > 0) {
        errbuf_set(eb, "%s: %u malformed line%s, %s not changed", b->src,
                   b->nbad, b->nbad == 1 ? "" : "s", b->dst);
        return -1;
    }
    return 0;
}

/* fsync the directory holding path so the rename is durable. GDBM writes
 * the file itself, so only this last step could be shared with a future
 * core/base/safe_io.c (STYLE §5), which does not exist yet. */
static int sync_dir(const char *path, struct errbuf *eb)
{
    struct strbuf dir;
    const char *slash = strrchr(path, '/');
    int fd, ret = -1;

    sb_init(&dir);
    if (slash == NULL)
        sb_putc(&dir, '.');
    else
        sb_append(&dir, path, slash == path ? 1 : (size_t)(slash - path));
    fd = open(dir.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        errbuf_set(eb, "failed to sync directory %s: %s", dir.data,
                   strerror(errno));
        goto fail;
    }
    ret = 0;
fail:
    if (fd >= 0 && close(fd) < 0 && ret == 0) {
        errbuf_set(eb, "close %s: %s", dir.data, strerror(errno));
        ret = -1;
    }
    sb_free(&dir);
    return ret;
}

/* gdbm_sync, close, fsync, checked close, rename, directory fsync. */
static int commit(struct dbm_build *b, struct errbuf *eb)
{
    GDBM_FILE db = b->db;
    int fd = b->fd;

    b->db = NULL;
    b->fd = -1;
    if (gdbm_sync(db) != 0) {
        errbuf_set(eb, "failed to sync %s: %s", b->tmp.data,
                   gdbm_db_strerror(db));
        (void)gdbm_close(db);
        (void)close(fd);
        return -1;
    }
    if (gdbm_close(db) != 0 || fsync(fd) < 0) {
        errbuf_set(eb, "failed to write %s: %s", b->tmp.data,
                   strerror(errno));
        (void)close(fd);
        return -1;
    }
    if (close(fd) < 0 || rename(b->tmp.data, b->dst) < 0) {
        errbuf_set(eb, "failed to install %s: %s", b->dst, strerror(errno));
        return -1;
    }
    if (sync_dir(b->dst, eb) < 0) {
        errbuf_prefix(eb, "%s installed, but ", b->dst);
        return -1;
    }
    return 0;
}

static void build_init(struct dbm_build *b, const char *src, const char *dst)
{
    memset(b, 0, sizeof(*b));
    b->src = src;
    b->dst = dst;
    b->fd = -1;
    sb_init(&b->text);
    sb_init(&b->tmp);
    sb_init(&b->entry);
    sb_init(&b->key);
    sb_init(&b->val);
    sb_init(&b->lc);
    sb_init(&b->msg);
}

static void build_free(struct dbm_build *b)
{
    sb_free(&b->text);
    sb_free(&b->tmp);
    sb_free(&b->entry);
    sb_free(&b->key);
    sb_free(&b->val);
    sb_free(&b->lc);
    sb_free(&b->msg);
}

/* lookup_dbm_build - build GDBM dst from lsearch-format src atomically */
int lookup_dbm_build(const char *src, const char *dst, lookup_diag_cb diag,
                     void *arg, size_t *nentries, struct errbuf *eb)
{
    struct dbm_build b;
    int created = 0, ret = -1;

    build_init(&b, src, dst);
    b.diag = diag;
    b.arg = arg;
    if (read_source(&b, eb) < 0)
        goto fail;
    if (create_tmp(&b, eb) < 0) {
        created = b.fd >= 0;            /* not if O_EXCL refused it */
        goto fail;
    }
    created = 1;
    if (store_all(&b, eb) < 0 || commit(&b, eb) < 0)
        goto fail;
    created = 0;
    *nentries = b.count;
    ret = 0;
fail:
    if (b.db != NULL)
        (void)gdbm_close(b.db);
    if (b.fd >= 0)
        (void)close(b.fd);
    if (created && unlink(b.tmp.data) < 0 && errno != ENOENT)
        errbuf_prefix(eb, "(also failed to remove %s: %s) ", b.tmp.data,
                      strerror(errno));
    build_free(&b);
    return ret;
}
