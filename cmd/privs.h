/*
 * privs.h - what a tern started as root gives up, and to whom.
 *
 * Started as root, tern runs as tern_user (default "tern", the system
 * account tools/deps.sh creates; tern_group overrides its group): the
 * daemon's master, workers and scheduler, and the one-shot modes that
 * route, run ACLs or write the spool. Only the saved uid stays 0, in the
 * master and the scheduler (and the real uid in a one-shot mode, so the
 * caller is still known as root), for the local delivery children that
 * become the recipient; those never become uid 0.
 *
 * INTERFACE: privs_resolve, privs_hand_over, privs_drop, privs_check,
 *            privs_oneshot.
 * ERRORS:    exit statuses with a message on stderr: EX_NOUSER (67) for a
 *            tern_user or tern_group that does not exist, EX_CONFIG (78)
 *            for one that is unset or root, EX_CANTCREAT (73) when the
 *            spool or the logs cannot be used by that user.
 * SECURITY:  the hand-over changes the owner of the spool tree and of the
 *            log directory only when it holds nothing but tern's logs,
 *            never through a symbolic link; privs_check then proves the
 *            user can use them, so nothing is served that cannot be.
 */
#ifndef TERN_PRIVS_H
#define TERN_PRIVS_H

#include <sys/types.h>

struct conf;
struct errbuf;

#define PRIVS_EX_NOUSER 67
#define PRIVS_EX_CANTCREAT 73
#define PRIVS_EX_CONFIG 78

struct privs {
    int active;                 /* started as root: the rest applies */
    uid_t uid;
    gid_t gid;
    char user[64];
};

/* privs_resolve - fill p from tern_user/tern_group when the effective
 * uid is 0 (else p->active is 0); 0 or an exit status, reported */
int privs_resolve(const struct conf *c, struct privs *p);
/* privs_hand_over - create the spool directory and give it, its tree
 * (deep: every file; else the directories and hints files, and that only
 * when one of them is not the user's yet) and tern's own log directory
 * to p's user; best effort, privs_check judges the result */
void privs_hand_over(const struct conf *c, const struct privs *p, int deep);
/* privs_drop - become p's user for good but for a saved uid of 0 (and,
 * keep_real, a real uid of 0); 0 or -1 with eb */
int privs_drop(const struct privs *p, int keep_real, struct errbuf *eb);
/* privs_check - can this process (its effective ids) use the spool, its
 * hints databases and the log files? 0 or -1 with eb naming the path */
int privs_check(const struct conf *c, struct errbuf *eb);
/* privs_oneshot - for a one-shot mode: when root, hand over (writes: the
 * spool and logs too) and drop all but the real and saved uid 0; 0 or an
 * exit status, reported */
int privs_oneshot(const struct conf *c, int writes);

#endif
