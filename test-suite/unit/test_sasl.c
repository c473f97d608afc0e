/*
 * test_sasl.c - unit tests of core/sasl: base64 (RFC 4648 vectors, invalid
 * input, bounds), PLAIN and LOGIN exchanges as case tables, field and line
 * limits, password checks against lsearch and dbm tables of crypt hashes
 * made here with fixed salts (plus mkpasswd's, when it is installed),
 * refused entries, the unknown-user timing and the failure delay policy.
 *
 * Exchange lines in the tables are sent as written, except lines starting
 * with '~': the rest is raw text ('^' stands for NUL) that the test
 * base64-encodes first.
 */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <crypt.h>

#include "core/base/errbuf.h"
#include "core/base/strbuf.h"
#include "core/lookup/lookup.h"
#include "core/mail/sasl.h"
#include "smtpd/sasl_passwd.h"
#include "test-suite/unit/tap.h"

static char tmpdir[] = "/tmp/test_sasl.XXXXXX";

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

/* ---- base64 ---- */

static const struct { const char *raw, *b64; } b64_vectors[] = {
    { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
};

static const struct { const char *name, *in; size_t len; } b64_bad[] = {
    { "length not a multiple of 4", "Zg=", 0 },
    { "no padding", "Zg", 0 },
    { "three pad characters", "Z===", 0 },
    { "only padding", "====", 0 },
    { "nonzero pad bits (1 byte)", "Zh==", 0 },
    { "nonzero pad bits (2 bytes)", "Zm9=", 0 },
    { "padding in the middle", "Zg==Zg==", 0 },
    { "padding inside a quad", "Zm=v", 0 },
    { "leading padding", "=Zm9", 0 },
    { "blank", "Zm 9v", 0 },
    { "line break", "Zm9v\nZm9v", 0 },
    { "character outside the alphabet", "Zm9*", 0 },
    { "URL-safe alphabet", "-_-_", 0 },
    { "8-bit byte", "\xc3\xa9" "AA", 0 },
    { "NUL byte", "Zm\0v", 4 },
    { "lone =", "=", 0 },
};

static void check_vector(const char *r, const char *b)
{
    unsigned char raw[64];
    char text[64], name[80];
    ssize_t n = sasl_b64_encode(r, strlen(r), text, sizeof(text));

    if (bsnprintf(name, sizeof(name), "b64 encode \"%s\"", r) < 0)
        abort();
    is_str(n < 0 ? NULL : text, b, name);
    is_int(n, (long long)strlen(b), "  length");
    n = sasl_b64_decode(b, strlen(b), raw, sizeof(raw));
    if (bsnprintf(name, sizeof(name), "b64 decode \"%s\"", b) < 0)
        abort();
    ok(n == (ssize_t)strlen(r) && memcmp(raw, r, (size_t)n) == 0, "%s",
       name);
}

static void test_b64_vectors(void)
{
    for (size_t i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]);
         i++)
        check_vector(b64_vectors[i].raw, b64_vectors[i].b64);
}

static void test_b64_invalid(void)
{
    unsigned char raw[64];

    for (size_t i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
        size_t len = b64_bad[i].len ? b64_bad[i].len
                                     : strlen(b64_bad[i].in);

        is_int(sasl_b64_decode(b64_bad[i].in, len, raw, sizeof(raw)), -1,
               b64_bad[i].name);
    }
}

static void test_b64_bounds(void)
{
    unsigned char all[256], back[256];
    char text[400], small[8];

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    is_int(sasl_b64_encode(all, 256, text, sizeof(text)), 344,
           "b64 encode all 256 byte values");
    ok(sasl_b64_decode(text, 344, back, sizeof(back)) == 256
       && memcmp(all, back, 256) == 0, "b64 round trip of 256 bytes");
    is_int(sasl_b64_decode("Zm9vYmFy", 8, back, 5), -1,
           "b64 decode into too small a buffer");
    is_int(sasl_b64_decode("Zm9vYmFy", 8, back, 6), 6,
           "b64 decode into an exact buffer");
    is_int(sasl_b64_encode("foo", 3, small, 4), -1,
           "b64 encode with no room for the NUL");
    is_int(sasl_b64_encode("foo", 3, small, 5), 4,
           "b64 encode into an exact buffer");
    is_int(sasl_b64_encode("", 0, small, 0), -1, "b64 encode into nothing");
}

