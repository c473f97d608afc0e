/*
 * pipe.c - the pipe transport: options and load-time checks.
 *
 * PURPOSE: run a command with the message on stdin, without a shell unless
 * use_shell (DESIGN §6). Without command, the command comes from the
 * address ("|cmd" items of a redirect router: pipe_transport).
 * Options: command, use_shell, timeout, environment, return_output,
 * temp_errors (exit codes that defer; default EX_TEMPFAIL 75; "*" any).
 * INTERFACE: tp_pipe (deliver_local: the command runs once per recipient
 * with that recipient's copy on stdin, LF line ends, no From_ line).
 * ERRORS (Exim's wording): exit 0 delivers (but with return_output, any
 * output fails it, as in Exim); a temp_errors code defers; another code,
 * a signal or a command that cannot be run fails, with the first output
 * appended; the timeout kills the process group and defers ("timeout").
 * SECURITY: without use_shell the command is split into words first and
 * each word expanded alone, so no variable can add arguments; "|cmd"
 * items from a redirect are not expanded at all. The environment is
 * built from nothing (see pipe_env).
 */
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/base/pool.h"
#include "core/base/strbuf.h"
#include "core/spool/spool.h"
#include "transports/tp_local.h"
#include "transports/tp_pipe.h"
#include "transports/transport.h"

struct pipe_opts {
    struct xval command;
    int use_shell;
    long timeout;
    struct strlist environment;
    int return_output;
    struct strlist temp_errors;
};

#define O(n) offsetof(struct pipe_opts, n)

static const struct opt_spec pipe_opts[] = {
    { "command", OPT_XVAL, O(command), NULL, 0, NULL },
    { "use_shell", OPT_BOOL, O(use_shell), "false", 0, NULL },
    { "timeout", OPT_TIME, O(timeout), "1h", 0, NULL },
    { "environment", OPT_STRLIST, O(environment), NULL, 0, "\n" },
    { "return_output", OPT_BOOL, O(return_output), "false", 0, NULL },
    { "temp_errors", OPT_STRLIST, O(temp_errors), "75", 0, ":, " },
    OPT_END
};

static int pipe_check(struct transport *t, struct conf *c, struct errbuf *eb)
{
    struct pipe_opts *o = t->priv;

    (void)c;
    if (o->timeout <= 0) {
        errbuf_set(eb, "timeout must be positive");
        return -1;
    }
    for (size_t i = 0; i < o->temp_errors.n; i++) {
        const char *s = o->temp_errors.v[i];
        if (strcmp(s, "*") != 0 && (strspn(s, "0123456789") != strlen(s)
                                    || *s == '\0' || atoi(s) > 255)) {
            errbuf_set(eb, "temp_errors: \"%s\" is not an exit code "
                       "(0-255) or \"*\"", s);
            return -1;
        }
    }
    return 0;
}

/* a command, argv and text for messages */
struct pipe_cmd {
    const char *argv[PP_MAX_ARGS + 1];
    size_t argc;
    const char *shown;              /* as messages name it */
};

static int shell_cmd(const char *text, struct pool *p, struct pipe_cmd *c)
{
    c->argv[0] = "/bin/sh";
    c->argv[1] = "-c";
    c->argv[2] = text;
    c->argv[3] = NULL;
    c->argc = 3;
    c->shown = pool_strdup(p, text);
    return 0;
}

/* each word of the configured command expanded on its own */
static int expand_words(const struct dlv_batch *b, const struct dlv_rcpt *r,
                        struct pool *p, struct pipe_cmd *c,
                        struct errbuf *eb)
{
    struct strbuf sb;

    for (size_t i = 0; i < c->argc; i++) {
        struct xval x = { c->argv[i], -1 };
        if (tp_expand(b, r, &x, p, &c->argv[i], eb) != 0)
            return -1;
    }
    sb_init(&sb);
    for (size_t i = 0; i < c->argc; i++)
        sb_printf(&sb, "%s%s", i ? " " : "", c->argv[i]);
    c->shown = pool_strdup(p, sb_str(&sb));
    sb_free(&sb);
    return 0;
}

