/*
 * lk_lsearch.c - Exim lsearch text format: reader, entry parser, backend.
 *
 * PURPOSE:   split a text table into logical entries (a line starting
 *            with a blank continues the one before, joined with '\n'; '#'
 *            in column 0 and blank lines are skipped), parse "key: value" /
 *            "key value" / "\"quoted key\": value", and load a whole file
 *            into a hash of lowercased key -> value (first entry wins).
 * INTERFACE: lsearch_parse_line (lookup.h); lk_reader_init, lk_reader_next,
 *            lk_read_fd, lk_lower, lk_load_text, lk_lsearch_backend
 *            (lk_impl.h).
 * ERRORS:    malformed entries (unterminated quote, empty key, NUL byte,
 *            continuation with no entry) fail the whole load with
 *            "FILE:LINE: reason": a broken table must defer, not silently
 *            miss.
 * SECURITY:  files are admin-owned but parsed with explicit lengths; NUL
 *            bytes are refused so values stay C strings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/hash.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/lookup/lk_impl.h"

struct lk_val {
    size_t len;
    char s[];
};

struct lsearch_table {
    struct hash *h;             /* lowercased key -> struct lk_val * */
    struct pool *pool;          /* the values */
    struct strbuf key, val, lc; /* scratch while loading */
};

/* lk_reader_init - read entries from buf[0..len) */
void lk_reader_init(struct lk_reader *r, const char *buf, size_t len)
{
    r->p = buf;
    r->end = buf + len;
    r->lineno = 0;
    r->entry_line = 0;
}

/* One physical line without its '\n' and trailing blanks/CR. */
static void next_line(struct lk_reader *r, const char **s, size_t *n)
{
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    const char *e = nl != NULL ? nl : r->end;

    *s = r->p;
    r->p = nl != NULL ? nl + 1 : r->end;
    r->lineno++;
    while (e > *s && lk_blank((unsigned char)e[-1]))
        e--;
    *n = (size_t)(e - *s);
}

/* lk_reader_next - the next logical entry; on -1 the caller may go on */
int lk_reader_next(struct lk_reader *r, struct strbuf *out, struct errbuf *eb)
{
    int have = 0;

    sb_reset(out);
    while (r->p < r->end) {
        const char *save = r->p, *s;
        unsigned save_line = r->lineno;
        size_t n;

        next_line(r, &s, &n);
        if (n == 0 || s[0] == '#')
            continue;
        if (!lk_blank((unsigned char)s[0])) {
            if (have) {                 /* start of the next entry */
                r->p = save;
                r->lineno = save_line;
                return 1;
            }
            have = 1;
            r->entry_line = r->lineno;
            sb_append(out, s, n);
            continue;
        }
        if (!have) {
            r->entry_line = r->lineno;
            errbuf_set(eb, "continuation line with no entry before it");
            return -1;
        }
        while (n > 0 && lk_blank((unsigned char)*s))
            s++, n--;
        sb_putc(out, '\n');
        sb_append(out, s, n);
    }
    return have;
}

/* lk_read_fd - append everything fd holds to out */
int lk_read_fd(int fd, struct strbuf *out)
{
    for (;;) {
        ssize_t n;

        sb_reserve(out, 65536);
        n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
    }
}

