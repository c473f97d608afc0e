/*
 * bt.h - address testing: tern -bt (route and show) and -bv (verify).
 *
 * INTERFACE: bt_run.
 * ERRORS: returns the exit code: 2 if any address failed, else 1 if any
 *         was deferred, else 0; 70 if the resolver could not be set up.
 */
#ifndef TERN_BT_H
#define TERN_BT_H

#include <stdio.h>

struct conf;

struct bt_opts {
    int verify;                 /* -bv */
    const char *sender;         /* -f */
    const char *client_ip;      /* -oMa */
    char **addrs;               /* NULL: read stdin, one per line */
    int naddrs;
};

int bt_run(struct conf *c, const struct bt_opts *o, FILE *out);

#endif
