/*
 * test_lookup.c - unit tests of core/lookup: specs, lsearch (and its line
 * parser), star forms, reloading, dbm (built by lookup_dbm_build, as
 * tern_dbmbuild does), iplsearch and cidr.
 *
 * Each table file is written into a mkdtemp directory under /tmp which is
 * removed at the end. Cases are tables {name, key, want, value}.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/lookup/lookup.h"
#include "test-suite/unit/tap.h"

static char tmpdir[] = "/tmp/test_lookup.XXXXXX";

struct find_case {
    const char *name;
    const char *key;
    enum lk_result want;
    const char *value;          /* on LK_FOUND; error substring on TEMPFAIL */
};

/* Path of name in the test directory (static, two slots in turn). */
static const char *tpath(const char *name)
{
    static char buf[2][512];
    static int slot;

    slot ^= 1;
    if (bsnprintf(buf[slot], sizeof(buf[slot]), "%s/%s", tmpdir, name) < 0)
        abort();
    return buf[slot];
}

static const char *write_file(const char *name, const char *text)
{
    const char *path = tpath(name);
    FILE *fp = fopen(path, "w");

    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
        perror(path);
        exit(2);
    }
    return path;
}

/* s with newlines shown as \n, so a TAP line stays one line (static). */
static const char *show(const char *s)
{
    static char buf[2][256];
    static int slot;
    size_t j = 0;

    slot ^= 1;
    for (; *s != '\0' && j + 3 < sizeof(buf[slot]); s++) {
        if (*s == '\n') {
            buf[slot][j++] = '\\';
            buf[slot][j++] = 'n';
        } else {
            buf[slot][j++] = *s;
        }
    }
    buf[slot][j] = '\0';
    return buf[slot];
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Look key up under "spec_text" and compare with the case. */
static void check_find(const char *spec_text, const struct find_case *c)
{
    struct lookup_spec spec;
    struct strbuf val;
    struct errbuf eb;
    enum lk_result rc;

    errbuf_clear(&eb);
    if (lookup_spec_parse(spec_text, &spec, &eb) < 0) {
        ok(0, "%s: spec %s: %s", c->name, spec_text, eb.msg);
        return;
    }
    sb_init(&val);
    rc = lookup_find(&spec, c->key, strlen(c->key), &val, &eb);
    if (!is_int(rc, c->want, c->name))
        printf("#   eb: %s\n", eb.msg);
    else if (rc == LK_FOUND)
        ok(strcmp(val.data, c->value) == 0, "%s: value \"%s\"", c->name,
           show(val.data));
    else if (rc == LK_TEMPFAIL && c->value != NULL)
        ok(strstr(eb.msg, c->value) != NULL, "%s: error \"%s\" has \"%s\"",
           c->name, eb.msg, c->value);
    sb_free(&val);
    lookup_spec_free(&spec);
}

static void run_cases(const char *type, const char *file,
                      const struct find_case *cases, size_t n)
{
    char spec[600];

    if (bsnprintf(spec, sizeof(spec), "%s;%s", type, file) < 0)
        abort();
    for (size_t i = 0; i < n; i++)
        check_find(spec, &cases[i]);
}

#define RUN(type, file, cases) \
    run_cases(type, file, cases, sizeof(cases) / sizeof(cases[0]))

/* ---- lsearch_parse_line ---- */

static const struct {
    const char *in;
    size_t len;             /* 0: strlen */
    int rc;
    const char *key, *value;
} parse_cases[] = {
    { "key: value", 0, 1, "key", "value" },
    { "key value", 0, 1, "key", "value" },
    { "key:value", 0, 1, "key", "value" },
    { "key : value  ", 0, 1, "key", "value" },
    { "key value: with colon", 0, 1, "key", "value: with colon" },
    { "\"a b\": c", 0, 1, "a b", "c" },
    { "\"a:b\" c", 0, 1, "a:b", "c" },
    { "\"a\\\"b\\\\\": c", 0, 1, "a\"b\\", "c" },
    { "\"a\\tb\\x41\\101\": c", 0, 1, "a\tbAA", "c" },
    { "key", 0, 1, "key", "" },
    { "key:\nline1\nline2", 0, 1, "key", "line1\nline2" },
    { "# comment", 0, 0, NULL, NULL },
    { "   ", 0, 0, NULL, NULL },
    { "", 0, 0, NULL, NULL },
    { "\"unterminated: x", 0, -1, "unterminated", NULL },
    { "\"\": x", 0, -1, "empty key", NULL },
    { ": x", 0, -1, "empty key", NULL },
    { "\"\\0\": x", 0, -1, "NUL", NULL },
    { "a\0b: c", 6, -1, "NUL", NULL },
};

static void test_parse_line(void)
{
    struct strbuf k, v;
    struct errbuf eb;

    sb_init(&k);
    sb_init(&v);
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        size_t len = parse_cases[i].len ? parse_cases[i].len : strlen(parse_cases[i].in);
        int rc = lsearch_parse_line(parse_cases[i].in, len, &k, &v, &eb);
        char name[128];

        bsnprintf(name, sizeof(name), "parse_line case %zu", i);
        if (!is_int(rc, parse_cases[i].rc, name) || rc == 0)
            continue;
        if (rc < 0)
            ok(strstr(eb.msg, parse_cases[i].key) != NULL, "%s: error \"%s\"",
               name, eb.msg);
        else
            ok(strcmp(k.data, parse_cases[i].key) == 0
               && strcmp(v.data, parse_cases[i].value) == 0,
               "%s: key \"%s\" value \"%s\"", name, show(k.data),
               show(v.data));
    }
    sb_free(&k);
    sb_free(&v);
}

