/*
 * lookup.c - lookup specs, the per-process file cache and the star forms.
 *
 * PURPOSE:   parse "TYPE;FILE", keep each file loaded once (a hash of
 *            text entries, an IP list or a GDBM handle, by lk_*.c) and
 *            reload it when its (dev, inode, size, mtime) changes. stat is
 *            called at most once a second per file (CLOCK_MONOTONIC, read
 *            through the vDSO), so a cached lookup makes no syscall.
 * INTERFACE: lookup_spec_parse, lookup_spec_free, lookup_type_valid,
 *            lookup_find, lookup_cache_flush, lookup_cache_recheck.
 * ERRORS:    an unopenable or malformed file is a tempfail whose reason is
 *            cached with the file's identity and repeated until the next
 *            check; never "not found".
 * SECURITY:  file names come from the configuration, keys from the
 *            network: keys are only hashed, compared or parsed as IPs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/fatal.h"
#include "core/base/hash.h"
#include "core/base/log.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/lookup/lk_impl.h"

#define NS_PER_SEC 1000000000ULL
#define NKINDS 4

static const struct lk_backend *const backends[NKINDS] = {
    [LKK_LSEARCH] = &lk_lsearch_backend,
    [LKK_DBM] = &lk_dbm_backend,
    [LKK_IPLSEARCH] = &lk_iplsearch_backend,
    [LKK_CIDR] = &lk_cidr_backend,
};

struct lk_file {
    char *path;
    const struct lk_backend *be;
    void *data;                 /* the backend's form, NULL if failed */
    char *err;                  /* the failure reported until rechecked */
    int have_id;                /* identity below is that of data */
    int due;                    /* stat on the next lookup */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    uint64_t checked_ns;
};

/* The lookup cache is process-wide by nature (DESIGN §8): one per process,
 * flushed after fork or on reload. */
static struct {
    int ready;
    struct hash *files[NKINDS]; /* path -> struct lk_file * */
    struct strbuf lc;           /* lowercased key */
    struct strbuf star;         /* "*@domain" */
} cache;

static int parse_type(const char *type, size_t len, enum lookup_kind *kind,
                      enum lookup_star *star)
{
    for (int k = 0; k < NKINDS; k++) {
        const struct lk_backend *be = backends[k];
        size_t n = strlen(be->name);

        if (len < n || memcmp(type, be->name, n) != 0)
            continue;
        *kind = (enum lookup_kind)k;
        if (len == n)
            *star = LK_STAR_NONE;
        else if (be->star_ok && len == n + 1 && type[n] == '*')
            *star = LK_STAR;
        else if (be->star_ok && len == n + 2 && memcmp(type + n, "*@", 2) == 0)
            *star = LK_STAR_AT;
        else
            return -1;
        return 0;
    }
    return -1;
}

/* lookup_type_valid - nonzero if type[0..len) names a lookup type */
int lookup_type_valid(const char *type, size_t len)
{
    enum lookup_kind kind;
    enum lookup_star star;

    return parse_type(type, len, &kind, &star) == 0;
}

/* lookup_spec_parse - "TYPE;FILE" into out; blanks around FILE ignored */
int lookup_spec_parse(const char *spec, struct lookup_spec *out,
                      struct errbuf *eb)
{
    const char *semi = strchr(spec, ';'), *f, *e;

    if (semi == NULL) {
        errbuf_set(eb, "missing ';' in lookup \"%s\" (want TYPE;FILE)", spec);
        return -1;
    }
    if (parse_type(spec, (size_t)(semi - spec), &out->kind, &out->star) < 0) {
        errbuf_set(eb, "unknown lookup type \"%.*s\"", (int)(semi - spec),
                   spec);
        return -1;
    }
    for (f = semi + 1; lk_blank((unsigned char)*f); f++)
        ;
    for (e = f + strlen(f); e > f && lk_blank((unsigned char)e[-1]); e--)
        ;
    if (e == f) {
        errbuf_set(eb, "empty file name in lookup \"%s\"", spec);
        return -1;
    }
    out->file = xstrndup(f, (size_t)(e - f));
    return 0;
}

