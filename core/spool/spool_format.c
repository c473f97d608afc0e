/*
 * spool_format.c - the message file format, version 1: encoder and a
 * reader that validates everything.
 *
 * PURPOSE:   "tern-spool 1\n", then one "key value\n" record per envelope
 *            field in a fixed order (table fields[]), "rcpts N" + N "rcpt"
 *            records, "vars N" + N "var NAME VALUE" records, then
 *            "data LEN\n" (LEN: 20 zero-padded digits, patched at commit),
 *            LEN raw bytes, "\nEND\n" and nothing else. Values escape
 *            '%', space and control bytes as %XX (upper-case hex); other
 *            bytes, 8-bit included, are written raw. NUL cannot occur.
 * INTERFACE: spool_fmt_check, spool_fmt_head, spool_fmt_length,
 *            spool_fmt_parse (spool_impl.h).
 * ERRORS:    the reader refuses, with "line N: reason": an unknown version,
 *            a missing or misplaced record, a bad escape or number, a
 *            line over SPOOL_LINE_MAX, counts over the limits, a data
 *            length that does not match, a missing END, trailing bytes.
 * SECURITY:  input is hostile (a damaged or planted file); nothing is
 *            read past the buffer, counts are checked against the bytes
 *            left before anything is allocated, reasons never echo file
 *            bytes (they end up in logs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/base/pool.h"
#include "core/spool/spool_impl.h"

enum ftype { F_STR, F_INT, F_LONG, F_LLONG };

struct field {
    const char *key;
    enum ftype type;
    size_t off;                 /* in struct spool_env */
    long long max;              /* numbers: 0..max */
};

#define E(m) offsetof(struct spool_env, m)
static const struct field fields[] = {
    { "received", F_LLONG, E(received_sec), 0x7fffffffffffffffLL },
    { "received-usec", F_LONG, E(received_usec), 999999 },
    { "sender", F_STR, E(sender), 0 },
    { "helo", F_STR, E(helo), 0 },
    { "client-ip", F_STR, E(client_ip), 0 },
    { "client-port", F_INT, E(client_port), 65535 },
    { "client-name", F_STR, E(client_name), 0 },
    { "protocol", F_STR, E(protocol), 0 },
    { "auth-id", F_STR, E(auth_id), 0 },
    { "tls-cipher", F_STR, E(tls_cipher), 0 },
    { "body-type", F_STR, E(body_type), 0 },
    { "smtputf8", F_INT, E(smtputf8), 1 },
    { "local-user", F_STR, E(local_user), 0 },
    { "frozen", F_INT, E(frozen), 1 },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* ---- encoder ----------------------------------------------------------- */

static int needs_esc(unsigned char c)
{
    return c < 0x20 || c == 0x7f || c == '%' || c == ' ';
}

static size_t esc_len(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += needs_esc((unsigned char)*s) ? 3 : 1;
    return n;
}

static const char *str_of(const struct spool_env *env, const struct field *f)
{
    const char *s = *(const char *const *)((const char *)env + f->off);

    return s == NULL ? "" : s;
}

static long long num_of(const struct spool_env *env, const struct field *f)
{
    const char *p = (const char *)env + f->off;

    switch (f->type) {
    case F_INT:
        return *(const int *)p;
    case F_LONG:
        return *(const long *)p;
    default:
        return *(const long long *)p;
    }
}

static int put(struct spool_sink *o, const void *p, size_t n)
{
    return n == 0 ? 0 : o->put(o->ctx, p, n);
}

static int put_str(struct spool_sink *o, const char *s)
{
    return put(o, s, strlen(s));
}

/* put_esc - s with the bytes needs_esc() names as %XX */
static int put_esc(struct spool_sink *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *run = s;
    char e[3] = { '%', 0, 0 };

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (!needs_esc(c))
            continue;
        e[1] = hex[c >> 4];
        e[2] = hex[c & 15];
        if (put(o, run, (size_t)(s - run)) < 0 || put(o, e, 3) < 0)
            return -1;
        run = s + 1;
    }
    return put(o, run, (size_t)(s - run));
}

/* put_num - "key N\n" */
static int put_num(struct spool_sink *o, const char *key,
                   unsigned long long v)
{
    char buf[24];
    size_t i = sizeof buf;

    buf[--i] = '\n';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    buf[--i] = ' ';
    if (put_str(o, key) < 0)
        return -1;
    return put(o, buf + i, sizeof buf - i);
}

