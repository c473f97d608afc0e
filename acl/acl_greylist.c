/*
 * acl_greylist.c - the greylist condition (tern's own, with postgrey's
 *                  rules and defaults): true while the triplet (client
 *                  network, sender, recipient) is greylisted.
 *
 * PURPOSE: `defer { greylist = true }` answers a triplet's first sight,
 * and its retries before greylist_delay, with "450 4.7.1 <rcpt>:
 * Recipient address rejected: Please try again in N minutes" (unless the
 * statement has its own message); a retry after the delay, within
 * greylist_retry_window, makes the condition false and the triplet is
 * remembered (core/hints/greylistdb.c). The value is "true" (the main
 * options' settings) or options separated by "/": delay=TIME,
 * retry_window=TIME, lifetime=TIME, auto_whitelist=N, netmask_v4=N,
 * netmask_v6=N. Every decision is logged in the main log and left in
 * $greylist_result and $greylist_wait.
 * INTERFACE: acl_greylist (the step), acl_greylist_check (load time).
 * ERRORS:  the database busy for more than GREY_LOCK_WAIT_MS (another
 *          process holds its lock) or unusable: the condition defers
 *          (451 4.3.0, nothing recorded) and says so in the main log.
 * SECURITY: the sender and recipient come from the client: normalised
 *          and escaped into keys (greylistdb.c), escaped in log lines.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "acl/acl_impl.h"
#include "core/base/log.h"
#include "core/hints/greylistdb.h"
#include "core/mail/logfile.h"
#include "core/net/netaddr.h"

struct grey_opts {
    struct grey_params p;
    long net4, net6;
};

static int set_num(const char *name, const char *v, long max, long *out,
                   struct errbuf *eb)
{
    char *end;
    long n = strtol(v, &end, 10);

    if (*v < '0' || *v > '9' || *end != '\0' || n > max) {
        errbuf_set(eb, "greylist: %s must be a number from 0 to %ld, got "
                   "\"%s\"", name, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int set_time(const char *name, const char *v, long *out,
                    struct errbuf *eb)
{
    if (conf_parse_time(v, out) != 0) {
        errbuf_set(eb, "greylist: %s must be a time (5m, 2d, 30s), got "
                   "\"%s\"", name, v);
        return -1;
    }
    return 0;
}

/* one "name=value" option (NUL-terminated copy) */
static int one_opt(char *opt, struct grey_opts *o, struct errbuf *eb)
{
    char *eq = strchr(opt, '=');

    if (eq == NULL)
        goto bad;
    *eq++ = '\0';
    if (strcmp(opt, "delay") == 0)
        return set_time(opt, eq, &o->p.delay, eb);
    if (strcmp(opt, "retry_window") == 0)
        return set_time(opt, eq, &o->p.window, eb);
    if (strcmp(opt, "lifetime") == 0)
        return set_time(opt, eq, &o->p.lifetime, eb);
    if (strcmp(opt, "auto_whitelist") == 0)
        return set_num(opt, eq, 1000000, &o->p.awl, eb);
    if (strcmp(opt, "netmask_v4") == 0)
        return set_num(opt, eq, 32, &o->net4, eb);
    if (strcmp(opt, "netmask_v6") == 0)
        return set_num(opt, eq, 128, &o->net6, eb);
    eq[-1] = '=';
bad:
    errbuf_set(eb, "greylist: unknown option \"%s\" (delay=, retry_window=, "
               "lifetime=, auto_whitelist=, netmask_v4=, netmask_v6=)", opt);
    return -1;
}

static int sane(const struct grey_opts *o, struct errbuf *eb)
{
    if (o->p.window <= o->p.delay) {
        errbuf_set(eb, "greylist: the retry window (%lds) must be longer "
                   "than the delay (%lds)", o->p.window, o->p.delay);
        return -1;
    }
    if (o->p.lifetime < o->p.window) {
        errbuf_set(eb, "greylist: the lifetime (%lds) must be at least the "
                   "retry window (%lds)", o->p.lifetime, o->p.window);
        return -1;
    }
    if (o->p.awl < 0 || o->net4 < 0 || o->net4 > 32 || o->net6 < 0
        || o->net6 > 128) {
        errbuf_set(eb, "greylist: greylist_auto_whitelist must be 0 or "
                   "more, greylist_netmask_v4 0..32, greylist_netmask_v6 "
                   "0..128");
        return -1;
    }
    return 0;
}

