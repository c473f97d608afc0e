/*
 * pwcache.h - cached getpwnam() for routers (check_local_user, local_user).
 *
 * Routing a large batch asks for the same accounts many times; each
 * getpwnam() may parse /etc/passwd or ask NSS. Answers, positive and
 * negative, are kept for 60 seconds.
 *
 * INTERFACE: pw_lookup.
 * ERRORS: returns NULL for "no such user"; a NSS failure (errno set by
 *         getpwnam_r other than "not found") returns NULL with *tempfail=1.
 */
#ifndef TERN_PWCACHE_H
#define TERN_PWCACHE_H

#include <sys/types.h>

struct pw_entry {
    const char *name;
    const char *home;
    const char *shell;
    uid_t uid;
    gid_t gid;
};

const struct pw_entry *pw_lookup(const char *name, int *tempfail);

#endif
