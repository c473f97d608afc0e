/*
 * cli_opts.h - tern's command line: one table of options, what they set.
 *
 * INTERFACE: cli_parse (argv into a struct cli), cli_check (combinations
 *            refused before anything runs), cli_usage (the --help text),
 *            cli_usage_error ("tern: ..." and the --help hint).
 * ERRORS: cli_parse and cli_check return 0 or EX_USAGE (64) after a
 *         message on stderr.
 */
#ifndef TERN_CLI_OPTS_H
#define TERN_CLI_OPTS_H

#include <stdio.h>

#include "core/base/fatal.h"
#include "queue/queue.h"

/* the mode asked for; CLI_NONE is the sendmail interface */
enum cli_mode { CLI_NONE, CLI_BT, CLI_BV, CLI_BVERSION, CLI_BP, CLI_HELP,
                CLI_VERSION, CLI_BD, CLI_BS, CLI_BH, CLI_LIST, CLI_COUNT,
                CLI_QUEUE, CLI_DELIVER, CLI_ADMIN, CLI_VIEW, CLI_EDIT,
                CLI_NMODES };

struct cli {
    enum cli_mode mode;
    const char *mode_flag;      /* the option that chose it: -Mrm, -Mf, ... */
    const char *conf_dir;       /* -C */
    const char *sender;         /* -f */
    const char *client_ip;      /* -oMa, -bh */
    const char *ports;          /* -oX */
    const char *full_name;      /* -F */
    int foreground;             /* -bdf */
    long queue_interval;        /* -bd -q30m */
    struct queue_opts q;        /* -q, -qf, -qff, -R, -S, -N */
    int extract;                /* -t */
    int delivery;               /* -odb, -odi, -odq */
    int no_dot;                 /* -i, -oi */
    int list_how;               /* -bpu, -bpa, -bpr...: QLIST_* */
    int terse;                  /* -n: -bP shows changes only / values */
    char **args;                /* what follows the options */
    int nargs;
};

/* cli_parse - fill c from argv (argv[0] "mailq" means -bp) */
int cli_parse(struct cli *c, int argc, char **argv);
/* cli_check - refuse combinations that make no sense */
int cli_check(const struct cli *c);
/* cli_usage - the option summary of --help */
void cli_usage(FILE *out);
/* cli_usage_error - "tern: MESSAGE" and the --help hint; EX_USAGE */
int cli_usage_error(const char *fmt, ...) TERN_PRINTF(1, 2);

#endif
