/*
 * retry_conf.c - parsing Exim's retry rules: "F,2h,15m; G,16h,1h,1.5;
 *                F,4d,6h" and the error types a rule applies to.
 *
 * PURPOSE: F (fixed interval), G (geometric: interval grows by the factor)
 * and H (like G, with a random interval between the last one and the next
 * G value). Each rule's cutoff counts from the first failure and must grow
 * from rule to rule. A bad rule is refused at load time; scheduling with
 * them is core/hints/retry_rule.c's.
 * INTERFACE: retry_parse_rules, retry_error_valid, retry_default_text.
 * ERRORS: -1 with eb naming the bad rule.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "core/conf/conf_build.h"
#include "core/conf/retry_conf.h"

/* retry_default_text - the rules used when conf.d defines none */
const char *retry_default_text(void)
{
    return "F,2h,15m; G,16h,1h,1.5; F,4d,6h";
}

static int valid_4xx(const char *s)
{
    static const char *const pre[] = { "rcpt_", "mail_", "data_", NULL };

    for (int i = 0; pre[i] != NULL; i++) {
        size_t n = strlen(pre[i]);
        if (strncmp(s, pre[i], n) != 0)
            continue;
        s += n;
        return s[0] == '4' && strlen(s) == 3
               && (isdigit((unsigned char)s[1]) || s[1] == 'x')
               && (isdigit((unsigned char)s[2]) || s[2] == 'x');
    }
    return 0;
}

/* retry_error_valid - "*", "timeout", "refused_MX", "rcpt_4xx", ... */
int retry_error_valid(const char *e)
{
    static const char *const words[] = {
        "*", "auth_failed", "lookup", "lost_connection", "quota",
        "refused", "refused_A", "refused_MX", "timeout", "timeout_A",
        "timeout_MX", "timeout_connect", "timeout_connect_A",
        "timeout_connect_MX", "tls_required", NULL };
    long t;

    for (int i = 0; words[i] != NULL; i++)
        if (strcmp(e, words[i]) == 0)
            return 1;
    if (strncmp(e, "quota_", 6) == 0)
        return conf_parse_time(e + 6, &t) == 0;
    return valid_4xx(e);
}

/* Split one rule "G,16h,1h,1.5" into its comma fields (max 4). */
static int fields_of(char *rule, char **f)
{
    char *save = NULL;
    int n = 0;

    for (char *tok = strtok_r(rule, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && isspace((unsigned char)tok[len - 1]))
            tok[--len] = '\0';
        if (n == 4)
            return -1;
        f[n++] = tok;
    }
    return n;
}

static int parse_rule(char *text, struct retry_rule *r, struct errbuf *eb)
{
    char *f[4], *end, shown[128];
    int n;

    snprintf(shown, sizeof(shown), "%s", text + strspn(text, " \t"));
    shown[strcspn(shown, "\n")] = '\0';
    n = fields_of(text, f);

    if (n < 3 || strlen(f[0]) != 1 || strchr("FGH", f[0][0]) == NULL) {
        errbuf_set(eb, "bad retry rule \"%s\" (F,cutoff,interval or "
                   "G|H,cutoff,interval,factor)", shown);
        return -1;
    }
    r->type = f[0][0];
    if (conf_parse_time(f[1], &r->until) != 0
        || conf_parse_time(f[2], &r->interval) != 0 || r->interval <= 0) {
        errbuf_set(eb, "bad time in retry rule %c,%s,%s", r->type, f[1], f[2]);
        return -1;
    }
    r->factor = 1.0;
    if (r->type == 'F' && n == 3)
        return 0;
    if (r->type == 'F' || n != 4
        || (r->factor = strtod(f[3], &end), *end != '\0') || r->factor <= 1.0) {
        errbuf_set(eb, "retry rule %c needs %s", r->type, r->type == 'F'
                   ? "three fields: F,cutoff,interval"
                   : "a factor above 1: G,cutoff,interval,factor");
        return -1;
    }
    return 0;
}

/* retry_parse_rules - parse "R; R; ..." into r (error type checked too) */
int retry_parse_rules(struct conf *c, const char *text, struct retry_def *r,
                      struct errbuf *eb)
{
    char *copy = pool_strdup(c->pool, text), *save = NULL;
    size_t cap = 1;

    if (!retry_error_valid(r->error)) {
        errbuf_set(eb, "unknown retry error type \"%s\"", r->error);
        return -1;
    }
    for (const char *t = text; *t; t++)
        cap += *t == ';';
    r->rules = pool_zalloc(c->pool, cap * sizeof(*r->rules));
    r->n = 0;
    for (char *tok = strtok_r(copy, ";", &save); tok != NULL;
         tok = strtok_r(NULL, ";", &save)) {
        if (strspn(tok, " \t") == strlen(tok))
            continue;
        if (parse_rule(tok, &r->rules[r->n], eb) != 0)
            return -1;
        if (r->n > 0 && r->rules[r->n].until <= r->rules[r->n - 1].until) {
            errbuf_set(eb, "retry rule cutoffs must increase");
            return -1;
        }
        r->n++;
    }
    if (r->n == 0) {
        errbuf_set(eb, "no retry rules given (e.g. \"F,2h,15m; F,4d,6h\")");
        return -1;
    }
    return 0;
}
