/*
 * sched_queue.c - queue runs: every message in the spool handed to the
 *                 scheduler, oldest first, optionally only those for a
 *                 domain (-R) or from a sender (-S).
 *
 * PURPOSE: as Exim's -R, a selected message is delivered in full (all its
 * recipients), not only the matching ones; the test is a caseless
 * substring of a pending recipient's domain (-R) or of the sender (-S).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/errbuf.h"
#include "core/base/hash.h"
#include "core/mail/logfile.h"
#include "queue/sched_impl.h"

static int has_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay != '\0'; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return n == 0;
}

static int selected(struct sched *s, const char *id, const char *domain,
                    const char *sender)
{
    struct spool_msg m;
    struct errbuf eb;
    int yes = 1;

    if (domain == NULL && sender == NULL)
        return 1;
    if (spool_read(s->sp, id, &m, &eb) != 0)
        return 1;               /* let the delivery report it */
    if (sender != NULL)
        yes = has_ci(m.env.sender, sender);
    if (yes && domain != NULL) {
        yes = 0;
        for (size_t i = 0; i < m.env.nrcpt && !yes; i++) {
            const char *at = strrchr(m.env.rcpts[i], '@');
            yes = at != NULL && has_ci(at + 1, domain);
        }
    }
    spool_msg_free(&m);
    return yes;
}

/* sched_sweep - queue the messages the scheduler does not know of (a
 * notification lost to a full socket buffer or a restart) */
void sched_sweep(struct sched *s)
{
    char **ids;
    size_t n;
    struct errbuf eb;

    if (spool_list(s->sp, &ids, &n, &eb) != 0) {
        log_panic("queue sweep: %s", eb.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (hash_get(s->known, ids[i], MSGID_LEN) == NULL)
            sched_add(s, ids[i]);
        free(ids[i]);
    }
    free(ids);
}

/* sched_queue_run - queue every (selected) message for delivery */
void sched_queue_run(struct sched *s, const char *domain, const char *sender)
{
    char **ids;
    size_t n;
    struct errbuf eb;

    if (spool_list(s->sp, &ids, &n, &eb) != 0) {
        log_panic("queue run: %s", eb.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (selected(s, ids[i], domain, sender))
            sched_add(s, ids[i]);
        free(ids[i]);
    }
    free(ids);
}