/* ---- lsearch ---- */

static const char lsearch_text[] =
    "# aliases for the tests\n"
    "Alice: alice@example.com\n"
    "bob  bob@example.net\n"
    "\"quoted key\": q1\n"
    "\"with:colon\": q2\n"
    "\n"
    "carol:\n"
    "  line1,\n"
    "# a comment inside an entry\n"
    "\tline2\n"
    "dave: first\n"
    "DAVE: second\n"
    "eve:   trailing   \r\n"
    "empty:\n"
    "frank@example.org: frank\n"
    "*@example.org: domain default\n"
    "*: default\n";

static const char lsearch_nostar_text[] =
    "alice: a\n"
    "*@example.org: domain default\n";

static const struct find_case ls_plain[] = {
    { "lsearch exact", "Alice", LK_FOUND, "alice@example.com" },
    { "lsearch caseless", "aLiCe", LK_FOUND, "alice@example.com" },
    { "lsearch colon-less form", "bob", LK_FOUND, "bob@example.net" },
    { "lsearch quoted key with blank", "quoted key", LK_FOUND, "q1" },
    { "lsearch quoted key with colon", "with:colon", LK_FOUND, "q2" },
    { "lsearch continuation", "carol", LK_FOUND, "line1,\nline2" },
    { "lsearch first entry wins", "dave", LK_FOUND, "first" },
    { "lsearch trailing blanks/CR", "eve", LK_FOUND, "trailing" },
    { "lsearch empty value", "empty", LK_FOUND, "" },
    { "lsearch not found", "nobody", LK_NOTFOUND, NULL },
    { "lsearch comment is no key", "#", LK_NOTFOUND, NULL },
    { "lsearch partial key", "alic", LK_NOTFOUND, NULL },
    { "lsearch no star without *", "x@example.org", LK_NOTFOUND, NULL },
};
static const struct find_case ls_star[] = {
    { "lsearch* exact first", "alice", LK_FOUND, "alice@example.com" },
    { "lsearch* falls back to *", "nobody", LK_FOUND, "default" },
    { "lsearch* ignores *@", "x@example.org", LK_FOUND, "default" },
};
static const struct find_case ls_starat[] = {
    { "lsearch*@ exact", "frank@example.org", LK_FOUND, "frank" },
    { "lsearch*@ *@domain", "x@example.org", LK_FOUND,
      "domain default" },
    { "lsearch*@ caseless domain", "X@Example.ORG", LK_FOUND,
      "domain default" },
    { "lsearch*@ then *", "x@other.org", LK_FOUND, "default" },
    { "lsearch*@ no @ acts like *", "nobody", LK_FOUND, "default" },
    { "lsearch*@ last @ counts", "a@b@example.org", LK_FOUND,
      "domain default" },
};
static const struct find_case ls_starat_nostar[] = {
    { "lsearch*@ without * entry", "x@example.com", LK_NOTFOUND, NULL },
    { "lsearch*@ empty local part skips *@", "@example.org",
      LK_NOTFOUND, NULL },
};
static const struct find_case ls_missing[] = {
    { "lsearch missing file", "x", LK_TEMPFAIL, "failed to open" },
    { "lsearch missing file again (cached)", "x", LK_TEMPFAIL,
      "No such file" },
};
static const struct find_case ls_broken[] = {
    { "lsearch malformed line", "ok", LK_TEMPFAIL, "broken:3: " },
};

