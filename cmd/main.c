/*
 * main.c - the tern command line (Exim- and sendmail-compatible, DESIGN §9).
 *
 * PURPOSE: parse the options (cmd/cli_opts.c), load the configuration, run
 * the mode asked for:
 * -bd/-bdf (daemon, -q30m), -bs, -bh IP, -bt, -bv, -bV, -bP, the queue
 * commands -bp/-bpc/mailq, -q/-qf/-qff (-R, -S, -N), -M, -Mrm, -Mf, -Mt,
 * and without a -b mode the sendmail interface (recipients as arguments
 * or -t).
 * Exit codes: -bt/-bv 0 ok, 1 deferred, 2 failed; sendmail's sysexits;
 * 64 usage error; 78 configuration error; 70 internal error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/log.h"
#include "route/bt.h"
#include "core/conf/conf.h"
#include "cmd/cli_opts.h"
#include "cmd/conf_print.h"
#include "cmd/daemon.h"
#include "core/mail/logfile.h"
#include "smtpd/oneshot.h"
#include "queue/queue.h"
#include "cmd/sendmail.h"
#include "core/base/version.h"

#define EX_CONFIG 78

/* -f: "<>" or nothing is the null sender; a bare name gets qualify_domain */
static const char *sender_address(struct conf *c, const char *s)
{
    if (s == NULL || strcmp(s, "<>") == 0 || *s == '\0')
        return "";
    if (strchr(s, '@') != NULL)
        return s;
    return pool_printf(c->pool, "%s@%s", s, c->main.qualify_domain);
}

static int sendmail_mode(struct cli *cli, struct conf *c)
{
    struct sendmail_opts so = { cli->sender, cli->full_name, cli->extract,
                                !cli->no_dot, cli->args, cli->nargs,
                                cli->delivery };

    return sendmail_submit(c, &so);
}

static int daemon_mode(struct cli *cli, struct conf *c)
{
    struct daemon_opts d = { cli->conf_dir, cli->ports, cli->foreground,
                             cli->queue_interval };

    return daemon_run(c, &d);
}

static int open_logs(struct conf *c)
{
    if (logfile_open(c->main.log_file_path, "tern") != 0) {
        fprintf(stderr, "tern: cannot open the log files %s\n",
                c->main.log_file_path);
        return -1;
    }
    return 0;
}

static int run_mode(struct cli *cli, struct conf *c)
{
    struct bt_opts bo = { 0 };

    if (cli->mode != CLI_BT && cli->mode != CLI_BV && cli->mode != CLI_BP
        && cli->mode != CLI_BVERSION && cli->mode != CLI_BH
        && cli->mode != CLI_LIST && cli->mode != CLI_COUNT
        && open_logs(c) != 0)
        return 73;
    switch (cli->mode) {
    case CLI_LIST:
    case CLI_COUNT:
        return queue_list(c, cli->mode == CLI_COUNT, stdout);
    case CLI_QUEUE:
        return queue_run(c, &cli->q);
    case CLI_DELIVER:
        cli->q.ids = cli->args;
        cli->q.nids = cli->nargs;
        return queue_run(c, &cli->q);
    case CLI_ADMIN:
        return queue_admin(c, cli->mode_flag, cli->args, cli->nargs);
    case CLI_NONE:
        return sendmail_mode(cli, c);
    case CLI_BD:
        return daemon_mode(cli, c);
    case CLI_BS:
        return oneshot_smtp(c, NULL, 0);
    case CLI_BH:
        if (cli->client_ip == NULL || cli->client_ip[0] == '\0')
            return cli_usage_error("-bh needs the client's IP address");
        return oneshot_smtp(c, cli->client_ip, 1);
    case CLI_BVERSION:
        conf_print_version(c, stdout);
        return 0;
    case CLI_BP:
        return conf_print(c, cli->args, cli->nargs, stdout);
    case CLI_BT:
    case CLI_BV:
        bo.verify = cli->mode == CLI_BV;
        bo.sender = sender_address(c, cli->sender);
        bo.client_ip = cli->client_ip ? cli->client_ip : "";
        bo.addrs = cli->nargs ? cli->args : NULL;
        bo.naddrs = cli->nargs;
        return bt_run(c, &bo, stdout);
    default:
        return 64;
    }
}

int main(int argc, char **argv)
{
    struct cli cli;
    struct errbuf eb;
    struct conf *c;
    int rc;

    fatal_set_progname("tern");
    if ((rc = cli_parse(&cli, argc, argv)) != 0)
        return rc;
    if (cli.mode == CLI_HELP)
        return cli_usage(stdout), 0;
    if (cli.mode == CLI_VERSION)
        return printf("tern version %s\n", TERN_VERSION), 0;
    if ((rc = cli_check(&cli)) != 0)
        return rc;
    c = conf_load(cli.conf_dir, &eb);
    if (c == NULL) {
        fprintf(stderr, "tern: configuration error: %s\n", eb.msg);
        return EX_CONFIG;
    }
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    rc = run_mode(&cli, c);
    if (fflush(stdout) != 0) {
        perror("tern: writing output");
        rc = 70;
    }
    if (cli.mode != CLI_BD)       /* the daemon owns (and reloads) its conf */
        conf_free(c);
    return rc;
}
