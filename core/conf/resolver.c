/*
 * resolver.c - a resolver configured from main{} (dns_servers joined as
 *              "ip[:port],..." for c-ares; unset: /etc/resolv.conf).
 */
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/net/dns.h"
#include "core/conf/resolver.h"

/* conf_resolver - dns_new with the configuration's servers and timers */
struct dns_ctx *conf_resolver(const struct conf *c, struct ev *ev,
                              struct errbuf *eb)
{
    struct strbuf servers;
    struct dns_ctx *dc;

    sb_init(&servers);
    for (size_t i = 0; i < c->main.dns_servers.n; i++)
        sb_printf(&servers, "%s%s", i ? "," : "", c->main.dns_servers.v[i]);
    dc = dns_new(ev, sb_len(&servers) ? sb_str(&servers) : NULL,
                 (unsigned)(c->main.dns_timeout * 1000),
                 (unsigned)c->main.dns_retry, eb);
    sb_free(&servers);
    return dc;
}