static void test_lsearch(void)
{
    const char *f = write_file("aliases", lsearch_text);

    RUN("lsearch", f, ls_plain);
    RUN("lsearch*", f, ls_star);
    RUN("lsearch*@", f, ls_starat);
    f = write_file("nostar", lsearch_nostar_text);
    RUN("lsearch*@", f, ls_starat_nostar);
    RUN("lsearch", tpath("no-such-file"), ls_missing);
    f = write_file("broken", "ok: 1\n\n\"bad key: x\n");
    RUN("lsearch", f, ls_broken);
}

/* ---- reloading ---- */

static void test_reload(void)
{
    static const struct find_case v1[] = { { "reload: v1", "k", LK_FOUND,
                                             "one" } };
    static const struct find_case v1_cached[] = {
        { "reload: stat not due, old value kept", "k", LK_FOUND, "one" } };
    static const struct find_case v2[] = {
        { "reload: recheck hook sees new file", "k", LK_FOUND, "two two" } };
    static const struct find_case v3[] = {
        { "reload: after 1.1 s without hook", "k", LK_FOUND, "three" } };
    static const struct find_case v4[] = {
        { "reload: same size, new mtime", "k", LK_FOUND, "four!!!" } };
    static const struct find_case gone[] = {
        { "reload: removed file tempfails", "k", LK_TEMPFAIL,
          "failed to open" } };
    struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };
    const char *f = write_file("reload", "k: one\n");
    struct timespec nap = { 1, 100000000 };

    RUN("lsearch", f, v1);
    write_file("reload", "k: two two\n");
    RUN("lsearch", f, v1_cached);
    lookup_cache_recheck();
    RUN("lsearch", f, v2);
    write_file("reload", "k: three\n");
    nanosleep(&nap, NULL);
    RUN("lsearch", f, v3);
    write_file("reload", "k: four!!!\n");
    ok(utimensat(AT_FDCWD, f, ts, 0) == 0, "reload: set mtime");
    lookup_cache_recheck();
    RUN("lsearch", f, v4);
    ok(unlink(f) == 0, "reload: remove file");
    lookup_cache_recheck();
    RUN("lsearch", f, gone);
}

/* ---- dbm ---- */

struct diag_log {
    int warnings, errors;
    char last[512];
};

static void diag_cb(void *arg, enum lookup_diag level, const char *msg)
{
    struct diag_log *d = arg;

    if (level == LOOKUP_WARNING)
        d->warnings++;
    else
        d->errors++;
    bsnprintf(d->last, sizeof(d->last), "%s", msg);
}

static int dir_has_tmp(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int found = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        found |= strstr(e->d_name, ".tmp.") != NULL;
    if (d != NULL)
        closedir(d);
    return found;
}

/* A file already at DST.tmp.<pid> is neither followed nor removed. */
static void test_dbm_build_excl(void)
{
    char src[600], dst[600], tmp[600];
    struct errbuf eb;
    size_t n = 0;
    int rc;

    if (bsnprintf(src, sizeof(src), "%s", write_file("excl.src", "a: 1\n"))
        < 0 || bsnprintf(dst, sizeof(dst), "%s", tpath("excl.db")) < 0
        || bsnprintf(tmp, sizeof(tmp), "%s.tmp.%ld", dst, (long)getpid()) < 0
        || symlink(src, tmp) < 0)
        abort();
    rc = lookup_dbm_build(src, dst, NULL, NULL, &n, &eb);
    ok(rc == -1 && strstr(eb.msg, "File exists") != NULL,
       "dbm_build: refuses an existing temp file (%s)", eb.msg);
    ok(!exists(dst), "dbm_build: DST not created by the refused build");
    ok(unlink(tmp) == 0, "dbm_build: the existing temp file was left alone");
}