/* put_rec - "key VALUE\n" (two values for a var record) */
static int put_rec(struct spool_sink *o, const char *key, const char *v1,
                   const char *v2)
{
    if (put_str(o, key) < 0 || put(o, " ", 1) < 0 || put_esc(o, v1) < 0)
        return -1;
    if (v2 != NULL && (put(o, " ", 1) < 0 || put_esc(o, v2) < 0))
        return -1;
    return put(o, "\n", 1);
}

/* line_fits - would "key v1[ v2]\n" fit in SPOOL_LINE_MAX */
static int line_fits(const char *key, const char *v1, const char *v2)
{
    size_t n = strlen(key) + 2 + esc_len(v1);

    if (v2 != NULL)
        n += 1 + esc_len(v2);
    return n <= SPOOL_LINE_MAX;
}

static int check_fields(const struct spool_env *env, const char **why)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &fields[i];
        long long v;

        if (f->type == F_STR) {
            if (!line_fits(f->key, str_of(env, f), NULL))
                return *why = "envelope field too long", -1;
            continue;
        }
        v = num_of(env, f);
        if (v < 0 || v > f->max)
            return *why = "envelope number out of range", -1;
    }
    return 0;
}

static int check_lists(const struct spool_env *env, const char **why)
{
    if (env->nrcpt > SPOOL_RCPT_MAX || (env->nrcpt > 0 && env->rcpts == NULL))
        return *why = "too many recipients", -1;
    for (size_t i = 0; i < env->nrcpt; i++)
        if (env->rcpts[i] == NULL || !line_fits("rcpt", env->rcpts[i], NULL))
            return *why = "recipient missing or too long", -1;
    if (env->nvars > SPOOL_VAR_MAX || (env->nvars > 0 && env->vars == NULL))
        return *why = "too many ACL variables", -1;
    for (size_t i = 0; i < env->nvars; i++) {
        const struct spool_var *v = &env->vars[i];

        if (v->name == NULL || v->name[0] == '\0'
            || !line_fits("var", v->name, v->value ? v->value : ""))
            return *why = "ACL variable without a name or too long", -1;
    }
    return 0;
}

/* spool_fmt_check - is env writable (limits, id shape); -1 with why */
int spool_fmt_check(const struct spool_env *env, const char **why)
{
    if (!msgid_valid(env->id))
        return *why = "bad message id", -1;
    if (check_fields(env, why) < 0)
        return -1;
    return check_lists(env, why);
}

static int head_lists(const struct spool_env *env, struct spool_sink *o)
{
    if (put_num(o, "rcpts", env->nrcpt) < 0)
        return -1;
    for (size_t i = 0; i < env->nrcpt; i++)
        if (put_rec(o, "rcpt", env->rcpts[i], NULL) < 0)
            return -1;
    if (put_num(o, "vars", env->nvars) < 0)
        return -1;
    for (size_t i = 0; i < env->nvars; i++) {
        const struct spool_var *v = &env->vars[i];

        if (put_rec(o, "var", v->name, v->value ? v->value : "") < 0)
            return -1;
    }
    return put_str(o, "data ");
}

/* spool_fmt_head - everything up to and including "data " */
int spool_fmt_head(const struct spool_env *env, struct spool_sink *o)
{
    if (put_str(o, SPOOL_MAGIC) < 0 || put_rec(o, "id", env->id, NULL) < 0)
        return -1;
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &fields[i];
        int r = f->type == F_STR
                ? put_rec(o, f->key, str_of(env, f), NULL)
                : put_num(o, f->key, (unsigned long long)num_of(env, f));

        if (r < 0)
            return -1;
    }
    return head_lists(env, o);
}

/* spool_fmt_length - the SPOOL_LEN_DIGITS digits of the data length */
void spool_fmt_length(char *out, unsigned long long len)
{
    for (int i = SPOOL_LEN_DIGITS - 1; i >= 0; i--) {
        out[i] = (char)('0' + len % 10);
        len /= 10;
    }
}

/* ---- reader ------------------------------------------------------------ */

struct rd {
    char *p, *end;              /* unread bytes */
    unsigned line;
    char *why;
    size_t whysize;
};

