/*
 * tp_pipe_argv.c - a pipe command as arguments and its environment
 *                  (tp_pipe.h).
 *
 * PURPOSE: split a command as Exim does before expanding anything, so a
 * variable holding spaces or quotes stays inside its one argument.
 * INTERFACE: pp_split, pp_env_set, pp_find.
 * ERRORS: pp_split fails on an unterminated quote, an empty command and
 * more than PP_MAX_ARGS words; pp_env_set on more than PP_MAX_ENV entries.
 * SECURITY: no shell is involved; pp_find looks only in /bin and
 * /usr/bin, never in an inherited PATH.
 */
#include <string.h>
#include <unistd.h>

#include "core/base/strbuf.h"
#include "transports/tp_pipe.h"

/* one quoted segment starting at *s (the quote char); -1 if unterminated */
static int quoted(const char **s, struct strbuf *w)
{
    char q = **s;
    const char *p = *s + 1;

    for (; *p != '\0' && *p != q; p++) {
        if (q == '"' && *p == '\\' && p[1] != '\0')
            p++;
        sb_putc(w, *p);
    }
    if (*p != q)
        return -1;
    *s = p + 1;
    return 0;
}

/* one word at *s: up to unquoted white space */
static int word(const char **s, struct strbuf *w)
{
    const char *p = *s;

    while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n'
           && *p != '\r') {
        if (*p == '"' || *p == '\'') {
            if (quoted(&p, w) != 0)
                return -1;
        } else {
            sb_putc(w, *p++);
        }
    }
    *s = p;
    return 0;
}

/* pp_split - words of cmd into argv[0..*argc) + NULL (argv holds
 * PP_MAX_ARGS + 1) */
int pp_split(const char *cmd, struct pool *p, const char **argv,
             size_t *argc, struct errbuf *eb)
{
    struct strbuf w;
    const char *s = cmd;
    int rc = 0;

    *argc = 0;
    sb_init(&w);
    for (;;) {
        s += strspn(s, " \t\r\n");
        if (*s == '\0')
            break;
        if (*argc == PP_MAX_ARGS) {
            errbuf_set(eb, "more than %d arguments", PP_MAX_ARGS);
            rc = -1;
            break;
        }
        sb_reset(&w);
        if (word(&s, &w) != 0) {
            errbuf_set(eb, "unterminated quote in command");
            rc = -1;
            break;
        }
        argv[(*argc)++] = pool_strndup(p, sb_str(&w), sb_len(&w));
    }
    sb_free(&w);
    argv[*argc] = NULL;
    if (rc == 0 && *argc == 0) {
        errbuf_set(eb, "empty command");
        rc = -1;
    }
    return rc;
}

/* pp_env_set - add NAME=value, replacing an earlier NAME */
int pp_env_set(struct pp_env *e, struct pool *p, const char *name,
               const char *value)
{
    size_t n = strlen(name);
    const char *kv = pool_printf(p, "%s=%s", name, value);

    for (size_t i = 0; i < e->n; i++) {
        if (strncmp(e->v[i], name, n) == 0 && e->v[i][n] == '=') {
            e->v[i] = kv;
            return 0;
        }
    }
    if (e->n == PP_MAX_ENV)
        return -1;
    e->v[e->n++] = kv;
    e->v[e->n] = NULL;
    return 0;
}

/* pp_find - name itself if it has a '/', else the first executable
 * /bin/name or /usr/bin/name; NULL if none */
const char *pp_find(const char *name, struct pool *p)
{
    static const char *const dirs[] = { "/bin", "/usr/bin" };

    if (strchr(name, '/') != NULL)
        return name;
    if (*name == '\0')
        return NULL;
    for (size_t i = 0; i < 2; i++) {
        const char *path = pool_printf(p, "%s/%s", dirs[i], name);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}
