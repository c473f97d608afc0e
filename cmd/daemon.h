/*
 * daemon.h - tern -bd: the master process and its SMTP workers.
 *
 * INTERFACE: daemon_run.
 * ERRORS: returns an exit status; a configuration or bind failure at
 *         start is reported on stderr and in the panic log.
 */
#ifndef TERN_DAEMON_H
#define TERN_DAEMON_H

struct daemon_opts {
    const char *conf_dir;       /* reloaded from here on SIGHUP */
    const char *ports;          /* -oX, or NULL */
    int foreground;             /* -bdf */
    long queue_interval;        /* -q30m: seconds between queue runs */
};

struct conf;

/* daemon_run - takes ownership of c: a reload replaces it, and the
 * daemon frees whichever generation is current when it stops */
int daemon_run(struct conf *c, const struct daemon_opts *o);

#endif
