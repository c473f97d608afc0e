/*
 * test_spool.c - unit tests of the spool (core/spool*.c, core/spool/msgid.c,
 * core/base/safe_io.c).
 *
 * PURPOSE: message ids (shape, uniqueness, order, decoding); envelope and
 *          data round trips with hostile bytes; group commit through a real
 *          event loop; synchronous commit; abort; every kind of damage
 *          refused by spool_read with its reason, then quarantined;
 *          journals; spool_list, spool_remove, spool_tidy; disk full on a
 *          64 KiB tmpfs (root only, else skipped).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/base/safe_io.h"
#include "core/spool/spool.h"
#include "test-suite/unit/tap.h"

static char top[256];           /* a scratch directory for this run */

/* ---- helpers ----------------------------------------------------------- */

/* fmt - snprintf for test paths (truncation cannot happen under /tmp) */
__attribute__((format(printf, 3, 4)))
static void fmt(char *buf, size_t size, const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(buf, size, f, ap);
    va_end(ap);
}

static int rm_cb(const char *path, const struct stat *st, int flag,
                 struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    (void)nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *path_of(const char *dir, const char *sub, const char *id)
{
    static char buf[512];

    fmt(buf, sizeof buf, "%s/%s/%c/%s", dir, sub, id[MSGID_LEN - 1], id);
    return buf;
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* count_entries - files in dir/input/<c>/ whose name starts with prefix */
static int count_entries(const char *dir, const char *prefix)
{
    static const char b62[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char path[512];
    int n = 0;

    for (int i = 0; i < 62; i++) {
        struct dirent *de;
        DIR *d;

        fmt(path, sizeof path, "%s/input/%c", dir, b62[i]);
        if ((d = opendir(path)) == NULL)
            continue;
        while ((de = readdir(d)) != NULL)
            if (strncmp(de->d_name, prefix, strlen(prefix)) == 0
                && strcmp(de->d_name, ".") != 0
                && strcmp(de->d_name, "..") != 0)
                n++;
        closedir(d);
    }
    return n;
}

static char *slurp_path(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0
        && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        *len = fread(buf, 1, (size_t)n, f);
    }
    fclose(f);
    return buf;
}

static void write_path(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

static void env_init(struct spool_env *env)
{
    memset(env, 0, sizeof(*env));
    msgid_new(env->id);
    env->sender = "sender@example.org";
    env->helo = "client.example.org";
    env->client_ip = "192.0.2.1";
    env->client_port = 25000;
    env->client_name = "client.example.org";
    env->protocol = "esmtp";
    env->auth_id = "";
    env->tls_cipher = "";
    env->body_type = "8BITMIME";
    env->local_user = "";
    env->received_sec = 1700000000;
    env->received_usec = 123456;
}

static const char *rcpt1[] = { "rcpt@example.net" };

/* write_sync - a message with data through a spool without ev */
static int last_rc;
static char last_why[256];
static int ncb;

static void count_cb(int rc, const char *why, void *arg)
{
    (void)arg;
    last_rc = rc;
    fmt(last_why, sizeof last_why, "%s", why ? why : "(null)");
    ncb++;
}

static int write_msg(struct spool *sp, const struct spool_env *env,
                     const void *data, size_t len)
{
    struct errbuf eb;
    struct spool_writer *w = spool_writer_new(sp, env, &eb);

    if (w == NULL) {
        printf("# writer_new: %s\n", eb.msg);
        return -1;
    }
    if (spool_writer_write(w, data, len) < 0) {
        spool_writer_abort(w);
        return -1;
    }
    last_rc = 99;
    spool_commit(w, count_cb, NULL);
    return last_rc;
}

/* ---- ids --------------------------------------------------------------- */

static void test_id_shape(void)
{
    char id[MSGID_LEN + 1];
    long long sec, pid;
    long usec;
    struct timeval before, after;

    gettimeofday(&before, NULL);
    msgid_new(id);
    gettimeofday(&after, NULL);
    is_int((long long)strlen(id), 23, "id is 23 characters");
    ok(id[6] == '-' && id[18] == '-', "id has dashes at 6 and 18: %s", id);
    ok(msgid_valid(id), "msgid_valid accepts a new id");
    ok(msgid_decode(id, &sec, &pid, &usec) == 0, "id decodes");
    ok(sec >= before.tv_sec && sec <= after.tv_sec, "seconds decode back");
    is_int(pid, getpid(), "pid decodes back");
    ok(usec >= 0 && usec < 1000000, "microseconds in range");
    ok(sec * 1000000 + usec >= (long long)before.tv_sec * 1000000 + before.tv_usec
       && sec * 1000000 + usec <= (long long)after.tv_sec * 1000000 + after.tv_usec,
       "time decodes to the moment of minting");
}

static void test_id_known(void)
{
    long long sec, pid;
    long usec;

    ok(msgid_decode("1r1Ihg-0000000000A-000z", &sec, &pid, &usec) == 0,
       "a hand-made id decodes");
    is_int(pid, 10, "pid digit A is 10");
    is_int(usec, 61, "usec digit z is 61");
    is_int(sec, ((((1LL * 62 + 53) * 62 + 1) * 62 + 18) * 62 + 43) * 62 + 42,
           "seconds digits in Exim's order 0-9A-Za-z");
}

static void test_id_invalid(void)
{
    static const char *bad[] = {
        "", "1r1Ihg-0000000000A-000", "1r1Ihg-0000000000A-000zz",
        "1r1Ihg_0000000000A-000z", "1r1Ihg-0000000000A+000z",
        "1r1Ih!-0000000000A-000z", ".tmp.1r1Ihg-0000000000A-0",
        "1r1Ihg-0000000000A-000z.J", "1r1Ihg-0000000000A-00 z",
    };
    int all = 1;
    long long s, p;
    long u;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (msgid_valid(bad[i]) || msgid_decode(bad[i], &s, &p, &u) == 0) {
            printf("# accepted \"%s\"\n", bad[i]);
            all = 0;
        }
    ok(all, "malformed ids are refused");
    ok(!msgid_valid(NULL), "NULL id refused");
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_id_unique(void)
{
    enum { N = 10000 };
    static char ids[N][MSGID_LEN + 1];
    int mono = 1, uniq = 1;

    for (int i = 0; i < N; i++) {
        msgid_new(ids[i]);
        if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
            mono = 0;
    }
    ok(mono, "10000 ids strictly increasing in minting order");
    qsort(ids, N, sizeof ids[0], cmp_id);
    for (int i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            uniq = 0;
    ok(uniq, "10000 ids all different");
}

/* ---- round trips ------------------------------------------------------- */

static int env_equal(const struct spool_env *a, const struct spool_env *b)
{
#define S(f) (strcmp(a->f ? a->f : "", b->f ? b->f : "") == 0)
    int same = strcmp(a->id, b->id) == 0 && S(sender) && S(helo)
               && S(client_ip) && S(client_name) && S(protocol)
               && S(auth_id) && S(tls_cipher) && S(body_type)
               && S(local_user) && a->client_port == b->client_port
               && a->smtputf8 == b->smtputf8 && a->frozen == b->frozen
               && a->received_sec == b->received_sec
               && a->received_usec == b->received_usec
               && a->nrcpt == b->nrcpt && a->nvars == b->nvars;

    for (size_t i = 0; same && i < a->nrcpt; i++)
        same = strcmp(a->rcpts[i], b->rcpts[i]) == 0;
    for (size_t i = 0; same && i < a->nvars; i++)
        same = strcmp(a->vars[i].name, b->vars[i].name) == 0
               && S(vars[i].value);
    return same;
#undef S
}

/* hostile_rcpts - 1000 recipients with CR LF, space, %, DEL, 8-bit */
static const char **hostile_rcpts(void)
{
    static char rbuf[1000][40];
    static const char *rcpts[1000];

    for (int i = 0; i < 1000; i++) {
        fmt(rbuf[i], sizeof rbuf[i], "r%d%s@ex\xc3\xa9.org", i,
            i % 3 == 0 ? "\r\n" : i % 3 == 1 ? " %" : "\x7f");
        rcpts[i] = rbuf[i];
    }
    return rcpts;
}

static void test_round_trip_hostile(struct spool *sp)
{
    static const struct spool_var vars[] = {
        { "acl_m_plain", "value" },
        { "acl_m_hostile", "a b%c\r\nd\x01\x7f\xff\xc3\xa9 " },
        { "acl_c_empty", "" },
        { "acl m%name\twith\nodd", "%%%" },
    };
    unsigned char data[512];
    struct spool_env env;
    struct spool_msg m;
    struct errbuf eb;

    env_init(&env);
    env.sender = "";
    env.helo = "bad\r\nhelo %41 \x1b[31m\xe2\x98\x83";
    env.client_name = " lead and trail ";
    env.auth_id = "user%40x";
    env.tls_cipher = "TLS_AES_256_GCM_SHA384";
    env.smtputf8 = 1;
    env.frozen = 1;
    env.client_port = 65535;
    env.received_usec = 999999;
    env.rcpts = hostile_rcpts();
    env.nrcpt = 1000;
    env.vars = vars;
    env.nvars = sizeof(vars) / sizeof(vars[0]);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7);   /* every byte value, NUL too */
    is_int(write_msg(sp, &env, data, sizeof data), 0,
           "hostile envelope committed synchronously");
    ok(spool_read(sp, env.id, &m, &eb) == 0, "hostile envelope read back%s%s",
       eb.msg[0] ? ": " : "", eb.msg);
    ok(env_equal(&env, &m.env), "every envelope field survives");
    ok(m.len == sizeof data && memcmp(m.data, data, sizeof data) == 0,
       "data with NUL and 8-bit bytes survives");
    ok(m.data[m.len] == '\0', "data is NUL-terminated");
    ok(m.env.rcpts[1000] == NULL, "recipient array ends with NULL");
    spool_msg_free(&m);
    spool_msg_free(NULL);
}

/* spool_read_fd through the lock descriptor: the same message as
 * spool_read, the file offset untouched (a local delivery process reads
 * through a copy of it), and a wrong id or a damaged file refused */
static void test_read_fd(struct spool *sp)
{
    static const char data[] = "Subject: fd\r\n\r\nbody\r\n";
    struct spool_env env;
    struct spool_msg m, m2;
    struct errbuf eb;
    char other[MSGID_LEN + 1];
    int fd;

    env_init(&env);
    is_int(write_msg(sp, &env, data, sizeof data - 1), 0, "fd: committed");
    fd = spool_lock(sp, env.id, &eb);
    ok(fd >= 0, "fd: locked");
    is_int(spool_read_fd(fd, env.id, &m, &eb), 0, "fd: read through the "
           "lock descriptor");
    ok(env_equal(&env, &m.env) && m.len == sizeof data - 1
       && memcmp(m.data, data, m.len) == 0, "fd: envelope and data");
    ok(lseek(fd, 0, SEEK_CUR) == 0, "fd: the file offset is not moved");
    is_int(spool_read_fd(fd, env.id, &m2, &eb), 0, "fd: read twice");
    spool_msg_free(&m2);
    msgid_new(other);
    errno = 0;
    ok(spool_read_fd(fd, other, &m2, &eb) == -1 && errno == EBADMSG,
       "fd: a file read under another id is damaged (EBADMSG)");
    ok(spool_read_fd(fd, "not-an-id", &m2, &eb) == -1 && errno == EINVAL,
       "fd: an invalid id is refused (EINVAL)");
    ok(spool_read_fd(-1, env.id, &m2, &eb) == -1 && errno == EBADF,
       "fd: a bad descriptor fails with the system's errno");
    spool_msg_free(&m);
    close(fd);
    ok(spool_remove(sp, env.id, &eb) == 0, "fd: removed");
}

static void test_round_trip_sizes(struct spool *sp)
{
    static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 300000 };
    size_t total = 300000;
    unsigned char *data = malloc(total);
    struct spool_env env;
    struct spool_msg m;
    struct errbuf eb;

    for (size_t i = 0; i < total; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 8));
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct spool_writer *w;
        size_t off = 0, step = 1;

        env_init(&env);
        env.rcpts = rcpt1;
        env.nrcpt = 1;
        w = spool_writer_new(sp, &env, &eb);
        /* uneven pieces: 1, 2, 4 ... bytes, then one of 70000 */
        while (w != NULL && off < sizes[k]) {
            size_t n = step < sizes[k] - off ? step : sizes[k] - off;

            if (spool_writer_write(w, data + off, n) < 0)
                break;
            off += n;
            step = step >= 40000 ? 70000 : step * 2;
        }
        spool_commit(w, count_cb, NULL);
        ok(last_rc == 0 && spool_read(sp, env.id, &m, &eb) == 0
           && m.len == sizes[k] && memcmp(m.data, data, sizes[k]) == 0,
           "%zu data bytes in uneven pieces round-trip", sizes[k]);
        spool_msg_free(&m);
    }
    free(data);
}

static void test_writer_refuses(struct spool *sp)
{
    struct spool_env env;
    struct errbuf eb;
    static const struct spool_var noname[] = { { "", "x" } };

    env_init(&env);
    env.id[6] = '_';
    ok(spool_writer_new(sp, &env, &eb) == NULL && strstr(eb.msg, "id"),
       "writer refuses a bad id: %s", eb.msg);
    env_init(&env);
    env.nrcpt = 100001;
    env.rcpts = rcpt1;
    ok(spool_writer_new(sp, &env, &eb) == NULL, "writer refuses 100001 "
       "recipients: %s", eb.msg);
    env_init(&env);
    env.client_port = 70000;
    ok(spool_writer_new(sp, &env, &eb) == NULL, "writer refuses port 70000");
    env_init(&env);
    env.vars = noname;
    env.nvars = 1;
    ok(spool_writer_new(sp, &env, &eb) == NULL, "writer refuses a nameless "
       "variable");
}

/* ---- commit modes ------------------------------------------------------ */

static void test_sync_and_abort(struct spool *sp)
{
    struct spool_env env;
    struct spool_writer *w;
    struct errbuf eb;

    env_init(&env);
    env.rcpts = rcpt1;
    env.nrcpt = 1;
    ncb = 0;
    is_int(write_msg(sp, &env, "hello\r\n", 7), 0,
           "synchronous commit calls back before returning");
    is_int(ncb, 1, "exactly one callback");
    ok(exists(path_of(spool_dir(sp), "input", env.id)), "file is under "
       "input/<last char>/<id>");
    is_str(last_why, "", "why is empty on success");
    env_init(&env);
    w = spool_writer_new(sp, &env, &eb);
    ok(w != NULL && count_entries(spool_dir(sp), ".tmp") == 1,
       "a writer has one temp file");
    spool_writer_write(w, "x", 1);
    spool_writer_abort(w);
    spool_writer_abort(NULL);
    is_int(count_entries(spool_dir(sp), ".tmp"), 0, "abort leaves no temp file");
    ok(!exists(path_of(spool_dir(sp), "input", env.id)), "abort leaves no "
       "message file");
}

struct batch_ctx {
    int done;
    int failed;
    int in_one_turn;
};

static void batch_cb(int rc, const char *why, void *arg)
{
    struct batch_ctx *b = arg;

    (void)why;
    b->done++;
    b->failed += rc != 0;
}

static void test_group_commit(const char *dir)
{
    enum { N = 50 };
    struct ev *ev = ev_new();
    struct errbuf eb;
    struct spool *sp = spool_open(dir, ev, &eb);
    struct spool_env env[N];
    struct batch_ctx b = { 0, 0, 0 };
    struct spool_msg m;
    int all = 1, none = 1, turns = 0;
    unsigned long long batches0 = spool_commit_batches(sp);
    char line[64];

    for (int i = 0; i < N; i++) {
        struct spool_writer *w;

        env_init(&env[i]);
        env[i].rcpts = rcpt1;
        env[i].nrcpt = 1;
        w = spool_writer_new(sp, &env[i], &eb);
        fmt(line, sizeof line, "Subject: %d\r\n\r\nbody\r\n", i);
        spool_writer_write(w, line, strlen(line));
        spool_commit(w, batch_cb, &b);
    }
    for (int i = 0; i < N; i++)
        if (exists(path_of(dir, "input", env[i].id)))
            none = 0;
    ok(b.done == 0 && none, "nothing committed before the loop turns");
    while (b.done < N && turns < 100) {
        ev_run_once(ev, 100);
        turns++;
    }
    is_int(b.done, N, "50 callbacks ran");
    is_int((int)(spool_commit_batches(sp) - batches0), 1,
           "all in one group commit");
    is_int(b.failed, 0, "none failed");
    for (int i = 0; i < N; i++) {
        if (spool_read(sp, env[i].id, &m, &eb) < 0 || !env_equal(&env[i], &m.env))
            all = 0;
        spool_msg_free(&m);
    }
    ok(all, "all 50 read back intact");
    is_int(count_entries(dir, ".tmp"), 0, "no temp file left");
    is_int(ev_timer_count(ev), 0, "no timer left armed");
    spool_close(sp);
    ev_free(ev);
}

/* a callback that commits another writer: it must land in the next turn */
struct chain {
    struct spool *sp;
    int stage;
};

static void chain_cb(int rc, const char *why, void *arg)
{
    struct chain *c = arg;
    struct spool_env env;
    struct errbuf eb;
    struct spool_writer *w;

    (void)why;
    if (rc != 0)
        c->stage = -100;
    c->stage++;
    if (c->stage != 1)
        return;
    env_init(&env);
    w = spool_writer_new(c->sp, &env, &eb);
    spool_commit(w, chain_cb, c);
}

static void test_commit_from_callback(const char *dir)
{
    struct ev *ev = ev_new();
    struct errbuf eb;
    struct spool *sp = spool_open(dir, ev, &eb);
    struct chain c = { sp, 0 };
    struct spool_env env;
    unsigned long long b0 = spool_commit_batches(sp);

    env_init(&env);
    spool_commit(spool_writer_new(sp, &env, &eb), chain_cb, &c);
    for (int i = 0; i < 50 && c.stage < 1; i++)
        ev_run_once(ev, 100);
    is_int(c.stage, 1, "first commit done by the loop");
    for (int i = 0; i < 50 && c.stage < 2; i++)
        ev_run_once(ev, 100);
    is_int(c.stage, 2, "commit queued by a callback done");
    is_int((int)(spool_commit_batches(sp) - b0), 2, "in a batch of its own");
    env_init(&env);
    c.stage = 5;
    spool_commit(spool_writer_new(sp, &env, &eb), chain_cb, &c);
    spool_flush(sp);
    is_int(c.stage, 6, "spool_flush commits without the loop");
    is_int(ev_timer_count(ev), 0, "spool_flush disarmed the timer");
    env_init(&env);
    c.stage = 10;
    spool_commit(spool_writer_new(sp, &env, &eb), chain_cb, &c);
    spool_close(sp);
    is_int(c.stage, 11, "spool_close commits what is queued");
    ev_free(ev);
}

/* ---- damage ------------------------------------------------------------ */

struct damage {
    const char *name;
    const char *find;           /* replace this ... */
    const char *with;           /* ... by this (NULL: cut at find) */
    const char *reason;         /* expected in the error */
};

static const struct damage damages[] = {
    { "bad version", "tern-spool 1", "tern-spool 2", "unknown format version" },
    { "not a spool file", "tern-spool 1", "From foo", "not a tern spool" },
    { "bad escape", "sender x%25y", "sender x%G5y", "bad %XX escape" },
    { "short escape", "sender x%25y", "sender x%2", "bad %XX escape" },
    { "escaped NUL", "sender x%25y", "sender x%00y", "escaped NUL" },
    { "raw control byte", "sender x%25y", "sender x\ty", "unescaped" },
    { "raw space", "sender x%25y", "sender x y", "unescaped" },
    { "missing key", "helo h\n", "", "expected a \"helo\"" },
    { "unknown key", "helo h\n", "hello h\n", "expected a \"helo\"" },
    { "bad number", "client-port 25", "client-port 2x", "bad number" },
    { "number out of range", "client-port 25", "client-port 99999",
      "out of range" },
    { "boolean out of range", "frozen 0", "frozen 2", "out of range" },
    { "rcpt count too big", "rcpts 2", "rcpts 100001", "out of range" },
    { "rcpt count beyond file", "rcpts 2", "rcpts 90000", "exceeds the file" },
    { "rcpt count too small", "rcpts 2", "rcpts 1", "expected a \"vars\"" },
    { "var without value", "var acl_m_a%20b v", "var acl_m_a%20b",
      "needs a name and a value" },
    { "data length too long", "data 00000000000000000011",
      "data 00000000000000000012", "no END" },
    { "data length too short", "data 00000000000000000011",
      "data 00000000000000000010", "no END" },
    { "data length huge", "data 00000000000000000011",
      "data 00000000000000099999", "truncated: data" },
    { "missing END", "\nEND\n", "\nEDN\n", "no END" },
    { "trailing garbage", "\nEND\n", "\nEND\nX", "trailing garbage" },
    { "id mismatch", "id ", "id 1", "bad message id" },
};

/* make_damaged - base with the first find replaced by with */
static size_t make_damaged(const char *base, size_t len, const struct damage *d,
                           char *out)
{
    const char *at = memmem(base, len, d->find, strlen(d->find));
    size_t pre, n;

    if (at == NULL)
        return 0;
    pre = (size_t)(at - base);
    memcpy(out, base, pre);
    n = strlen(d->with);
    memcpy(out + pre, d->with, n);
    memcpy(out + pre + n, at + strlen(d->find), len - pre - strlen(d->find));
    return len - strlen(d->find) + n;
}

static int refused(struct spool *sp, const char *id, const char *reason,
                   const char *what)
{
    struct spool_msg m;
    struct errbuf eb;
    int rc = spool_read(sp, id, &m, &eb);
    int good = rc < 0 && errno == EBADMSG && strstr(eb.msg, reason) != NULL
               && m.priv == NULL;

    if (!ok(good, "%s refused", what))
        printf("#   rc %d errno %d: %s (want \"%s\")\n", rc, errno, eb.msg,
               reason);
    else
        printf("#   %s\n", eb.msg);
    if (rc == 0)
        spool_msg_free(&m);
    return good;
}

/* the undamaged file the damage tests start from */
struct victim {
    char id[MSGID_LEN + 1];
    char path[600];
    char *base;
    size_t len;
};

static void damage_table(struct spool *sp, const struct victim *v)
{
    char *buf = malloc(v->len + 64);

    for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++) {
        size_t n = make_damaged(v->base, v->len, &damages[i], buf);

        if (n == 0) {
            ok(0, "%s: pattern \"%s\" not in the file", damages[i].name,
               damages[i].find);
            continue;
        }
        write_path(v->path, buf, n);
        refused(sp, v->id, damages[i].reason, damages[i].name);
    }
    free(buf);
}

