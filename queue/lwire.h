/*
 * lwire.h - what the scheduler and a local delivery helper say to each
 *           other (private to queue/: sched_lhelper.c, lhelper.c).
 *
 * A job is a group of local batches. The scheduler sends a 12-byte
 * header (magic, payload length, number of messages) together with, as
 * SCM_RIGHTS, one descriptor per message: the spool lock descriptor,
 * open read-only on the message file. The helper reads the file through
 * it (spool_read_fd), so the message is read from disk once per job, not
 * once per batch, and never copied through the socket; holding it keeps
 * the message locked while the helper delivers (a new scheduler will not
 * deliver it at the same time). The payload names each message's id,
 * then each batch: its message, transport and router by their index in
 * the configuration (the helper runs on the scheduler's configuration,
 * forked from it), the return path and the recipients. Integers are 32-bit
 * in host order; a string is its length then its bytes (0xffffffff: NULL).
 * The helper answers one line per recipient, "K I STATUS CODE
 * ERRTYPE\tMESSAGE" (batch K, recipient I), then ".".
 * INTERFACE: lw_encode (scheduler), lw_decode and lw_job_free (helper),
 *            lw_result_lines (helper), lw_result_parse (scheduler).
 * ERRORS: lw_decode refuses a payload that does not parse to the end or
 *         names a transport, router or message that does not exist.
 */
#ifndef TERN_LWIRE_H
#define TERN_LWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/spool/spool.h"
#include "transports/deliver.h"

#define LW_MAGIC 0x314a4c54u        /* "TLJ1" */
#define LW_HEAD_LEN 12
#define LW_PAYLOAD_MAX (64u << 20)
#define LW_BATCH_MAX 32             /* batches (and messages) per job */

struct conf;
struct pool;
struct sbatch;
struct strbuf;

/* one message of a job, in the helper */
struct lw_msg {
    char id[MSGID_LEN + 1];
    int fd;                         /* the lock descriptor, -1 when closed */
    int read;                       /* msg is filled in */
    struct spool_msg msg;
    char why[DLV_MSG_MAX];          /* why it could not be read */
};

/* a job, in the helper */
struct lw_job {
    struct pool *pool;
    size_t nmsgs;
    struct lw_msg msgs[LW_BATCH_MAX];
    size_t nb;
    struct dlv_batch *bs;
    size_t *msgof;                  /* bs[k]'s message */
};

/* lw_encode - header and payload of the job sbs[0..n) into out; fds gets
 * the descriptor of each message, in the payload's order (*nfds) */
void lw_encode(struct sbatch *const *sbs, size_t n, struct strbuf *out,
               int *fds, size_t *nfds);
/* lw_head - the payload length and message count a header announces:
 * 0, or -1 for a bad header */
int lw_head(const unsigned char *h, uint32_t *len, uint32_t *nmsgs);
/* lw_decode - the payload p[0..len) into j on configuration c; fds[i]
 * is message i's descriptor (j owns them all, even on failure): 0 or -1 */
int lw_decode(const char *p, size_t len, struct conf *c, const int *fds,
              size_t nfds, struct lw_job *j);
void lw_job_free(struct lw_job *j);
/* lw_result_lines - the results of batch k of a job, one line each */
void lw_result_lines(struct strbuf *out, size_t k, const struct dlv_batch *b);
/* lw_result_parse - one result line (no newline; changed in place) into
 * its batch of sbs[0..n) (NULL: settled already, the line is dropped); a
 * malformed line is ignored */
void lw_result_parse(char *line, struct sbatch *const *sbs, size_t n);

#endif
