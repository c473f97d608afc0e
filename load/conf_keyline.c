/*
 * conf_keyline.c - the line each key of a main { ... } table is written on.
 *
 * PURPOSE: Lua's debug information gives the line of a call, not of the
 * fields of the table passed to it: every main option would point at the
 * "main {" line in -bP config. So the loader reads the file's text again
 * from the call's line, finds the table constructor (the first "{"),
 * walks it with a small Lua lexer (strings, long strings, comments,
 * nested brackets) and notes the line of each top-level "name =" and
 * ["name"] = field. LIMITS: a table built elsewhere (main(t)) or keys
 * computed at run time are not in the text: those options keep the line
 * of the call; two calls on one line share the first table.
 * INTERFACE: keylines_scan, keylines_get, keylines_free (conf_keyline.h).
 * ERRORS: none: a file that cannot be read or parsed gives no keys, and
 *         the caller keeps the call's line.
 * SECURITY: configuration files are the administrator's; still, at most
 *           KEYLINE_FILE_MAX bytes are read and KEYLINE_MAX keys kept.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/safe_io.h"
#include "core/base/xalloc.h"
#include "load/conf_keyline.h"

#define KEYLINE_FILE_MAX (1L << 20)
#define KEYLINE_MAX 1000

struct lex {
    const char *p, *end;
    int line;
};

/* long_level - at "[[" or "[=...=[": the number of '=', else -1 */
static int long_level(const struct lex *x)
{
    const char *q = x->p + 1;

    if (x->p >= x->end || *x->p != '[')
        return -1;
    while (q < x->end && *q == '=')
        q++;
    return q < x->end && *q == '[' ? (int)(q - x->p - 1) : -1;
}

/* skip_long - past a long string or comment of level lvl at x->p */
static void skip_long(struct lex *x, int lvl)
{
    x->p += lvl + 2;
    for (; x->p < x->end; x->p++) {
        if (*x->p == '\n')
            x->line++;
        if (*x->p == ']' && x->p + lvl + 1 < x->end
            && x->p[lvl + 1] == ']') {
            int k = 1;
            while (k <= lvl && x->p[k] == '=')
                k++;
            if (k == lvl + 1) {
                x->p += lvl + 2;
                return;
            }
        }
    }
}

/* skip_blank - past white space and comments */
static void skip_blank(struct lex *x)
{
    while (x->p < x->end) {
        if (*x->p == '\n')
            x->line++, x->p++;
        else if (isspace((unsigned char)*x->p))
            x->p++;
        else if (x->end - x->p >= 2 && x->p[0] == '-' && x->p[1] == '-') {
            int lvl;
            x->p += 2;
            if ((lvl = long_level(x)) >= 0)
                skip_long(x, lvl);
            else
                while (x->p < x->end && *x->p != '\n')
                    x->p++;
        } else {
            return;
        }
    }
}

/* skip_quoted - past a '...' or "..." string; its text in [*s, *e) */
static void skip_quoted(struct lex *x, const char **s, const char **e)
{
    char q = *x->p++;

    *s = x->p;
    while (x->p < x->end && *x->p != q && *x->p != '\n') {
        if (*x->p == '\\' && x->p + 1 < x->end)
            x->p++;
        x->p++;
    }
    *e = x->p;
    if (x->p < x->end && *x->p == q)
        x->p++;
}

/* at_assign - after blanks, a single '=' (not "=="): consumed */
static int at_assign(struct lex *x)
{
    skip_blank(x);
    if (x->p < x->end && *x->p == '='
        && !(x->p + 1 < x->end && x->p[1] == '=')) {
        x->p++;
        return 1;
    }
    return 0;
}

/* after_sep - may a field start after prev ('{', ',' or ';')? */
static int after_sep(char prev)
{
    return prev == '{' || prev == ',' || prev == ';';
}

static void add_key(struct keylines *kl, const char *s, const char *e,
                    int line)
{
    if (kl->n >= KEYLINE_MAX)
        return;
    kl->v = xreallocarray(kl->v, kl->n + 1, sizeof(*kl->v));
    kl->v[kl->n].key = xstrndup(s, (size_t)(e - s));
    kl->v[kl->n].line = line;
    kl->n++;
}