/* fail - record "line N: reason" and return -1 */
__attribute__((format(printf, 2, 3)))
static int fail(struct rd *r, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(r->why, r->whysize, "line %u: ", r->line);

    if (n < 0 || (size_t)n >= r->whysize)
        return -1;
    va_start(ap, fmt);
    (void)vsnprintf(r->why + n, r->whysize - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* next_line - the next line, NUL-terminated in place; its length or -1 */
static long next_line(struct rd *r, char **line)
{
    size_t avail = (size_t)(r->end - r->p);
    size_t scan = avail < SPOOL_LINE_MAX ? avail : SPOOL_LINE_MAX;
    char *lf = memchr(r->p, '\n', scan);
    long n;

    r->line++;
    if (lf == NULL)
        return avail < SPOOL_LINE_MAX ? fail(r, "truncated (no end of line)")
                                      : fail(r, "line too long");
    *lf = '\0';
    *line = r->p;
    n = lf - r->p;
    r->p = lf + 1;
    return n;
}

/* record - the next line must be "key VALUE"; VALUE and its length */
static long record(struct rd *r, const char *key, char **val)
{
    size_t klen = strlen(key);
    char *line;
    long n = next_line(r, &line);

    if (n < 0)
        return -1;
    if ((size_t)n <= klen || memcmp(line, key, klen) != 0 || line[klen] != ' ')
        return fail(r, "expected a \"%s\" record", key);
    *val = line + klen + 1;
    return n - (long)klen - 1;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* unescape - decode s[0..n) in place and terminate it */
static int unescape(struct rd *r, char *s, size_t n, const char *what)
{
    char *o = s;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int hi, lo;

        if (c != '%') {
            if (needs_esc(c))
                return fail(r, "unescaped control byte or space in %s", what);
            *o++ = (char)c;
            continue;
        }
        if (n - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0
            || (lo = hexval((unsigned char)s[i + 2])) < 0)
            return fail(r, "bad %%XX escape in %s", what);
        if (hi == 0 && lo == 0)
            return fail(r, "escaped NUL in %s", what);
        *o++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *o = '\0';
    return 0;
}

/* number - s[0..n) as a decimal in 0..max */
static int number(struct rd *r, const char *s, size_t n,
                  unsigned long long max, unsigned long long *v,
                  const char *what)
{
    unsigned long long x = 0;

    if (n == 0 || n > 20)
        return fail(r, "bad number in %s", what);
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - (unsigned)'0';

        if (d > 9)
            return fail(r, "bad number in %s", what);
        if (d > max || x > (max - d) / 10)
            return fail(r, "%s out of range", what);
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* num_record - "key N" with N in 0..max */
static int num_record(struct rd *r, const char *key, unsigned long long max,
                      unsigned long long *v)
{
    char *val;
    long n = record(r, key, &val);

    return n < 0 ? -1 : number(r, val, (size_t)n, max, v, key);
}

/* str_record - "key VALUE", decoded */
static int str_record(struct rd *r, const char *key, const char **out)
{
    char *val;
    long n = record(r, key, &val);

    if (n < 0 || unescape(r, val, (size_t)n, key) < 0)
        return -1;
    *out = val;
    return 0;
}

static int parse_magic(struct rd *r)
{
    static const char pfx[] = "tern-spool ";
    char *line;
    long n;

    size_t avail = (size_t)(r->end - r->p);

    r->line = 1;
    if (avail == 0)
        return fail(r, "empty file");
    if (memcmp(r->p, pfx, avail < sizeof pfx - 1 ? avail : sizeof pfx - 1))
        return fail(r, "not a tern spool file");
    r->line = 0;
    n = next_line(r, &line);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof pfx || memcmp(line, pfx, sizeof pfx - 1) != 0)
        return fail(r, "not a tern spool file");
    if ((size_t)n != sizeof pfx || line[sizeof pfx - 1] != '1')
        return fail(r, "unknown format version");
    return 0;
}

static int parse_id(struct rd *r, const char *want, struct spool_env *env)
{
    const char *id;

    if (str_record(r, "id", &id) < 0)
        return -1;
    if (!msgid_valid(id))
        return fail(r, "bad message id");
    if (want != NULL && strcmp(id, want) != 0)
        return fail(r, "id does not match the file name");
    memcpy(env->id, id, MSGID_LEN + 1);
    return 0;
}

static int parse_field(struct rd *r, const struct field *f,
                       struct spool_env *env)
{
    char *p = (char *)env + f->off;
    unsigned long long v;

    if (f->type == F_STR)
        return str_record(r, f->key, (const char **)(void *)p);
    if (num_record(r, f->key, (unsigned long long)f->max, &v) < 0)
        return -1;
    if (f->type == F_INT)
        *(int *)(void *)p = (int)v;
    else if (f->type == F_LONG)
        *(long *)(void *)p = (long)v;
    else
        *(long long *)(void *)p = (long long)v;
    return 0;
}

/* count_record - "key N": N under max and not more than the records of
 * minlen bytes that the rest of the file could hold */
static int count_record(struct rd *r, const char *key, size_t max,
                        size_t minlen, size_t *out)
{
    unsigned long long v;

    if (num_record(r, key, max, &v) < 0)
        return -1;
    if (v > (unsigned long long)(r->end - r->p) / minlen)
        return fail(r, "%s count exceeds the file", key);
    *out = (size_t)v;
    return 0;
}

static int parse_rcpts(struct rd *r, struct pool *pool, struct spool_env *env)
{
    const char **a;

    if (count_record(r, "rcpts", SPOOL_RCPT_MAX, sizeof "rcpt \n" - 1,
                     &env->nrcpt) < 0)
        return -1;
    a = pool_alloc(pool, (env->nrcpt + 1) * sizeof(*a));
    for (size_t i = 0; i < env->nrcpt; i++)
        if (str_record(r, "rcpt", &a[i]) < 0)
            return -1;
    a[env->nrcpt] = NULL;
    env->rcpts = a;
    return 0;
}

static int parse_var(struct rd *r, struct spool_var *v)
{
    char *val, *sp;
    long n = record(r, "var", &val);

    if (n < 0)
        return -1;
    sp = memchr(val, ' ', (size_t)n);
    if (sp == NULL || sp == val)
        return fail(r, "var record needs a name and a value");
    if (unescape(r, val, (size_t)(sp - val), "var name") < 0
        || unescape(r, sp + 1, (size_t)(val + n - sp - 1), "var value") < 0)
        return -1;
    v->name = val;
    v->value = sp + 1;
    return 0;
}

static int parse_vars(struct rd *r, struct pool *pool, struct spool_env *env)
{
    struct spool_var *a;

    if (count_record(r, "vars", SPOOL_VAR_MAX, sizeof "var a \n" - 1,
                     &env->nvars) < 0)
        return -1;
    a = pool_alloc(pool, (env->nvars + 1) * sizeof(*a));
    for (size_t i = 0; i < env->nvars; i++)
        if (parse_var(r, &a[i]) < 0)
            return -1;
    env->vars = a;
    return 0;
}

/* parse_data - "data LEN", LEN bytes, "\nEND\n", end of file */
static int parse_data(struct rd *r, struct spool_msg *m)
{
    unsigned long long len;
    size_t left;

    if (num_record(r, "data", ~0ULL, &len) < 0)
        return -1;
    left = (size_t)(r->end - r->p);
    if (len > left)
        return fail(r, "truncated: data has %zu of %llu bytes", left, len);
    if (left - len < SPOOL_TRAILER_LEN
        || memcmp(r->p + len, SPOOL_TRAILER, SPOOL_TRAILER_LEN) != 0)
        return fail(r, "no END record after %llu data bytes (truncated or "
                    "wrong length)", len);
    if (left - len > SPOOL_TRAILER_LEN)
        return fail(r, "trailing garbage after END");
    m->data = r->p;
    m->len = (size_t)len;
    r->p[len] = '\0';           /* the "\n" of "\nEND\n": data is a string */
    return 0;
}

/* spool_fmt_parse - validate and decode a whole message file in place */
int spool_fmt_parse(char *buf, size_t len, const char *want_id,
                    struct pool *pool, struct spool_msg *out, char *why,
                    size_t whysize)
{
    struct rd r = { buf, buf + len, 0, why, whysize };

    if (parse_magic(&r) < 0 || parse_id(&r, want_id, &out->env) < 0)
        return -1;
    for (size_t i = 0; i < NFIELDS; i++)
        if (parse_field(&r, &fields[i], &out->env) < 0)
            return -1;
    if (parse_rcpts(&r, pool, &out->env) < 0
        || parse_vars(&r, pool, &out->env) < 0)
        return -1;
    return parse_data(&r, out);
}
