/*
 * test_greylistdb.c - unit tests of the greylist hints database
 * (core/hints/greylistdb.c): postgrey's sender normalisation and the keys
 * (case tables), the record codec (round trips and a table of damaged
 * records), the rules with a fixed clock (greylist_decide), and the file:
 * greylistdb_check through a sequence of retries, a damaged record
 * replaced, a lock held by another process answered GREY_BUSY within the
 * bounded wait, and the tidy pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/hints/greylistdb.h"
#include "core/hints/hintsdb.h"
#include "test-suite/unit/tap.h"

#define T0 1700000000LL

static const struct grey_params P = { 300, 2 * 86400, 35 * 86400, 3 };

static const struct { const char *in, *want; } senders[] = {
    { "User@Example.COM", "user@example.com" },
    { "user+list@example.com", "user@example.com" },
    { "bounce-123-456@lists.example", "bounce-#-#@lists.example" },
    { "123@example.com", "#@example.com" },
    { "user123@example.com", "user123@example.com" },
    { "a.42.b@example.com", "a.#.b@example.com" },
    { "x_12@example.com", "x_12@example.com" },
    { "prvs=1234abcdef=joe@example.com", "joe@example.com" },
    { "prvs=@example.com", "prvs=@example.com" },
    { "+only@example.com", "+only@example.com" },
    { "Srs0=x=y@Example.com", "srs0=x=y@example.com" },
    { "", "" },
    { "No-At-Sign-42", "no-at-sign-42" },   /* postgrey: kept as is */
    { "a@b@C.example", "a@b@c.example" },
};

static const struct {
    const char *net, *sender, *rcpt, *want;
} keys[] = {
    { "192.0.2.0/24", "S@X.example", "R@Y.example",
      "T 192.0.2.0/24 s@x.example r@y.example" },
    { "192.0.2.0/24", "", "r@y.example", "T 192.0.2.0/24 <> r@y.example" },
    { "2001:db8::/64", "\"a b\"@x", "p%q@y",
      "T 2001:db8::/64 \"a%20b\"@x p%25q@y" },
    { "192.0.2.0/24", NULL, NULL, "C 192.0.2.0/24" },
};

static const char *const damaged[] = {
    "", "1", "1 ", "2 1 2 3", "1 1 2", "1 1 2 3 ", "1 1 2 3 4", "1 -1 2 3",
    "1 2 1 0", "1 1 2 x", "1 1 2 3\n", "1  1 2 3", "1 1099511627776 "
    "1099511627776 0", "1 1 2 2000000001", "1 1234567890123456 "
    "1234567890123456 0", "x 1 2 3", "1 0 00 0", "1 01 2 3",
};

static void test_norm(void)
{
    struct strbuf sb;

    sb_init(&sb);
    for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
        greylist_norm_sender(senders[i].in, &sb);
        is_str(sb_str(&sb), senders[i].want, senders[i].in);
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ok(greylist_key(keys[i].net, keys[i].sender, keys[i].rcpt, &sb) == 0
           && strcmp(sb_str(&sb), keys[i].want) == 0, "key %s", keys[i].want);
    }
    ok(greylist_key("bad net", "a@b", "c@d", &sb) != 0,
       "a network with a space is refused");
    ok(greylist_key("", "a@b", "c@d", &sb) != 0, "an empty network refused");
    {
        char big[2000];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        ok(greylist_key("192.0.2.0/24", big, big, &sb) == 0
           && sb_len(&sb) <= 3 + 64 + 2 * GREY_ADDR_MAX
           && sb_len(&sb) <= HINTS_KEY_MAX,
           "huge addresses are cut to a usable key (%zu bytes)", sb_len(&sb));
    }
    sb_free(&sb);
}

static void test_codec(void)
{
    struct grey_rec r = { T0, T0 + 400, 7 }, back;
    struct strbuf sb;

    sb_init(&sb);
    greylistdb_encode(&r, &sb);
    is_str(sb_str(&sb), "1 1700000000 1700000400 7", "encode");
    ok(greylistdb_decode(sb_str(&sb), sb_len(&sb), &back) == 0
       && back.first == r.first && back.last == r.last
       && back.passes == r.passes, "decode(encode(r)) == r");
    for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++)
        ok(greylistdb_decode(damaged[i], strlen(damaged[i]), &back) != 0,
           "damaged record %zu refused", i);
    ok(greylistdb_decode("1 1 2 3", 5, &back) != 0,
       "a record cut short (length) is refused");
    sb_free(&sb);
}