/* the main options, then the statement's: 0 or -1 with eb */
static int parse_opts(const struct conf *c, const char *value,
                      struct grey_opts *o, struct errbuf *eb)
{
    const struct conf_main *m = &c->main;
    char *copy, *tok, *save = NULL;
    int rc = 0;

    *o = (struct grey_opts){ { m->greylist_delay, m->greylist_retry_window,
                               m->greylist_lifetime,
                               m->greylist_auto_whitelist },
                             m->greylist_netmask_v4, m->greylist_netmask_v6 };
    if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0)
        return sane(o, eb);
    if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0) {
        errbuf_set(eb, "greylist = %s makes no sense: leave the condition "
                   "out", value);
        return -1;
    }
    copy = strdup(value);
    if (copy == NULL) {
        errbuf_set(eb, "greylist: out of memory");
        return -1;
    }
    for (tok = strtok_r(copy, "/", &save); tok != NULL && rc == 0;
         tok = strtok_r(NULL, "/", &save))
        rc = one_opt(tok + strspn(tok, " "), o, eb);
    free(copy);
    if (rc == 0 && strspn(value, "/ ") == strlen(value)) {
        errbuf_set(eb, "greylist: say \"true\" or give options "
                   "(delay=5m/...), got \"%s\"", value);
        rc = -1;
    }
    return rc == 0 ? sane(o, eb) : -1;
}

/* acl_greylist_check - see acl_impl.h */
int acl_greylist_check(struct conf *c, const struct xval *value,
                       struct grey_opts **out, struct errbuf *eb)
{
    struct grey_opts o;

    if (value->fn >= 0 || value->str == NULL) {
        errbuf_set(eb, "greylist takes true or options (\"delay=5m/...\"), "
                   "not a function");
        return -1;
    }
    if (strchr(value->str, '$') != NULL) {
        errbuf_set(eb, "greylist: options are constants, no $variables: "
                   "\"%s\"", value->str);
        return -1;
    }
    if (parse_opts(c, value->str, &o, eb) != 0)
        return -1;
    *out = pool_alloc(c->pool, sizeof(o));
    **out = o;
    return 0;
}

/* "a.b.c.0/24" for the client's address; -1 if it is not one */
static int client_net(const char *ip, const struct grey_opts *o,
                      char *buf, size_t size)
{
    static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                0, 0xff, 0xff };
    struct netaddr a;
    char text[64];
    int bits, len = 16;

    if (netaddr_parse(ip, strlen(ip), &a) != 0)
        return -1;
    if (a.family == AF_INET6 && memcmp(a.bytes, v4mapped, 12) == 0) {
        memmove(a.bytes, a.bytes + 12, 4);
        a.family = AF_INET;
    }
    if (a.family == AF_INET)
        len = 4;
    bits = (int)(a.family == AF_INET ? o->net4 : o->net6);
    for (int i = 0; i < len; i++) {
        int keep = bits - 8 * i;
        a.bytes[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0
                      : (unsigned char)(0xff << (8 - keep));
    }
    netaddr_format(&a, text, sizeof(text));
    return snprintf(buf, size, "%s/%d", text, bits) < (int)size ? 0 : -1;
}

/* "N minutes" (rounded up) or "N seconds" */
static const char *when(struct acl_check *chk, long long secs)
{
    long long n = secs >= 60 ? (secs + 59) / 60 : secs;

    return pool_printf(chk->pool, "%lld %s%s", n,
                       secs >= 60 ? "minute" : "second", n == 1 ? "" : "s");
}

static void log_decision(struct acl_check *chk, const char *what)
{
    struct strbuf sb;

    sb_init(&sb);
    sb_printf(&sb, "H=[%s] F=<", chk->req->client_ip);
    logfile_escape_str(&sb, chk->req->sender);
    sb_puts(&sb, "> RCPT <");
    logfile_escape_str(&sb, chk->req->rcpt);
    sb_printf(&sb, ">: greylist: %s", what);
    log_main("%s", sb_str(&sb));
    acl_trace(chk, "greylist: %s", what);
    sb_free(&sb);
}

