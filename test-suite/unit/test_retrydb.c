/*
 * test_retrydb.c - unit tests of the retry rules (core/hints/retry_rule.c) and
 * the retry hints database (core/hints/retrydb.c).
 *
 * Rule matching is a table {pattern, error, subject, errtype, want};
 * scheduling walks F, G, H and the cutoffs with a fixed clock; the
 * database tests use a spool under a mkdtemp directory (removed at the
 * end): round trips, first_failed kept, damaged records, lock waits and
 * two processes writing at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gdbm.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/conf/conf.h"
#include "core/conf/conf_build.h"
#include "core/hints/retrydb.h"
#include "test-suite/unit/tap.h"

#define T0 1700000000LL
#define H 3600LL

static char tmpdir[] = "/tmp/test_retrydb.XXXXXX";
static char spool[256];

static struct retry_rule rules_f[] = { { 'F', 2 * H, 900, 1.0 },
                                       { 'F', 96 * H, 6 * H, 1.0 } };
static struct retry_rule rules_g[] = { { 'G', 16 * H, H, 1.5 } };
static struct retry_rule rules_h[] = { { 'H', 16 * H, H, 2.0 } };
static struct retry_rule rules_big[] = { { 'G', 60 * 24 * H, 24 * H, 10 } };

static const struct match_case {
    const char *pattern, *error, *subject, *errtype;
    int want;
} matches[] = {
    { "*", "*", "a@b.example", "timeout", 1 },
    { "*", "*", "mx.example", "", 1 },
    { "b.example", "*", "a@b.example", "refused", 1 },
    { "b.example", "*", "A@B.Example", "refused", 1 },
    { "b.example", "*", "b.example", "refused", 1 },
    { "b.example", "*", "c.example", "refused", 0 },
    { "b.example", "*", "a@xb.example", "refused", 0 },
    { "*.example.com", "*", "mx1.example.com", "timeout", 1 },
    { "*.example.com", "*", "u@a.b.example.com", "timeout", 1 },
    { "*.example.com", "*", "example.com", "timeout", 0 },
    { "*@b.example", "*", "x@b.example", "quota", 1 },
    { "*@b.example", "*", "b.example", "quota", 1 },
    { "*@b.example", "*", "x@c.example", "quota", 0 },
    { "lp@b.example", "*", "lp@b.example", "quota", 1 },
    { "lp@b.example", "*", "LP@b.example", "quota", 1 },
    { "lp@b.example", "*", "lq@b.example", "quota", 0 },
    { "lp@b.example", "*", "b.example", "quota", 0 },
    { "^[a-z]+@b\\.example$", "*", "abc@b.example", "quota", 1 },
    { "^[a-z]+@b\\.example$", "*", "a1@b.example", "quota", 0 },
    { "^mx[0-9]\\.", "*", "mx3.example", "timeout", 1 },
    { "^(", "*", "mx3.example", "timeout", 0 },
    { "*", "rcpt_4xx", "a@b", "rcpt_451", 1 },
    { "*", "rcpt_45x", "a@b", "rcpt_451", 1 },
    { "*", "rcpt_45x", "a@b", "rcpt_421", 0 },
    { "*", "rcpt_4xx", "a@b", "mail_451", 0 },
    { "*", "rcpt_4xx", "a@b", "rcpt_4512", 0 },
    { "*", "mail_4xx", "a@b", "mail_452", 1 },
    { "*", "timeout", "h", "timeout", 1 },
    { "*", "timeout", "h", "timeout_connect", 1 },
    { "*", "timeout", "h", "timeout_A", 1 },
    { "*", "timeout", "h", "timeout_MX", 1 },
    { "*", "timeout", "h", "timeoutx", 0 },
    { "*", "timeout_connect", "h", "timeout_connect", 1 },
    { "*", "timeout_connect", "h", "timeout_connect_MX", 1 },
    { "*", "timeout_connect", "h", "timeout", 0 },
    { "*", "timeout_connect", "h", "timeout_A", 0 },
    { "*", "timeout_A", "h", "timeout_A", 1 },
    { "*", "timeout_A", "h", "timeout_connect_A", 1 },
    { "*", "timeout_A", "h", "timeout_MX", 0 },
    { "*", "timeout_MX", "h", "timeout_connect_MX", 1 },
    { "*", "refused", "h", "refused", 1 },
    { "*", "refused", "h", "refused_MX", 1 },
    { "*", "refused", "h", "refused_A", 1 },
    { "*", "refused_MX", "h", "refused_A", 0 },
    { "*", "refused_MX", "h", "refused_MX", 1 },
    { "*", "quota", "a@b", "quota", 1 },
    { "*", "quota", "a@b", "quota_7d", 1 },
    { "*", "quota_7d", "a@b", "quota", 1 },
    { "*", "quota", "a@b", "timeout", 0 },
    { "*", "auth_failed", "h", "auth_failed", 1 },
    { "*", "auth_failed", "h", "tls_required", 0 },
    { "*", "timeout", "h", "", 0 },
};

static struct conf *one_def(struct conf *c, struct retry_def *d,
                            const char *pattern, const char *error,
                            struct retry_rule *r, size_t n)
{
    memset(c, 0, sizeof(*c));
    memset(d, 0, sizeof(*d));
    d->pattern = pattern;
    d->error = error;
    d->rules = r;
    d->n = n;
    c->retry = d;
    c->nretry = 1;
    return c;
}

static void test_match(void)
{
    for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
        const struct match_case *m = &matches[i];
        struct conf c;
        struct retry_def d;
        const struct retry_def *got;

        one_def(&c, &d, m->pattern, m->error, rules_f, 2);
        got = retry_rule_find(&c, m->subject, m->errtype);
        ok((got == &d) == m->want, "rule \"%s %s\" %s \"%s\" %s",
           m->pattern, m->error, m->want ? "matches" : "does not match",
           m->subject, m->errtype);
    }
}

static void test_first_match(void)
{
    struct retry_def d[3];
    struct conf c;

    memset(&c, 0, sizeof(c));
    d[0] = (struct retry_def){ .pattern = "a.example", .error = "timeout",
                               .rules = rules_g, .n = 1 };
    d[1] = (struct retry_def){ .pattern = "*.example", .error = "*",
                               .rules = rules_h, .n = 1 };
    d[2] = (struct retry_def){ .pattern = "*", .error = "*",
                               .rules = rules_f, .n = 2 };
    c.retry = d;
    c.nretry = 3;
    ok(retry_rule_find(&c, "u@a.example", "timeout_MX") == &d[0],
       "first matching definition wins");
    ok(retry_rule_find(&c, "u@a.example", "refused") == &d[1],
       "error type mismatch goes on to the next definition");
    ok(retry_rule_find(&c, "u@other.org", "refused") == &d[2],
       "catch-all last");
    c.nretry = 2;
    ok(retry_rule_find(&c, "u@other.org", "refused") == NULL,
       "no matching definition: NULL");
    ok(retry_rule_find(NULL, "x", "y") == NULL, "no configuration: NULL");
}

/* One failure at now: as retrydb_fail does, next from the rule, then
 * last_try = now. */