/* lookup_spec_free - release what lookup_spec_parse allocated */
void lookup_spec_free(struct lookup_spec *spec)
{
    if (spec == NULL)
        return;
    free(spec->file);
    spec->file = NULL;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;                       /* cannot happen; means "due" */
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void file_drop(struct lk_file *f)
{
    if (f->data != NULL)
        f->be->release(f->data);
    f->data = NULL;
    free(f->err);
    f->err = NULL;
    f->have_id = 0;
}

static void file_free(void *p)
{
    struct lk_file *f = p;

    file_drop(f);
    free(f->path);
    free(f);
}

static struct lk_file *file_get(enum lookup_kind kind, const char *path)
{
    size_t plen = strlen(path);
    struct lk_file *f;

    if (!cache.ready) {
        for (int k = 0; k < NKINDS; k++)
            cache.files[k] = hash_new(16);
        sb_init(&cache.lc);
        sb_init(&cache.star);
        cache.ready = 1;
    }
    f = hash_get(cache.files[kind], path, plen);
    if (f != NULL)
        return f;
    f = xcalloc(1, sizeof(*f));
    f->path = xstrdup(path);
    f->be = backends[kind];
    f->due = 1;
    hash_put(cache.files[kind], path, plen, f);
    return f;
}

static int same_id(const struct lk_file *f, const struct stat *st)
{
    return f->have_id && f->dev == st->st_dev && f->ino == st->st_ino
           && f->size == st->st_size
           && f->mtime.tv_sec == st->st_mtim.tv_sec
           && f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static int file_fail(struct lk_file *f, struct errbuf *eb)
{
    file_drop(f);
    f->err = xstrdup(eb->msg);
    log_debug(DBG_LOOKUP, "lookup: %s", eb->msg);
    return -1;
}

static int file_load(struct lk_file *f, struct errbuf *eb)
{
    struct stat st;
    void *data = NULL;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        errbuf_set(eb, "failed to open %s: %s", f->path, strerror(errno));
        if (fd >= 0)
            (void)close(fd);            /* read-only; the error is above */
        return file_fail(f, eb);
    }
    if (f->be->load(fd, f->path, &data, eb) < 0)
        return file_fail(f, eb);
    file_drop(f);
    f->data = data;
    f->have_id = 1;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = st.st_size;
    f->mtime = st.st_mtim;
    log_debug(DBG_LOOKUP, "lookup: loaded %s;%s", f->be->name, f->path);
    return 0;
}

/* Ready to search: 0, or -1 with eb set (the cached failure, if any). */
static int file_ready(struct lk_file *f, struct errbuf *eb)
{
    uint64_t now = mono_ns();
    struct stat st;

    if (!f->due && now - f->checked_ns < NS_PER_SEC)
        goto cached;
    f->due = 0;
    f->checked_ns = now;
    if (stat(f->path, &st) < 0) {
        errbuf_set(eb, "failed to open %s: %s", f->path, strerror(errno));
        return file_fail(f, eb);
    }
    if (!same_id(f, &st))
        return file_load(f, eb);
cached:
    if (f->data != NULL)
        return 0;
    errbuf_set(eb, "%s", f->err != NULL ? f->err : "lookup file not loaded");
    return -1;
}

static enum lk_result find_one(struct lk_file *f, const char *key,
                               size_t klen, struct strbuf *value,
                               struct errbuf *eb)
{
    enum lk_result rc;

    if (f->be->caseless) {
        lk_lower(&cache.lc, key, klen);
        key = cache.lc.data;
    }
    rc = f->be->find(f->data, key, klen, value, eb);
    if (rc == LK_TEMPFAIL)
        errbuf_prefix(eb, "%s: ", f->path);
    if (log_debug_enabled(DBG_LOOKUP))
        log_debug(DBG_LOOKUP, "lookup: %s;%s \"%.*s\": %s", f->be->name,
                  f->path, (int)klen, key, rc == LK_FOUND ? "found"
                  : rc == LK_NOTFOUND ? "not found" : eb->msg);
    return rc;
}

/* Exim's order: key, then "*@domain" (last '@', local part not empty),
 * then "*". */
static enum lk_result find_star(struct lk_file *f, enum lookup_star star,
                                const char *key, size_t klen,
                                struct strbuf *value, struct errbuf *eb)
{
    enum lk_result rc = find_one(f, key, klen, value, eb);
    const char *at;

    if (rc != LK_NOTFOUND)
        return rc;
    at = star == LK_STAR_AT ? memrchr(key, '@', klen) : NULL;
    if (at != NULL && at > key) {
        sb_reset(&cache.star);
        sb_putc(&cache.star, '*');
        sb_append(&cache.star, at, klen - (size_t)(at - key));
        rc = find_one(f, cache.star.data, cache.star.len, value, eb);
        if (rc != LK_NOTFOUND)
            return rc;
    }
    return find_one(f, "*", 1, value, eb);
}

/* lookup_find - look key up in the file named by spec */
enum lk_result lookup_find(const struct lookup_spec *spec, const char *key,
                           size_t klen, struct strbuf *value,
                           struct errbuf *eb)
{
    struct lk_file *f;

    if ((unsigned)spec->kind >= NKINDS || spec->file == NULL)
        panic("lookup_find: bad spec (kind %d)", (int)spec->kind);
    f = file_get(spec->kind, spec->file);
    if (file_ready(f, eb) < 0)
        return LK_TEMPFAIL;
    if (spec->star == LK_STAR_NONE || !f->be->star_ok)
        return find_one(f, key, klen, value, eb);
    return find_star(f, spec->star, key, klen, value, eb);
}

/* lookup_cache_flush - close and forget every cached file */
void lookup_cache_flush(void)
{
    if (!cache.ready)
        return;
    for (int k = 0; k < NKINDS; k++) {
        hash_free(cache.files[k], file_free);
        cache.files[k] = NULL;
    }
    sb_free(&cache.lc);
    sb_free(&cache.star);
    cache.ready = 0;
}

/* lookup_cache_recheck - stat every cached file on its next lookup */
void lookup_cache_recheck(void)
{
    size_t pos;
    void *v;

    if (!cache.ready)
        return;
    for (int k = 0; k < NKINDS; k++)
        for (pos = 0; hash_next(cache.files[k], &pos, NULL, NULL, &v);)
            ((struct lk_file *)v)->due = 1;
}

static void spec_cleanup(void *arg)
{
    lookup_spec_free(arg);
}

/* lookup_spec_parse_pool - parse; the spec is released with the pool */
int lookup_spec_parse_pool(struct pool *p, const char *spec,
                           struct lookup_spec *out, struct errbuf *eb)
{
    if (lookup_spec_parse(spec, out, eb) != 0)
        return -1;
    pool_cleanup(p, spec_cleanup, out);
    return 0;
}