/* ---- exchanges ---- */

struct sasl_case {
    const char *name;
    const char *mech;
    const char *ir;             /* NULL: no initial response */
    const char *lines[3];       /* client lines, sent while CONTINUE */
    const char *challenges;     /* every challenge, each followed by '|' */
    enum sasl_result want;
    const char *reply;          /* SASL_ERROR */
    const char *authzid, *authcid, *password;   /* SASL_DONE */
};

#define ERR(r) SASL_ERROR, r, NULL, NULL, NULL
#define OK3(z, c, p) SASL_DONE, NULL, z, c, p
#define BADB64 "501 5.5.2 Invalid base64 data"
#define MALFORMED "501 5.5.2 Malformed authentication data"
#define CANCEL "501 5.0.0 Authentication cancelled"
#define INVALID "535 5.7.8 Authentication credentials invalid"

static const struct sasl_case sasl_cases[] = {
    { "PLAIN, RFC 4616 example as initial response", "PLAIN",
      "~^tim^tanstaaftanstaaf", { NULL }, "",
      OK3("", "tim", "tanstaaftanstaaf") },
    { "PLAIN, authzid equal to authcid", "PLAIN", "~tim^tim^pw", { NULL },
      "", OK3("tim", "tim", "pw") },
    { "PLAIN, after an empty challenge", "PLAIN", NULL,
      { "~^alice^open sesame" }, "|", OK3("", "alice", "open sesame") },
    { "PLAIN, mechanism name in lower case", "plain", "~^a^b", { NULL }, "",
      OK3("", "a", "b") },
    { "PLAIN, 8-bit user and password", "PLAIN", "~^j\xc3\xb6rg^p\xc3\xa4ss",
      { NULL }, "", OK3("", "j\xc3\xb6rg", "p\xc3\xa4ss") },
    { "PLAIN, \"=\" empty initial response", "PLAIN", "=", { NULL }, "",
      ERR(MALFORMED) },
    { "PLAIN, bad base64 initial response", "PLAIN", "AGFsaWNl!AA", { NULL },
      "", ERR(BADB64) },
    { "PLAIN, \"*\" as initial response is bad base64", "PLAIN", "*",
      { NULL }, "", ERR(BADB64) },
    { "PLAIN, bad base64 after the challenge", "PLAIN", NULL, { "%%%%" },
      "|", ERR(BADB64) },
    { "PLAIN, \"=\" after the challenge is bad base64", "PLAIN", NULL,
      { "=" }, "|", ERR(BADB64) },
    { "PLAIN, empty line after the challenge", "PLAIN", NULL, { "" }, "|",
      ERR(MALFORMED) },
    { "PLAIN, cancelled with *", "PLAIN", NULL, { "*" }, "|", ERR(CANCEL) },
    { "PLAIN, authzid differs", "PLAIN", "~bob^alice^pw", { NULL }, "",
      ERR(INVALID) },
    { "PLAIN, authzid differs in case", "PLAIN", "~Alice^alice^pw", { NULL },
      "", ERR(INVALID) },
    { "PLAIN, authzid a prefix of authcid", "PLAIN", "~ali^alice^pw",
      { NULL }, "", ERR(INVALID) },
    { "PLAIN, one separator", "PLAIN", "~alice^pw", { NULL }, "",
      ERR(MALFORMED) },
    { "PLAIN, no separator", "PLAIN", "~alice", { NULL }, "",
      ERR(MALFORMED) },
    { "PLAIN, NUL in the password", "PLAIN", "~^alice^pw^x", { NULL }, "",
      ERR(MALFORMED) },
    { "PLAIN, empty authcid", "PLAIN", "~^^pw", { NULL }, "",
      ERR(MALFORMED) },
    { "PLAIN, empty password", "PLAIN", "~^alice^", { NULL }, "",
      ERR(MALFORMED) },
    { "LOGIN, full exchange", "LOGIN", NULL, { "~alice", "~open sesame" },
      "VXNlcm5hbWU6|UGFzc3dvcmQ6|", OK3("", "alice", "open sesame") },
    { "LOGIN, user name as initial response", "LOGIN", "~alice",
      { "~pw" }, "UGFzc3dvcmQ6|", OK3("", "alice", "pw") },
    { "LOGIN, cancelled at the user name", "LOGIN", NULL, { "*" },
      "VXNlcm5hbWU6|", ERR(CANCEL) },
    { "LOGIN, cancelled at the password", "LOGIN", NULL, { "~alice", "*" },
      "VXNlcm5hbWU6|UGFzc3dvcmQ6|", ERR(CANCEL) },
    { "LOGIN, empty user name", "LOGIN", NULL, { "" }, "VXNlcm5hbWU6|",
      ERR(MALFORMED) },
    { "LOGIN, \"=\" initial response", "LOGIN", "=", { NULL }, "",
      ERR(MALFORMED) },
    { "LOGIN, NUL in the user name", "LOGIN", NULL, { "~al^ice" },
      "VXNlcm5hbWU6|", ERR(MALFORMED) },
    { "LOGIN, NUL in the password", "LOGIN", NULL, { "~alice", "~p^w" },
      "VXNlcm5hbWU6|UGFzc3dvcmQ6|", ERR(MALFORMED) },
    { "LOGIN, bad base64 password", "LOGIN", NULL, { "~alice", "cGF=zcw" },
      "VXNlcm5hbWU6|UGFzc3dvcmQ6|", ERR(BADB64) },
    { "unknown mechanism", "CRAM-MD5", NULL, { NULL }, "",
      ERR("504 5.5.4 Unrecognized authentication type") },
    { "empty mechanism name", "", "AAAA", { NULL }, "",
      ERR("504 5.5.4 Unrecognized authentication type") },
    { "mechanism name with a suffix", "PLAINX", NULL, { NULL }, "",
      ERR("504 5.5.4 Unrecognized authentication type") },
};