static int split_cmd(const char *text, struct pool *p, struct pipe_cmd *c,
                     struct errbuf *eb)
{
    if (pp_split(text, p, c->argv, &c->argc, eb) != 0)
        return -1;
    c->shown = pool_strdup(p, text);
    return 0;
}

/* the command for r: option command, else the "|cmd" of the address */
static int pipe_cmd(struct transport *t, const struct dlv_batch *b,
                    const struct dlv_rcpt *r, struct pool *p,
                    struct pipe_cmd *c, struct errbuf *eb)
{
    const struct pipe_opts *o = t->priv;
    const char *text;

    if (o->command.fn < 0 && o->command.str != NULL) {
        if (o->use_shell) {
            if (tp_expand(b, r, &o->command, p, &text, eb) != 0)
                return -1;
            return shell_cmd(text, p, c);
        }
        if (split_cmd(o->command.str, p, c, eb) != 0)
            return -1;
        return expand_words(b, r, p, c, eb);
    }
    if (o->command.fn >= 0) {
        if (tp_expand(b, r, &o->command, p, &text, eb) != 0)
            return -1;
    } else if (r->kind == CHILD_PIPE && r->text != NULL) {
        text = r->text + (r->text[0] == '|');
    } else {
        errbuf_set(eb, "no command (command unset and the address is not "
                   "a |command)");
        return -1;
    }
    if (text == NULL)
        return errbuf_set(eb, "the command function returned nothing"), -1;
    return o->use_shell ? shell_cmd(text, p, c) : split_cmd(text, p, c, eb);
}

static const char *user_name(uid_t uid, struct pool *p)
{
    struct passwd pw, *res = NULL;
    char buf[4096];

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
        return NULL;
    return pool_strdup(p, pw.pw_name);
}

static int pipe_env_option(const struct pipe_opts *o,
                           const struct dlv_batch *b,
                           const struct dlv_rcpt *r, struct pool *p,
                           struct pp_env *e, struct errbuf *eb)
{
    for (size_t i = 0; i < o->environment.n; i++) {
        const char *item = o->environment.v[i], *eq = strchr(item, '=');
        size_t n = eq != NULL ? (size_t)(eq - item) : 0;
        struct xval x = { eq != NULL ? eq + 1 : NULL, -1 };
        const char *v;

        if (n == 0 || strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
                             "mnopqrstuvwxyz0123456789_") != n
            || (item[0] >= '0' && item[0] <= '9'))
            return errbuf_set(eb, "environment item \"%s\" is not "
                              "NAME=value", item), -1;
        if (tp_expand(b, r, &x, p, &v, eb) != 0)
            return -1;
        if (pp_env_set(e, p, pool_strndup(p, item, n), v) != 0)
            return errbuf_set(eb, "too many environment items"), -1;
    }
    return 0;
}

/* the environment of the command: built from nothing */
static int pipe_env(const struct pipe_opts *o, const struct dlv_batch *b,
                    const struct dlv_rcpt *r, struct pool *p,
                    struct pp_env *e, struct errbuf *eb)
{
    const char *user = user_name(b->uid, p);
    const char *fixed[][2] = {
        { "LOCAL_PART", r->local_part }, { "DOMAIN", r->domain },
        { "LOCAL_PART_PREFIX", r->prefix }, { "LOCAL_PART_SUFFIX", r->suffix },
        { "RECIPIENT", r->address }, { "SENDER", b->return_path },
        { "HOME", r->home }, { "MESSAGE_ID", b->msg->env.id },
        { "QUALIFY_DOMAIN", b->conf->main.qualify_domain },
        { "PATH", "/bin:/usr/bin" }, { "SHELL", "/bin/sh" },
        { "USER", user }, { "LOGNAME", user },
    };

    e->n = 0;
    e->v[0] = NULL;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (fixed[i][1] != NULL
            && pp_env_set(e, p, fixed[i][0], fixed[i][1]) != 0)
            return errbuf_set(eb, "too many environment items"), -1;
    return pipe_env_option(o, b, r, p, e, eb);
}

static int temp_error(const struct pipe_opts *o, int code)
{
    for (size_t i = 0; i < o->temp_errors.n; i++) {
        const char *s = o->temp_errors.v[i];
        if (strcmp(s, "*") == 0 ? code != 0 : atoi(s) == code)
            return 1;
    }
    return 0;
}