/* bracket_key - at "[" of a field: ["name"] = is a key */
static void bracket_key(struct lex *x, struct keylines *kl)
{
    const char *s, *e;
    int line;

    x->p++;
    skip_blank(x);
    if (x->p >= x->end || (*x->p != '"' && *x->p != '\''))
        return;
    line = x->line;
    skip_quoted(x, &s, &e);
    skip_blank(x);
    if (x->p < x->end && *x->p == ']') {
        x->p++;
        if (at_assign(x))
            add_key(kl, s, e, line);
    }
}

/* one token inside the table; *depth and *prev follow brackets and the
 * last punctuation */
static void step(struct lex *x, struct keylines *kl, int *depth, char *prev)
{
    const char *s, *e;
    int lvl, line = x->line;
    char c = *x->p;

    if ((lvl = long_level(x)) >= 0) {
        skip_long(x, lvl);
        *prev = 's';
    } else if (c == '"' || c == '\'') {
        skip_quoted(x, &s, &e);
        *prev = 's';
    } else if (isalpha((unsigned char)c) || c == '_') {
        for (s = x->p; x->p < x->end && (isalnum((unsigned char)*x->p)
                                         || *x->p == '_'); x->p++)
            ;
        e = x->p;
        if (*depth == 1 && after_sep(*prev) && at_assign(x))
            add_key(kl, s, e, line);
        *prev = 'i';
    } else if (c == '[' && *depth == 1 && after_sep(*prev)) {
        bracket_key(x, kl);
        *prev = 'k';
    } else {
        *depth += c == '{' || c == '(' || c == '[';
        *depth -= c == '}' || c == ')' || c == ']';
        *prev = c;
        x->p++;
    }
}

/* walk - from the first "{" at or after x->p to its closing "}" */
static void walk(struct lex *x, struct keylines *kl)
{
    const char *s, *e;
    int depth = 0;
    char prev = '{';

    for (skip_blank(x); x->p < x->end && *x->p != '{'; skip_blank(x)) {
        if (*x->p == ')')
            return;             /* main(t): no constructor in this call */
        if (*x->p == '"' || *x->p == '\'')
            skip_quoted(x, &s, &e);
        else
            x->p++;
    }
    if (x->p >= x->end)
        return;
    x->p++;
    depth = 1;
    for (skip_blank(x); x->p < x->end && depth > 0; skip_blank(x))
        step(x, kl, &depth, &prev);
}

/* read_text - the file, at most KEYLINE_FILE_MAX bytes; NULL if not */
static char *read_text(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *buf = NULL;
    ssize_t n;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
        && st.st_size <= KEYLINE_FILE_MAX) {
        buf = xmalloc((size_t)st.st_size + 1);
        n = safe_read_full(fd, buf, (size_t)st.st_size);
        if (n < 0) {
            free(buf);
            buf = NULL;
        } else {
            *len = (size_t)n;
        }
    }
    (void)close(fd);            /* read only */
    return buf;
}

/* keylines_scan - the keys of the table passed to the call on line line
 * of path, with their lines */
void keylines_scan(const char *path, int line, struct keylines *kl)
{
    size_t len = 0;
    char *buf = read_text(path, &len);
    struct lex x;

    memset(kl, 0, sizeof(*kl));
    if (buf == NULL || line <= 0)
        goto done;
    x = (struct lex){ buf, buf + len, 1 };
    while (x.p < x.end && x.line < line)
        if (*x.p++ == '\n')
            x.line++;
    walk(&x, kl);
done:
    free(buf);
}

/* keylines_get - the line of key, 0 when it was not found */
int keylines_get(const struct keylines *kl, const char *key)
{
    for (size_t i = kl->n; i-- > 0; )   /* a repeated key: the last wins */
        if (strcmp(kl->v[i].key, key) == 0)
            return kl->v[i].line;
    return 0;
}

/* keylines_free - release what keylines_scan found */
void keylines_free(struct keylines *kl)
{
    for (size_t i = 0; i < kl->n; i++)
        free(kl->v[i].key);
    free(kl->v);
    memset(kl, 0, sizeof(*kl));
}
