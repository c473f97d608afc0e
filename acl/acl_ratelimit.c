/*
 * acl_ratelimit.c - the ratelimit ACL condition, with Exim's syntax and
 *                   semantics:
 *
 *     ratelimit = LIMIT / PERIOD / OPTIONS... / KEY
 *
 * PURPOSE: true when the client's smoothed rate (core/hints/
 * ratelimitdb.h) is at or above LIMIT events per PERIOD. Options:
 * per_mail (default), per_conn, per_byte, per_cmd, per_rcpt, per_addr;
 * leaky (default: an over-limit event is not recorded), strict (it is),
 * readonly / noupdate (nothing recorded or counted); count=N, unique=EVENT
 * (each distinct EVENT counted once per period: a Bloom filter). KEY
 * defaults to $sender_host_address. The value is expanded at check
 * time, as Exim does, then split on "/" ("//" is a literal slash);
 * acl_conf.c parses it once at load time too, so a malformed one is
 * refused then. As Exim, a rate is computed once per connection
 * (per_conn), per message (per_mail, per_byte, per_rcpt after RCPT) or per
 * command (per_cmd, per_rcpt and per_addr at RCPT, readonly) and later
 * uses in that span reuse it. $sender_rate, $sender_rate_limit and
 * $sender_rate_period are set in the connection's variables.
 * INTERFACE: acl_ratelimit_parse, acl_ratelimit (acl_impl.h).
 * ERRORS:    a value that does not parse after expansion, or a database
 *            that cannot be used within RL_WAIT_MS, defers (451), as
 *            Exim defers when its database is not available.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "acl/acl_impl.h"
#include "core/mail/logfile.h"
#include "core/hints/ratelimitdb.h"
#include "core/mail/expand.h"

#define RL_WAIT_MS 30           /* longest a worker waits for the lock */
#define RL_MAX_ITEMS 64

/* The next "/"-separated item of *p, trimmed, "//" kept as "/"; NULL at
 * the end. */
static char *next_item(struct pool *pool, const char **p)
{
    const char *s = *p;
    struct strbuf sb;
    char *out;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return NULL;
    sb_init(&sb);
    for (; *s != '\0'; s++) {
        if (*s == '/' && s[1] == '/')
            s++;
        else if (*s == '/')
            break;
        sb_putc(&sb, *s);
    }
    *p = *s == '/' ? s + 1 : s;
    while (sb_len(&sb) > 0 && (sb_str(&sb)[sb_len(&sb) - 1] == ' '
                               || sb_str(&sb)[sb_len(&sb) - 1] == '\t'))
        sb_truncate(&sb, sb_len(&sb) - 1);
    out = pool_strdup(pool, sb_str(&sb));
    sb_free(&sb);
    return out;
}

/* LIMIT: a number >= 0, optionally K, M or G (Exim's per_byte sizes) */
static int parse_limit(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || strspn(s, "0123456789.") == 0)
        return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024.0; end++; break;
    case 'm': case 'M': v *= 1024.0 * 1024.0; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024.0 * 1024.0; end++; break;
    default: break;
    }
    if (*end != '\0' || !isfinite(v) || v < 0.0)
        return -1;
    *out = v;
    return 0;
}

static int in_list(const char *hook, const char *const *hooks)
{
    for (; *hooks != NULL; hooks++)
        if (strcmp(*hooks, hook) == 0)
            return 1;
    return 0;
}

/* Exim's "message" ACLs (where <= ACL_WHERE_NOTSMTP) */
static int msg_acl(const char *hook)
{
    static const char *const h[] = { "rcpt", "mail", "predata", "mime",
                                     "data", "not_smtp", NULL };
    return in_list(hook, h);
}

/* One per_* option for hook into s; -1 when a per_* was given already */
static int set_per(struct rl_spec *s, const char *opt, const char *hook)
{
    int rcpt = strcmp(hook, "rcpt") == 0;

    if (s->per != NULL)
        return -1;
    s->per = opt;
    s->cache = RL_CACHE_CMD;
    if (strcmp(opt, "per_conn") == 0) {
        s->cache = RL_CACHE_CONN;
        s->badacl = strcmp(hook, "not_smtp") == 0;
    } else if (strcmp(opt, "per_mail") == 0) {
        s->cache = RL_CACHE_MAIL;
        s->badacl = !msg_acl(hook);
    } else if (strcmp(opt, "per_byte") == 0) {
        s->cache = RL_CACHE_MAIL;
        s->badacl = !msg_acl(hook);
        s->count_from = RL_COUNT_BYTES;
    } else if (strcmp(opt, "per_rcpt") == 0) {
        s->badacl = !msg_acl(hook) || strcmp(hook, "mail") == 0;
        if (!rcpt && !s->badacl) {
            s->cache = RL_CACHE_MAIL;
            s->count_from = RL_COUNT_RCPTS;
        }
    } else if (strcmp(opt, "per_addr") == 0) {
        s->per = "per_rcpt";            /* Exim keys it so */
        s->badacl = !rcpt;
        s->unique_addr = rcpt;
        s->unique = rcpt ? NULL : "*";
    }
    return 0;
}