static void fail_at(const struct retry_def *d, struct retry_rec *r,
                    long long now)
{
    retry_next(d, r, now);
    r->last_try = now;
}

static void fresh(struct retry_rec *r, long long now)
{
    memset(r, 0, sizeof(*r));
    r->first_failed = r->last_try = r->next_try = now;
}

static void test_fixed(void)
{
    struct retry_def d = { .pattern = "*", .error = "*", .rules = rules_f,
                           .n = 2 };
    struct retry_rec r;

    fresh(&r, T0);
    fail_at(&d, &r, T0);
    is_int(r.next_try, T0 + 900, "F: first failure, next in 15m");
    is_int(r.expired, 0, "F: not expired");
    fail_at(&d, &r, T0 + 2 * H);
    is_int(r.next_try, T0 + 2 * H + 900, "F: at the cutoff the rule holds");
    fail_at(&d, &r, T0 + 2 * H + 1);
    is_int(r.next_try, T0 + 2 * H + 1 + 6 * H, "F: past 2h, next rule (6h)");
    fail_at(&d, &r, T0 + 96 * H);
    is_int(r.expired, 0, "F: at the final cutoff: not yet expired");
    fail_at(&d, &r, T0 + 96 * H + 1);
    is_int(r.expired, 1, "F: past the final cutoff: expired");
    is_int(r.next_try, T0 + 96 * H + 1 + 6 * H,
           "expired: last rule still spaces the tries");
    fresh(&r, T0);
    retry_next(NULL, &r, T0 + 5);
    ok(r.expired == 1 && r.next_try == T0 + 5, "no rule: expired, next now");
}

