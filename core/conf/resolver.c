/*
 * resolver.c - a resolver configured from main{} (dns_servers joined as
 *              "ip[:port],..." for c-ares; unset: /etc/resolv.conf),
 *              remembering dns_answer_cache answers for their TTLs.
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
    if (dc != NULL && c->main.dns_answer_cache > 0)
        dns_set_memo(dc, (size_t)c->main.dns_answer_cache);
    sb_free(&servers);
    return dc;
}
