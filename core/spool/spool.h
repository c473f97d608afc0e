/*
 * spool.h - the durable message spool (DESIGN §3).
 *
 * One file per message, named by its id, under SPOOL/input/<c>/ where <c>
 * is the id's last character (62 subdirectories). A message file holds a
 * versioned envelope (sender, recipients, client, times, ACL variables)
 * then the message bytes, and ends with an END record so a file cut short
 * is detected. A separate append-only journal per message
 * (SPOOL/input/<c>/<id>.J) records recipients as they are delivered or
 * failed. Files that cannot be read are moved to SPOOL/corrupt/ and
 * reported, never deleted.
 *
 * Durability: a message is committed only when its file and its directory
 * entry are on disk: data written to a temp file (O_CREAT|O_EXCL, 0600),
 * fsync'ed, renamed to its final name, the directory fsync'ed. Commits
 * requested in the same event-loop turn are flushed together (group
 * commit): the files of a batch are synced with one syncfs() when the
 * batch has several, then renamed, then each directory involved is synced
 * once. With an event loop the syncs run on a thread of the spool's own
 * while the loop goes on; commits made meanwhile form the next batch.
 * spool_commit_cb, called on the loop, tells the session when it may say
 * 250.
 *
 * INTERFACE: msgid_new (Exim 4.97 ids), spool_open/close, spool_writer_*,
 *            spool_commit (asynchronous, batched), spool_flush (commit
 *            every pending batch now), spool_read (a message file),
 *            spool_list (ids in the spool), spool_remove,
 *            spool_remove_later,
 *            spool_journal_append/read, spool_quarantine.
 *            Additions: msgid_decode, spool_tidy, spool_journal_append_v,
 *            spool_lock, spool_read_fd, spool_commit_batches,
 *            spool_list_unsorted.
 * ERRORS: -1 with errno/eb; a failed commit is reported to its callback
 *         with the reason (disk full, EIO) and leaves no file behind.
 *         spool_read tells a damaged file (errno EBADMSG: quarantine it)
 *         from a failure to read it (ENOENT, EIO, EMFILE...: retry).
 * The format (spool_format.c): "tern-spool 1", "key value" records with
 * %XX escapes, "data LEN", LEN raw bytes, "\nEND\n". Limits: 100000
 * recipients, 1000 ACL variables, 64 KiB per record, 1 GiB per file.
 * A spool handle belongs to the process that opened it (temp names carry
 * its pid); close it before freeing its event loop.
 */
#ifndef TERN_SPOOL_H
#define TERN_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

struct errbuf;
struct ev;

#define MSGID_LEN 23            /* TTTTTT-PPPPPPPPPPP-FFFF */

/* msgid_new - a new id: base-62 seconds (6), pid (11), microseconds (4).
 * Never returns the same id twice in a process (waits for the next
 * microsecond if it must). out must hold MSGID_LEN + 1 bytes. */
void msgid_new(char *out);
/* msgid_valid - 23 characters of the right shape */
int msgid_valid(const char *id);
/* msgid_decode - the seconds, pid and microseconds an id was minted with;
 * -1 (EINVAL) if id is not msgid_valid (addition: queue ages, tests) */
int msgid_decode(const char *id, long long *sec, long long *pid,
                 long *usec);

struct spool_var {
    const char *name;           /* acl_m_..., acl_c_... */
    const char *value;
};

/* The envelope of a message. Strings may contain any byte but NUL; the
 * writer takes a NULL string as "". Numbers must be in range: port
 * 0..65535 (0 for local), usec 0..999999, flags 0/1, times >= 0. */
struct spool_env {
    char id[MSGID_LEN + 1];
    const char *sender;         /* "" for the null sender */
    size_t nrcpt;
    const char **rcpts;
    const char *helo;           /* "" for local submission */
    const char *client_ip;      /* "" for local submission */
    int client_port;
    const char *client_name;    /* verified reverse name or "" */
    const char *protocol;       /* "esmtp", "esmtps", "esmtpa", "local"... */
    const char *auth_id;        /* "" if not authenticated */
    const char *tls_cipher;     /* "" if not encrypted */
    const char *body_type;      /* "7BIT", "8BITMIME" or "" */
    int smtputf8;
    const char *local_user;     /* submitting user for local mail, or "" */
    long long received_sec;     /* time of acceptance */
    long received_usec;
    int frozen;
    size_t nvars;
    const struct spool_var *vars;
};

struct spool;
struct spool_writer;

/* spool_commit_cb - result of a commit: ok 0 (why ""), or -1 with the
 * reason (valid during the call). A callback may commit or abort other
 * writers but must not close the spool. */