/* The wire form of a table line into out (see the file header). */
static const char *wire(const char *line, struct strbuf *out)
{
    char raw[1024], text[2048];
    size_t n = strlen(line) - 1;

    sb_reset(out);
    if (line[0] != '~') {
        sb_puts(out, line);
        return sb_str(out);
    }
    for (size_t i = 0; i < n; i++)
        raw[i] = line[i + 1] == '^' ? '\0' : line[i + 1];
    if (sasl_b64_encode(raw, n, text, sizeof(text)) < 0)
        abort();
    sb_puts(out, text);
    return sb_str(out);
}

/* Run one exchange; the challenges sent are appended to seen. */
static enum sasl_result run_exchange(struct sasl_state *st,
                                     const struct sasl_case *c,
                                     struct strbuf *seen)
{
    struct strbuf w;
    enum sasl_result r;
    int i = 0;

    sb_init(&w);
    if (c->ir == NULL) {
        r = sasl_start(st, c->mech, NULL, 0);
    } else {
        wire(c->ir, &w);
        r = sasl_start(st, c->mech, sb_str(&w), sb_len(&w));
    }
    while (r == SASL_CONTINUE && i < 3 && c->lines[i] != NULL) {
        sb_printf(seen, "%s|", st->challenge);
        wire(c->lines[i++], &w);
        r = sasl_step(st, sb_str(&w), sb_len(&w));
    }
    if (r == SASL_CONTINUE)
        sb_printf(seen, "%s|", st->challenge);
    sb_free(&w);
    return r;
}

static void check_case(const struct sasl_case *c)
{
    struct sasl_state st;
    struct strbuf seen;
    enum sasl_result r;

    sb_init(&seen);
    r = run_exchange(&st, c, &seen);
    is_int(r, c->want, c->name);
    is_str(sb_str(&seen), c->challenges, "  challenges");
    if (c->want == SASL_ERROR) {
        is_str(st.reply, c->reply, "  reply");
        ok(st.authcid[0] == '\0' && st.password[0] == '\0',
           "  nothing parsed survives the error");
    } else if (c->want == SASL_DONE) {
        ok(strcmp(st.authzid, c->authzid) == 0
           && strcmp(st.authcid, c->authcid) == 0
           && strcmp(st.password, c->password) == 0,
           "  credentials \"%s\" \"%s\" \"%s\"", st.authzid, st.authcid,
           st.password);
    }
    sasl_state_clear(&st);
    sb_free(&seen);
}