/* decide on records kept between calls, as the file would */
struct sim {
    struct grey_rec t, c;
    int have_t, have_c;
};

static struct grey_result step(struct sim *s, long long now)
{
    struct grey_result res;
    int wt, wc;
    struct grey_rec t = s->t, c = s->c;

    greylist_decide(&P, &t, s->have_t, &c, s->have_c, now, &res, &wt, &wc);
    if (wt) {
        s->t = t;
        s->have_t = 1;
    }
    if (wc) {
        s->c = c;
        s->have_c = 1;
    }
    return res;
}

static void test_rules(void)
{
    struct sim s = { .have_t = 0 };
    struct grey_result r;

    r = step(&s, T0);
    ok(r.v == GREY_NEW && r.retry_in == 300, "first sight: new, retry in "
       "300s");
    r = step(&s, T0 + 100);
    ok(r.v == GREY_EARLY && r.retry_in == 200, "retry after 100s: early, "
       "200s more");
    r = step(&s, T0 + 300);
    ok(r.v == GREY_PASSED && r.waited == 300 && r.passes == 1
       && r.client_passes == 1, "retry after exactly the delay passes");
    r = step(&s, T0 + 310);
    ok(r.v == GREY_KNOWN && r.passes == 1 && r.client_passes == 1,
       "a known triplet within the delay: passes, nothing counted");
    r = step(&s, T0 + 700);
    ok(r.v == GREY_KNOWN && r.passes == 2 && r.client_passes == 2
       && !r.now_whitelisted, "after the delay: counted again");
    r = step(&s, T0 + 1100);
    ok(r.v == GREY_KNOWN && r.client_passes == 3 && r.now_whitelisted,
       "the third counted pass whitelists the client (awl 3)");
    s.have_t = 0;                       /* another triplet, same client */
    r = step(&s, T0 + 1200);
    ok(r.v == GREY_WHITELISTED, "a new triplet of a whitelisted client "
       "passes");
    r = step(&s, T0 + 1100 + 35 * 86400 + 1);
    ok(r.v == GREY_NEW, "after the lifetime the client and triplet are "
       "forgotten");

    memset(&s, 0, sizeof(s));
    step(&s, T0);
    r = step(&s, T0 + 2 * 86400 + 1);
    ok(r.v == GREY_NEW, "a retry after the retry window is a first sight "
       "again");
    memset(&s, 0, sizeof(s));
    step(&s, T0);
    step(&s, T0 + 400);
    r = step(&s, T0 + 400 + 35 * 86400 + 1);
    ok(r.v == GREY_NEW, "a passed triplet unseen for the lifetime expires");
    memset(&s, 0, sizeof(s));
    step(&s, T0);
    r = step(&s, T0 - 50);
    ok(r.v == GREY_EARLY && r.retry_in == 300, "a clock that went back "
       "does not pass early");
    ok(strcmp(greylist_state(&P, "T x", &(struct grey_rec){ T0, T0, 0 },
                             T0 + 10), "greylisted") == 0
       && strcmp(greylist_state(&P, "T x", &(struct grey_rec){ T0, T0, 1 },
                                T0 + 10), "passed") == 0
       && strcmp(greylist_state(&P, "C x", &(struct grey_rec){ T0, T0, 3 },
                                T0 + 10), "whitelisted") == 0
       && strcmp(greylist_state(&P, "C x", &(struct grey_rec){ T0, T0, 2 },
                                T0 + 10), "counting") == 0
       && strcmp(greylist_state(&P, "T x", &(struct grey_rec){ T0, T0, 0 },
                                T0 + 3 * 86400), "expired") == 0,
       "states: greylisted, passed, whitelisted, counting, expired");
}

static char tmpdir[] = "/tmp/test_greylistdb.XXXXXX";

static enum grey_status check(const char *rcpt, long long now,
                              struct grey_result *r)
{
    struct errbuf eb;

