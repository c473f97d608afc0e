/*
 * opt.c - typed option tables: set from text, defaults, format for -bP.
 *
 * PURPOSE: one implementation of "an option has a name, a type and a slot"
 * for main options, router and transport options (generic and private) and
 * ACL statement fields, so every one of them is checked the same way.
 * INTERFACE: opt_find, opt_set_text, opt_defaults, opt_format, opt_is_set,
 *            conf_parse_time, conf_parse_size, conf_parse_bool, xval_set.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/strbuf.h"
#include "core/conf/conf_build.h"
#include "core/mail/expand.h"
#include "core/conf/mlist.h"

/* opt_find - the spec named name, or NULL */
const struct opt_spec *opt_find(const struct opt_spec *tbl, const char *name)
{
    for (; tbl != NULL && tbl->name != NULL; tbl++)
        if (strcmp(tbl->name, name) == 0)
            return tbl;
    return NULL;
}

/* conf_parse_time - "1w2d3h4m5s" or a plain number of seconds */
int conf_parse_time(const char *s, long *out)
{
    long total = 0;

    if (*s == '\0')
        return -1;
    while (*s != '\0') {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        long mult;
        if (end == s || v < 0 || errno != 0)
            return -1;
        switch (*end) {
        case 'w': mult = 7 * 86400; end++; break;
        case 'd': mult = 86400; end++; break;
        case 'h': mult = 3600; end++; break;
        case 'm': mult = 60; end++; break;
        case 's': mult = 1; end++; break;
        case '\0': mult = 1; break;
        default: return -1;
        }
        if (v > (LONG_MAX - total) / mult)
            return -1;
        total += v * mult;
        s = end;
    }
    *out = total;
    return 0;
}

/* conf_format_time - seconds as Exim writes times: "1d2h", "15m", "0s" */
void conf_format_time(long secs, struct strbuf *out)
{
    static const struct { char unit; long secs; } units[] = {
        { 'w', 604800 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 },
        { 's', 1 } };

    if (secs == 0) {
        sb_puts(out, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (secs >= units[i].secs) {
            sb_printf(out, "%ld%c", secs / units[i].secs, units[i].unit);
            secs %= units[i].secs;
        }
}

/* conf_parse_size - "10M", "512K", "1G" or bytes */
int conf_parse_size(const char *s, long *out)
{
    char *end;
    long v, mult = 1;

    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || v < 0 || errno != 0)
        return -1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1024; end++; break;
    case 'M': mult = 1024 * 1024; end++; break;
    case 'G': mult = 1024L * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end != '\0' || v > LONG_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

/* conf_parse_bool - true/false/yes/no */
int conf_parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
        return *out = 1, 0;
    if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
        return *out = 0, 0;
    return -1;
}

/* xval_set - nonzero if a string or function was given */
int xval_set(const struct xval *x)
{
    return x->str != NULL || x->fn >= 0;
}

static int enum_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);

    for (const char *c = choices; *c != '\0';) {
        size_t len = strcspn(c, "|");
        if (len == n && strncmp(c, v, n) == 0)
            return 1;
        c += len + (c[len] == '|');
    }
    /* a choice ending in ':' takes an argument: "reroute:" */
    for (const char *c = choices; *c != '\0';) {
        size_t len = strcspn(c, "|");
        if (len > 1 && c[len - 1] == ':' && strncmp(c, v, len) == 0
            && v[len] != '\0')
            return 1;
        c += len + (c[len] == '|');
    }
    return 0;
}

static void split_strlist(struct conf *c, const struct opt_spec *o,
                          struct strlist *sl, const char *text)
{
    const char *seps = o->choices ? o->choices : NULL;
    size_t cap = 1;

    for (const char *t = text; seps && *t; t++)
        cap += strchr(seps, *t) != NULL;
    sl->v = pool_zalloc(c->pool, (cap + 1) * sizeof(char *));
    sl->n = 0;
    while (*text != '\0') {
        size_t len = seps ? strcspn(text, seps) : strlen(text);
        const char *b = text, *e = text + len;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b)
            sl->v[sl->n++] = pool_strndup(c->pool, b, (size_t)(e - b));
        text += len + (text[len] != '\0');
    }
}

