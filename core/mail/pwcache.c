/*
 * pwcache.c - getpwnam_r with a per-process cache of 60 seconds.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/hash.h"
#include "core/base/xalloc.h"
#include "pwcache.h"

#define PW_TTL 60

struct pw_slot {
    time_t when;
    int found;
    struct pw_entry e;
};

static struct hash *cache;

static void slot_free(void *p)
{
    struct pw_slot *s = p;

    if (s == NULL)
        return;
    free((char *)s->e.name);
    free((char *)s->e.home);
    free((char *)s->e.shell);
    free(s);
}

static struct pw_slot *fetch(const char *name, int *tempfail)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    struct pw_slot *s;
    int rc;

    do
        rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
    while (rc == EINTR);
    if (rc != 0 && rc != ENOENT && rc != ESRCH && rc != EBADF && rc != EPERM) {
        *tempfail = 1;
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->when = time(NULL);
    s->found = res != NULL;
    if (res != NULL) {
        s->e.name = xstrdup(pw.pw_name);
        s->e.home = xstrdup(pw.pw_dir);
        s->e.shell = xstrdup(pw.pw_shell ? pw.pw_shell : "");
        s->e.uid = pw.pw_uid;
        s->e.gid = pw.pw_gid;
    }
    return s;
}

/* pw_lookup - the account name, or NULL */
const struct pw_entry *pw_lookup(const char *name, int *tempfail)
{
    size_t n = strlen(name);
    struct pw_slot *s;

    *tempfail = 0;
    if (cache == NULL)
        cache = hash_new(64);
    s = hash_get(cache, name, n);
    if (s == NULL || time(NULL) - s->when > PW_TTL) {
        struct pw_slot *fresh = fetch(name, tempfail);
        if (fresh == NULL)
            return NULL;
        slot_free(hash_put(cache, name, n, fresh));
        s = fresh;
    }
    return s->found ? &s->e : NULL;
}
