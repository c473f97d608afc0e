/*
 * netaddr.h - IP address and network parsing and matching, and the
 *             addresses of this host (for "MX points to me" and "@[]").
 *
 * INTERFACE: netaddr_parse (address or CIDR network), netaddr_contains,
 *            netaddr_is_local (loopback, any address of an interface, or a
 *            match in hosts_treat_as_local), netaddr_format.
 * ERRORS:    netaddr_parse returns -1 for anything that is not an address.
 */
#ifndef TERN_NETADDR_H
#define TERN_NETADDR_H

#include <stddef.h>

struct netaddr {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
    int prefix;                 /* 32/128 for a single address */
};

int netaddr_parse(const char *s, size_t len, struct netaddr *out);
int netaddr_contains(const struct netaddr *net, const struct netaddr *ip);
int netaddr_is_local(const char *ip);
void netaddr_format(const struct netaddr *a, char *buf, size_t size);

#endif
