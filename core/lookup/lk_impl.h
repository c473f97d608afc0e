/*
 * lk_impl.h - private contract between lookup.c and the lookup backends.
 *
 * PURPOSE:   lookup.c owns specs, the per-process file cache (stat at most
 *            once a second, reload on change) and the star forms; each
 *            backend (lk_lsearch.c, lk_dbm.c, lk_ip.c) only loads an open
 *            file into its private form and searches it.
 * INTERFACE: struct lk_backend and the four backend tables;
 *            lk_reader_init/lk_reader_next (logical lsearch-style entries
 *            from a buffer), lk_read_fd (slurp a file), lk_lower (ASCII
 *            lowercase copy), lk_blank.
 * ERRORS:    load() returns -1 with "FILE:LINE: reason" or an I/O reason in
 *            eb; find() returns an lk_result.
 * Not installed, not included outside core/lk*.c and core/lookup/lookup.c.
 */
#ifndef TERN_LK_IMPL_H
#define TERN_LK_IMPL_H

#include <stddef.h>

#include "core/lookup/lookup.h"

struct strbuf;
struct errbuf;

struct lk_backend {
    const char *name;           /* "lsearch", as in specs */
    int caseless;               /* lookup.c lowercases the key first */
    int star_ok;                /* "*" and "*@" suffixes allowed */
    /* load - build the private form from fd (always consumed/closed) */
    int (*load)(int fd, const char *path, void **data, struct errbuf *eb);
    void (*release)(void *data);
    /* find - search; key is lowercased already when caseless is set */
    enum lk_result (*find)(void *data, const char *key, size_t klen,
                           struct strbuf *value, struct errbuf *eb);
};

extern const struct lk_backend lk_lsearch_backend;
extern const struct lk_backend lk_dbm_backend;
extern const struct lk_backend lk_iplsearch_backend;
extern const struct lk_backend lk_cidr_backend;

/* Logical entries of an lsearch-style text: a line starting with a blank
 * continues the entry before it; '#' lines and blank lines are skipped. */
struct lk_reader {
    const char *p, *end;
    unsigned lineno;            /* physical lines consumed */
    unsigned entry_line;        /* first line of the current entry */
};

void lk_reader_init(struct lk_reader *r, const char *buf, size_t len);
/* lk_reader_next - 1 entry in out, 0 at the end, -1 bad line (eb, go on) */
int lk_reader_next(struct lk_reader *r, struct strbuf *out, struct errbuf *eb);
/* lk_read_fd - read all of fd into out (not closing it); -1 errno */
int lk_read_fd(int fd, struct strbuf *out);
/* lk_load_text - read fd (closed here), call cb per logical entry; the first
 * failure stops the walk with "PATH:LINE: reason" in eb */
typedef int (*lk_entry_cb)(void *arg, const char *entry, size_t len,
                           struct errbuf *eb);
int lk_load_text(int fd, const char *path, lk_entry_cb cb, void *arg,
                 struct errbuf *eb);
/* lk_lower - out = ASCII-lowercased copy of s (locale-independent) */
void lk_lower(struct strbuf *out, const char *s, size_t len);

static inline int lk_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'
           || c == '\v';
}

#endif
