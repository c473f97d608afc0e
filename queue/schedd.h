/*
 * schedd.h - the daemon's scheduler process (started by the master).
 *
 * INTERFACE: schedd_main (never returns).
 */
#ifndef TERN_SCHEDD_H
#define TERN_SCHEDD_H

struct conf;

/* schedd_main - deliver: new messages as workers announce them, every
 * message at start (not with queue_only unless queue_interval is set),
 * and the whole queue every queue_interval seconds (0: never again); exits on SIGTERM once deliveries in flight are done
 * (at most shutdown_timeout later) or when the master is gone */
void schedd_main(struct conf *c, long queue_interval)
    __attribute__((noreturn));

#endif