/* $greylist_result (new, early, passed, known, whitelisted) and
 * $greylist_wait ("5 minutes" until a retry can pass, or "") for the
 * statement's message and later statements */
static void set_vars(struct acl_check *chk, const struct grey_result *r)
{
    static const char *const names[] = {
        [GREY_NEW] = "new", [GREY_EARLY] = "early", [GREY_PASSED] = "passed",
        [GREY_KNOWN] = "known", [GREY_WHITELISTED] = "whitelisted" };
    int grey = r->v == GREY_NEW || r->v == GREY_EARLY;

    if (chk->req->msg_vars == NULL)
        return;
    acl_var_set(chk->req->msg_vars, "greylist_result", 15, names[r->v]);
    acl_var_set(chk->req->msg_vars, "greylist_wait", 13,
                grey ? when(chk, r->retry_in) : "");
}

/* the words for a decision, and the condition's answer */
static enum cond_result decided(struct acl_check *chk, const char *net,
                                const struct grey_result *r)
{
    const char *w = NULL, *awl = "";

    if (r->now_whitelisted)
        awl = pool_printf(chk->pool, "; client %s auto-whitelisted after %ld "
                          "passes", net, r->client_passes);
    switch (r->v) {
    case GREY_NEW:
        w = pool_printf(chk->pool, "new triplet from %s, deferred for %llds",
                        net, r->retry_in);
        break;
    case GREY_EARLY:
        w = pool_printf(chk->pool, "early retry from %s, deferred for %llds "
                        "more", net, r->retry_in);
        break;
    case GREY_PASSED:
        w = pool_printf(chk->pool, "passed after %llds%s", r->waited, awl);
        break;
    case GREY_KNOWN:
        w = pool_printf(chk->pool, "known triplet passed (%ld pass%s)%s",
                        r->passes, r->passes == 1 ? "" : "es", awl);
        break;
    case GREY_WHITELISTED:
        w = pool_printf(chk->pool, "client %s auto-whitelisted (%ld passes)",
                        net, r->client_passes);
        break;
    }
    log_decision(chk, w);
    set_vars(chk, r);
    if (r->v != GREY_NEW && r->v != GREY_EARLY)
        return C_NO;
    chk->dflt_msg = pool_printf(chk->pool, "450 4.7.1 <%s>: Recipient "
                                "address rejected: Please try again in %s",
                                chk->req->rcpt, when(chk, r->retry_in));
    return C_YES;
}

/* acl_greylist - the step: C_YES greylisted, C_NO not (or not
 * applicable: local submission), C_DEFER the database could not be used */
enum cond_result acl_greylist(struct acl_check *chk,
                              const struct grey_opts *o)
{
    const struct acl_req *q = chk->req;
    struct grey_result r;
    struct errbuf eb;
    char net[80];

    if (q->client_ip == NULL || q->client_ip[0] == '\0' || q->rcpt == NULL)
        return C_NO;
    if (client_net(q->client_ip, o, net, sizeof(net)) != 0) {
        chk->cond_msg = "greylist: bad client address";
        return C_DEFER;
    }
    switch (greylistdb_check(q->conf->main.spool_directory, &o->p, net,
                             q->sender, q->rcpt, (long long)time(NULL), &r,
                             &eb)) {
    case GREY_BUSY:
        log_decision(chk, pool_printf(chk->pool, "database busy (locked for "
                                      "more than %dms), deferred",
                                      GREY_LOCK_WAIT_MS));
        chk->cond_msg = "greylist database busy";
        return C_DEFER;
    case GREY_ERROR:
        log_decision(chk, pool_printf(chk->pool, "%s, deferred", eb.msg));
        chk->cond_msg = pool_printf(chk->pool, "greylist: %s", eb.msg);
        return C_DEFER;
    case GREY_OK:
        break;
    }
    return decided(chk, net, &r);
}