static void test_geometric(void)
{
    struct retry_def d = { .pattern = "*", .error = "*", .rules = rules_g,
                           .n = 1 };
    struct retry_rec r;
    long long now = T0, want[] = { H, H * 3 / 2, H * 9 / 4, H * 27 / 8 };

    fresh(&r, T0);
    for (size_t i = 0; i < 4; i++) {
        char name[64];

        fail_at(&d, &r, now);
        snprintf(name, sizeof(name), "G: gap %zu is %llds", i + 1, want[i]);
        is_int(r.next_try - now, want[i], name);
        now = r.next_try;
    }
    /* tried early (20m after a 3.375h plan): grows from the 20m gap, not
     * below the rule's interval */
    now = r.last_try + 1200;
    fail_at(&d, &r, now);
    is_int(r.next_try - now, H, "G: early try: gap back to the interval");
    d.rules = rules_big;
    fresh(&r, T0);
    fail_at(&d, &r, T0);
    fail_at(&d, &r, T0 + 24 * H);
    is_int(r.next_try - r.last_try, 24 * H,
           "G: gap capped at a day (retry_interval_max)");
}

static void test_heuristic(void)
{
    struct retry_def d = { .pattern = "*", .error = "*", .rules = rules_h,
                           .n = 1 };
    struct retry_rec r;
    long long now = T0, prev = 0;
    int inside = 1;

    fresh(&r, T0);
    for (int i = 0; i < 8; i++) {
        long long gap, hi;

        fail_at(&d, &r, now);
        gap = r.next_try - now;
        hi = 2 * prev > H ? 2 * prev : H;
        if (hi > 24 * H)
            hi = 24 * H;                /* retry_interval_max */
        if (gap < H || gap > hi || (2 * prev > H && gap < H + (hi - H) / 2)) {
            inside = 0;
            printf("#   step %d: gap %lld outside [%lld, %lld]\n", i, gap, H,
                   hi);
        }
        prev = gap;
        now = r.next_try;
    }
    ok(inside, "H: every gap in [interval + (g - interval) / 2, g], g = "
       "factor x last gap (at most a day)");
}

static void test_default_rules(void)
{
    char dir[300], cmd[700];
    struct errbuf eb = { "" };
    const struct retry_def *d;
    struct retry_rec r;
    struct conf *c;
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/conf", tmpdir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/main", dir);
    if (system(cmd) != 0)
        abort();
    snprintf(cmd, sizeof(cmd), "%s/main/00.lua", dir);
    if ((f = fopen(cmd, "w")) == NULL || fputs("main { }\n", f) < 0
        || fclose(f) != 0)
        abort();
    c = conf_load(dir, &eb);
    if (!ok(c != NULL, "configuration without retry loads"))
        printf("#   %s\n", eb.msg);
    if (c == NULL)
        return;
    d = retry_rule_find(c, "u@any.example", "timeout_connect_MX");
    ok(d != NULL && d->n == 3, "default rule * * has three rules");
    fresh(&r, T0);
    fail_at(d, &r, T0);
    is_int(r.next_try - T0, 900, "default: 15m at first");
    fail_at(d, &r, T0 + 3 * H);
    is_int(r.next_try - r.last_try, H, "default: G phase starts at 1h");
    fail_at(d, &r, T0 + 4 * H);
    is_int(r.next_try - r.last_try, H * 3 / 2, "default: then 1.5h");
    fail_at(d, &r, T0 + 20 * H);
    is_int(r.next_try - r.last_try, 6 * H, "default: after 16h, 6h");
    fail_at(d, &r, T0 + 97 * H);
    is_int(r.expired, 1, "default: expired after 4 days");
    conf_free(c);
}