static void test_exchanges(void)
{
    for (size_t i = 0; i < sizeof(sasl_cases) / sizeof(sasl_cases[0]); i++)
        check_case(&sasl_cases[i]);
}

/* PLAIN with parts of the given sizes, as the initial response. */
static enum sasl_result plain_sized(struct sasl_state *st, size_t zlen,
                                    size_t clen, size_t plen)
{
    char raw[2048], text[4096];
    size_t n = 0;
    ssize_t tl;

    memset(raw + n, 'u', zlen);
    n += zlen;
    raw[n++] = '\0';
    memset(raw + n, 'u', clen);
    n += clen;
    raw[n++] = '\0';
    memset(raw + n, 'p', plen);
    n += plen;
    if ((tl = sasl_b64_encode(raw, n, text, sizeof(text))) < 0)
        abort();
    return sasl_start(st, "PLAIN", text, (size_t)tl);
}

static void test_limits(void)
{
    struct sasl_state st;
    char line[SASL_LINE_MAX + 5];

    is_int(plain_sized(&st, 255, 255, 255), SASL_DONE,
           "PLAIN with three 255-byte parts (a 1024-character line)");
    ok(strlen(st.authcid) == 255 && strlen(st.password) == 255,
       "  parts kept whole");
    is_int(plain_sized(&st, 0, 256, 10), SASL_ERROR, "256-byte authcid");
    is_str(st.reply, INVALID, "  is 535");
    is_int(plain_sized(&st, 0, 10, 256), SASL_ERROR, "256-byte password");
    is_str(st.reply, INVALID, "  is 535");
    is_int(plain_sized(&st, 256, 255, 10), SASL_ERROR, "256-byte authzid");
    is_str(st.reply, INVALID, "  is 535");
    memset(line, 'A', sizeof(line));
    is_int(sasl_start(&st, "PLAIN", line, SASL_LINE_MAX + 4), SASL_ERROR,
           "initial response over SASL_LINE_MAX");
    is_str(st.reply, "500 5.5.6 Authentication Exchange line is too long",
           "  is 500 5.5.6");
    sasl_start(&st, "LOGIN", NULL, 0);
    is_int(sasl_step(&st, line, SASL_LINE_MAX + 4), SASL_ERROR,
           "LOGIN line over SASL_LINE_MAX");
    is_str(st.reply, "500 5.5.6 Authentication Exchange line is too long",
           "  is 500 5.5.6");
}

static void test_state(void)
{
    struct sasl_state st;

    sasl_state_clear(&st);
    is_int(sasl_step(&st, "AAAA", 4), SASL_ERROR, "step with no exchange");
    is_str(st.reply, "503 5.5.1 No authentication exchange in progress",
           "  is 503");
    sasl_start(&st, "LOGIN", NULL, 0);
    sasl_step(&st, "YWxpY2U=", 8);
    is_int(sasl_step(&st, "cHc=", 4), SASL_DONE, "LOGIN done");
    is_int(sasl_step(&st, "cHc=", 4), SASL_ERROR, "a step after DONE");
    sasl_start(&st, "PLAIN", "AGEAYg==", 8);
    sasl_state_clear(&st);
    ok(st.authcid[0] == '\0' && st.password[0] == '\0' && st.reply == NULL,
       "sasl_state_clear wipes the credentials");
    is_str(sasl_mechanisms(), "PLAIN LOGIN", "sasl_mechanisms");
}

/* ---- password checks ---- */

struct hashes {
    char sha512[CRYPT_OUTPUT_SIZE], yes[CRYPT_OUTPUT_SIZE];
    char sha256[CRYPT_OUTPUT_SIZE], bcrypt[CRYPT_OUTPUT_SIZE];
    char md5[CRYPT_OUTPUT_SIZE];
};

