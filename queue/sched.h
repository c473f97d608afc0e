/*
 * sched.h - the scheduler: delivers spooled messages (DESIGN §2, §6).
 *
 * One scheduler runs on an event loop: the daemon's scheduler process
 * (learning of new messages through notify.h), or a one-shot tern -q /
 * -M / sendmail background delivery. For each message it takes the
 * spool lock, reads the file and its journal, routes every pending
 * recipient through the router chain (concurrently, DNS on the loop),
 * groups the accepted addresses by transport, host list and uid, and
 * delivers: remote batches on the loop, local ones in helper processes
 * kept per identity (switched to the recipient's uid when tern runs as
 * root). Outcomes are
 * logged (=> -> ** == *>), journalled, fed to the retry database and
 * bounced; a message is removed when every recipient is done, else it is
 * retried at the time the retry rules give.
 *
 * INTERFACE: sched_new/free, sched_add (one message now), sched_queue_run
 *            (every message, with -R/-S selection), sched_sweep,
 *            sched_stop, sched_idle,
 *            sched_flush (close cached connections, let helpers go),
 *            sched_reopen (after the logs are reopened), sched_set_log_tag.
 * ERRORS: problems are per message and logged; nothing is returned.
 */
#ifndef TERN_SCHED_H
#define TERN_SCHED_H

struct conf;
struct ev;
struct spool;
struct dns_ctx;

struct sched_opts {
    int force;                  /* -qf, -M: ignore retry times */
    int thaw;                   /* -qff, -M: deliver frozen messages too */
    int dont_deliver;           /* -N: log *> instead of delivering */
    int daemon;                 /* the daemon's: keep deferred messages
                                   on timers */
    long max_parallel;          /* messages in delivery at once (0: 100) */
    char **give_up;             /* -Mg IDS: what is left of these fails
                                   ("delivery cancelled by administrator"),
                                   unrouted; not of their bounces */
    int ngive_up;
};

struct sched;

struct sched *sched_new(struct conf *c, struct ev *ev, struct spool *sp,
                        struct dns_ctx *dns, const struct sched_opts *o);
void sched_free(struct sched *s);
/* sched_add - deliver message id as soon as a slot is free (a message
 * already queued or in delivery is not added twice) */
void sched_add(struct sched *s, const char *id);
/* sched_queue_run - add every message in the spool, oldest first; only
 * those with a recipient whose domain contains domain (-R, caseless) and/or
 * a sender containing sender (-S), when set */
void sched_queue_run(struct sched *s, const char *domain, const char *sender);
/* sched_sweep - add only the messages not queued, in delivery, waiting
 * for a retry time or known to be frozen (lost notifications) */
void sched_sweep(struct sched *s);
/* sched_stop - forget the messages waiting for a slot (shutdown); those
 * in delivery finish */
void sched_stop(struct sched *s);
/* sched_idle - nothing queued, nothing in delivery */
int sched_idle(const struct sched *s);
/* sched_flush - close idle cached remote connections, let idle local
 * delivery helpers exit (and busy ones after their job) */
void sched_flush(struct sched *s);
/* sched_reopen - after logfile_reopen: local delivery helpers (which
 * cannot reopen the logs as their user) are replaced */
void sched_reopen(struct sched *s);

#endif