static void test_codec(void)
{
    static const char *const bad[] = {
        "", "2 1 2 3 0 timeout x", "1 1 2 3 0 timeout", "1 1 2 3 2 t x",
        "1 a 2 3 0 t x", "1 1 2 3 0  x", "1 1 2 3 0", "1 1  2 3 0 t x",
        "1 99999999999999999999 2 3 0 t x",
        "1 -9223372036854775807 2 3 0 t x", "1 1 2 9223372036854775807 0 t x",
        "1 1 2 3 0 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x",
    };
    struct retry_rec r = { T0, T0 + 1, T0 + 2, 1, "rcpt_451", "" }, back;
    struct strbuf sb;
    int all = 1;

    snprintf(r.text, sizeof(r.text), "451 try\r\nlater\x01");
    sb_init(&sb);
    retrydb_encode(&r, &sb);
    is_str(sb.data, "1 1700000000 1700000001 1700000002 1 rcpt_451 "
           "451 try??later?", "encoded form");
    ok(retrydb_decode(sb.data, sb.len, &back) == 0
       && back.first_failed == T0 && back.next_try == T0 + 2
       && back.expired == 1 && strcmp(back.errtype, "rcpt_451") == 0
       && strcmp(back.text, "451 try??later?") == 0, "decode round trip");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (retrydb_decode(bad[i], strlen(bad[i]), &back) == 0) {
            all = 0;
            printf("#   accepted \"%s\"\n", bad[i]);
        }
    ok(all, "damaged encodings are refused");
    ok(retrydb_decode("1 1 2 3 0 t a\0b", 15, &back) != 0,
       "a NUL inside a record is damage");
    sb_free(&sb);
}

static struct retry_def all_def = { .pattern = "*", .error = "*",
                                    .rules = rules_f, .n = 2 };
static struct conf all_conf = { .nretry = 1, .retry = &all_def };

static int count_cb(const char *key, const struct retry_rec *r, void *arg)
{
    struct strbuf *sb = arg;

    sb_printf(sb, "%s=%s;", key, r->errtype);
    return 0;
}

/* The keys and error types of every record, in walk order. */
static const char *walk_text(struct strbuf *sb)
{
    struct errbuf eb = { "" };

    sb_reset(sb);
    if (retrydb_walk(spool, count_cb, sb, &eb) != 0)
        sb_printf(sb, "ERROR %s", eb.msg);
    return sb->data;
}

static void test_db_roundtrip(void)
{
    struct errbuf eb = { "" };
    struct retry_rec r, g;
    struct stat st;
    char path[512];
    int rc;

    is_int(retrydb_get(spool, "T:mx.example:192.0.2.1", &g, &eb), 0,
           "get before the file exists: none");
    is_int(retrydb_clear(spool, "T:none", &eb), 0, "clear without a file");
    rc = retrydb_fail(spool, &all_conf, "T:mx.example:192.0.2.1",
                      "mx.example", "timeout_connect", "connect timed out",
                      T0, &r, &eb);
    if (!is_int(rc, 0, "fail records"))
        printf("#   %s\n", eb.msg);
    ok(r.first_failed == T0 && r.last_try == T0 && r.next_try == T0 + 900
       && !r.expired, "fail: first, last and next try");
    snprintf(path, sizeof(path), "%s/db", spool);
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0750, "db dir 0750");
    snprintf(path, sizeof(path), "%s/db/retry", spool);
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "file 0640");
    is_int(retrydb_get(spool, "T:mx.example:192.0.2.1", &g, &eb), 1,
           "get finds it");
    ok(memcmp(&g, &r, sizeof(g)) == 0 || (g.first_failed == r.first_failed
       && g.next_try == r.next_try && strcmp(g.text, r.text) == 0
       && strcmp(g.errtype, r.errtype) == 0), "get returns what fail stored");
    rc = retrydb_fail(spool, &all_conf, "T:mx.example:192.0.2.1",
                      "mx.example", "refused", "refused", T0 + 3 * H, &r, &eb);
    ok(rc == 0 && r.first_failed == T0 && r.last_try == T0 + 3 * H
       && r.next_try == T0 + 9 * H && strcmp(r.errtype, "refused") == 0,
       "second failure keeps first_failed, next rule");
    rc = retrydb_fail(spool, &all_conf, "T:mx.example:192.0.2.1",
                      "mx.example", "refused", "refused", T0 + 97 * H, &r,
                      &eb);
    ok(rc == 0 && r.expired == 1 && r.first_failed == T0,
       "failing past the final cutoff: expired");
    rc = retrydb_fail(spool, &all_conf, "T:mx.example:192.0.2.1",
                      "mx.example", "refused", "x", T0 + 97 * H + 8 * 24 * H,
                      &r, &eb);
    ok(rc == 0 && r.first_failed == T0 + 97 * H + 8 * 24 * H && !r.expired,
       "a record untouched for over 7 days starts afresh");
    is_int(retrydb_clear(spool, "T:mx.example:192.0.2.1", &eb), 0, "clear");
    is_int(retrydb_get(spool, "T:mx.example:192.0.2.1", &g, &eb), 0,
           "cleared record is gone");
    is_int(retrydb_clear(spool, "T:mx.example:192.0.2.1", &eb), 0,
           "clear of an absent key is success");
}