static void damage_long_line(struct spool *sp, const struct victim *v)
{
    char *buf = malloc(70100);
    char other[MSGID_LEN + 1];

    memcpy(buf, "tern-spool 1\nid ", 16);
    memset(buf + 16, 'a', 70000);
    buf[70016] = '\n';
    write_path(v->path, buf, 70017);
    refused(sp, v->id, "line 2: line too long", "line over 64 KiB");
    free(buf);
    /* a good file under another message's name */
    msgid_new(other);
    write_path(path_of(spool_dir(sp), "input", other), v->base, v->len);
    refused(sp, other, "id does not match", "file under the wrong name");
    unlink(path_of(spool_dir(sp), "input", other));
}

static void damage_truncations(struct spool *sp, const struct victim *v)
{
    struct spool_msg m;
    struct errbuf eb;
    int all = 1;

    for (size_t cut = 0; cut < v->len; cut++) {
        write_path(v->path, v->base, cut);
        if (spool_read(sp, v->id, &m, &eb) == 0 || errno != EBADMSG) {
            printf("#   cut at %zu accepted\n", cut);
            all = 0;
            spool_msg_free(&m);
        }
    }
    ok(all, "the file cut at each of its %zu offsets is refused", v->len);
    write_path(v->path, v->base, v->len - 1);
    refused(sp, v->id, "no END", "file cut one byte short");
    write_path(v->path, v->base, 0);
    refused(sp, v->id, "empty file", "empty file");
    write_path(v->path, v->base, v->len);
    ok(spool_read(sp, v->id, &m, &eb) == 0, "undamaged copy reads again");
    spool_msg_free(&m);
}

