/*
 * test_ratelimit.c - unit tests of the ratelimit arithmetic, records and
 * database (core/hints/ratelimitdb.c) and of the condition's option
 * parser (acl/acl_ratelimit.c).
 *
 * Expected rates are computed here from Exim's formula as its spec states
 * it (a = exp(-i/p), rate = (1 - a) * count / (i/p) + a * old, at least
 * count; the first event: count) with a fixed clock, and compared with what
 * the code stores; the database tests use a spool under a mkdtemp
 * directory: leaky/strict/readonly writes, unique= filters, damaged and
 * hostile records, a lock held by another process (the wait is bounded).
 */
#include <gdbm.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acl/acl_impl.h"
#include "core/base/errbuf.h"
#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/hints/hintsdb.h"
#include "core/hints/ratelimitdb.h"
#include "test-suite/unit/tap.h"

#define T0 1700000000LL

static char tmpdir[] = "/tmp/test_ratelimit.XXXXXX";
static char spool[256];

/* Exim's formula, written out from the specification */
static double exim_rate(double old, double interval, double period,
                        double count)
{
    double a = exp(-interval / period);
    double r = (1 - a) * count / (interval / period) + a * old;

    return r < count ? count : r;
}

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b) + 1);
}

static void test_smooth(void)
{
    static const double cases[][4] = {      /* old, interval, period, n */
        { 1, 1, 3600, 1 }, { 5, 10, 60, 1 }, { 100, 0.001, 3600, 1 },
        { 3, 7200, 3600, 1 }, { 0, 30, 60, 5000 }, { 2.5, 1.5, 2, 1 } };
    double r = 0;
    int burst = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const double *c = cases[i];
        double got = rl_smooth(c[0], c[1], c[2], c[3]);
        ok(near(got, exim_rate(c[0], c[1], c[2], c[3])),
           "rl_smooth(old %g, i %g, p %g, count %g) = %g, Exim's %g", c[0],
           c[1], c[2], c[3], got, exim_rate(c[0], c[1], c[2], c[3]));
    }
    is_int((long long)(rl_smooth(0.5, 1e6, 60, 1) * 1000), 1000,
           "an isolated event after a long silence counts 1 per period");
    ok(isfinite(rl_smooth(3, -5, 60, 1)) && rl_smooth(3, -5, 60, 1) > 3,
       "a clock going back: a tiny interval, a finite rate");
    /* Exim: a fast burst reaches the limit after `limit` events */
    r = 1;
    for (burst = 1; r < 10 && burst < 100; burst++)
        r = rl_smooth(r, 0.01, 3600, 1);
    is_int(burst, 11, "a burst at 100/s against 10/1h: the 11th event is "
           "the first at or over 10");
}

static void test_codec(void)
{
    static const char *const bad[] = {
        "", "1", "1 5 0", "2 5 0 1", "1 -5 0 1", "1 5 1000000 1",
        "1 5 -1 1", "1 5 0 nan", "1 5 0 inf", "1 5 0 -1", "1 5 0 1e400",
        "1 5 0 0x10", "1 5 0 1 x", "1 5 0 1 7", "1 5 0 1 7 abc",
        "1 5 0 1 7 00", "1 5 0 1 -7 " "00000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000",
        "1 5 0 1 7 " "0000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000000A", "1 5 0 1 ", "1 5 0 1  7 00",
        "1 99999999999999999999 0 1" };
    struct rl_rec r, back;
    struct strbuf sb;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(rl_decode(bad[i], strlen(bad[i]), &r) == -1,
           "a damaged record \"%.40s\" is refused", bad[i]);
    ok(rl_decode("1 5 0\0 1", 8, &r) == -1, "an embedded NUL is refused");
    memset(&r, 0, sizeof(r));
    r.sec = T0;
    r.usec = 123456;
    r.rate = 2.0 / 3.0;
    sb_init(&sb);
    rl_encode(&r, &sb);
    ok(rl_decode(sb_str(&sb), sb_len(&sb), &back) == 0 && back.sec == T0
       && back.usec == 123456 && back.rate == r.rate && !back.has_bloom,
       "a record round-trips exactly (%s)", sb_str(&sb));
    r.has_bloom = 1;
    r.bloom_epoch = T0 - 5;
    r.bloom_size = rl_bloom_size(300);
    memset(r.bloom, 0, r.bloom_size);
    ok(rl_bloom_seen(&r, "a@example.com") == 0
       && rl_bloom_seen(&r, "a@example.com") == 1
       && rl_bloom_seen(&r, "b@example.com") == 0,
       "the filter: a new event is not seen, a repeat is");
    sb_reset(&sb);
    rl_encode(&r, &sb);
    ok(rl_decode(sb_str(&sb), sb_len(&sb), &back) == 0 && back.has_bloom
       && back.bloom_size == 600 && back.bloom_epoch == T0 - 5
       && memcmp(back.bloom, r.bloom, 600) == 0,
       "a record with a filter (600 bytes for a limit of 300) round-trips");
    is_int((long long)rl_bloom_size(3), RL_BLOOM_MIN,
           "a small limit gets Exim's smallest filter (40 bytes)");
    is_int((long long)rl_bloom_size(1e9), RL_BLOOM_MAX,
           "a huge limit's filter is bounded");
    sb_free(&sb);
}

