/*
 * listen.c - binding the daemon's listening sockets.
 *
 * PURPOSE: each address of local_interfaces (default: every IPv4 and
 * IPv6 address, bound as 0.0.0.0 and :: with IPV6_V6ONLY) on each port of
 * daemon_smtp_ports or -oX; ports in tls_on_connect_ports speak TLS from
 * the first byte (465). An unavailable IPv6 stack is skipped quietly for
 * the default "::" only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/conf/conf.h"
#include "smtpd/listen.h"

static int port_in(const struct strlist *l, int port)
{
    for (size_t i = 0; i < l->n; i++)
        if (atoi(l->v[i]) == port)
            return 1;
    return 0;
}

static int make_socket(const char *addr, int port, struct errbuf *eb)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1, fd, v6 = strchr(addr, ':') != NULL;

    memset(&ss, 0, sizeof(ss));
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
            return errbuf_set(eb, "bad interface address %s", addr), -1;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
            return errbuf_set(eb, "bad interface address %s", addr), -1;
        len = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errbuf_set(eb, "socket for [%s]:%d: %s", addr, port,
                          strerror(errno)), -2;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* no Nagle, as Exim's tcp_nodelay: the replies to a pipelined group
     * go out as each step ends, and each write after the first would
     * otherwise wait for the client's delayed ACK (~40 ms). Accepted
     * sockets inherit it. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        return errbuf_set(eb, "TCP_NODELAY for [%s]:%d: %s", addr, port,
                          strerror(errno)), close(fd), -2;
    if (v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        errbuf_set(eb, "cannot listen on [%s]:%d: %s", addr, port,
                   strerror(errno));
        close(fd);
        return errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT ? -2 : -1;
    }
    return fd;
}

static int add(struct listeners *out, const struct conf *c, const char *addr,
               int port, int optional, struct errbuf *eb)
{
    int fd;

    if (out->n == sizeof(out->v) / sizeof(out->v[0]))
        return errbuf_set(eb, "too many listening sockets"), -1;
    fd = make_socket(addr, port, eb);
    if (fd == -2 && optional)
        return 0;
    if (fd < 0)
        return -1;
    out->v[out->n].fd = fd;
    out->v[out->n].port = port;
    out->v[out->n].tls_on_connect = port_in(&c->main.tls_on_connect_ports,
                                            port);
    snprintf(out->v[out->n].addr, sizeof(out->v[0].addr), "%s", addr);
    out->n++;
    return 0;
}

static int parse_ports(const char *text, int *ports, int max)
{
    int n = 0;

    while (*text != '\0' && n < max) {
        char *end;
        long p = strtol(text, &end, 10);
        if (end == text || p < 1 || p > 65535)
            return -1;
        ports[n++] = (int)p;
        text = end + strspn(end, ",: ");
    }
    return n;
}

/* listen_open - bind every (interface, port) */
int listen_open(const struct conf *c, const char *ports_text,
                struct listeners *out, struct errbuf *eb)
{
    const struct strlist *ifs = &c->main.local_interfaces;
    int ports[16], np = 0;

    out->n = 0;
    if (ports_text != NULL)
        np = parse_ports(ports_text, ports, 16);
    else
        for (size_t i = 0; i < c->main.daemon_smtp_ports.n && np < 16; i++)
            ports[np++] = atoi(c->main.daemon_smtp_ports.v[i]);
    if (np <= 0)
        return errbuf_set(eb, "no valid port to listen on"), -1;
    for (int p = 0; p < np; p++) {
        if (ifs->n == 0) {
            if (add(out, c, "0.0.0.0", ports[p], 0, eb) != 0
                || add(out, c, "::", ports[p], 1, eb) != 0)
                goto fail;
            continue;
        }
        for (size_t i = 0; i < ifs->n; i++)
            if (add(out, c, ifs->v[i], ports[p], 0, eb) != 0)
                goto fail;
    }
    return 0;
fail:
    listen_close(out);
    return -1;
}

/* listen_close - close every socket */
void listen_close(struct listeners *l)
{
    for (size_t i = 0; i < l->n; i++)
        close(l->v[i].fd);
    l->n = 0;
}
