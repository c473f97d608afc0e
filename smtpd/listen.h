/*
 * listen.h - the daemon's listening sockets: local_interfaces x
 *            daemon_smtp_ports (or -oX), IPv4 and IPv6, non-blocking.
 *
 * INTERFACE: listen_open, listen_close, struct listener.
 * ERRORS: listen_open returns -1 with eb naming the address and port
 *         that could not be bound (EADDRINUSE, EACCES for ports < 1024).
 */
#ifndef TERN_LISTEN_H
#define TERN_LISTEN_H

#include <stddef.h>

struct conf;
struct errbuf;

struct listener {
    int fd;
    int port;
    int tls_on_connect;
    char addr[64];
};

struct listeners {
    size_t n;
    struct listener v[32];
};

/* listen_open - ports: "25,587" from -oX, or NULL for daemon_smtp_ports */
int listen_open(const struct conf *c, const char *ports,
                struct listeners *out, struct errbuf *eb);
void listen_close(struct listeners *l);

#endif