static int set_number(const struct opt_spec *o, void *slot, const char *text,
                      struct errbuf *eb)
{
    long v;
    char *end;

    if (o->type == OPT_TIME) {
        if (conf_parse_time(text, &v) != 0)
            return errbuf_set(eb, "bad time \"%s\" (e.g. 90s, 15m, 2h, 4d)",
                              text), -1;
    } else if (o->type == OPT_SIZE) {
        if (conf_parse_size(text, &v) != 0)
            return errbuf_set(eb, "bad size \"%s\" (e.g. 512K, 10M)", text),
                   -1;
    } else if (o->type == OPT_MODE) {
        errno = 0;
        v = strtol(text, &end, 8);
        if (end == text || *end != '\0' || errno != 0 || v < 0 || v > 07777)
            return errbuf_set(eb, "expects a mode in octal (e.g. 0640), got "
                              "\"%s\"", text), -1;
    } else {
        errno = 0;
        v = strtol(text, &end, 0);
        if (end == text || *end != '\0' || errno != 0)
            return errbuf_set(eb, "expects a number, got \"%s\"", text), -1;
    }
    *(long *)slot = v;
    return 0;
}

/* opt_set_text - set option o in base from its text form */
int opt_set_text(struct conf *c, const struct opt_spec *o, void *base,
                 const char *text, struct errbuf *eb)
{
    void *slot = (char *)base + o->offset;

    switch (o->type) {
    case OPT_STR:
        *(const char **)slot = pool_strdup(c->pool, text);
        return 0;
    case OPT_ENUM:
        if (!enum_ok(o->choices, text))
            return errbuf_set(eb, "must be one of %s, got \"%s\"",
                              o->choices, text), -1;
        *(const char **)slot = pool_strdup(c->pool, text);
        return 0;
    case OPT_BOOL:
        if (conf_parse_bool(text, (int *)slot) != 0)
            return errbuf_set(eb, "expects true or false"), -1;
        return 0;
    case OPT_INT:
    case OPT_TIME:
    case OPT_SIZE:
    case OPT_MODE:
        return set_number(o, slot, text, eb);
    case OPT_XVAL:
        if (expand_check(text, eb) != 0)
            return -1;
        ((struct xval *)slot)->str = pool_strdup(c->pool, text);
        ((struct xval *)slot)->fn = -1;
        return 0;
    case OPT_FUNC:
        return errbuf_set(eb, "expects a function"), -1;
    case OPT_STRLIST:
        split_strlist(c, o, (struct strlist *)slot, text);
        return 0;
    case OPT_MLIST: {
        struct mlist *l = mlist_parse_text(c->pool, o->kind, text, eb);
        if (l == NULL)
            return -1;
        *(struct mlist **)slot = l;
        conf_track_mlist(c, l, NULL);
        return 0;
    }
    }
    return -1;
}

/* opt_defaults - unset every option of tbl, then apply the defaults */
int opt_defaults(struct conf *c, const struct opt_spec *tbl, void *base,
                 struct errbuf *eb)
{
    for (const struct opt_spec *o = tbl; o->name != NULL; o++) {
        if (o->type == OPT_XVAL || o->type == OPT_FUNC)
            ((struct xval *)((char *)base + o->offset))->fn = -1;
        if (o->dflt != NULL && opt_set_text(c, o, base, o->dflt, eb) != 0) {
            errbuf_prefix(eb, "default of %s: ", o->name);
            return -1;
        }
    }
    return 0;
}