static void test_dbm_build_errors(void)
{
    struct diag_log d = { 0, 0, "" };
    struct errbuf eb;
    size_t n = 0;
    const char *src = write_file("bad.src", "a: 1\nb: 2\n\"c: 3\n: 4\n");
    const char *dst = tpath("bad.db");
    int rc = lookup_dbm_build(src, dst, diag_cb, &d, &n, &eb);

    is_int(rc, -1, "dbm_build: malformed source fails");
    is_int(d.errors, 2, "dbm_build: every bad line reported");
    ok(strstr(d.last, "bad.src:4: ") != NULL, "dbm_build: names SRC:LINE (%s)",
       d.last);
    ok(!exists(dst), "dbm_build: no DST after failure");
    ok(!dir_has_tmp(), "dbm_build: no temporary file left");
    test_dbm_build_excl();
    rc = lookup_dbm_build(tpath("nope.src"), dst, diag_cb, &d, &n, &eb);
    ok(rc == -1 && strstr(eb.msg, "failed to open") != NULL,
       "dbm_build: missing source (%s)", eb.msg);
}

static void test_dbm(void)
{
    static const struct find_case plain[] = {
        { "dbm exact", "alice", LK_FOUND, "alice@example.com" },
        { "dbm caseless", "ALICE", LK_FOUND, "alice@example.com" },
        { "dbm quoted key", "with:colon", LK_FOUND, "q2" },
        { "dbm continuation", "carol", LK_FOUND, "line1,\nline2" },
        { "dbm first entry wins", "dave", LK_FOUND, "first" },
        { "dbm not found", "nobody", LK_NOTFOUND, NULL },
    };
    static const struct find_case starat[] = {
        { "dbm*@ *@domain", "x@EXAMPLE.org", LK_FOUND, "domain default" },
        { "dbm*@ then *", "x@other.org", LK_FOUND, "default" },
    };
    static const struct find_case star[] = {
        { "dbm* falls back to *", "nobody", LK_FOUND, "default" } };
    static const struct find_case rebuilt[] = {
        { "dbm reopened after rebuild", "alice", LK_FOUND, "new" } };
    static const struct find_case missing[] = {
        { "dbm missing file", "x", LK_TEMPFAIL, "failed to open" } };
    struct diag_log d = { 0, 0, "" };
    struct errbuf eb;
    size_t n = 0;
    const char *src = write_file("aliases.src", lsearch_text);
    const char *dst = tpath("aliases.db");
    int rc = lookup_dbm_build(src, dst, diag_cb, &d, &n, &eb);

    if (!is_int(rc, 0, "dbm_build: builds"))
        printf("#   %s\n", eb.msg);
    is_int((long long)n, 11, "dbm_build: entry count");
    ok(d.warnings == 1 && strstr(d.last, "aliases.src:12: duplicate key "
                                 "\"DAVE\" ignored (first kept)") != NULL,
       "dbm_build: duplicate warning (%s)", d.last);
    RUN("dbm", dst, plain);
    RUN("dbm*", dst, star);
    RUN("dbm*@", dst, starat);
    write_file("aliases.src", "alice: new\n");
    rc = lookup_dbm_build(src, dst, diag_cb, &d, &n, &eb);
    lookup_cache_recheck();
    RUN("dbm", dst, rebuilt);
    RUN("dbm", tpath("no-such.db"), missing);
    test_dbm_build_errors();
}

/* ---- iplsearch and cidr ---- */