static void test_damage_kinds(struct spool *sp)
{
    static const char *rcpts[] = { "a@b", "c@d" };
    static const struct spool_var vars[] = { { "acl_m_a b", "v" } };
    struct spool_env env;
    struct victim v;

    env_init(&env);
    env.sender = "x%y";
    env.helo = "h";
    env.client_port = 25;
    env.rcpts = rcpts;
    env.nrcpt = 2;
    env.vars = vars;
    env.nvars = 1;
    write_msg(sp, &env, "hello world", 11);
    memcpy(v.id, env.id, sizeof v.id);
    fmt(v.path, sizeof v.path, "%s", path_of(spool_dir(sp), "input", env.id));
    v.base = slurp_path(v.path, &v.len);
    damage_table(sp, &v);
    damage_long_line(sp, &v);
    damage_truncations(sp, &v);
    free(v.base);
}

static void test_read_errors_and_quarantine(struct spool *sp)
{
    struct spool_env env;
    struct spool_msg m;
    struct errbuf eb;
    char corrupt[512], id[MSGID_LEN + 1];

    msgid_new(id);
    ok(spool_read(sp, id, &m, &eb) < 0 && errno == ENOENT,
       "a missing file is ENOENT, not EBADMSG");
    ok(spool_read(sp, "nonsense", &m, &eb) < 0 && errno == EINVAL,
       "a bad id is EINVAL");
    for (int round = 0; round < 3; round++) {
        env_init(&env);
        if (round > 0)
            memcpy(env.id, id, sizeof id);
        else
            memcpy(id, env.id, sizeof id);
        write_msg(sp, &env, "x", 1);
        write_path(path_of(spool_dir(sp), "input", env.id), "garbage", 7);
        spool_journal_append(sp, env.id, "D a@b", &eb);
        refused(sp, env.id, "not a tern spool", "garbage file");
        ok(spool_quarantine(sp, env.id, &eb) == 0, "quarantined (%d)", round);
        if (round == 0)
            fmt(corrupt, sizeof corrupt, "%s/corrupt/%s", spool_dir(sp),
                     env.id);
        else
            fmt(corrupt, sizeof corrupt, "%s/corrupt/%s.%d", spool_dir(sp),
                     env.id, round);
        ok(exists(corrupt), "moved to %s", strrchr(corrupt, '/') + 1);
        ok(!exists(path_of(spool_dir(sp), "input", env.id)),
           "gone from input/");
    }
    fmt(corrupt, sizeof corrupt, "%s/corrupt/%s.J.2", spool_dir(sp), id);
    ok(exists(corrupt), "journals follow their message to corrupt/");
    ok(spool_quarantine(sp, id, &eb) < 0 && errno == ENOENT,
       "quarantine of a missing message fails with ENOENT");
}

