/*
 * queue_admin.c - tern -Mrm (remove), -Mf (freeze), -Mt (thaw) ID...
 *
 * PURPOSE: each action is logged in the main log with the user who asked
 * ("removed by root"); freezing and thawing are journal records ("Z"), so
 * no message file is ever rewritten. A message being delivered (locked)
 * is not removed; a thawed message is handed to a running daemon's
 * scheduler at once. Only admin users (queue_is_admin) may use the -M
 * commands.
 * INTERFACE: queue_admin, queue_is_admin, queue_denied.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "core/spool/notify.h"
#include "queue/queue.h"
#include "queue/queue_impl.h"
#include "core/spool/spool.h"

/* in_group - is gid the caller's real or a supplementary group */
static int in_group(gid_t gid)
{
    gid_t groups[NGROUPS_MAX];
    int n = getgroups(NGROUPS_MAX, groups);

    if (getgid() == gid)
        return 1;
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

/* queue_is_admin - root, tern_user (or whoever owns the spool: a tern
 * run by an ordinary user is that user), or a member of tern_user's
 * group or tern_group, as Exim's admin users are root, the Exim user and
 * the Exim group */
int queue_is_admin(const struct conf *c)
{
    const char *tu = c->main.tern_user, *tg = c->main.tern_group;
    uid_t uid = getuid();
    struct passwd *pw = tu != NULL && tu[0] != '\0' ? getpwnam(tu) : NULL;
    struct group *gr = tg != NULL && tg[0] != '\0' ? getgrnam(tg) : NULL;
    struct stat st;

    if (uid == 0 || (pw != NULL && pw->pw_uid == uid))
        return 1;
    if (stat(c->main.spool_directory, &st) == 0 && st.st_uid == uid)
        return 1;
    return (pw != NULL && in_group(pw->pw_gid))
           || (gr != NULL && in_group(gr->gr_gid));
}

/* queue_denied - Exim's refusal of a -M command to someone else: 1 */
int queue_denied(void)
{
    fprintf(stderr, "tern: Permission denied\n");
    return 1;
}

static int remove_one(struct spool *sp, const char *id)
{
    struct errbuf eb;
    int fd = spool_lock(sp, id, &eb);

    if (fd < 0) {
        fprintf(stderr, errno == EWOULDBLOCK
                ? "tern: message %s is locked (being delivered)\n"
                : "tern: message %s not found\n", id);
        return 1;
    }
    if (spool_remove(sp, id, &eb) != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        (void)close(fd);
        return 1;
    }
    log_main("%s removed by %s", id, queue_caller());
    log_main("%s Completed", id);
    (void)close(fd);
    printf("Message %s has been removed\n", id);
    return 0;
}

static int freeze_one(struct spool *sp, const char *id, int freeze,
                      const char *spool_dir)
{
    struct spool_msg m;
    struct errbuf eb;

    if (spool_read(sp, id, &m, &eb) != 0) {
        fprintf(stderr, "tern: message %s not found\n", id);
        return 1;
    }
    spool_msg_free(&m);
    if (spool_journal_append(sp, id, freeze ? "Z\t1" : "Z\t0", &eb) != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 1;
    }
    log_main("%s %s by %s", id, freeze ? "frozen" : "unfrozen", queue_caller());
    printf(freeze ? "Message %s is now frozen\n"
                  : "Message %s is no longer frozen\n", id);
    if (!freeze)
        (void)notify_send(spool_dir, id);
    return 0;
}

/* queue_admin - -Mrm / -Mf / -Mt on each id; 0, or 1 if one failed */
int queue_admin(struct conf *c, const char *op, char **ids, int nids)
{
    struct errbuf eb;
    struct spool *sp;
    int rc = 0;

    if (!queue_is_admin(c))
        return queue_denied();
    if ((sp = spool_open(c->main.spool_directory, NULL, &eb)) == NULL) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 73;
    }
    for (int i = 0; i < nids; i++) {
        if (!msgid_valid(ids[i])) {
            fprintf(stderr, "tern: %s is not a message id\n", ids[i]);
            rc = 1;
        } else if (strcmp(op, "-Mrm") == 0) {
            rc |= remove_one(sp, ids[i]);
        } else {
            rc |= freeze_one(sp, ids[i], strcmp(op, "-Mf") == 0,
                             c->main.spool_directory);
        }
    }
    spool_close(sp);
    return rc;
}
