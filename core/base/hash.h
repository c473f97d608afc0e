/*
 * hash.h - byte-string keyed hash table (open addressing, FNV-1a).
 *
 * Keys are copied into the table; values are opaque pointers the caller owns.
 *
 * INTERFACE: hash_new, hash_free (NULL ok; calls free_val on each value if
 *            given), hash_get, hash_put (returns the previous value or NULL),
 *            hash_del, hash_count, hash_next (iteration), hash_bytes_fnv.
 * ERRORS:    exhaustion calls fatal().
 */
#ifndef TERN_HASH_H
#define TERN_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash;

struct hash *hash_new(size_t hint);
void hash_free(struct hash *h, void (*free_val)(void *));
void *hash_get(const struct hash *h, const void *key, size_t klen);
void *hash_put(struct hash *h, const void *key, size_t klen, void *val);
void *hash_del(struct hash *h, const void *key, size_t klen);
size_t hash_count(const struct hash *h);
/* hash_next - iterate: start with *pos = 0; returns 0 at the end */
int hash_next(const struct hash *h, size_t *pos, const char **key,
              size_t *klen, void **val);
uint64_t hash_bytes_fnv(const void *key, size_t klen);

#endif