static void test_iplsearch(void)
{
    static const struct find_case cases[] = {
        { "iplsearch /24", "192.168.1.7", LK_FOUND, "lan" },
        { "iplsearch /16 after /24", "192.168.2.1", LK_FOUND, "wide" },
        { "iplsearch host key", "10.1.2.3", LK_FOUND, "host" },
        { "iplsearch host bits masked", "172.16.5.200", LK_FOUND, "masked" },
        { "iplsearch v4 non-match", "10.1.2.4", LK_NOTFOUND, NULL },
        { "iplsearch IPv6 first match", "2001:db8::1", LK_FOUND, "v6net" },
        { "iplsearch IPv6 host", "::1", LK_FOUND, "loop6" },
        { "iplsearch IPv6 non-match", "2001:db9::1", LK_NOTFOUND, NULL },
        { "iplsearch invalid key", "not-an-ip", LK_NOTFOUND, NULL },
        { "iplsearch network as key", "192.168.1.0/24", LK_NOTFOUND, NULL },
        { "iplsearch empty key", "", LK_NOTFOUND, NULL },
        { "iplsearch v4-mapped is IPv6", "::ffff:10.1.2.3", LK_NOTFOUND,
          NULL },
    };
    static const struct find_case unquoted[] = {
        { "iplsearch unquoted IPv6 key", "::1", LK_TEMPFAIL,
          "ip6.txt:2: invalid IP address or network \"2001\" (IPv6 keys "
          "must be quoted)" } };
    static const struct find_case badlen[] = {
        { "iplsearch bad prefix", "1.2.3.4", LK_TEMPFAIL, "ipbad.txt:1:" } };
    const char *f = write_file("ip.txt",
                               "# networks\n"
                               "192.168.1.0/24: lan\n"
                               "192.168.0.0/16  wide\n"
                               "10.1.2.3: host\n"
                               "172.16.5.1/24: masked\n"
                               "\"2001:db8::/32\": v6net\n"
                               "\"2001:db8::1\": v6host\n"
                               "\"::1\" loop6\n");

    RUN("iplsearch", f, cases);
    f = write_file("ip6.txt", "1.2.3.4: x\n2001:db8::/32: v6\n");
    RUN("iplsearch", f, unquoted);
    f = write_file("ipbad.txt", "1.2.3.0/33: x\n");
    RUN("iplsearch", f, badlen);
}

static void test_cidr(void)
{
    static const struct find_case cases[] = {
        { "cidr /24", "192.168.1.7", LK_FOUND, "lan" },
        { "cidr /16 after /24", "192.168.200.1", LK_FOUND, "REJECT wide" },
        { "cidr bare address", "10.0.0.1", LK_FOUND, "host  two words" },
        { "cidr bare address non-match", "10.0.0.2", LK_NOTFOUND, NULL },
        { "cidr [IPv6]/len first match", "2001:db8:1::5", LK_FOUND, "v6br" },
        { "cidr IPv6 /0", "fe80::1", LK_FOUND, "any6" },
        { "cidr v4 never matches v6 /0", "8.8.8.8", LK_NOTFOUND, NULL },
        { "cidr invalid key", "1.2.3", LK_NOTFOUND, NULL },
    };
    static const struct find_case hostbits[] = {
        { "cidr host bits refused", "1.1.1.1", LK_TEMPFAIL,
          "c2.txt:2: non-null host address bits" } };
    static const struct find_case noresult[] = {
        { "cidr pattern without result", "1.1.1.1", LK_TEMPFAIL,
          "c3.txt:1: no result" } };
    static const struct find_case garbage[] = {
        { "cidr garbage pattern", "1.1.1.1", LK_TEMPFAIL,
          "c4.txt:3: invalid address" } };
    const char *f = write_file("c1.txt",
                               "# cidr\n"
                               "192.168.1.0/24   lan\n"
                               "192.168.0.0/16\tREJECT wide\n"
                               "[2001:db8::]/32  v6br\n"
                               "2001:db8:1::/48  shadowed\n"
                               "10.0.0.1         host  two words  \n"
                               "::/0 any6\n");

    RUN("cidr", f, cases);
    f = write_file("c2.txt", "1.0.0.0/8 a\n192.168.1.1/24 b\n");
    RUN("cidr", f, hostbits);
    f = write_file("c3.txt", "1.0.0.0/8\n");
    RUN("cidr", f, noresult);
    f = write_file("c4.txt", "1.0.0.0/8 a\n\nif /x/\n");
    RUN("cidr", f, garbage);
}

/* ---- specs ---- */

