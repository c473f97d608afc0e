/*
 * hash.c - open-addressing hash table with linear probing and tombstones.
 *
 * Load factor is kept under 1/2 counting tombstones, so a probe sequence
 * always ends at an empty slot.
 */
#include <stdlib.h>
#include <string.h>

#include "fatal.h"
#include "xalloc.h"
#include "hash.h"

struct slot {
    char *key;          /* NULL: empty; TOMBSTONE: deleted */
    size_t klen;
    uint64_t hv;
    void *val;
};

struct hash {
    struct slot *slots;
    size_t cap;         /* power of two */
    size_t count;       /* live entries */
    size_t used;        /* live + tombstones */
};

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

/* hash_bytes_fnv - 64-bit FNV-1a of the key */
uint64_t hash_bytes_fnv(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t hv = 1469598103934665603ULL;

    while (klen-- > 0) {
        hv ^= *p++;
        hv *= 1099511628211ULL;
    }
    return hv;
}

/* hash_new - a table sized for about hint entries */
struct hash *hash_new(size_t hint)
{
    struct hash *h = xcalloc(1, sizeof(*h));

    h->cap = 16;
    while (h->cap < hint * 2 && h->cap < ((size_t)1 << 40))
        h->cap <<= 1;
    h->slots = xcalloc(h->cap, sizeof(struct slot));
    return h;
}

/* hash_free - release the table, optionally the values */
void hash_free(struct hash *h, void (*free_val)(void *))
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->cap; i++) {
        struct slot *s = &h->slots[i];
        if (s->key == NULL || s->key == TOMBSTONE)
            continue;
        free(s->key);
        if (free_val != NULL)
            free_val(s->val);
    }
    free(h->slots);
    free(h);
}

static struct slot *find(const struct hash *h, const void *key, size_t klen,
                         uint64_t hv)
{
    size_t mask = h->cap - 1;

    for (size_t i = hv & mask;; i = (i + 1) & mask) {
        struct slot *s = &h->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMBSTONE && s->hv == hv && s->klen == klen
            && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

static void grow(struct hash *h)
{
    struct slot *old = h->slots;
    size_t oldcap = h->cap;

    if (h->count * 4 >= h->cap)
        h->cap <<= 1;
    h->slots = xcalloc(h->cap, sizeof(struct slot));
    h->used = h->count;
    for (size_t i = 0; i < oldcap; i++) {
        struct slot *s = &old[i];
        if (s->key == NULL || s->key == TOMBSTONE)
            continue;
        size_t j = s->hv & (h->cap - 1);
        while (h->slots[j].key != NULL)
            j = (j + 1) & (h->cap - 1);
        h->slots[j] = *s;
    }
    free(old);
}

/* hash_get - the value stored under key, or NULL */
void *hash_get(const struct hash *h, const void *key, size_t klen)
{
    struct slot *s = find(h, key, klen, hash_bytes_fnv(key, klen));

    return s ? s->val : NULL;
}

/* hash_put - store val under key; returns the value it replaced, or NULL */
void *hash_put(struct hash *h, const void *key, size_t klen, void *val)
{
    uint64_t hv = hash_bytes_fnv(key, klen);
    struct slot *s = find(h, key, klen, hv);
    void *prev;
    size_t i;

    if (s != NULL) {
        prev = s->val;
        s->val = val;
        return prev;
    }
    if ((h->used + 1) * 2 > h->cap)
        grow(h);
    for (i = hv & (h->cap - 1); h->slots[i].key != NULL
         && h->slots[i].key != TOMBSTONE; i = (i + 1) & (h->cap - 1))
        ;
    s = &h->slots[i];
    if (s->key == NULL)
        h->used++;
    s->key = xmalloc(klen + 1);
    memcpy(s->key, key, klen);
    s->key[klen] = '\0';
    s->klen = klen;
    s->hv = hv;
    s->val = val;
    h->count++;
    return NULL;
}

/* hash_del - remove key; returns its value or NULL */
void *hash_del(struct hash *h, const void *key, size_t klen)
{
    struct slot *s = find(h, key, klen, hash_bytes_fnv(key, klen));
    void *val;

    if (s == NULL)
        return NULL;
    val = s->val;
    free(s->key);
    s->key = TOMBSTONE;
    s->val = NULL;
    h->count--;
    return val;
}

/* hash_count - live entries */
size_t hash_count(const struct hash *h)
{
    return h->count;
}

/* hash_next - iteration over live entries in table order */
int hash_next(const struct hash *h, size_t *pos, const char **key,
              size_t *klen, void **val)
{
    while (*pos < h->cap) {
        struct slot *s = &h->slots[(*pos)++];
        if (s->key == NULL || s->key == TOMBSTONE)
            continue;
        if (key != NULL)
            *key = s->key;
        if (klen != NULL)
            *klen = s->klen;
        if (val != NULL)
            *val = s->val;
        return 1;
    }
    return 0;
}