/* ---- journals, list, remove, tidy -------------------------------------- */

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void test_journal(struct spool *sp)
{
    struct spool_env env;
    struct errbuf eb;
    char **lines, jpath[512];
    size_t n;
    int fd;

    env_init(&env);
    write_msg(sp, &env, "x", 1);
    ok(spool_journal_read(sp, env.id, &lines, &n, &eb) == 0 && n == 0,
       "no journal reads as no lines");
    free_lines(lines, n);
    ok(spool_journal_append(sp, env.id, "D a@example.org", &eb) == 0
       && spool_journal_append(sp, env.id, "F b@example.org 550 no such user",
                               &eb) == 0
       && spool_journal_append(sp, env.id, "", &eb) == 0, "three appends");
    ok(spool_journal_append(sp, env.id, "two\nlines", &eb) < 0
       && errno == EINVAL, "a line with a newline is refused");
    fmt(jpath, sizeof jpath, "%s.J",
             path_of(spool_dir(sp), "input", env.id));
    fd = open(jpath, O_WRONLY | O_APPEND);
    ok(fd >= 0 && write(fd, "D torn", 6) == 6 && close(fd) == 0,
       "simulate an append cut short");
    ok(spool_journal_read(sp, env.id, &lines, &n, &eb) == 0 && n == 3,
       "journal reads back 3 lines (torn one left out)");
    if (n == 3) {
        is_str(lines[0], "D a@example.org", "line 1");
        is_str(lines[1], "F b@example.org 550 no such user", "line 2");
        is_str(lines[2], "", "line 3 (empty)");
    }
    free_lines(lines, n);
    ok(spool_remove(sp, env.id, &eb) == 0, "spool_remove");
    ok(!exists(jpath) && !exists(path_of(spool_dir(sp), "input", env.id)),
       "message and journal are gone");
    ok(spool_remove(sp, env.id, &eb) < 0 && errno == ENOENT,
       "removing twice fails with ENOENT");
    spool_journal_append(sp, env.id, "D orphan", &eb);
    ok(spool_remove(sp, env.id, &eb) < 0 && errno == ENOENT && !exists(jpath),
       "an orphan journal is removed (and ENOENT reported)");
}

