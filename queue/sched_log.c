/*
 * sched_log.c - the delivery lines of the main log, in Exim's shape
 *               (DESIGN §10):
 *   ID => ADDR <TOP> R=router T=transport H=host [ip] X=cipher C="reply"
 *   ID -> ...        (further recipients of the same attempt)
 *   ID ** ADDR <TOP> R=router T=transport H=host [ip]: reason
 *   ID == ADDR <TOP> R=router T=transport defer (errno) H=..: reason
 * "<TOP>" appears when the address delivered differs from the envelope
 * recipient it came from (aliases, forwards).
 * SECURITY: addresses, host names (DNS), remote replies and reasons (a
 * pipe command's output) are hostile: each goes through logfile_escape.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/esc.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/mail/logfile.h"
#include "queue/sched_impl.h"

/* slog_line - a main log line for the message */
void slog_line(struct smsg *m, const char *fmt, ...)
{
    struct strbuf sb;
    va_list ap;

    sb_init(&sb);
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    log_main("%s %s", m->id, sb_str(&sb));
    sb_free(&sb);
}

/* slog_esc - s escaped for a log field (logfile_escape), from m's pool
 * (s itself when nothing needs escaping) */
const char *slog_esc(struct smsg *m, const char *s)
{
    struct strbuf sb;
    const char *out;

    if (s == NULL || !esc_needed(s, strlen(s), ESC_BACKSLASH))
        return s;
    sb_init(&sb);
    logfile_escape(&sb, s, strlen(s));
    out = pool_strdup(m->pool, sb_str(&sb));
    sb_free(&sb);
    return out;
}

/* slog_errno - Exim's number for a deferral's error type, "defer (N)" */
int slog_errno(const char *errtype)
{
    static const struct { const char *pre; int n; } map[] = {
        { "timeout", 110 }, { "refused", 111 }, { "rcpt_", -44 },
        { "mail_", -45 }, { "data_", -46 }, { "quota", -22 },
        { "lost_connection", -18 }, { "tls_required", -41 },
        { "auth_failed", -42 }, { "never_users", -29 },
        { "retry_wait_addr", -52 },
        { "retry_wait", -53 }, { NULL, 0 } };

    for (int i = 0; map[i].pre != NULL; i++)
        if (strncmp(errtype, map[i].pre, strlen(map[i].pre)) == 0)
            return map[i].n;
    return -1;
}

static void head(struct strbuf *sb, const struct dlv_batch *b,
                 const struct dlv_rcpt *r)
{
    logfile_escape_str(sb, r->address);
    if (strcmp(r->address, r->top) != 0) {
        sb_puts(sb, " <");
        logfile_escape_str(sb, r->top);
        sb_putc(sb, '>');
    }
    if (r->router != NULL)
        sb_printf(sb, " R=%s", r->router->name);
    sb_printf(sb, " T=%s", b->tp->name);
}

static void host(struct strbuf *sb, const struct dlv_batch *b,
                 const struct dlv_rcpt *r)
{
    const struct route_host *h;
    int port;

    if (r->host < 0 || (size_t)r->host >= b->nhosts)
        return;
    h = &b->hosts[r->host];
    port = dlv_host_port(b, (size_t)r->host);
    sb_puts(sb, " H=");
    logfile_escape_str(sb, h->name);
    sb_printf(sb, " [%s]", h->ip ? h->ip : "");
    if (port != 25)
        sb_printf(sb, ":%d", port);
}

/* slog_delivery - the line for r's outcome */
void slog_delivery(struct smsg *m, const struct dlv_batch *b,
                   const struct dlv_rcpt *r)
{
    struct strbuf sb;

    sb_init(&sb);
    if (r->status == DLV_OK) {
        sb_puts(&sb, m->logged_first ? "-> " : "=> ");
        m->logged_first = 1;
        head(&sb, b, r);
        host(&sb, b, r);
        if (r->host >= 0 && b->tls_cipher[0] != '\0')
            sb_printf(&sb, " X=%s", b->tls_cipher);
        if (r->code > 0) {
            sb_puts(&sb, " C=\"");
            logfile_escape_str(&sb, r->msg);
            sb_putc(&sb, '"');
        }
    } else if (r->status == DLV_FAIL) {
        sb_puts(&sb, "** ");
        head(&sb, b, r);
        host(&sb, b, r);
        sb_puts(&sb, ": ");
        logfile_escape_str(&sb, r->msg);
    } else {
        sb_puts(&sb, "== ");
        head(&sb, b, r);
        sb_printf(&sb, " defer (%d)", slog_errno(r->errtype));
        host(&sb, b, r);
        sb_puts(&sb, ": ");
        logfile_escape_str(&sb, r->msg);
    }
    slog_line(m, "%s", sb_str(&sb));
    sb_free(&sb);
}