typedef void (*spool_commit_cb)(int rc, const char *why, void *arg);

/* spool_open - the spool under dir (created: input/, corrupt/, db/) */
struct spool *spool_open(const char *dir, struct ev *ev, struct errbuf *eb);
void spool_close(struct spool *sp);
const char *spool_dir(const struct spool *sp);

/* spool_writer_new - start a message file for env (id must be set) */
struct spool_writer *spool_writer_new(struct spool *sp,
                                      const struct spool_env *env,
                                      struct errbuf *eb);
/* spool_writer_write - append message bytes (buffered) */
int spool_writer_write(struct spool_writer *w, const void *p, size_t n);
/* spool_writer_abort - forget the message, remove the temp file */
void spool_writer_abort(struct spool_writer *w);
/* spool_commit - finish the file and queue it for the next group commit;
 * cb(0) once it is durable under its final name, cb(-1, why) if not (the
 * temp file is removed). The writer is consumed either way. Without an ev
 * loop (one-shot modes) the commit happens before spool_commit returns. */
void spool_commit(struct spool_writer *w, spool_commit_cb cb, void *arg);
/* spool_flush - commit every queued writer now and wait for the sync
 * thread (shutdown, tests) */
void spool_flush(struct spool *sp);
/* spool_commit_batches - group commits made so far (tests, statistics) */
unsigned long long spool_commit_batches(const struct spool *sp);

/* A message read back. */
struct spool_msg {
    struct spool_env env;       /* env.rcpts has a NULL after the last */
    const char *data;           /* the message bytes, NUL after data[len] */
    size_t len;
    void *priv;                 /* the pool everything above lives in */
};

/* spool_read - read message id, validating every byte; -1 with eb. A
 * damaged file gives errno EBADMSG and is left in place: the caller logs
 * the reason and calls spool_quarantine. */
int spool_read(struct spool *sp, const char *id, struct spool_msg *out,
               struct errbuf *eb);
/* spool_read_fd - the same from fd, a descriptor open on message id's
 * file (spool_lock's, or one passed to a local delivery process): no
 * second open, and the file offset is not moved, so the descriptor may be
 * shared with another process (addition) */
int spool_read_fd(int fd, const char *id, struct spool_msg *out,
                  struct errbuf *eb);
/* spool_msg_free - release a message from spool_read (NULL ok) */
void spool_msg_free(struct spool_msg *m);
/* spool_list - ids of all committed messages, sorted; caller frees each
 * and the array */
int spool_list(struct spool *sp, char ***ids, size_t *n, struct errbuf *eb);
/* spool_list_unsorted - the same, in directory order (-bpr; addition) */
int spool_list_unsorted(struct spool *sp, char ***ids, size_t *n,
                        struct errbuf *eb);
/* spool_remove - delete a message and its journal (delivery finished) */
int spool_remove(struct spool *sp, const char *id, struct errbuf *eb);
/* spool_remove_later - the same, the directory fsynced at the end of the
 * loop turn with the turn's other removals (spool_open with an ev) */
int spool_remove_later(struct spool *sp, const char *id, struct errbuf *eb);
/* spool_quarantine - move a message's files to corrupt/ (same name, or
 * name.1, name.2... if taken) */
int spool_quarantine(struct spool *sp, const char *id, struct errbuf *eb);
/* spool_journal_append - append one line ("D rcpt", "F rcpt ...": at
 * most 8192 bytes, no newline) and fsync it before returning */
int spool_journal_append(struct spool *sp, const char *id, const char *line,
                         struct errbuf *eb);
/* spool_journal_append_v - n lines with one write and one fsync
 * (addition: a batch of delivery results) */
int spool_journal_append_v(struct spool *sp, const char *id,
                           const char *const *lines, size_t n,
                           struct errbuf *eb);
/* spool_lock - lock message id for a delivery (flock on its file): the
 * descriptor to close to unlock, or -1 (errno EWOULDBLOCK: another process
 * delivers it; ENOENT: gone) (addition) */
int spool_lock(struct spool *sp, const char *id, struct errbuf *eb);
/* spool_journal_read - the journal's lines (caller frees each + array);
 * no journal is 0 lines; a last line without its newline (an append cut
 * by a crash, never acknowledged) is left out */
int spool_journal_read(struct spool *sp, const char *id, char ***lines,
                       size_t *n, struct errbuf *eb);
/* spool_tidy - remove temp files left by processes that no longer exist
 * (daemon start-up); *removed counts them (addition) */
int spool_tidy(struct spool *sp, unsigned *removed, struct errbuf *eb);

#endif