static void test_list(const char *dir)
{
    struct errbuf eb;
    struct spool *sp;
    struct spool_env env;
    char want[5][MSGID_LEN + 1], path[512], **ids;
    size_t n;
    int sorted = 1;

    rm_tree(dir);
    sp = spool_open(dir, NULL, &eb);
    for (int i = 0; i < 5; i++) {
        env_init(&env);
        memcpy(want[i], env.id, sizeof want[i]);
        write_msg(sp, &env, "x", 1);
        spool_journal_append(sp, env.id, "D x", &eb);
    }
    fmt(path, sizeof path, "%s/input/%c/.tmp.%s.1", dir, want[0][22],
             want[0]);
    write_path(path, "partial", 7);
    fmt(path, sizeof path, "%s/input/%c/notanid", dir, want[0][22]);
    write_path(path, "x", 1);
    /* a valid id in the wrong directory is not a message */
    fmt(path, sizeof path, "%s/input/%c/%.22s%c", dir,
             want[0][22] == '0' ? '1' : '0', want[0], want[0][22]);
    write_path(path, "x", 1);
    ok(spool_list(sp, &ids, &n, &eb) == 0, "spool_list");
    is_int((long long)n, 5, "five messages listed (no temp, journal, "
           "stray file)");
    for (size_t i = 0; i < n && i < 5; i++)
        if (strcmp(ids[i], want[i]) != 0)
            sorted = 0;
    ok(sorted, "listed in id (time) order");
    free_lines(ids, n);
    spool_close(sp);
}

