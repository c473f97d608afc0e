/*
 * lookup.h - file lookups: lsearch, dbm (GDBM), iplsearch, cidr.
 *
 * A lookup spec is Exim's "TYPE;FILE" with optional default-key suffixes:
 *   lsearch;/etc/aliases         key: value text file, caseless keys
 *   lsearch*;FILE                if not found, try the key "*"
 *   lsearch*@;FILE               for "lp@domain": exact, then "*@domain",
 *                                then "*"
 *   dbm;FILE  dbm*;  dbm*@;      the same on a GDBM file (tern_dbmbuild)
 *   iplsearch;FILE               key is an IP address; file keys are IPs or
 *                                networks (IPv6 ones quoted), first match
 *   cidr;FILE                    Postfix cidr_table: "net/len  value", first
 *                                match wins
 * Files are opened lazily, cached per process and reread/reopened when they
 * change on disk (checked at most once a second), so a rebuilt dbm file or
 * an edited alias file takes effect without a restart.
 *
 * Keys of lsearch and dbm match caseless (ASCII). A malformed entry in a
 * text table (unterminated quote, bad IP network...) makes every lookup in
 * that file a tempfail naming FILE:LINE until the file is fixed.
 *
 * INTERFACE: lookup_spec_parse, lookup_spec_free, lookup_find,
 *            lookup_type_valid, lookup_cache_flush, lookup_cache_recheck
 *            (force the next stat; tests and reloads), lsearch_parse_line
 *            and lookup_dbm_build (shared with tern_dbmbuild).
 * ERRORS:    LK_TEMPFAIL (file missing or unreadable, I/O error) with the
 *            reason in eb; callers turn it into a deferral, never into "not
 *            found".
 */
#ifndef TERN_LOOKUP_H
#define TERN_LOOKUP_H

#include <stddef.h>

struct strbuf;
struct errbuf;

enum lk_result { LK_TEMPFAIL = -1, LK_NOTFOUND = 0, LK_FOUND = 1 };

enum lookup_kind { LKK_LSEARCH, LKK_DBM, LKK_IPLSEARCH, LKK_CIDR };

enum lookup_star {
    LK_STAR_NONE = 0,   /* exact key only */
    LK_STAR = 1,        /* then "*" */
    LK_STAR_AT = 2,     /* then "*@domain", then "*" */
};

struct lookup_spec {
    enum lookup_kind kind;
    enum lookup_star star;
    char *file;         /* absolute or as written; owned */
};

/* lookup_spec_parse - parse "TYPE;FILE"; 0 ok, -1 with eb set */
int lookup_spec_parse(const char *spec, struct lookup_spec *out,
                      struct errbuf *eb);
void lookup_spec_free(struct lookup_spec *spec);
struct pool;
/* lookup_spec_parse_pool - lookup_spec_parse whose result is freed with p */
int lookup_spec_parse_pool(struct pool *p, const char *spec,
                           struct lookup_spec *out, struct errbuf *eb);
/* lookup_type_valid - nonzero if the text before ';' names a lookup type */
int lookup_type_valid(const char *type, size_t len);
/* lookup_find - look key up; on LK_FOUND value is replaced by the value
 * (value is untouched otherwise). The hot path (file cached, stat not due)
 * makes no syscall and allocates nothing but value's growth; dbm is the
 * exception: gdbm_fetch mallocs each result. */
enum lk_result lookup_find(const struct lookup_spec *spec, const char *key,
                           size_t klen, struct strbuf *value,
                           struct errbuf *eb);
/* lookup_cache_flush - close every cached file (after fork, on reload) */
void lookup_cache_flush(void);
/* lookup_cache_recheck - make the next lookup of each cached file stat it
 * at once instead of waiting out the once-a-second limit */
void lookup_cache_recheck(void);

/*
 * lsearch_parse_line - split one logical lsearch entry.
 * The caller joins continuation lines (lines starting with blank) to the
 * entry with '\n' first. Returns 1 with key/value set (key unquoted, not
 * lowercased; value with leading and trailing blanks/CR/newlines removed),
 * 0 for a blank or comment entry, -1 with eb set (no location) for a
 * malformed one (unterminated quote, empty key, NUL byte). The key ends at
 * ':' or a blank unless quoted ("...", with \" \\ \n \t \xHH \ooo).
 */
int lsearch_parse_line(const char *line, size_t len, struct strbuf *key,
                       struct strbuf *value, struct errbuf *eb);

/*
 * lookup_dbm_build - build the GDBM file dst from the lsearch-format file
 * src (what tern_dbmbuild runs). Keys are stored lowercased without a
 * trailing NUL. Written to "dst.tmp.<pid>" (created O_EXCL with src's
 * permission bits), synced, then renamed over dst and the directory
 * synced. Each malformed entry is reported through diag as
 * "SRC:LINE: reason" (LOOKUP_ERROR) and fails the build after all lines
 * were seen; a duplicate key is a LOOKUP_WARNING, the first one is kept.
 * Returns 0 with *nentries set, or -1 with eb set; on failure dst is
 * untouched and the temporary file removed.
 */
enum lookup_diag { LOOKUP_WARNING, LOOKUP_ERROR };
typedef void (*lookup_diag_cb)(void *arg, enum lookup_diag level,
                               const char *msg);
int lookup_dbm_build(const char *src, const char *dst, lookup_diag_cb diag,
                     void *arg, size_t *nentries, struct errbuf *eb);

#endif
