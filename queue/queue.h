/*
 * queue.h - the queue commands: -bp/-bpc/mailq (list, count), -q... and
 *           -M (deliver now, in this process), -Mrm/-Mf/-Mt (remove,
 *           freeze, thaw), and the background delivery of a message the
 *           sendmail interface spooled when no daemon took it.
 *
 * INTERFACE: queue_list, queue_run, queue_admin, queue_deliver_background.
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
    const char *domain;         /* -R */
    const char *sender;         /* -S */
    char **ids;                 /* -M IDS: only these */
    int nids;
};

/* queue_list - Exim's -bp listing on out (count_only: -bpc) */
int queue_list(struct conf *c, int count_only, FILE *out);
/* queue_run - deliver in this process until done: the ids of o, or a
 * queue run over the whole spool */
int queue_run(struct conf *c, const struct queue_opts *o);
/* queue_admin - op "-Mrm", "-Mf" or "-Mt" on each id */
int queue_admin(struct conf *c, const char *op, char **ids, int nids);
/* queue_deliver_background - fork a detached process delivering id
 * (sendmail submission with no daemon listening); 0 or -1 */
int queue_deliver_background(struct conf *c, const char *id);

#endif
