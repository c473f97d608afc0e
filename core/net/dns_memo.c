/*
 * dns_memo.c - the resolver's memory of recent answers, kept no longer
 *              than their TTLs allow (a worker asks the same DNS list,
 *              SPF and HELO names for every message of a busy client).
 *
 * PURPOSE: (type, lower-cased name) -> a copy of the answer and the loop
 * time it expires. Bounded: when max entries are kept, the expired ones
 * go, and if too few have expired the rest are forgotten down to below
 * max (a miss costs one query; a cache without bound would cost memory
 * an attacker chooses: clients pick the names asked).
 * INTERFACE: dns_memo_new, dns_memo_free, dns_memo_get, dns_memo_put
 *            (dns_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/base/hash.h"
#include "core/base/xalloc.h"
#include "core/net/dns_impl.h"

struct memo_entry {
    uint64_t until;
    struct dns_answer *ans;     /* dns_answer_dup: one allocation */
};

struct dns_memo {
    struct hash *h;
    size_t max;
};

static void entry_free(void *p)
{
    struct memo_entry *e = p;

    free(e->ans);
    free(e);
}

/* "TYPE/name" in lower case; 0 when the name does not fit a DNS name */
static size_t memo_key(char *key, size_t size, int type, const char *name)
{
    int n = snprintf(key, size, "%d/%s", type, name);

    if (n < 0 || (size_t)n >= size)
        return 0;
    for (char *p = key; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return (size_t)n;
}

struct dns_memo *dns_memo_new(size_t max)
{
    struct dns_memo *m = xcalloc(1, sizeof(*m));

    m->h = hash_new(max < 1024 ? max : 1024);
    m->max = max;
    return m;
}

void dns_memo_free(struct dns_memo *m)
{
    if (m == NULL)
        return;
    hash_free(m->h, entry_free);
    free(m);
}

const struct dns_answer *dns_memo_get(struct dns_memo *m, int type,
                                      const char *name, uint64_t now)
{
    char key[300];
    size_t klen = memo_key(key, sizeof(key), type, name);
    struct memo_entry *e = klen ? hash_get(m->h, key, klen) : NULL;

    if (e == NULL)
        return NULL;
    if (e->until <= now) {
        entry_free(hash_del(m->h, key, klen));
        return NULL;
    }
    return e->ans;
}

/* room for one more: keep what has not expired (one pass into a new
 * table), and if that is still everything, forget it all */
static void make_room(struct dns_memo *m, uint64_t now)
{
    struct hash *keep = hash_new(m->max < 1024 ? m->max : 1024);
    size_t pos = 0, klen;
    const char *key;
    void *val;

    while (hash_next(m->h, &pos, &key, &klen, &val)) {
        struct memo_entry *e = val;
        if (e->until <= now || hash_count(keep) + 1 >= m->max)
            entry_free(e);
        else
            hash_put(keep, key, klen, e);
    }
    hash_free(m->h, NULL);
    m->h = keep;
}

void dns_memo_put(struct dns_memo *m, int type, const char *name,
                  const struct dns_answer *a, uint64_t now, uint64_t until)
{
    char key[300];
    size_t klen = memo_key(key, sizeof(key), type, name);
    struct memo_entry *e;

    if (klen == 0 || m->max == 0 || until <= now)
        return;
    if (hash_get(m->h, key, klen) == NULL && hash_count(m->h) >= m->max)
        make_room(m, now);
    e = xmalloc(sizeof(*e));
    e->until = until;
    e->ans = dns_answer_dup(a);
    e = hash_put(m->h, key, klen, e);
    if (e != NULL)
        entry_free(e);                  /* the one it replaced */
}