static double update(const char *key, double limit, double period,
                     double count, enum rl_update mode, const char *uniq,
                     long long sec, long usec, int *rc)
{
    struct rl_query q = { .spool = spool, .key = key, .limit = limit,
                          .period = period, .count = count, .unique = uniq,
                          .update = mode, .now_sec = sec, .now_usec = usec,
                          .wait_ms = 30 };
    struct errbuf eb;
    double rate = -1;

    *rc = ratelimitdb_update(&q, &rate, &eb);
    if (*rc != 0)
        printf("#   %s\n", eb.msg);
    return rate;
}

static void test_db_modes(void)
{
    double want, got;
    int rc;

    got = update("1h/per_mail/192.0.2.1", 3, 3600, 1, RL_STRICT, NULL, T0,
                 0, &rc);
    ok(rc == 0 && got == 1, "the first event of a key: rate = count");
    want = exim_rate(1, 10.5, 3600, 1);
    got = update("1h/per_mail/192.0.2.1", 3, 3600, 1, RL_STRICT, NULL,
                 T0 + 10, 500000, &rc);
    ok(rc == 0 && near(got, want), "10.5 s later: %.6f, Exim's %.6f", got,
       want);
    for (int i = 0; i < 3; i++) {
        want = exim_rate(want, 1, 3600, 1);
        got = update("1h/per_mail/192.0.2.1", 3, 3600, 1, RL_STRICT, NULL,
                     T0 + 11 + i, 500000, &rc);
    }
    ok(near(got, want) && got > 3, "strict records over-limit events too "
       "(%.6f)", got);
    got = update("1h/per_mail/192.0.2.1", 3, 3600, 0, RL_READONLY, NULL,
                 T0 + 20, 0, &rc);
    ok(rc == 0 && near(got, exim_rate(want, 6.5, 3600, 0)),
       "readonly computes the decayed rate without counting");
    got = update("1h/per_mail/192.0.2.1", 3, 3600, 0, RL_READONLY, NULL,
                 T0 + 20, 0, &rc);
    ok(near(got, exim_rate(want, 6.5, 3600, 0)),
       "and writes nothing (the same answer again)");
    /* leaky: an event over the limit is not recorded */
    update("1h/per_rcpt/leaky", 2, 3600, 1, RL_LEAKY, NULL, T0, 0, &rc);
    want = exim_rate(1, 1, 3600, 1);
    update("1h/per_rcpt/leaky", 2, 3600, 1, RL_LEAKY, NULL, T0 + 1, 0, &rc);
    got = update("1h/per_rcpt/leaky", 2, 3600, 1, RL_LEAKY, NULL, T0 + 2, 0,
                 &rc);
    ok(got >= 2 && near(got, exim_rate(want, 1, 3600, 1)),
       "leaky: the third event is over (%.6f)", got);
    got = update("1h/per_rcpt/leaky", 2, 3600, 1, RL_LEAKY, NULL, T0 + 3, 0,
                 &rc);
    ok(near(got, exim_rate(want, 2, 3600, 1)),
       "leaky: it was not recorded (the next is computed from the second)");
}

static void test_db_unique(void)
{
    const char *ev[] = { "a", "a", "b", "a", "c" };
    double want = 0, got = 0;
    int rc, n = 0;

    for (int i = 0; i < 5; i++) {
        int fresh = 1;
        for (int j = 0; j < i; j++)
            fresh &= strcmp(ev[j], ev[i]) != 0;
        want = i == 0 ? 1 : exim_rate(want, 1, 60, fresh ? 1 : 0);
        got = update("1m/per_rcpt/unique/k", 10, 60, 1, RL_STRICT, ev[i],
                     T0 + i, 0, &rc);
        n += near(got, want);
    }
    is_int(n, 5, "unique=: repeated events count 0, new ones 1");
    got = update("1m/per_rcpt/unique/k", 10, 60, 1, RL_STRICT, "a", T0 + 70,
                 0, &rc);
    ok(near(got, exim_rate(want, 66, 60, 1)),
       "after a period the filter starts again: a seen event counts anew");
}

static void test_db_damaged(void)
{
    struct hintsdb *db;
    struct errbuf eb;
    int absent, rc;
    double got;

    db = hintsdb_open(spool, RL_DB, HINTS_WRITE, &absent, &eb);
    ok(db != NULL, "open the ratelimit file for writing");
    if (db == NULL)
        return;
    hintsdb_store(db, "1h/per_mail/bad", "1 5 0 nan", 9, &eb);
    hintsdb_close(db, &eb);
    got = update("1h/per_mail/bad", 3, 3600, 1, RL_STRICT, NULL, T0, 0, &rc);
    ok(rc == 0 && got == 1, "a hostile record reads as none (rate 1)");
}

