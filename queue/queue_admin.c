/*
 * queue_admin.c - tern -Mrm (remove), -Mf (freeze), -Mt (thaw) ID...
 *
 * PURPOSE: each action is logged in the main log with the user who asked
 * ("removed by root"); freezing and thawing are journal records ("Z"), so
 * no message file is ever rewritten. A message being delivered (locked)
 * is not removed; a thawed message is handed to a running daemon's
 * scheduler at once.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "core/spool/notify.h"
#include "queue/queue.h"
#include "core/spool/spool.h"

static const char *caller(void)
{
    struct passwd *pw = getpwuid(getuid());

    return pw != NULL ? pw->pw_name : "unknown";
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
    log_main("%s removed by %s", id, caller());
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
    log_main("%s %s by %s", id, freeze ? "frozen" : "unfrozen", caller());
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
    struct spool *sp = spool_open(c->main.spool_directory, NULL, &eb);
    int rc = 0;

    if (sp == NULL) {
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
