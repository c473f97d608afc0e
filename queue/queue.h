/*
 * queue.h - the queue commands: -bp/-bpc/-bpu/-bpa/-bpr/mailq (list,
 *           count), -q... and -M (deliver now, in this process), -Mg
 *           (give up: bounce now), -Mrm/-Mf/-Mt (remove, freeze, thaw),
 *           -Mvh/-Mvb/-Mvc/-Mvl (show), -Mar/-Mmd/-Mes (edit), and the
 *           background delivery of a message the sendmail interface
 *           spooled when no daemon took it.
 *
 * INTERFACE: queue_list, queue_run, queue_admin, queue_view, queue_edit,
 *            queue_deliver_background.
 * ERRORS: exit statuses: 0 ok, 1 some message could not be acted on
 *         (unknown id, locked), 73 the spool cannot be opened.
 */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stdio.h>

struct conf;

struct queue_opts {
    int force;                  /* -qf, -M */
    int thaw;                   /* -qff, -M */
    int dont_deliver;           /* -N */
    int give_up;                /* -Mg: fail what is left, bounce */
    const char *domain;         /* -R */
    const char *sender;         /* -S */
    char **ids;                 /* -M IDS: only these */
    int nids;
};

#define QLIST_COUNT       0x1   /* -bpc: the number of messages only */
#define QLIST_UNDELIVERED 0x2   /* -bpu: leave done recipients out */
#define QLIST_GENERATED   0x4   /* -bpa: generated addresses done, "+D" */
#define QLIST_UNSORTED    0x8   /* -bpr: in directory order */

/* queue_list - Exim's -bp listing on out, as how (QLIST_*) says */
int queue_list(struct conf *c, unsigned how, FILE *out);
/* queue_run - deliver in this process until done: the ids of o, or a
 * queue run over the whole spool */
int queue_run(struct conf *c, const struct queue_opts *o);
/* queue_admin - op "-Mrm", "-Mf" or "-Mt" on each id */
int queue_admin(struct conf *c, const char *op, char **ids, int nids);
/* queue_view - op "-Mvh", "-Mvb", "-Mvc" or "-Mvl" on the one id */
int queue_view(struct conf *c, const char *op, char **ids, int nids);
/* queue_edit - op "-Mar", "-Mmd" or "-Mes" on message args[0] with the
 * addresses args[1..] */
int queue_edit(struct conf *c, const char *op, char **args, int nargs);
/* queue_deliver_background - fork a detached process delivering id
 * (sendmail submission with no daemon listening); 0 or -1 */
int queue_deliver_background(struct conf *c, const char *id);

#endif