/* opt_is_set - nonzero if the option holds a value */
int opt_is_set(const struct opt_spec *o, const void *base)
{
    const void *slot = (const char *)base + o->offset;

    switch (o->type) {
    case OPT_STR:
    case OPT_ENUM:
        return *(const char *const *)slot != NULL;
    case OPT_XVAL:
    case OPT_FUNC:
        return xval_set(slot);
    case OPT_STRLIST:
        return ((const struct strlist *)slot)->n > 0;
    case OPT_MLIST:
        return *(struct mlist *const *)slot != NULL;
    default:
        return 1;
    }
}

static void format_quoted(struct strbuf *out, const char *s)
{
    sb_putc(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_putc(out, '\\');
        if (*s == '\n')
            sb_puts(out, "\\n");
        else
            sb_putc(out, *s);
    }
    sb_putc(out, '"');
}

/* Exim prints a boolean as its name or no_name, never "name = ...". */
static void format_bool(const struct opt_spec *o, const void *slot,
                        struct strbuf *out)
{
    int on = *(const int *)slot;

    if (strncmp(o->name, "no_", 3) == 0)
        sb_puts(out, on ? o->name : o->name + 3);
    else
        sb_printf(out, "%s%s", on ? "" : "no_", o->name);
}

/* Value formatters, one per type that prints as "name = value". */

static void format_str(const void *slot, struct strbuf *out)
{
    sb_puts(out, *(const char *const *)slot);
}

static void format_time(const void *slot, struct strbuf *out)
{
    conf_format_time(*(const long *)slot, out);
}

static void format_long(const void *slot, struct strbuf *out)
{
    sb_printf(out, "%ld", *(const long *)slot);
}

/* format_size - bytes as Exim's -bP prints sizes: with G, M or K when
 * the value is a whole number of them (52428800 is "50M") */
static void format_size(const void *slot, struct strbuf *out)
{
    static const struct { char unit; long bytes; } units[] = {
        { 'G', 1024L * 1024 * 1024 }, { 'M', 1024L * 1024 }, { 'K', 1024 } };
    long v = *(const long *)slot;

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (v != 0 && v % units[i].bytes == 0) {
            sb_printf(out, "%ld%c", v / units[i].bytes, units[i].unit);
            return;
        }
    sb_printf(out, "%ld", v);
}

static void format_mode(const void *slot, struct strbuf *out)
{
    sb_printf(out, "%04lo", (unsigned long)*(const long *)slot);
}

static void format_xval(const void *slot, struct strbuf *out)
{
    const struct xval *x = slot;

    sb_puts(out, x->fn >= 0 ? "<Lua function>" : x->str);
}

static void format_strlist(const void *slot, struct strbuf *out)
{
    const struct strlist *sl = slot;

    for (size_t i = 0; i < sl->n; i++) {
        sb_puts(out, i ? ", " : "");
        format_quoted(out, sl->v[i]);
    }
}

static void format_mlist(const void *slot, struct strbuf *out)
{
    mlist_text(*(struct mlist *const *)slot, out);
}

/* OPT_BOOL has no row: format_bool prints the whole option. */
static void (*const value_formatters[])(const void *, struct strbuf *) = {
    [OPT_STR] = format_str,
    [OPT_ENUM] = format_str,
    [OPT_INT] = format_long,
    [OPT_SIZE] = format_size,
    [OPT_MODE] = format_mode,
    [OPT_TIME] = format_time,
    [OPT_XVAL] = format_xval,
    [OPT_FUNC] = format_xval,
    [OPT_STRLIST] = format_strlist,
    [OPT_MLIST] = format_mlist,
};

/* opt_format - "name = value" as -bP prints it (booleans: name/no_name) */
void opt_format(const struct opt_spec *o, const void *base,
                struct strbuf *out)
{
    const void *slot = (const char *)base + o->offset;
    size_t n = sizeof(value_formatters) / sizeof(value_formatters[0]);

    if (o->type == OPT_BOOL) {
        format_bool(o, slot, out);
        return;
    }
    sb_printf(out, "%s =", o->name);
    if (!opt_is_set(o, base))
        return;
    sb_putc(out, ' ');
    if ((unsigned)o->type < n && value_formatters[o->type] != NULL)
        value_formatters[o->type](slot, out);
}
