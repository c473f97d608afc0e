/*
 * worker.h - one SMTP worker process: an event loop over the listening
 *            sockets and every session it accepts.
 *
 * INTERFACE: worker_main (never returns: exits when told to stop and its
 *            sessions are done, or when the master is gone).
 */
#ifndef TERN_WORKER_H
#define TERN_WORKER_H

struct conf;
struct listeners;
struct limits;

void worker_main(struct conf *c, const struct listeners *ls,
                 struct limits *lim, int index)
    __attribute__((noreturn));

#endif
