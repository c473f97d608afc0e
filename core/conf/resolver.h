/*
 * resolver.h - the DNS resolver a configuration asks for: dns_servers,
 *              dns_timeout and dns_retry applied to dns_new().
 *
 * INTERFACE: conf_resolver.
 * ERRORS: NULL with eb (a bad dns_servers value).
 */
#ifndef TERN_RESOLVER_H
#define TERN_RESOLVER_H

struct conf;
struct ev;
struct errbuf;
struct dns_ctx;

struct dns_ctx *conf_resolver(const struct conf *c, struct ev *ev,
                              struct errbuf *eb);

#endif