static void test_tidy(const char *dir)
{
    struct errbuf eb;
    struct spool *sp = spool_open(dir, NULL, &eb);
    char id[MSGID_LEN + 1], dead[512], mine[512];
    unsigned removed = 99;
    pid_t pid = fork();

    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    msgid_new(id);
    fmt(dead, sizeof dead, "%s/input/%c/.tmp.%s.%ld", dir, id[22], id,
             (long)pid);
    fmt(mine, sizeof mine, "%s/input/%c/.tmp.%s.%ld", dir, id[22], id,
             (long)getpid());
    write_path(dead, "x", 1);
    write_path(mine, "x", 1);
    ok(spool_tidy(sp, &removed, &eb) == 0 && removed == 1,
       "spool_tidy removed one temp file");
    ok(!exists(dead) && exists(mine), "a dead process's temp file goes, "
       "ours stays");
    unlink(mine);
    spool_close(sp);
}

static void test_safe_write_file(void)
{
    char path[512], *got;
    size_t len = 0;
    int dfd = open(top, O_RDONLY | O_DIRECTORY);

    ok(safe_write_file(dfd, "sw", "first", 5) == 0
       && safe_write_file(dfd, "sw", "second", 6) == 0,
       "safe_write_file writes and replaces");
    fmt(path, sizeof path, "%s/sw", top);
    got = slurp_path(path, &len);
    ok(got != NULL && len == 6 && memcmp(got, "second", 6) == 0,
       "the replacement is there");
    free(got);
    fmt(path, sizeof path, "%s/sw.tmp.%ld", top, (long)getpid());
    ok(!exists(path), "no temp file left");
    ok(safe_write_file(dfd, "nodir/sw", "x", 1) < 0 && errno == ENOENT,
       "safe_write_file reports ENOENT");
    close(dfd);
}