static void test_db_nomatch_and_walk(void)
{
    struct retry_def d = { .pattern = "other.example", .error = "*",
                           .rules = rules_f, .n = 2 };
    struct conf c = { .nretry = 1, .retry = &d };
    struct errbuf eb = { "" };
    struct retry_rec r;
    struct strbuf sb;

    ok(retrydb_fail(spool, &c, "R:u@b.example", "u@b.example", "quota",
                    "over quota", T0, &r, &eb) == 0
       && r.expired == 1 && r.next_try == T0,
       "no matching rule: expired at once, next try now");
    ok(retrydb_fail(spool, NULL, "R:b.example", "b.example", "lookup", "",
                    T0, &r, &eb) == 0 && r.expired == 1,
       "no configuration: expired at once");
    (void)retrydb_fail(spool, &all_conf, "T:b:1", "b", "timeout", "t", T0,
                       NULL, &eb);
    (void)retrydb_fail(spool, &all_conf, "T:a:1", "a", "refused", "t", T0,
                       NULL, &eb);
    sb_init(&sb);
    is_str(walk_text(&sb), "R:b.example=lookup;R:u@b.example=quota;"
           "T:a:1=refused;T:b:1=timeout;", "walk in key order");
    is_int(retrydb_delete(spool, "T:a:1", &eb), 1, "delete: 1 removed");
    is_int(retrydb_delete(spool, "T:a:1", &eb), 0, "delete again: 0");
    is_int(retrydb_delete(spool, "", &eb), -1, "delete of an empty key: -1");
    is_str(walk_text(&sb), "R:b.example=lookup;R:u@b.example=quota;"
           "T:b:1=timeout;", "walk after delete");
    sb_free(&sb);
}

/* Store raw bytes under key with gdbm itself, as a damaged file would. */
static void put_raw(const char *key, const char *val, size_t len)
{
    char path[512];
    GDBM_FILE db;
    datum k = { (char *)key, (int)strlen(key) }, v = { (char *)val, (int)len };

    snprintf(path, sizeof(path), "%s/db/retry", spool);
    db = gdbm_open(path, 0, GDBM_WRCREAT, 0640, NULL);
    if (db == NULL || gdbm_store(db, k, v, GDBM_REPLACE) != 0
        || gdbm_close(db) != 0)
        abort();
}

static void test_db_damaged(void)
{
    struct errbuf eb = { "" };
    struct retry_rec r;
    struct strbuf sb;
    size_t n;

    put_raw("T:bad:1", "\x01\x02garbage\0\xff", 11);
    is_int(retrydb_get(spool, "T:bad:1", &r, &eb), 0,
           "damaged record reads as absent");
    put_raw("T:bad:2", "1 5 6 7 0", 9);
    is_int(retrydb_get(spool, "T:bad:2", &r, &eb), 0,
           "truncated record reads as absent");
    sb_init(&sb);
    ok(strstr(walk_text(&sb), "bad") == NULL && strstr(sb.data, "T:b:1"),
       "walk skips damaged records");
    ok(retrydb_fail(spool, &all_conf, "T:bad:1", "bad", "timeout", "t",
                    T0 + H, &r, &eb) == 0 && r.first_failed == T0 + H,
       "a failure over a damaged record starts afresh");
    put_raw("T:old:1", "1 100 200 300 0 timeout old text", 32);
    ok(retrydb_get(spool, "T:old:1", &r, &eb) == 1 && r.first_failed == 100
       && strcmp(r.text, "old text") == 0, "a hand-written record reads");
    put_raw("T:bad:3", "junk", 4);
    n = 0;
    if (!ok(retrydb_delete_all(spool, &n, &eb) == 0 && n == 7,
            "delete_all removes every record, damaged ones too"))
        printf("#   %zu removed: %s\n", n, eb.msg);
    is_str(walk_text(&sb), "", "nothing left after delete_all");
    ok(retrydb_fail(spool, &all_conf, "T:b:1", "b", "timeout", "t", T0,
                    NULL, &eb) == 0, "the file is usable afterwards");
    sb_free(&sb);
}