/* the option's canonical spelling if w is a per_* option, else NULL */
static const char *is_per(const char *w)
{
    static const char *const pers[] = { "per_conn", "per_mail", "per_byte",
                                        "per_cmd", "per_rcpt", "per_addr",
                                        NULL };
    for (const char *const *p = pers; *p != NULL; p++)
        if (strcasecmp(*p, w) == 0)
            return *p;
    return NULL;
}

static int one_option(struct pool *pool, struct rl_spec *s, const char *w,
                      const char *hook, int loading, struct errbuf *eb)
{
    const char *per = is_per(w);

    if (strcasecmp(w, "leaky") == 0)
        s->leaky = 1;
    else if (strcasecmp(w, "strict") == 0)
        s->strict = 1;
    else if (strcasecmp(w, "noupdate") == 0)
        s->noupdate = 1;
    else if (strcasecmp(w, "readonly") == 0)
        s->readonly = 1;
    else if (per != NULL) {
        if (set_per(s, per, hook) != 0)
            return errbuf_set(eb, "ratelimit: conflicting per_* options"),
                   -1;
    } else if (strncasecmp(w, "count=", 6) == 0) {
        char *end;
        if (loading && strchr(w, '$') != NULL)
            return 0;
        s->count = strtod(w + 6, &end);
        if (*end != '\0' || !isfinite(s->count)   /* "count=" is 0 */
            || s->count < 0.0)
            return errbuf_set(eb, "ratelimit: \"%s\" is not a positive "
                              "number", w), -1;
        s->count_from = RL_COUNT_FIXED;
    } else if (strncasecmp(w, "unique=", 7) == 0) {
        s->unique = w + 7;
        s->unique_addr = 0;
    } else
        s->key = s->key == NULL ? w : pool_printf(pool, "%s/%s", s->key, w);
    return 0;
}

static int head_fields(struct pool *pool, struct rl_spec *s, const char **p,
                       int loading, struct errbuf *eb)
{
    long period = 0;

    if ((s->limit_s = next_item(pool, p)) == NULL)
        return errbuf_set(eb, "ratelimit: sender rate limit not set"), -1;
    if (!(loading && strchr(s->limit_s, '$') != NULL)
        && parse_limit(s->limit_s, &s->limit) != 0)
        return errbuf_set(eb, "ratelimit: \"%s\" is not a positive number",
                          s->limit_s), -1;
    s->period_s = next_item(pool, p);
    if (s->period_s != NULL && loading && strchr(s->period_s, '$') != NULL)
        return 0;
    if (s->period_s == NULL || conf_parse_time(s->period_s, &period) != 0
        || period <= 0)
        return errbuf_set(eb, "ratelimit: \"%s\" is not a time value",
                          s->period_s ? s->period_s : ""), -1;
    s->period = (double)period;
    return 0;
}

/* acl_ratelimit_parse - see acl_impl.h */
int acl_ratelimit_parse(struct pool *pool, const char *value,
                        const char *hook, int loading, struct rl_spec *s,
                        struct errbuf *eb)
{
    const char *p = value;
    char *w;
    int n = 0;

    memset(s, 0, sizeof(*s));
    s->count = 1.0;
    s->cache = RL_CACHE_MAIL;
    if (head_fields(pool, s, &p, loading, eb) != 0)
        return -1;
    while ((w = next_item(pool, &p)) != NULL)
        if (++n > RL_MAX_ITEMS)
            return errbuf_set(eb, "ratelimit: too many options"), -1;
        else if (one_option(pool, s, w, hook, loading, eb) != 0)
            return -1;
    if (s->leaky + s->strict + s->readonly > 1)
        return errbuf_set(eb, "ratelimit: conflicting update modes"), -1;
    if (s->badacl && (s->leaky || s->strict) && !s->noupdate)
        return errbuf_set(eb, "ratelimit: \"%s\" must not have /leaky or "
                          "/strict option, or cannot be used in %s ACL",
                          s->per, hook), -1;
    if (s->noupdate)
        s->readonly = 1, s->leaky = s->strict = 0;
    if (s->badacl)
        s->readonly = 1;
    if (s->per == NULL)
        s->per = "per_mail";
    return 0;
}

/* The count of this event: 1, count=, the recipients or the bytes. */
static double event_count(const struct acl_check *chk, const struct rl_spec *s)
{
    if (s->readonly)
        return 0.0;
    switch (s->count_from) {
    case RL_COUNT_RCPTS: return (double)chk->req->nrcpts;
    case RL_COUNT_BYTES: return chk->req->message_size < 0 ? 0.0
                                : (double)chk->req->message_size;
    default: return s->count;
    }
}

