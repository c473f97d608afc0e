/*
 * tp_pipe.h - the pieces of a pipe delivery: splitting a command into
 *             arguments (tp_pipe_argv.c), its environment, and running it
 *             with the message on stdin under a timeout (tp_pipe_run.c).
 *
 * INTERFACE: pp_split (Exim-style words: white space, "double" quotes
 *            with \ escapes, 'single' quotes), pp_env_set (add or replace
 *            NAME=value), pp_find (a command name to a path), pp_run.
 * ERRORS: pp_split -1 with eb (unterminated quote, too many arguments);
 *         pp_run -1 with eb when the process could not be started; the
 *         command's own fate is in struct pp_run.
 */
#ifndef TERN_TP_PIPE_H
#define TERN_TP_PIPE_H

#include <stddef.h>

#include "core/base/errbuf.h"
#include "core/base/pool.h"

#define PP_MAX_ARGS 128
#define PP_MAX_ENV 64
#define PP_OUTPUT_MAX 4096      /* output kept for the message */

int pp_split(const char *cmd, struct pool *p, const char **argv,
             size_t *argc, struct errbuf *eb);

struct pp_env {
    size_t n;
    const char *v[PP_MAX_ENV + 1];  /* "NAME=value", NULL-terminated */
};

int pp_env_set(struct pp_env *e, struct pool *p, const char *name,
               const char *value);

const char *pp_find(const char *name, struct pool *p);

struct pp_run {
    /* in */
    const char *path;               /* program to execute */
    const char *const *argv;        /* NULL-terminated */
    const char *const *envp;        /* NULL-terminated */
    const char *dir;                /* working directory ("/" if NULL) */
    const char *input;
    size_t inlen;
    long timeout;                   /* seconds */
    /* out */
    int status;                     /* from waitpid */
    int timed_out;                  /* killed (process group) at timeout */
    int exec_errno;                 /* execve failed with this, else 0 */
    char output[PP_OUTPUT_MAX + 1]; /* stdout+stderr, first bytes, NUL */
    size_t outlen;
};

int pp_run(struct pp_run *x, struct errbuf *eb);

#endif
