/*
 * pipe.c - the pipe transport: options and load-time checks.
 *
 * PURPOSE: run a command with the message on stdin, without a shell unless
 * use_shell (DESIGN §6). Without command, the command comes from the
 * address ("|cmd" items of a redirect router: pipe_transport).
 * Options: command, use_shell, timeout, environment, return_output,
 * temp_errors (exit codes that defer; default EX_TEMPFAIL 75).
 */
#include <stddef.h>

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
    return 0;
}

const struct transport_driver tp_pipe = {
    .name = "pipe",
    .opts = pipe_opts,
    .opts_size = sizeof(struct pipe_opts),
    .local = 1,
    .check = pipe_check,
};
