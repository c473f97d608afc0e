/*
 * tp_local.h - helpers the local transports (maildir, mbox, pipe) share.
 *
 * INTERFACE: tp_expand (an option's value for one recipient), tp_copy
 *            (the bytes of one recipient's copy with LF line ends and
 *            optional mboxrd From quoting), tp_sig_ignore/tp_sig_restore
 *            (SIGPIPE/SIGXFSZ become errors, not deaths), tp_errtype (the
 *            retry error type of an errno), tp_each_file (one file
 *            copy per pending recipient: maildir, mbox).
 * ERRORS: tp_expand returns -1 with the reason in eb.
 */
#ifndef TERN_TP_LOCAL_H
#define TERN_TP_LOCAL_H

#include <signal.h>

#include "core/base/errbuf.h"
#include "core/base/pool.h"
#include "transports/deliver.h"

struct strbuf;

int tp_expand(const struct dlv_batch *b, const struct dlv_rcpt *r,
              const struct xval *x, struct pool *p, const char **out,
              struct errbuf *eb);
void tp_copy(const struct dlv_batch *b, const struct dlv_rcpt *r,
             int mboxrd, struct strbuf *out);
void tp_lf_append(struct strbuf *out, const char *p, size_t n, int mboxrd);
void tp_sig_ignore(int sig, struct sigaction *old);
void tp_sig_restore(int sig, const struct sigaction *old);
const char *tp_errtype(int err);

typedef void (*tp_one_fn)(struct transport *t, struct dlv_batch *b,
                          struct dlv_rcpt *r, struct pool *p);
/* tp_each_file - fn for every pending recipient of b, with SIGXFSZ
 * ignored (a file size limit is an EFBIG to report, not a death) */
void tp_each_file(struct transport *t, struct dlv_batch *b, tp_one_fn fn);

#endif
