/*
 * notify.h - telling the scheduler that a message is waiting, at once.
 *
 * The daemon's scheduler binds a unix datagram socket, SPOOL/notify.sock.
 * Whoever spools a message (an SMTP worker, the sendmail interface, a
 * bounce) sends its id there; the scheduler starts delivering it in the
 * same loop turn. A notification is a hint: the message is on disk
 * already, so one that is lost (no scheduler running, a full socket
 * buffer) only waits for the next queue run.
 *
 * INTERFACE: notify_open (the scheduler's socket), notify_read (ids
 *            received), notify_send (one id, now), notifier_new/_free/
 *            _post (a long-lived poster that batches ids and retries
 *            while the scheduler's socket is full).
 * ERRORS: notify_open -1 with eb; notify_send returns -1 (errno) when no
 *         scheduler took the id, so the caller may deliver it itself.
 */
#ifndef TERN_NOTIFY_H
#define TERN_NOTIFY_H

struct errbuf;
struct ev;
struct notifier;

#define NOTIFY_DGRAM_MAX (23 * 256)     /* 256 ids of MSGID_LEN bytes */
#define NOTIFY_PENDING_MAX (23 * 100000)

/* notify_open - bind SPOOL/notify.sock (replacing a stale one); the
 * non-blocking descriptor to read, or -1 */
int notify_open(const char *spool_dir, struct errbuf *eb);
/* notify_read - the next id received into id (MSGID_LEN + 1 bytes):
 * 1, or 0 when none is waiting; invalid datagrams are dropped */
int notify_read(int fd, char *id);
/* notify_send - tell the scheduler about id; 0 or -1 */
int notify_send(const char *spool_dir, const char *id);
struct notifier *notifier_new(struct ev *ev, const char *spool_dir);
void notifier_free(struct notifier *n);
void notifier_post(struct notifier *n, const char *id);

#endif
