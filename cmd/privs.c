/*
 * privs.c - giving up root: whom to become, what to hand over, whether
 *           the result works (privs.h).
 *
 * PURPOSE:   a tern started as root becomes tern_user. Before that it
 *            gives that user the state it must write: the spool directory
 *            and everything under it (input/, corrupt/, db/ and their
 *            files: a tree root made, e.g. by an older tern that ran as
 *            root) and the log files, with their directory when it is
 *            tern's own. After the drop, privs_check proves the spool, the
 *            hints databases and the logs can be used, so a daemon refuses
 *            to start instead of accepting connections that its workers
 *            and scheduler, dying at start, would never serve.
 * INTERFACE: privs_resolve, privs_hand_over, privs_drop, privs_check,
 *            privs_oneshot.
 * ERRORS:    see privs.h; the hand-over is best effort (a failure shows
 *            up in privs_check, which names the path).
 * SECURITY:  the configured spool and log directories themselves may be
 *            symbolic links (the administrator's choice); nothing inside
 *            them is followed: entries are looked at with
 *            AT_SYMLINK_NOFOLLOW and directories opened O_NOFOLLOW, links
 *            are neither followed nor changed. A log directory that holds
 *            other files than tern's logs (/var/log) keeps its owner.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "core/spool/spool.h"
#include "cmd/privs.h"

#define SPOOL_DEPTH 3           /* SPOOL/input/<c>/<file> */

static const char *const log_kinds[] = { "main", "reject", "panic" };
#define NKINDS (sizeof(log_kinds) / sizeof(log_kinds[0]))

static int resolve_group(const struct conf *c, struct privs *p)
{
    const struct group *gr;

    if (c->main.tern_group == NULL || c->main.tern_group[0] == '\0')
        return 0;
    if ((gr = getgrnam(c->main.tern_group)) == NULL) {
        fprintf(stderr, "tern: tern_group \"%s\" does not exist\n",
                c->main.tern_group);
        return PRIVS_EX_NOUSER;
    }
    if (gr->gr_gid == 0) {
        fprintf(stderr, "tern: tern_group \"%s\" is root's group: tern "
                "never runs with it\n", c->main.tern_group);
        return PRIVS_EX_CONFIG;
    }
    p->gid = gr->gr_gid;
    return 0;
}

/* privs_resolve - whom a root tern becomes */
int privs_resolve(const struct conf *c, struct privs *p)
{
    const char *user = c->main.tern_user;
    const struct passwd *pw;

    memset(p, 0, sizeof(*p));
    if (geteuid() != 0)
        return 0;
    if (user == NULL || user[0] == '\0') {
        fprintf(stderr, "tern: started as root, tern needs tern_user, the "
                "unprivileged account it runs as\n");
        return PRIVS_EX_CONFIG;
    }
    if ((pw = getpwnam(user)) == NULL) {
        fprintf(stderr, "tern: tern_user \"%s\" does not exist (create it: "
                "adduser --system --group --no-create-home %s)\n", user, user);
        return PRIVS_EX_NOUSER;
    }
    if (pw->pw_uid == 0
        || bsnprintf(p->user, sizeof(p->user), "%s", user) < 0) {
        fprintf(stderr, "tern: tern_user \"%s\" %s\n", user, pw->pw_uid == 0
                ? "is root: tern never runs as root" : "is too long");
        return PRIVS_EX_CONFIG;
    }
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    p->active = 1;
    return resolve_group(c, p);
}

static int owned(const struct stat *st, const struct privs *p)
{
    return st->st_uid == p->uid && st->st_gid == p->gid;
}

static void give_dir(int fd, const struct privs *p, int depth);

/* entry name of dirfd: a link is left alone, a file given, a directory
 * given and walked depth more levels */
static void give_at(int dirfd, const char *name, const struct privs *p,
                    int depth)
{
    struct stat st;
    int fd;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0
        || S_ISLNK(st.st_mode))
        return;
    if (!S_ISDIR(st.st_mode)) {
        if (!owned(&st, p))
            (void)fchownat(dirfd, name, p->uid, p->gid, AT_SYMLINK_NOFOLLOW);
        return;
    }
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0)
        give_dir(fd, p, depth);
}