/* crypt pw with setting into out ("" if libcrypt refuses). */
static void make_hash(const char *pw, const char *setting, char *out)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    const char *h;

    if (cd == NULL)
        abort();
    h = setting ? crypt_rn(pw, setting, cd, (int)sizeof(*cd)) : NULL;
    if (bsnprintf(out, CRYPT_OUTPUT_SIZE, "%s", h ? h : "") < 0)
        abort();
    free(cd);
}

/* A setting for prefix from fixed "random" bytes (NULL if unsupported). */
static const char *gensalt(const char *prefix, unsigned long cost,
                           char *out)
{
    static const char rbytes[16] = "0123456789abcdef";

    return crypt_gensalt_rn(prefix, cost, rbytes, 16, out,
                            CRYPT_GENSALT_OUTPUT_SIZE);
}

static void make_hashes(struct hashes *h)
{
    char s[CRYPT_GENSALT_OUTPUT_SIZE];

    make_hash("sekrit", "$6$saltsaltsalt$", h->sha512);
    make_hash("yes pass", gensalt("$y$", 0, s), h->yes);
    make_hash("two five six", "$5$saltsalt$", h->sha256);
    make_hash("blowfish", gensalt("$2b$", 4, s), h->bcrypt);
    make_hash("md five", "$1$saltsalt$", h->md5);
    ok(strncmp(h->sha512, "$6$saltsaltsalt$", 16) == 0,
       "crypt_rn made a SHA-512 hash");
    ok(strncmp(h->yes, "$y$j9T$", 7) == 0, "crypt_rn made a yescrypt hash");
}

static const char *write_table(const struct hashes *h)
{
    struct strbuf t;
    const char *path;

    sb_init(&t);
    sb_printf(&t, "# test passwords\nalice: %s\nbob: %s\ncarol: %s\n",
              h->sha512, h->yes, h->sha256);
    if (h->bcrypt[0] != '\0')
        sb_printf(&t, "dave: %s\n", h->bcrypt);
    sb_printf(&t, "shadow:%s:19000:0:99999:7:::\n", h->sha512);
    sb_printf(&t, "locked: !%s\n", h->sha512);
    sb_printf(&t, "legacy: %s\n", h->md5[0] ? h->md5 : "$1$saltsalt$x");
    sb_puts(&t, "plain: sekrit\ndes: saHW9GdxihkGQ\nempty:\n"
            "junk: $6$\n");
    path = write_file("passwd", sb_str(&t));
    sb_free(&t);
    return path;
}

struct pw_case {
    const char *name, *user, *password;
    int want;
    const char *err;            /* substring of eb, "" for empty eb */
};

static const struct pw_case pw_cases[] = {
    { "SHA-512, right password", "alice", "sekrit", 1, "" },
    { "SHA-512, wrong password", "alice", "sekrit!", 0, "" },
    { "SHA-512, empty password", "alice", "", 0, "" },
    { "user names are caseless", "ALICE", "sekrit", 1, "" },
    { "yescrypt, right password", "bob", "yes pass", 1, "" },
    { "yescrypt, wrong password", "bob", "yes pas", 0, "" },
    { "SHA-256, right password", "carol", "two five six", 1, "" },
    { "SHA-256, wrong password", "carol", "sekrit", 0, "" },
    { "shadow-style line", "shadow", "sekrit", 1, "" },
    { "shadow-style line, wrong password", "shadow", "x", 0, "" },
    { "unknown user", "mallory", "sekrit", 0, "" },
    { "empty user name", "", "sekrit", 0, "" },
    { "plaintext entry refused", "plain", "sekrit", 0, "plaintext" },
    { "locked entry refused", "locked", "sekrit", 0, "plaintext or locked" },
    { "DES entry refused", "des", "sekrit", 0, "plaintext" },
    { "empty entry refused", "empty", "", 0, "not a crypt hash" },
    { "MD5 entry refused", "legacy", "md five", 0, "legacy" },
    { "truncated hash refused", "junk", "x", 0, "refused" },
};

