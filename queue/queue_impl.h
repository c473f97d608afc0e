/*
 * queue_impl.h - private to the queue commands (queue_list.c,
 *                queue_view.c, queue_edit.c, queue_admin.c).
 *
 * INTERFACE: qjournal_read/qjournal_free (what a message's journal says,
 *            for listing and showing), queue_print_envelope (-Mvh's
 *            envelope), queue_caller (the login of the real uid),
 *            queue_is_admin (may the caller use the -M commands).
 */
#ifndef TERN_QUEUE_IMPL_H
#define TERN_QUEUE_IMPL_H

#include <stdio.h>

struct conf;
struct hash;
struct spool;
struct spool_msg;

/* the journal's view of one message */
struct qjournal {
    struct hash *done;          /* addresses done, envelope or generated */
    char **all;                 /* the same, in journal order */
    size_t nall;
    int frozen;
    unsigned warnings;          /* delay warnings sent ("W") */
};

/* qjournal_read - read message id's journal into j (frozen: the spool
 * file's flag, which "Z" lines override); -1 if it cannot be read */
struct strbuf;
int qjournal_read(struct spool *sp, const char *id, int frozen,
                  struct qjournal *j);
void qjournal_free(struct qjournal *j);
/* queue_print_envelope - m's envelope in the shape of Exim's -H file */
void queue_print_envelope(struct spool *sp, const struct conf *c,
                          const struct spool_msg *m, FILE *out);
/* queue_caller - the caller's login name ("uid N" when it has none) */
const char *queue_caller(void);
/* queue_is_admin - may the caller use the -M commands (queue_admin.c) */
int queue_is_admin(const struct conf *c);
/* queue_denied - "tern: Permission denied" on stderr; returns 1 */
int queue_denied(void);
/* queue_esc - s escaped for the terminal, in sb (emptied first) */
const char *queue_esc(struct strbuf *sb, const char *s);
/* queue_cmp_str - qsort comparison of char * by strcmp */
int queue_cmp_str(const void *a, const void *b);

#endif
