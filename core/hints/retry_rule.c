/*
 * retry_rule.c - which retry definition applies to a failure, and when to
 *                try again (Exim's retry.c semantics).
 *
 * PURPOSE:   retry_rule_find matches a definition's pattern against the
 *            subject (an address "lp@domain", or a domain or host name) and
 *            its error type against the failure's; retry_next walks the
 *            definition's rules by the time since the first failure.
 * INTERFACE: retry_rule_find, retry_next (core/hints/retrydb.h).
 * ERRORS:    none returned: a regex pattern that does not compile is
 *            logged and matches nothing.
 * Patterns:  "*"; "domain" (= "*@domain": the domain of an address, or a
 *            bare domain/host equal to it, caseless); "*suffix" (e.g.
 *            "*.example.com": a domain ending so); "lp@domain" and
 *            "*@domain" (a local part other than "*" matches addresses
 *            only); "^regex" (POSIX ERE, caseless, on the whole subject).
 * Errors:    "*" all; "timeout" every timeout; "timeout_connect" connect
 *            timeouts (also _A, _MX); "timeout_A" / "timeout_MX" any timeout
 *            to a host found by A / MX; "refused" also refused_A/_MX;
 *            "rcpt_4xx", "rcpt_45x": x matches any digit; "quota" and
 *            "quota_TIME" both match every quota error (XXX: we do not know
 *            when a mailbox was last read, so the TIME is not checked).
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/log.h"
#include "core/conf/conf.h"
#include "core/hints/retrydb.h"

/* Exim's default retry_interval_max: no gap grows beyond a day. */
#define RETRY_INTERVAL_MAX (24LL * 3600)

static int regex_match(const char *pattern, const char *subject)
{
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);

    if (rc != 0) {
        log_warn("retry pattern \"%s\" is not a valid regex", pattern);
        return 0;
    }
    rc = regexec(&re, subject, 0, NULL, 0);
    regfree(&re);
    return rc == 0;
}

/* Domain part of a pattern against a domain: "*", "*suffix", or equal. */
static int domain_match(const char *pat, const char *dom)
{
    size_t pl, dl;

    if (strcmp(pat, "*") == 0)
        return 1;
    if (pat[0] != '*')
        return strcasecmp(pat, dom) == 0;
    pat++;
    pl = strlen(pat);
    dl = strlen(dom);
    return dl >= pl && strcasecmp(dom + dl - pl, pat) == 0;
}

static int pattern_match(const char *pat, const char *subject)
{
    const char *pat_at, *sub_at, *dom = subject;
    size_t plen = 0;

    if (strcmp(pat, "*") == 0)
        return 1;
    if (pat[0] == '^')
        return regex_match(pat, subject);
    pat_at = strrchr(pat, '@');
    sub_at = strrchr(subject, '@');
    if (sub_at != NULL)
        dom = sub_at + 1;
    if (pat_at != NULL) {
        plen = (size_t)(pat_at - pat);
        if (!(plen == 1 && pat[0] == '*')) {        /* a real local part */
            if (sub_at == NULL || (size_t)(sub_at - subject) != plen
                || strncasecmp(pat, subject, plen) != 0)
                return 0;
        }
        pat = pat_at + 1;
    }
    return domain_match(pat, dom);
}

/* "rcpt_4xx" against "rcpt_451": same length, x matches a digit. */
static int code_match(const char *rule, const char *e)
{
    if (strlen(rule) != strlen(e))
        return 0;
    for (; *rule != '\0'; rule++, e++)
        if (*rule != *e && !(*rule == 'x' && *e >= '0' && *e <= '9'))
            return 0;
    return 1;
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int error_match(const char *rule, const char *e)
{
    if (strcmp(rule, "*") == 0 || strcmp(rule, e) == 0)
        return 1;
    if (strcmp(rule, "timeout") == 0 || strcmp(rule, "refused") == 0)
        return has_prefix(e, rule) && (e[strlen(rule)] == '\0'
                                       || e[strlen(rule)] == '_');
    if (strcmp(rule, "timeout_connect") == 0)
        return has_prefix(e, "timeout_connect_");
    if (strcmp(rule, "timeout_A") == 0)
        return strcmp(e, "timeout_connect_A") == 0;
    if (strcmp(rule, "timeout_MX") == 0)
        return strcmp(e, "timeout_connect_MX") == 0;
    if (strcmp(rule, "quota") == 0 || has_prefix(rule, "quota_"))
        return strcmp(e, "quota") == 0 || has_prefix(e, "quota_");
    if (strchr(rule, 'x') != NULL && strchr(rule, '_') != NULL)
        return code_match(rule, e);
    return 0;
}

/* retry_rule_find - the first definition matching subject and errtype */
const struct retry_def *retry_rule_find(const struct conf *c,
                                        const char *subject,
                                        const char *errtype)
{
    if (c == NULL)
        return NULL;
    if (subject == NULL)
        subject = "";
    if (errtype == NULL)
        errtype = "";
    for (size_t i = 0; i < c->nretry; i++) {
        const struct retry_def *d = &c->retry[i];

        if (d->pattern != NULL && d->error != NULL
            && pattern_match(d->pattern, subject)
            && error_match(d->error, errtype))
            return d;
    }
    return NULL;
}

/* The gap before the next try under a G or H rule. The previous gap is
 * the smaller of the one planned and the one that really passed, as in
 * Exim, so a host tried late (no queue run) does not jump ahead. */
static long long geometric_gap(const struct retry_rule *r,
                               const struct retry_rec *rec, long long now)
{
    long long planned = rec->next_try - rec->last_try;
    long long actual = now - rec->last_try;
    long long last = planned < actual ? planned : actual;
    double grown;
    long long next, span;

    if (last < 0)
        last = 0;
    grown = (double)last * r->factor;
    next = grown > (double)RETRY_INTERVAL_MAX ? RETRY_INTERVAL_MAX
                                              : (long long)grown;
    if (r->type == 'G')
        return last < r->interval ? r->interval : next;
    if (next <= r->interval)                            /* 'H' */
        return r->interval;
    span = next - r->interval;
    if (span > UINT32_MAX)
        span = UINT32_MAX;
    return r->interval + span / 2
           + (long long)arc4random_uniform((uint32_t)span) / 2;
}

/* retry_next - set rec->next_try and rec->expired for a failure at now.
 * The rule in force is the first whose cutoff the failing time has not
 * passed (failing <= cutoff, as Exim); past the last cutoff the item has
 * expired and the last rule keeps spacing the tries (Exim does not clamp
 * next_try to the cutoff). No rules at all: expired, next_try = now. */
void retry_next(const struct retry_def *def, struct retry_rec *rec,
                long long now)
{
    const struct retry_rule *r = NULL;
    long long failing = now - rec->first_failed, gap;

    int expired = 1;

    if (def == NULL || def->n == 0) {
        rec->expired = 1;
        rec->next_try = now;
        return;
    }
    for (size_t i = 0; i < def->n; i++) {
        r = &def->rules[i];
        if (failing <= r->until) {
            expired = 0;
            break;
        }
    }
    /* the G and H rules read the previous next_try: set it after */
    gap = r->type == 'F' ? r->interval : geometric_gap(r, rec, now);
    rec->expired = expired;
    if (gap > RETRY_INTERVAL_MAX)
        gap = RETRY_INTERVAL_MAX;
    rec->next_try = now + gap;
}
