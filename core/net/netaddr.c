/*
 * netaddr.c - IP addresses, CIDR networks and "is this address mine".
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) compare as IPv4, so a
 * dual-stack listener's peers match IPv4 networks.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netaddr.h"

static void unmap_v4(struct netaddr *a)
{
    static const unsigned char prefix[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

    if (a->family == AF_INET6 && memcmp(a->bytes, prefix, 12) == 0) {
        memmove(a->bytes, a->bytes + 12, 4);
        memset(a->bytes + 4, 0, 12);
        a->family = AF_INET;
        a->prefix = a->prefix >= 96 ? a->prefix - 96 : 0;
    }
}

static int parse_prefix(const char *s, int max)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > max)
        return -1;
    return (int)v;
}

/* netaddr_parse - "192.0.2.1", "192.0.2.0/24", "2001:db8::/32" */
int netaddr_parse(const char *s, size_t len, struct netaddr *out)
{
    char buf[64];
    char *slash;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    if (inet_pton(AF_INET, buf, out->bytes) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
    } else if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
    } else {
        return -1;
    }
    if (slash != NULL
        && (out->prefix = parse_prefix(slash + 1, out->prefix)) < 0)
        return -1;
    unmap_v4(out);
    return 0;
}

/* netaddr_contains - nonzero if ip lies inside net */
int netaddr_contains(const struct netaddr *net, const struct netaddr *ip)
{
    int full, rest;

    if (net->family != ip->family)
        return 0;
    full = net->prefix / 8;
    rest = net->prefix % 8;
    if (memcmp(net->bytes, ip->bytes, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->bytes[full] & mask) == (ip->bytes[full] & mask);
}

/* netaddr_format - address text (without prefix) */
void netaddr_format(const struct netaddr *a, char *buf, size_t size)
{
    if (inet_ntop(a->family, a->bytes, buf, (socklen_t)size) == NULL && size)
        buf[0] = '\0';
}

#define MAX_IFADDRS 64

/* The interface addresses, read once per process: MX hosts are checked
 * against them for every remote address routed. */
static struct netaddr if_addrs[MAX_IFADDRS];
static int if_count = -1;

static void load_interfaces(void)
{
    struct ifaddrs *ifs, *i;

    if_count = 0;
    if (getifaddrs(&ifs) != 0)
        return;
    for (i = ifs; i != NULL && if_count < MAX_IFADDRS; i = i->ifa_next) {
        struct netaddr *a = &if_addrs[if_count];
        if (i->ifa_addr == NULL)
            continue;
        memset(a, 0, sizeof(*a));
        if (i->ifa_addr->sa_family == AF_INET) {
            a->family = AF_INET;
            memcpy(a->bytes, &((struct sockaddr_in *)(void *)i->ifa_addr)
                   ->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            a->family = AF_INET6;
            memcpy(a->bytes, &((struct sockaddr_in6 *)(void *)i->ifa_addr)
                   ->sin6_addr, 16);
        } else {
            continue;
        }
        a->prefix = a->family == AF_INET ? 32 : 128;
        unmap_v4(a);
        if_count++;
    }
    freeifaddrs(ifs);
}

static int interface_has(const struct netaddr *ip)
{
    if (if_count < 0)
        load_interfaces();
    for (int i = 0; i < if_count; i++)
        if (netaddr_contains(&if_addrs[i], ip))
            return 1;
    return 0;
}

/* netaddr_is_local - loopback, unspecified, or an address of an interface */
int netaddr_is_local(const char *ip)
{
    static const char *const text[] = { "127.0.0.0/8", "::1/128",
                                         "0.0.0.0/32", "::/128" };
    static struct netaddr nets[4];
    static int parsed;
    struct netaddr a;

    if (!parsed) {                      /* constants: parse them once */
        for (size_t i = 0; i < 4; i++)
            netaddr_parse(text[i], strlen(text[i]), &nets[i]);
        parsed = 1;
    }
    if (netaddr_parse(ip, strlen(ip), &a) != 0)
        return 0;
    for (size_t i = 0; i < 4; i++)
        if (netaddr_contains(&nets[i], &a))
            return 1;
    return interface_has(&a);
}
