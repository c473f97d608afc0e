/*
 * oneshot.h - the one-process modes that speak SMTP on stdin/stdout:
 *             -bs (as inetd runs it: local submission) and -bh IP (a fake
 *             session from IP that prints every ACL decision and spools
 *             nothing).
 *
 * INTERFACE: oneshot_smtp.
 */
#ifndef TERN_ONESHOT_H
#define TERN_ONESHOT_H

struct conf;

/* oneshot_smtp - serve one session on stdin/stdout; client_ip NULL for
 * -bs; fake for -bh. Returns the exit status. */
int oneshot_smtp(struct conf *c, const char *client_ip, int fake);

#endif
