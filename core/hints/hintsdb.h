/*
 * hintsdb.h - hints databases: small GDBM files under SPOOL/db/ that
 *             remember what tern learnt (retry times now; greylist and
 *             rate-limit counters next), shared by several processes.
 *
 * A hints database is disposable, as in Exim: losing it costs only what
 * it remembered, so a damaged file is moved aside (NAME.corrupt-STAMP-PID-N,
 * one panic-log line) and a new one started instead of failing every
 * use. Each use opens, works and closes, so a writer holds the
 * lock only for one update: readers open shared (GDBM_READER), writers
 * exclusive (GDBM_WRCREAT); a busy file is retried for up to 2 seconds.
 * Keys are NUL-free text of 1..HINTS_KEY_MAX bytes; values are bytes.
 *
 * INTERFACE: hintsdb_open, hintsdb_open_wait, hintsdb_close,
 *            hintsdb_forget, hintsdb_exists, hintsdb_key_ok,
 *            hintsdb_fetch, hintsdb_store, hintsdb_delete, hintsdb_keys,
 *            hintsdb_delete_all, hintsdb_keys_free.
 * ERRORS:    -1 (or NULL) with eb, worded "NAME database: ..." or "cannot
 *            open PATH: ..."; damaged keys are logged and skipped.
 * SECURITY:  SPOOL/db is created 0750, files 0640; never GDBM_NOLOCK.
 *            Keys and values are data, never paths: NAME is the caller's
 *            constant.
 */
#ifndef TERN_HINTSDB_H
#define TERN_HINTSDB_H

#include <stddef.h>

struct errbuf;
struct strbuf;

#define HINTS_KEY_MAX 1024

enum hints_mode { HINTS_READ, HINTS_WRITE };

struct hintsdb;

/* hintsdb_open - SPOOL/db/NAME; NULL with *absent set when a reader finds
 * no file, NULL with eb on error (a writer creates SPOOL/db and the file) */
struct hintsdb *hintsdb_open(const char *spool, const char *name,
                             enum hints_mode mode, int *absent,
                             struct errbuf *eb);
/* hintsdb_open_wait - hintsdb_open waiting at most wait_ms (not 2 s) for
 * another process's lock: for callers on an event loop (greylist,
 * ratelimit); a file
 * still busy then gives NULL with *busy set */
struct hintsdb *hintsdb_open_wait(const char *spool, const char *name,
                                  enum hints_mode mode, long wait_ms,
                                  int *absent, int *busy, struct errbuf *eb);
#define HINTS_RESET 1           /* hintsdb_close: the file was damaged */

/* hintsdb_close - close and free (NULL ok); -1 with eb when the close
 * failed (a writer's data may not be on disk); HINTS_RESET when an
 * operation found the file damaged: it has been moved aside (and logged),
 * so its records are gone and the next open starts a new file */
int hintsdb_close(struct hintsdb *db, struct errbuf *eb);
/* hintsdb_forget - remove key from SPOOL/db/NAME without creating the
 * file: 1 removed, 0 there was none (no file, no record, or the file was
 * damaged and moved aside), -1 error */
int hintsdb_forget(const char *spool, const char *name, const char *key,
                   struct errbuf *eb);
/* hintsdb_exists - 1 the file exists, 0 not, -1 bad spool path */
int hintsdb_exists(const char *spool, const char *name, struct errbuf *eb);
/* hintsdb_key_ok - 0 if key is a usable key, else -1 with eb */
int hintsdb_key_ok(const char *name, const char *key, struct errbuf *eb);
/* hintsdb_fetch - the value of key into val: 1 found, 0 absent, -1 error */
int hintsdb_fetch(struct hintsdb *db, const char *key, struct strbuf *val,
                  struct errbuf *eb);
/* hintsdb_store - set key to the len bytes at val: 0 or -1 */
int hintsdb_store(struct hintsdb *db, const char *key, const void *val,
                  size_t len, struct errbuf *eb);
/* hintsdb_delete - remove key: 1 removed, 0 there was none, -1 error */
int hintsdb_delete(struct hintsdb *db, const char *key, struct errbuf *eb);
/* hintsdb_keys - every usable key (damaged ones logged and skipped),
 * unsorted, in *keys (free with hintsdb_keys_free): 0 or -1 */
int hintsdb_keys(struct hintsdb *db, char ***keys, size_t *n,
                 struct errbuf *eb);
void hintsdb_keys_free(char **keys, size_t n);
/* hintsdb_delete_all - remove every record, damaged keys too; the count
 * removed goes to *n: 0 or -1 */
int hintsdb_delete_all(struct hintsdb *db, size_t *n, struct errbuf *eb);

#endif