static int check_pw(const char *spec_text, const char *user, const char *pw,
                    struct errbuf *eb)
{
    struct lookup_spec spec;
    int r;

    if (lookup_spec_parse(spec_text, &spec, eb) < 0)
        return -2;
    r = sasl_check_password(&spec, user, pw, eb);
    lookup_spec_free(&spec);
    return r;
}

static void run_pw_cases(const char *spec_text, const char *tag)
{
    struct errbuf eb;

    for (size_t i = 0; i < sizeof(pw_cases) / sizeof(pw_cases[0]); i++) {
        const struct pw_case *c = &pw_cases[i];
        int r = check_pw(spec_text, c->user, c->password, &eb);

        if (!ok(r == c->want && (c->err[0] ? strstr(eb.msg, c->err) != NULL
                                           : eb.msg[0] == '\0'),
                "%s: %s", tag, c->name))
            printf("#   got %d, eb \"%s\"\n", r, eb.msg);
    }
}

static void test_pw_more(const char *table, const struct hashes *h)
{
    char spec[600], longname[300];
    struct errbuf eb;

    if (bsnprintf(spec, sizeof(spec), "lsearch;%s", table) < 0)
        abort();
    if (h->bcrypt[0] != '\0')
        is_int(check_pw(spec, "dave", "blowfish", &eb), 1,
               "bcrypt $2b$, right password");
    else
        ok(1, "bcrypt # SKIP libcrypt has no $2b$");
    memset(longname, 'a', 299);
    longname[299] = '\0';
    is_int(check_pw(spec, longname, "x", &eb), 0, "299-byte user name");
    is_int(check_pw("lsearch;/nonexistent/passwd", "alice", "sekrit", &eb),
           -1, "missing table is a tempfail");
    ok(eb.msg[0] != '\0', "  with a reason: %s", eb.msg);
    if (bsnprintf(spec, sizeof(spec), "lsearch*;%s", table) < 0)
        abort();
    is_int(check_pw(spec, "alice", "sekrit", &eb), -1,
           "lsearch* table refused");
    if (bsnprintf(spec, sizeof(spec), "cidr;%s", table) < 0)
        abort();
    is_int(check_pw(spec, "alice", "sekrit", &eb), -1, "cidr table refused");
}

/* The Drepper SHA-crypt test vector: libcrypt makes the hash every other
 * tool makes, and a table holding it verifies. */
static void test_known_answer(void)
{
    const char *want = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
                       "O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
    char h[CRYPT_OUTPUT_SIZE], spec[600];
    struct errbuf eb;
    struct strbuf t;

    make_hash("Hello world!", "$6$saltstring", h);
    is_str(h, want, "SHA-512 crypt known answer");
    sb_init(&t);
    sb_printf(&t, "hello: %s\n", want);
    if (bsnprintf(spec, sizeof(spec), "lsearch;%s",
                  write_file("known", sb_str(&t))) < 0)
        abort();
    is_int(check_pw(spec, "hello", "Hello world!", &eb), 1,
           "known-answer hash verifies");
    sb_free(&t);
}

/* The table again as a dbm file, built as tern_dbmbuild does. */
static void test_dbm(const char *table)
{
    char spec[600];
    struct errbuf eb;
    size_t n;

    if (lookup_dbm_build(table, tpath("passwd.db"), NULL, NULL, &n, &eb)
        < 0) {
        ok(0, "dbm: build: %s", eb.msg);
        return;
    }
    if (bsnprintf(spec, sizeof(spec), "dbm;%s", tpath("passwd.db")) < 0)
        abort();
    run_pw_cases(spec, "dbm");
}

/* The first line cmd prints, without its newline; 0 if none. */
static int run_line(const char *cmd, char *out, size_t size)
{
    FILE *fp = popen(cmd, "r");
    int got;

    if (fp == NULL)
        return 0;
    got = fgets(out, (int)size, fp) != NULL;
    if (pclose(fp) != 0)
        got = 0;
    if (got)
        out[strcspn(out, "\n")] = '\0';
    return got;
}