/* the directory fd (closed here), then its entries down to depth */
static void give_dir(int fd, const struct privs *p, int depth)
{
    struct dirent *e;
    struct stat st;
    DIR *d;

    if (fstat(fd, &st) == 0 && !owned(&st, p))
        (void)!fchown(fd, p->uid, p->gid);
    if (depth <= 0 || (d = fdopendir(fd)) == NULL) {
        (void)close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            give_at(dirfd(d), e->d_name, p, depth - 1);
    (void)closedir(d);
}

/* the spool's own directories are p's already (or missing): a tree that
 * was handed over before, or made by tern running as p */
static int skeleton_ours(int top, const struct privs *p)
{
    static const char *const sub[] = { ".", "input", "corrupt", "db" };
    struct stat st;

    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
        if (fstatat(top, sub[i], &st, AT_SYMLINK_NOFOLLOW) == 0
            && !owned(&st, p))
            return 0;
    return 1;
}

static void give_spool(const char *dir, const struct privs *p, int deep)
{
    int fd;

    if (dir == NULL || (mkdir(dir, 0750) != 0 && errno != EEXIST))
        return;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return;
    if (!deep && skeleton_ours(fd, p)) {
        (void)close(fd);
        return;
    }
    give_dir(fd, p, SPOOL_DEPTH);
}

/* name is one of tern's log files, current or rotated ("mainlog.1.gz") */
static int log_name(const char *name, const char *const *base)
{
    for (size_t k = 0; k < NKINDS; k++)
        if (base[k] != NULL && strncmp(name, base[k], strlen(base[k])) == 0)
            return 1;
    return 0;
}

/* a log directory is tern's own when it holds nothing but its logs */
static int only_logs(int fd, const char *const *base)
{
    int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    struct dirent *e;
    int only = 1;

    if (d == NULL) {
        if (dup_fd >= 0)
            (void)close(dup_fd);
        return 0;
    }
    while (only && (e = readdir(d)) != NULL)
        only = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
               || log_name(e->d_name, base);
    (void)closedir(d);
    return only;
}

/* the directory of one log file: created if missing (then it is ours),
 * given when it holds only tern's logs; the file itself given */
static void give_log_dir(const char *path, const char *const *base,
                         const struct privs *p)
{
    const char *slash = strrchr(path, '/');
    struct strbuf dir;
    int fd, made;

    if (slash == NULL || slash == path)
        return;
    sb_init(&dir);
    sb_append(&dir, path, (size_t)(slash - path));
    made = mkdir(sb_str(&dir), 0750) == 0;
    fd = open(sb_str(&dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sb_free(&dir);
    if (fd < 0)
        return;
    give_at(fd, slash + 1, p, 0);
    if (made || only_logs(fd, base))
        give_dir(fd, p, 0);
    else
        (void)close(fd);
}

static void give_logs(const struct privs *p)
{
    const char *base[NKINDS];

    for (size_t k = 0; k < NKINDS; k++) {
        const char *path = logfile_path(log_kinds[k]);
        const char *slash = path != NULL ? strrchr(path, '/') : NULL;
        base[k] = slash != NULL ? slash + 1 : NULL;
    }
    for (size_t k = 0; k < NKINDS; k++)
        if (base[k] != NULL)
            give_log_dir(logfile_path(log_kinds[k]), base, p);
}

/* privs_hand_over - give the spool and tern's logs to p's user */
void privs_hand_over(const struct conf *c, const struct privs *p, int deep)
{
    if (!p->active)
        return;
    give_spool(c->main.spool_directory, p, deep);
    give_logs(p);
}

/* privs_drop - become p's user, keeping only the saved (and real) uid 0 */
int privs_drop(const struct privs *p, int keep_real, struct errbuf *eb)
{
    if (!p->active)
        return 0;
    if (initgroups(p->user, p->gid) != 0
        || setresgid(p->gid, p->gid, p->gid) != 0
        || setresuid(keep_real ? 0 : p->uid, p->uid, 0) != 0
        || geteuid() != p->uid) {
        errbuf_set(eb, "cannot become %s (uid %ld): %s", p->user,
                   (long)p->uid, strerror(errno ? errno : EPERM));
        return -1;
    }
    return 0;
}

static int not_usable(const char *a, const char *b, const char *c,
                      int mode, struct errbuf *eb)
{
    errbuf_set(eb, "%s%s%s is not %s by uid %ld: %s", a, b, c,
               mode & W_OK ? "writable" : "readable", (long)geteuid(),
               strerror(errno));
    return -1;
}

/* 0 when entry name of directory dirfd (shown as dir) allows mode */
static int usable(int dirfd, const char *name, int mode, const char *dir,
                  struct errbuf *eb)
{
    int self = strcmp(name, ".") == 0;

    if (faccessat(dirfd, name, mode, AT_EACCESS) == 0)
        return 0;
    return not_usable(dir, self ? "" : "/", self ? "" : name, mode, eb);
}

/* 0 when path (what it is: "log file") allows mode */
static int usable_path(const char *path, int mode, const char *what,
                       struct errbuf *eb)
{
    if (faccessat(AT_FDCWD, path, mode, AT_EACCESS) == 0)
        return 0;
    return not_usable(what, " ", path, mode, eb);
}

/* the entries of directory name of top with type type: mode allowed */
static int check_entries(int top, const char *name, unsigned char type,
                         int mode, const char *spool, struct errbuf *eb)
{
    int fd = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    char where[1100];
    struct dirent *e;
    DIR *d;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            (void)close(fd);
        return usable(top, name, R_OK | X_OK, spool, eb);
    }
    (void)snprintf(where, sizeof(where), "%s/%s", spool, name);
    while (rc == 0 && (e = readdir(d)) != NULL)
        if (e->d_type == type && e->d_name[0] != '.')
            rc = usable(dirfd(d), e->d_name, mode, where, eb);
    (void)closedir(d);
    return rc;
}

/* every directory of the spool writable, every hints file too */
static int check_dirs(const char *spool, struct errbuf *eb)
{
    int fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0) {
        errbuf_set(eb, "%s: %s", spool, strerror(errno));
        return -1;
    }
    rc = usable(fd, ".", W_OK | X_OK, spool, eb);
    if (rc == 0)
        rc = usable(fd, "input", W_OK | X_OK, spool, eb);
    if (rc == 0)               /* input/<c>: spool_open made them all */
        rc = check_entries(fd, "input", DT_DIR, W_OK | X_OK, spool, eb);
    if (rc == 0)
        rc = usable(fd, "corrupt", W_OK | X_OK, spool, eb);
    if (rc == 0)
        rc = usable(fd, "db", W_OK | X_OK, spool, eb);
    if (rc == 0)
        rc = check_entries(fd, "db", DT_REG, R_OK | W_OK, spool, eb);
    (void)close(fd);
    return rc;
}

/* a log file writable, or (not there yet) the nearest directory above it
 * that exists: logfile.c creates the missing ones with the first line */
static int check_log(const char *path, struct errbuf *eb)
{
    char dir[PATH_MAX];
    char *slash;

    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0)
        return 0;
    if (errno != ENOENT || bsnprintf(dir, sizeof(dir), "%s", path) < 0)
        return usable_path(path, W_OK, "log file", eb);
    while ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0)
            return 0;
        if (errno != ENOENT)
            return usable_path(dir, W_OK | X_OK, "log directory", eb);
    }
    return usable_path("/", W_OK | X_OK, "log directory", eb);
}

static int check_logs(struct errbuf *eb)
{
    for (size_t k = 0; k < NKINDS; k++) {
        const char *path = logfile_path(log_kinds[k]);

        if (path != NULL && check_log(path, eb) != 0)
            return -1;
    }
    return 0;
}

/* privs_check - can we use the spool, the hints files and the logs? */
int privs_check(const struct conf *c, struct errbuf *eb)
{
    const char *dir = c->main.spool_directory;
    struct spool *sp;
    struct errbuf why;

    if ((sp = spool_open(dir, NULL, &why)) == NULL) {
        errbuf_set(eb, "cannot use the spool: %s", why.msg);
        return -1;
    }
    spool_close(sp);
    if (check_dirs(dir, eb) != 0 || check_logs(eb) != 0)
        return -1;
    return 0;
}

/* privs_oneshot - a one-shot mode started as root becomes tern_user */
int privs_oneshot(const struct conf *c, int writes)
{
    struct privs p;
    struct errbuf eb;
    int rc = privs_resolve(c, &p);

    if (rc != 0 || !p.active)
        return rc;
    if (writes)
        privs_hand_over(c, &p, 0);
    if (privs_drop(&p, 1, &eb) != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 71;
    }
    return 0;
}