    errbuf_clear(&eb);
    return greylistdb_check(tmpdir, &P, "192.0.2.0/24", "s@x.example", rcpt,
                            now, r, &eb);
}

static int count_cb(const char *key, const struct grey_rec *r, void *arg)
{
    (void)key;
    (void)r;
    (*(int *)arg)++;
    return 0;
}

/* hold the writer's lock in a child until it is killed */
static pid_t hold_lock(void)
{
    int fds[2];
    pid_t pid;
    char c;

    if (pipe(fds) != 0 || (pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        struct errbuf eb;
        int absent;
        struct hintsdb *db = hintsdb_open(tmpdir, GREY_DB, HINTS_WRITE,
                                          &absent, &eb);
        (void)!write(fds[1], db ? "y" : "n", 1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &c, 1) != 1 || c != 'y')
        pid = -1;
    close(fds[0]);
    return pid;
}

static void test_file(void)
{
    struct grey_result r;
    struct errbuf eb;
    struct timespec a, b;
    size_t n;
    int absent, count = 0;
    pid_t pid;

    ok(check("r@y", T0, &r) == GREY_OK && r.v == GREY_NEW, "file: new");
    ok(check("r@y", T0 + 10, &r) == GREY_OK && r.v == GREY_EARLY,
       "file: early");
    ok(check("r@y", T0 + 301, &r) == GREY_OK && r.v == GREY_PASSED,
       "file: passed");
    ok(check("R@Y", T0 + 302, &r) == GREY_OK && r.v == GREY_KNOWN,
       "file: known (recipient case ignored)");
    {
        struct hintsdb *db = hintsdb_open(tmpdir, GREY_DB, HINTS_WRITE,
                                          &absent, &eb);
        ok(db != NULL && hintsdb_store(db, "T 192.0.2.0/24 s@x.example r@y",
                                       "1 9 x", 5, &eb) == 0
           && hintsdb_close(db, &eb) == 0, "plant a damaged record");
    }
    ok(check("r@y", T0 + 400, &r) == GREY_OK && r.v == GREY_NEW
       && r.damaged, "a damaged record reads as absent and is replaced");
    ok(greylistdb_walk(tmpdir, count_cb, &count, &eb) == 0 && count == 2,
       "walk: the triplet and the client (%d)", count);
    pid = hold_lock();
    ok(pid > 0, "another process holds the lock");
    clock_gettime(CLOCK_MONOTONIC, &a);
    ok(check("r@y", T0 + 401, &r) == GREY_BUSY, "a held lock: GREY_BUSY");
    clock_gettime(CLOCK_MONOTONIC, &b);
    {
        long ms = (b.tv_sec - a.tv_sec) * 1000
                  + (b.tv_nsec - a.tv_nsec) / 1000000;
        ok(ms >= GREY_LOCK_WAIT_MS - 5 && ms < GREY_LOCK_WAIT_MS + 200,
           "after the bounded wait (%ld ms)", ms);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ok(greylistdb_tidy(tmpdir, &P, T0 + 3 * 86400, &n, &eb) == 0 && n == 1,
       "tidy removes the expired triplet, keeps the client (%zu)", n);
    ok(greylistdb_delete_all(tmpdir, &n, &eb) == 0 && n == 1,
       "delete_all removes the rest");
    {
        char rcpt[64];
        int made = 0;
        for (int i = 0; i < 250; i++) {
            snprintf(rcpt, sizeof(rcpt), "r%d@y", i);
            made += check(rcpt, T0 + (i == 7 ? 2 * 86400 : 0), &r)
                    == GREY_OK;
        }
        ok(made == 250 && greylistdb_tidy(tmpdir, &P, T0 + 2 * 86400 + 60,
                                          &n, &eb) == 0 && n == 249,
           "tidy works in batches: 249 of 250 expired (%zu)", n);
        count = 0;
        ok(greylistdb_walk(tmpdir, count_cb, &count, &eb) == 0
           && count == 1, "the fresh one is kept");
    }
}

int main(void)
{
    char cmd[300];

    test_norm();
    test_codec();
    test_rules();
    if (mkdtemp(tmpdir) == NULL)
        return ok(0, "mkdtemp"), done_testing();
    test_file();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        ok(0, "cleanup");
    return done_testing();
}