/* mkpasswd (Debian's whois package) and we make the same hashes. */
static void test_mkpasswd(const struct hashes *h)
{
    char line[CRYPT_OUTPUT_SIZE + 2], spec[600];
    struct errbuf eb;
    struct strbuf t;

    if (!run_line("command -v mkpasswd >/dev/null 2>&1 && "
                  "mkpasswd -m sha-512 -S saltsaltsalt sekrit",
                  line, sizeof(line))) {
        ok(1, "mkpasswd -m sha-512 # SKIP mkpasswd not installed");
        ok(1, "mkpasswd -m yescrypt # SKIP mkpasswd not installed");
        return;
    }
    is_str(line, h->sha512, "mkpasswd -m sha-512 makes our hash");
    if (!run_line("mkpasswd -m yescrypt 'mk pass'", line, sizeof(line))) {
        ok(0, "mkpasswd -m yescrypt ran");
        return;
    }
    sb_init(&t);
    sb_printf(&t, "mk: %s\n", line);
    if (bsnprintf(spec, sizeof(spec), "lsearch;%s",
                  write_file("mkpasswd", sb_str(&t))) < 0)
        abort();
    ok(check_pw(spec, "mk", "mk pass", &eb) == 1
       && check_pw(spec, "mk", "mk pas", &eb) == 0,
       "mkpasswd -m yescrypt hash (random salt) verifies");
    sb_free(&t);
}

static double now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The fastest of 5 checks of user/pw, in ms (the minimum shrugs off
 * scheduling noise and the first load of the table). */
static double min_time(const char *spec, const char *user, const char *pw)
{
    struct errbuf eb;
    double best = 1e12;

    for (int i = 0; i < 5; i++) {
        double t0 = now_ms(), d;

        (void)check_pw(spec, user, pw, &eb);
        if ((d = now_ms() - t0) < best)
            best = d;
    }
    return best;
}

static void check_ratio(const char *name, double a, double b)
{
    double r = a > b ? a / (b > 0 ? b : 1e-9) : b / (a > 0 ? a : 1e-9);

    ok(r <= 3.0, "%s: %.2f ms vs %.2f ms (ratio %.2f)", name, a, b, r);
}

/* Runs before any other check, so the first measurement uses the
 * built-in dummy hash. */
static void test_timing(const char *spec)
{
    double unknown, known;

    unknown = min_time(spec, "nobody", "yes pass");
    known = min_time(spec, "bob", "yes pass");
    check_ratio("unknown user (built-in dummy) vs yescrypt user", unknown,
                known);
    known = min_time(spec, "alice", "sekrit");
    unknown = min_time(spec, "nobody", "sekrit");
    check_ratio("unknown user vs SHA-512 user checked before", unknown,
                known);
    check_ratio("plaintext entry vs SHA-512 user",
                min_time(spec, "plain", "sekrit"), known);
}

static void test_delay(void)
{
    static const int want[][2] = {
        { INT_MIN, 0 }, { -1, 0 }, { 0, 0 }, { 1, 0 }, { 2, 1000 },
        { 3, 2000 }, { 4, 4000 }, { 5, 8000 }, { 6, 16000 }, { 7, 16000 },
        { 40, 16000 }, { INT_MAX, 16000 },
    };
    char name[64];

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (bsnprintf(name, sizeof(name), "failure delay after %d",
                      want[i][0]) < 0)
            abort();
        is_int(sasl_failure_delay_ms(want[i][0]), want[i][1], name);
    }
}

static void cleanup(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlink(tpath(e->d_name));
    closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    struct hashes h;
    char spec[600];

    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_b64_vectors();
    test_b64_invalid();
    test_b64_bounds();
    test_exchanges();
    test_limits();
    test_state();
    make_hashes(&h);
    if (bsnprintf(spec, sizeof(spec), "lsearch;%s", write_table(&h)) < 0)
        abort();
    test_timing(spec);
    run_pw_cases(spec, "lsearch");
    test_pw_more(tpath("passwd"), &h);
    test_dbm(tpath("passwd"));
    test_known_answer();
    test_mkpasswd(&h);
    test_delay();
    cleanup();
    return done_testing();
}
