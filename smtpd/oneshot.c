/*
 * oneshot.c - -bs and -bh: one SMTP session on stdin/stdout, served by
 *             the same session engine as the daemon, on a private loop.
 */
#include <stdio.h>
#include <string.h>

#include "core/base/ev.h"
#include "core/conf/conf.h"
#include "core/net/dns.h"
#include "core/conf/resolver.h"
#include "core/mail/logfile.h"
#include "smtpd/oneshot.h"
#include "smtpd/smtp_in.h"
#include "core/spool/spool.h"

/* oneshot_smtp - see oneshot.h */
int oneshot_smtp(struct conf *c, const char *client_ip, int fake)
{
    struct ev *ev = ev_new();
    struct smtp_server_opts o = { 0 };
    struct smtp_server *srv;
    struct errbuf eb;

    o.conf = c;
    o.ev = ev;
    o.dns = conf_resolver(c, ev, &eb);
    o.fake = fake;
    o.exit_when_idle = 1;
    if (!fake && (o.spool = spool_open(c->main.spool_directory, ev, &eb))
                 == NULL) {
        printf("421 4.3.0 %s: spool unavailable\r\n",
               c->main.primary_hostname);
        log_panic("cannot open the spool: %s", eb.msg);
        return 75;
    }
    srv = smtp_server_new(&o);
    smtp_session_stdio(srv, client_ip);
    while (!smtp_server_done(srv))
        ev_run_once(ev, -1);
    smtp_server_free(srv);
    spool_close(o.spool);
    dns_free(o.dns);
    ev_free(ev);
    return 0;
}