/* ---- disk full --------------------------------------------------------- */

static void enospc_batch(struct spool *sp, struct ev *ev, const char *dir)
{
    struct batch_ctx small = { 0, 0, 0 }, big = { 0, 0, 0 };
    static char chunk[16384];
    struct spool_env env;
    struct errbuf eb;
    struct spool_writer *w;

    for (int i = 0; i < 3; i++) {
        env_init(&env);
        w = spool_writer_new(sp, &env, &eb);
        spool_writer_write(w, "small\r\n", 7);
        spool_commit(w, batch_cb, &small);
    }
    env_init(&env);
    w = spool_writer_new(sp, &env, &eb);
    for (int i = 0; i < 8; i++)
        spool_writer_write(w, chunk, sizeof chunk);
    spool_commit(w, batch_cb, &big);
    for (int i = 0; i < 10 && small.done + big.done < 4; i++)
        ev_run_once(ev, 100);
    ok(big.done == 1 && big.failed == 1, "batch: the big message fails");
    ok(small.done == 3 && small.failed == 0, "batch: the small ones succeed");
    is_int(count_entries(dir, ".tmp"), 0, "batch: no temp file left");
}

static void test_enospc(void)
{
    static char chunk[16384];
    char dir[512];
    struct spool *sp;
    struct spool_env env;
    struct spool_writer *w;
    struct errbuf eb;
    struct ev *ev;
    int wrc = 0;

    fmt(dir, sizeof dir, "%s/tiny", top);
    mkdir(dir, 0700);
    if (geteuid() != 0) {
        ok(1, "disk full # SKIP needs root to mount a 64 KiB tmpfs");
        return;
    }
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0) {
        ok(1, "disk full # SKIP cannot mount a 64 KiB tmpfs: %s",
           strerror(errno));
        return;
    }
    sp = spool_open(dir, NULL, &eb);
    env_init(&env);
    w = spool_writer_new(sp, &env, &eb);
    for (int i = 0; i < 8 && wrc == 0; i++)
        wrc = spool_writer_write(w, chunk, sizeof chunk);
    ok(wrc < 0 && errno == ENOSPC, "a write fails with ENOSPC");
    spool_commit(w, count_cb, NULL);
    ok(last_rc == -1 && strstr(last_why, "No space left") != NULL,
       "the commit calls back -1: %s", last_why);
    ok(!exists(path_of(dir, "input", env.id)), "no message file");
    is_int(count_entries(dir, ".tmp"), 0, "no temp file left");
    spool_close(sp);
    ev = ev_new();
    sp = spool_open(dir, ev, &eb);
    enospc_batch(sp, ev, dir);
    spool_close(sp);
    ev_free(ev);
    if (umount2(dir, MNT_DETACH) < 0)
        printf("# umount %s: %s\n", dir, strerror(errno));
}