/* "; output: ..." when there is output (controls become spaces later) */
static const char *output_of(struct pp_run *x, struct pool *p)
{
    while (x->outlen > 0 && (unsigned char)x->output[x->outlen - 1] <= ' ')
        x->output[--x->outlen] = '\0';
    if (x->outlen == 0)
        return "";
    return pool_printf(p, "; output: %s", x->output);
}

static void pipe_result(struct transport *t, struct dlv_rcpt *r,
                        struct pp_run *x, const char *cmd, struct pool *p)
{
    const struct pipe_opts *o = t->priv;
    const char *out = output_of(x, p);
    int code = WIFEXITED(x->status) ? WEXITSTATUS(x->status) : -1;

    if (x->timed_out)
        dlv_set(r, DLV_DEFER, 0, "timeout", "pipe timed out after %lds "
                "(process group killed) running command: %s", o->timeout,
                cmd);
    else if (x->exec_errno != 0)
        dlv_set(r, DLV_FAIL, 0, NULL, "Child process of %s transport could "
                "not execute command: %s: %s", t->name, cmd,
                strerror(x->exec_errno));
    else if (WIFSIGNALED(x->status))
        dlv_set(r, DLV_FAIL, 0, NULL, "Child process of %s transport was "
                "killed by signal %d (%s) running command: %s%s", t->name,
                WTERMSIG(x->status), strsignal(WTERMSIG(x->status)), cmd,
                out);
    else if (code == 0 && (!o->return_output || x->outlen == 0))
        dlv_set(r, DLV_OK, 0, NULL, "%s", "");
    else if (code != 0 && temp_error(o, code))
        dlv_set(r, DLV_DEFER, 0, NULL, "Child process of %s transport "
                "returned %d (could mean temporary error) from command: "
                "%s%s", t->name, code, cmd, out);
    else
        dlv_set(r, DLV_FAIL, 0, NULL, "Child process of %s transport "
                "returned %d from command: %s%s", t->name, code, cmd, out);
}

static void pipe_one(struct transport *t, struct dlv_batch *b,
                     struct dlv_rcpt *r, struct pool *p)
{
    const struct pipe_opts *o = t->priv;
    struct pipe_cmd c;
    struct pp_env env;
    struct pp_run *x = pool_zalloc(p, sizeof(*x));
    struct errbuf eb;
    struct strbuf copy;

    if (pipe_cmd(t, b, r, p, &c, &eb) != 0
        || pipe_env(o, b, r, p, &env, &eb) != 0) {
        dlv_set(r, DLV_DEFER, 0, NULL, "%s transport: %s", t->name, eb.msg);
        return;
    }
    if ((x->path = pp_find(c.argv[0], p)) == NULL) {
        dlv_set(r, DLV_FAIL, 0, NULL, "%s transport: command \"%s\" not "
                "found in /bin:/usr/bin", t->name, c.argv[0]);
        return;
    }
    sb_init(&copy);
    tp_copy(b, r, 0, &copy);
    x->argv = c.argv;
    x->envp = env.v;
    x->dir = r->home;
    x->input = sb_str(&copy);
    x->inlen = sb_len(&copy);
    x->timeout = o->timeout;
    if (pp_run(x, &eb) != 0)
        dlv_set(r, DLV_DEFER, 0, NULL, "%s transport: %s", t->name, eb.msg);
    else
        pipe_result(t, r, x, c.shown, p);
    sb_free(&copy);
}

/* pipe_deliver - run the command once per pending recipient (deliver.h) */
static void pipe_deliver(struct transport *t, struct dlv_batch *b)
{
    struct pool *p = pool_new();

    for (size_t i = 0; i < b->nrcpt; i++)
        if (b->rcpts[i].status == DLV_PENDING)
            pipe_one(t, b, &b->rcpts[i], p);
    pool_free(p);
}

const struct transport_driver tp_pipe = {
    .name = "pipe",
    .opts = pipe_opts,
    .opts_size = sizeof(struct pipe_opts),
    .local = 1,
    .as_recipient = 1,
    .check = pipe_check,
    .deliver_local = pipe_deliver,
};