static pid_t hold_lock(int hold_ms)
{
    char path[512];
    int p[2];
    pid_t pid;

    snprintf(path, sizeof(path), "%s/db/" RL_DB, spool);
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

static void test_db_lock_bounded(void)
{
    struct timeval a, b;
    int rc, status;
    pid_t pid = hold_lock(1000);
    long ms;

    gettimeofday(&a, NULL);
    update("1h/per_mail/locked", 3, 3600, 1, RL_STRICT, NULL, T0, 0, &rc);
    gettimeofday(&b, NULL);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_usec - a.tv_usec) / 1000;
    ok(rc == -1 && ms < 300, "a file locked by another process: an error "
       "after %ld ms (bounded), not a 2 s wait", ms);
    waitpid(pid, &status, 0);
    update("1h/per_mail/locked", 3, 3600, 1, RL_STRICT, NULL, T0, 0, &rc);
    is_int(rc, 0, "once the lock is gone the update works");
}

static int walk_cb(const char *key, const struct rl_rec *r, void *arg)
{
    struct strbuf *sb = arg;

    sb_printf(sb, "%s=%d;", key, r->has_bloom);
    return 0;
}

static void test_walk(void)
{
    struct strbuf sb;
    struct errbuf eb;

    int rc;

    sb_init(&sb);
    rc = ratelimitdb_walk(spool, walk_cb, &sb, &eb);
    ok(rc == 0
       && strstr(sb_str(&sb), "1h/per_mail/192.0.2.1=0;1h/per_mail/bad=0;")
          != NULL && strstr(sb_str(&sb), "1m/per_rcpt/unique/k=1;") != NULL,
       "walk: every record in key order, filters flagged (%s)", sb_str(&sb));
    sb_free(&sb);
}

static void test_parse(void)
{
    static const struct { const char *value, *hook, *per; int readonly;
                          int strict; const char *key; } good[] = {
        { "100 / 1h / per_rcpt / strict / $sender_host_address", "rcpt",
          "per_rcpt", 0, 1, "$sender_host_address" },
        { "10/1d", "rcpt", "per_mail", 0, 0, NULL },
        { "3 / 10s / per_conn", "connect", "per_conn", 0, 0, NULL },
        { "3 / 10s / per_mail", "connect", "per_mail", 1, 0, NULL },
        { "3 / 10s / PER_CMD / noupdate / a / b", "helo", "per_cmd", 1, 0,
          "a/b" },
        { "2M / 1h / per_byte / key//with//slashes", "data", "per_byte", 0,
          0, "key/with/slashes" },
        { "5 / 1h / per_addr", "rcpt", "per_rcpt", 0, 0, NULL },
        { "5 / 1h / per_addr", "data", "per_rcpt", 1, 0, NULL } };
    struct pool *p = pool_new();
    struct rl_spec s;
    struct errbuf eb;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int rc = acl_ratelimit_parse(p, good[i].value, good[i].hook, 0, &s,
                                     &eb);
        ok(rc == 0 && strcmp(s.per, good[i].per) == 0
           && s.readonly == good[i].readonly && s.strict == good[i].strict
           && (good[i].key ? s.key && strcmp(s.key, good[i].key) == 0
                           : s.key == NULL),
           "parse \"%s\" in %s: %s%s key %s", good[i].value, good[i].hook,
           good[i].per, good[i].readonly ? " readonly" : "",
           good[i].key ? good[i].key : "(default)");
    }
    ok(acl_ratelimit_parse(p, "2M / 1h", "rcpt", 0, &s, &eb) == 0
       && s.limit == 2.0 * 1024 * 1024 && s.period == 3600,
       "2M is 2 MiB, 1h 3600 s");
    ok(acl_ratelimit_parse(p, "5 / 1h / per_addr", "rcpt", 0, &s, &eb) == 0
       && s.unique_addr && s.cache == RL_CACHE_CMD,
       "per_addr at RCPT counts distinct recipients");
    ok(acl_ratelimit_parse(p, "$x / $y", "rcpt", 1, &s, &eb) == 0
       && acl_ratelimit_parse(p, "$x / $y", "rcpt", 0, &s, &eb) == -1,
       "$variables in LIMIT/PERIOD: accepted at load, checked after "
       "expansion");
    pool_free(p);
}

int main(void)
{
    char cmd[300];

    if (mkdtemp(tmpdir) == NULL)
        return 2;
    snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
    if (mkdir(spool, 0755) != 0)
        return 2;
    test_smooth();
    test_codec();
    test_parse();
    test_db_modes();
    test_db_unique();
    test_db_damaged();
    test_db_lock_bounded();
    test_walk();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return done_testing();
}