/* lk_lower - ASCII lowercase copy; no locale, so "I" never becomes dotless */
void lk_lower(struct strbuf *out, const char *s, size_t len)
{
    sb_reset(out);
    sb_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        out->data[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
    }
    out->len = len;
    out->data[len] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exim's escapes: \n \t \r \b \f \v, \xHH, \ooo, else the char itself. */
static const char *unescape(const char *p, const char *end,
                            struct strbuf *out)
{
    static const char from[] = "ntrbfv", to[] = "\n\t\r\b\f\v";
    const char *hit;
    unsigned v = 0;
    int n = 0;

    if (*p == 'x' && p + 1 < end && hexval((unsigned char)p[1]) >= 0) {
        for (p++; n < 2 && p < end && hexval((unsigned char)*p) >= 0; n++)
            v = v * 16 + (unsigned)hexval((unsigned char)*p++);
    } else if (*p >= '0' && *p <= '7') {
        for (; n < 3 && p < end && *p >= '0' && *p <= '7'; n++)
            v = v * 8 + (unsigned)(*p++ - '0');
    } else {
        hit = strchr(from, *p);
        sb_putc(out, hit != NULL ? to[hit - from] : *p);
        return p + 1;
    }
    sb_putc(out, (char)(v & 0xff));
    return p;
}

static int parse_quoted(const char **pp, const char *end, struct strbuf *key,
                        struct errbuf *eb)
{
    const char *p = *pp + 1;

    while (p < end && *p != '"') {
        if (*p == '\\' && p + 1 < end)
            p = unescape(p + 1, end, key);
        else
            sb_putc(key, *p++);
    }
    if (p >= end) {
        errbuf_set(eb, "unterminated quoted key");
        return -1;
    }
    if (memchr(key->data, '\0', key->len) != NULL) {
        errbuf_set(eb, "NUL byte in key");
        return -1;
    }
    *pp = p + 1;
    return 0;
}

/* lsearch_parse_line - split one logical entry into key and value */
int lsearch_parse_line(const char *line, size_t len, struct strbuf *key,
                       struct strbuf *value, struct errbuf *eb)
{
    const char *p = line, *end = line + len, *k;

    sb_reset(key);
    sb_reset(value);
    if (memchr(line, '\0', len) != NULL) {
        errbuf_set(eb, "NUL byte in entry");
        return -1;
    }
    while (p < end && lk_blank((unsigned char)*p))
        p++;
    if (p == end || *p == '#')
        return 0;
    if (*p == '"') {
        if (parse_quoted(&p, end, key, eb) < 0)
            return -1;
    } else {
        for (k = p; p < end && *p != ':' && !lk_blank((unsigned char)*p); p++)
            ;
        sb_append(key, k, (size_t)(p - k));
    }
    if (key->len == 0) {
        errbuf_set(eb, "empty key");
        return -1;
    }
    while (p < end && lk_blank((unsigned char)*p))
        p++;
    if (p < end && *p == ':')
        p++;
    while (p < end && lk_blank((unsigned char)*p))
        p++;
    while (end > p && lk_blank((unsigned char)end[-1]))
        end--;
    sb_append(value, p, (size_t)(end - p));
    return 1;
}

/* lk_load_text - read fd (closing it) and feed each entry to cb; the first
 * failure ends the walk with "PATH:LINE: reason" in eb */
int lk_load_text(int fd, const char *path, lk_entry_cb cb, void *arg,
                 struct errbuf *eb)
{
    struct strbuf text, entry;
    struct lk_reader r;
    int rc, err, ret = -1;

    sb_init(&text);
    sb_init(&entry);
    rc = lk_read_fd(fd, &text);
    err = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        err = errno;
    }
    if (rc < 0) {
        errbuf_set(eb, "failed to read %s: %s", path, strerror(err));
        goto fail;
    }
    lk_reader_init(&r, text.data, text.len);
    while ((rc = lk_reader_next(&r, &entry, eb)) != 0) {
        if (rc > 0)
            rc = cb(arg, entry.data, entry.len, eb);
        if (rc < 0) {
            errbuf_prefix(eb, "%s:%u: ", path, r.entry_line);
            goto fail;
        }
    }
    ret = 0;
fail:
    sb_free(&text);
    sb_free(&entry);
    return ret;
}

static int lsearch_add(void *arg, const char *entry, size_t len,
                       struct errbuf *eb)
{
    struct lsearch_table *t = arg;
    struct lk_val *v;
    int rc = lsearch_parse_line(entry, len, &t->key, &t->val, eb);

    if (rc <= 0)
        return rc;
    lk_lower(&t->lc, t->key.data, t->key.len);
    if (hash_get(t->h, t->lc.data, t->lc.len) != NULL)
        return 0;                       /* the first entry wins */
    v = pool_alloc(t->pool, sizeof(*v) + t->val.len + 1);
    v->len = t->val.len;
    memcpy(v->s, t->val.data, t->val.len + 1);
    hash_put(t->h, t->lc.data, t->lc.len, v);
    return 0;
}

static void lsearch_release(void *data)
{
    struct lsearch_table *t = data;

    if (t == NULL)
        return;
    hash_free(t->h, NULL);
    pool_free(t->pool);
    free(t);
}

static int lsearch_load(int fd, const char *path, void **data,
                        struct errbuf *eb)
{
    struct lsearch_table *t = xcalloc(1, sizeof(*t));
    int rc;

    t->h = hash_new(64);
    t->pool = pool_new();
    sb_init(&t->key);
    sb_init(&t->val);
    sb_init(&t->lc);
    rc = lk_load_text(fd, path, lsearch_add, t, eb);
    sb_free(&t->key);
    sb_free(&t->val);
    sb_free(&t->lc);
    if (rc < 0) {
        lsearch_release(t);
        return -1;
    }
    *data = t;
    return 0;
}

static enum lk_result lsearch_find(void *data, const char *key, size_t klen,
                                   struct strbuf *value, struct errbuf *eb)
{
    struct lsearch_table *t = data;
    struct lk_val *v = hash_get(t->h, key, klen);

    (void)eb;
    if (v == NULL)
        return LK_NOTFOUND;
    sb_reset(value);
    sb_append(value, v->s, v->len);
    return LK_FOUND;
}

const struct lk_backend lk_lsearch_backend = {
    .name = "lsearch", .caseless = 1, .star_ok = 1,
    .load = lsearch_load, .release = lsearch_release, .find = lsearch_find,
};