struct rl_seen {
    struct rl_seen *next;
    const char *key;
    double rate;
};

/* A rate computed earlier in this span: 1 found (into *rate). */
static int cached(struct acl_check *chk, int cache, const char *key,
                  double *rate)
{
    const struct acl_vars *v = cache == RL_CACHE_CONN ? chk->req->rate_conn
                               : cache == RL_CACHE_MAIL ? chk->req->rate_msg
                               : NULL;
    const char *val;

    if (cache == RL_CACHE_CMD) {
        for (const struct rl_seen *e = chk->rate_cmd; e; e = e->next)
            if (strcmp(e->key, key) == 0)
                return *rate = e->rate, 1;
        return 0;
    }
    if ((val = acl_var_get(v, key, strlen(key))) == NULL)
        return 0;
    *rate = strtod(val, NULL);
    return 1;
}

static void remember(struct acl_check *chk, int cache, const char *key,
                     double rate)
{
    struct acl_vars *v = cache == RL_CACHE_CONN ? chk->req->rate_conn
                         : cache == RL_CACHE_MAIL ? chk->req->rate_msg : NULL;
    struct rl_seen *e;

    if (v != NULL) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.17g", rate);
        acl_var_set(v, key, strlen(key), buf);
        return;
    }
    e = pool_zalloc(chk->pool, sizeof(*e));
    e->key = pool_strdup(chk->pool, key);
    e->rate = rate;
    e->next = chk->rate_cmd;
    chk->rate_cmd = e;
}

static void set_var(struct acl_check *chk, const char *name,
                    const char *value)
{
    acl_var_set(chk->req->conn_vars, name, strlen(name), value);
}

/* Expand and parse the value for this check; C_YES when usable. */
static enum cond_result prepare(struct acl_check *chk, const char *value,
                                struct rl_spec *s)
{
    struct xvars v;
    struct errbuf eb;
    const char *text;

    acl_xvars(chk, &v);
    if (expand_string(value, &v, chk->pool, &text, &eb) != 0
        || acl_ratelimit_parse(chk->pool, text, chk->req->hook, 0, s, &eb)
           != 0) {
        chk->cond_msg = pool_strdup(chk->pool, eb.msg);
        return C_DEFER;
    }
    if (s->unique_addr)
        s->unique = chk->req->rcpt ? chk->req->rcpt : "";
    set_var(chk, "sender_rate_limit", s->limit_s);
    set_var(chk, "sender_rate_period", s->period_s);
    return C_YES;
}

static int db_rate(struct acl_check *chk, const struct rl_spec *s,
                   const char *key, double *rate)
{
    struct rl_query q = { .spool = chk->req->conf->main.spool_directory,
                          .key = key, .limit = s->limit, .period = s->period,
                          .count = event_count(chk, s), .unique = s->unique,
                          .update = s->readonly ? RL_READONLY
                                    : s->strict ? RL_STRICT : RL_LEAKY,
                          .wait_ms = RL_WAIT_MS };
    struct timeval tv;
    struct errbuf eb;
    struct strbuf sb;

    gettimeofday(&tv, NULL);
    q.now_sec = tv.tv_sec;
    q.now_usec = tv.tv_usec;
    if (ratelimitdb_update(&q, rate, &eb) == 0)
        return 0;
    sb_init(&sb);                       /* the key may be client data */
    logfile_escape_str(&sb, eb.msg);
    log_main("H=[%s] ratelimit database not available: %s",
             chk->req->client_ip ? chk->req->client_ip : "", sb_str(&sb));
    sb_free(&sb);
    chk->cond_msg = pool_printf(chk->pool, "ratelimit database not "
                                "available: %s", eb.msg);
    return -1;
}

/* acl_ratelimit - the condition; see the top of this file */
enum cond_result acl_ratelimit(struct acl_check *chk, const char *value)
{
    struct rl_spec s;
    const char *key;
    double rate;
    int cache;

    if (prepare(chk, value, &s) != C_YES)
        return C_DEFER;
    key = pool_printf(chk->pool, "%s/%s/%s%s", s.period_s, s.per,
                      s.unique ? "unique/" : "",
                      s.key ? s.key : chk->req->client_ip
                                      ? chk->req->client_ip : "");
    cache = s.readonly ? RL_CACHE_CMD : s.cache;
    if (!cached(chk, cache, key, &rate)) {
        if (db_rate(chk, &s, key, &rate) != 0)
            return C_DEFER;
        remember(chk, cache, key, rate);
    }
    set_var(chk, "sender_rate", pool_printf(chk->pool, "%.1f", rate));
    acl_trace(chk, "ratelimit %s: rate %.1f, limit %s", key, rate,
              s.limit_s);
    return rate < s.limit ? C_NO : C_YES;
}