static void test_tree(const char *dir)
{
    char p0[600], pz[600], pc[600], pd[600];

    fmt(p0, sizeof p0, "%s/input/0", dir);
    fmt(pz, sizeof pz, "%s/input/z", dir);
    fmt(pc, sizeof pc, "%s/corrupt", dir);
    fmt(pd, sizeof pd, "%s/db", dir);
    ok(exists(p0) && exists(pz) && exists(pc) && exists(pd),
       "input/<c>, corrupt/ and db/ exist");
}

int main(void)
{
    char dir[512];
    struct errbuf eb;
    struct spool *sp;

    fmt(top, sizeof top, "%s/tern-spool-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(top) == NULL)
        return 1;
    fmt(dir, sizeof dir, "%s/spool", top);
    test_id_shape();
    test_id_known();
    test_id_invalid();
    test_id_unique();
    sp = spool_open(dir, NULL, &eb);
    ok(sp != NULL, "spool_open creates the tree%s", sp ? "" : eb.msg);
    if (sp == NULL)
        return done_testing();
    test_tree(dir);
    test_round_trip_hostile(sp);
    test_read_fd(sp);
    test_round_trip_sizes(sp);
    test_writer_refuses(sp);
    test_sync_and_abort(sp);
    test_damage_kinds(sp);
    test_read_errors_and_quarantine(sp);
    test_journal(sp);
    spool_close(sp);
    test_group_commit(dir);
    test_commit_from_callback(dir);
    test_list(dir);
    test_tidy(dir);
    test_safe_write_file();
    test_enospc();
    rm_tree(top);
    return done_testing();
}