/* A child holds the writer's lock for hold_ms; we try meanwhile. */
static pid_t hold_lock(int hold_ms)
{
    char path[512];
    int p[2];
    pid_t pid;

    snprintf(path, sizeof(path), "%s/db/retry", spool);
    if (pipe(p) != 0 || (pid = fork()) < 0)
        abort();
    if (pid == 0) {
        GDBM_FILE db = gdbm_open(path, 0, GDBM_WRITER, 0640, NULL);
        struct timespec ts = { hold_ms / 1000, (hold_ms % 1000) * 1000000L };

        if (db == NULL || write(p[1], "x", 1) != 1)
            _exit(1);
        nanosleep(&ts, NULL);
        _exit(gdbm_close(db) != 0);
    }
    close(p[1]);
    if (read(p[0], path, 1) != 1)
        abort();
    close(p[0]);
    return pid;
}

static void test_db_locking(void)
{
    struct errbuf eb = { "" };
    struct retry_rec r;
    int status, rc;
    pid_t pid;

    pid = hold_lock(300);
    rc = retrydb_fail(spool, &all_conf, "T:lock:1", "lock", "timeout", "t",
                      T0, &r, &eb);
    if (!is_int(rc, 0, "a writer waits for a short lock"))
        printf("#   %s\n", eb.msg);
    waitpid(pid, &status, 0);
    pid = hold_lock(300);
    is_int(retrydb_get(spool, "T:lock:1", &r, &eb), 1,
           "a reader waits for a writer's lock");
    waitpid(pid, &status, 0);
    pid = hold_lock(3000);
    rc = retrydb_fail(spool, &all_conf, "T:lock:2", "lock", "timeout", "t",
                      T0, &r, &eb);
    ok(rc == -1 && strstr(eb.msg, "cannot open") != NULL,
       "a lock held over 2 seconds: error");
    printf("#   %s\n", eb.msg);
    waitpid(pid, &status, 0);
}

static int count_prefix(const char *key, const struct retry_rec *r,
                        void *arg)
{
    (void)r;
    if (strncmp(key, "T:par", 5) == 0)
        (*(int *)arg)++;
    return 0;
}

static void test_db_concurrent(void)
{
    struct errbuf eb = { "" };
    pid_t pid[2];
    int status, bad = 0, n = 0;

    for (int c = 0; c < 2; c++) {
        if ((pid[c] = fork()) < 0)
            abort();
        if (pid[c] == 0) {
            int fails = 0;

            for (int i = 0; i < 200; i++) {
                char key[64];

                snprintf(key, sizeof(key), "T:par%d-%03d:192.0.2.%d", c, i,
                         i % 250);
                fails += retrydb_fail(spool, &all_conf, key, "par", "timeout",
                                      "t", T0, NULL, &eb) != 0;
            }
            _exit(fails > 0);
        }
    }
    for (int c = 0; c < 2; c++)
        if (waitpid(pid[c], &status, 0) != pid[c] || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0)
            bad++;
    is_int(bad, 0, "two writers: every retrydb_fail succeeded");
    is_int(retrydb_walk(spool, count_prefix, &n, &eb), 0, "walk after them");
    is_int(n, 400, "two writers: all 400 keys present");
}

int main(void)
{
    char cmd[300];

    if (mkdtemp(tmpdir) == NULL)
        return 2;
    snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
    if (mkdir(spool, 0755) != 0)
        return 2;
    test_match();
    test_first_match();
    test_fixed();
    test_geometric();
    test_heuristic();
    test_default_rules();
    test_codec();
    test_db_roundtrip();
    test_db_nomatch_and_walk();
    test_db_damaged();
    test_db_locking();
    test_db_concurrent();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return done_testing();
}
