/*
 * test_safe_syncfs.c - on a kernel whose syncfs(2) cannot report writeback
 * errors (before Linux 5.8), safe_syncfs refuses and the spool's group
 * commit falls back to an fsync of each file and directory.
 *
 * This program defines its own uname(2), which the static link puts in
 * front of libc's, to claim such a kernel, and its own syncfs(2) to count
 * calls.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/safe_io.h"
#include "core/spool/spool.h"
#include "test-suite/unit/tap.h"

static int nsyncfs;

int uname(struct utsname *u)
{
    memset(u, 0, sizeof(*u));
    strcpy(u->sysname, "Linux");
    strcpy(u->release, "5.4.0-old");
    return 0;
}

int syncfs(int fd)
{
    (void)fd;
    nsyncfs++;
    return 0;
}

static int done, failed;

static void cb(int rc, const char *why, void *arg)
{
    (void)why;
    (void)arg;
    done++;
    failed += rc != 0;
}

static int count_files(const char *dir)
{
    char path[600];
    int n = 0;

    for (const char *c = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                         "klmnopqrstuvwxyz"; *c; c++) {
        DIR *d;
        struct dirent *e;

        snprintf(path, sizeof path, "%s/input/%c", dir, *c);
        if ((d = opendir(path)) == NULL)
            continue;
        while ((e = readdir(d)) != NULL)
            n += e->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

int main(void)
{
    char top[256], dir[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    static const char *rcpt[] = { "rcpt@example.net" };
    struct errbuf eb;
    struct spool *sp;

    snprintf(top, sizeof top, "%s/tern-syncfs-XXXXXX", tmp);
    if (mkdtemp(top) == NULL)
        return 1;
    snprintf(dir, sizeof dir, "%s/spool", top);
    errno = 0;
    ok(safe_syncfs(0) == -1 && errno == ENOTSUP,
       "safe_syncfs refuses on Linux 5.4 (ENOTSUP)");
    sp = spool_open(dir, NULL, &eb);
    for (int i = 0; i < 5 && sp != NULL; i++) {
        struct spool_env env;
        struct spool_writer *w;

        memset(&env, 0, sizeof env);
        msgid_new(env.id);
        env.sender = "s@example.org";
        env.helo = env.client_ip = env.client_name = env.protocol = "x";
        env.auth_id = env.tls_cipher = env.body_type = env.local_user = "";
        env.rcpts = rcpt;
        env.nrcpt = 1;
        w = spool_writer_new(sp, &env, &eb);
        if (w != NULL) {
            spool_writer_write(w, "Subject: x\r\n\r\nbody\r\n", 20);
            spool_commit(w, cb, NULL);
        }
    }
    spool_close(sp);
    ok(done == 5 && failed == 0, "5 commits succeeded (%d done, %d failed)",
       done, failed);
    is_int(nsyncfs, 0, "no syncfs was called: each file and directory "
           "was fsynced");
    is_int(count_files(dir), 5, "5 message files, no temp file left");
    if (fork() == 0)
        execlp("rm", "rm", "-rf", top, (char *)NULL);
    wait(NULL);
    return done_testing();
}