static const struct {
    const char *spec;
    int rc;
    enum lookup_kind kind;
    enum lookup_star star;
    const char *file_or_err;
} spec_cases[] = {
    { "lsearch;/etc/aliases", 0, LKK_LSEARCH, LK_STAR_NONE,
      "/etc/aliases" },
    { "lsearch*;/f", 0, LKK_LSEARCH, LK_STAR, "/f" },
    { "lsearch*@;/f", 0, LKK_LSEARCH, LK_STAR_AT, "/f" },
    { "dbm;/f", 0, LKK_DBM, LK_STAR_NONE, "/f" },
    { "dbm*;/f", 0, LKK_DBM, LK_STAR, "/f" },
    { "dbm*@;/f", 0, LKK_DBM, LK_STAR_AT, "/f" },
    { "iplsearch;/f", 0, LKK_IPLSEARCH, LK_STAR_NONE, "/f" },
    { "cidr; /f ", 0, LKK_CIDR, LK_STAR_NONE, "/f" },
    { "cidr*;/f", -1, 0, 0, "unknown lookup type \"cidr*\"" },
    { "iplsearch*@;/f", -1, 0, 0, "unknown lookup type" },
    { "nosuch;/f", -1, 0, 0, "unknown lookup type \"nosuch\"" },
    { "LSEARCH;/f", -1, 0, 0, "unknown lookup type" },
    { "lsearch**;/f", -1, 0, 0, "unknown lookup type" },
    { ";/f", -1, 0, 0, "unknown lookup type" },
    { "lsearch/etc/aliases", -1, 0, 0, "missing ';'" },
    { "lsearch;", -1, 0, 0, "empty file name" },
    { "lsearch;  ", -1, 0, 0, "empty file name" },
};
static const struct { const char *type; int valid; } spec_types[] = {
    { "lsearch", 1 }, { "lsearch*@", 1 }, { "dbm*", 1 }, { "cidr", 1 },
    { "iplsearch", 1 }, { "cidr*", 0 }, { "lsearchx", 0 }, { "", 0 },
};

static void test_specs(void)
{
    struct lookup_spec s;
    struct errbuf eb;

    for (size_t i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
        int rc = lookup_spec_parse(spec_cases[i].spec, &s, &eb);

        if (!is_int(rc, spec_cases[i].rc, spec_cases[i].spec))
            continue;
        if (rc < 0) {
            ok(strstr(eb.msg, spec_cases[i].file_or_err) != NULL,
               "%s: error \"%s\"", spec_cases[i].spec, eb.msg);
            continue;
        }
        ok(s.kind == spec_cases[i].kind && s.star == spec_cases[i].star
           && strcmp(s.file, spec_cases[i].file_or_err) == 0, "%s: parsed",
           spec_cases[i].spec);
        lookup_spec_free(&s);
    }
    for (size_t i = 0; i < sizeof(spec_types) / sizeof(spec_types[0]); i++)
        is_int(lookup_type_valid(spec_types[i].type, strlen(spec_types[i].type)) != 0,
               spec_types[i].valid, spec_types[i].type);
}

/* Not a check (timings vary, sanitizers slow it): a number to watch. */
static void bench(void)
{
    struct lookup_spec spec;
    struct strbuf val;
    struct errbuf eb;
    struct timespec t0, t1;
    const int n = 200000;
    double secs;

    char text[600];

    if (bsnprintf(text, sizeof(text), "lsearch;%s",
                  write_file("bench", lsearch_text)) < 0
        || lookup_spec_parse(text, &spec, &eb) < 0)
        abort();
    sb_init(&val);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++)
        lookup_find(&spec, i & 1 ? "Alice" : "nobody", i & 1 ? 5 : 6, &val,
                    &eb);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("# lsearch: %.0f lookups/s\n", n / secs);
    sb_free(&val);
    lookup_spec_free(&spec);
}

static void cleanup(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlink(tpath(e->d_name));
    if (d != NULL)
        closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_parse_line();
    test_specs();
    test_lsearch();
    test_reload();
    test_dbm();
    test_iplsearch();
    test_cidr();
    bench();
    lookup_cache_flush();
    cleanup();
    return done_testing();
}
