/*
 * main.c - the tern command line (Exim- and sendmail-compatible, DESIGN §9).
 *
 * PURPOSE: parse the options (cmd/cli_opts.c), load the configuration and
 * run the mode asked for through modes[], one row per mode: its handler,
 * and whether it runs without the configuration, opens the log files or
 * keeps the configuration. The modes: -bd/-bdf (daemon, -q30m), -bs,
 * -bh IP, -bt, -bv, -bV, -bP, the queue commands -bp/-bpc/mailq,
 * -bpu/-bpa/-bpr, -q/-qf/-qff (-R, -S, -N), -M, -Mg, -Mrm, -Mf, -Mt,
 * -Mvh/-Mvb/-Mvc/-Mvl, -Mar/-Mmd/-Mes, --help, --version, and
 * without a mode the sendmail interface (recipients as arguments or -t).
 * Exit codes: -bt/-bv 0 ok, 1 deferred, 2 failed; sendmail's sysexits;
 * 64 usage error; 78 configuration error; 70 internal error; started as
 * root, 67 when tern_user does not exist (cmd/privs.c).
 * SECURITY: started as root, the modes that route, run ACLs or write the
 * spool run as tern_user (MODE_UNPRIV), keeping a real and saved uid of 0
 * only for local delivery children; the daemon drops privileges itself
 * (cmd/daemon.c), after binding.
 */
#include <stdio.h>
#include <string.h>

#include "core/base/version.h"
#include "core/conf/conf.h"
#include "core/mail/logfile.h"
#include "queue/queue.h"
#include "route/bt.h"
#include "smtpd/oneshot.h"
#include "cmd/cli_opts.h"
#include "cmd/conf_print.h"
#include "cmd/daemon.h"
#include "cmd/privs.h"
#include "cmd/sendmail.h"

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

/* the mode handlers: one per row of modes[] */

static int run_sendmail(struct cli *cli, struct conf *c)
{
    struct sendmail_opts so = { cli->sender, cli->full_name, cli->extract,
                                !cli->no_dot, cli->args, cli->nargs,
                                cli->delivery };

    return sendmail_submit(c, &so);
}

static int run_daemon(struct cli *cli, struct conf *c)
{
    struct daemon_opts d = { cli->conf_dir, cli->ports, cli->foreground,
                             cli->queue_interval };

    return daemon_run(c, &d);
}

/* -bt, -bv */
static int run_bt(struct cli *cli, struct conf *c)
{
    struct bt_opts bo = { 0 };

    bo.verify = cli->mode == CLI_BV;
    bo.sender = sender_address(c, cli->sender);
    bo.client_ip = cli->client_ip ? cli->client_ip : "";
    bo.addrs = cli->nargs ? cli->args : NULL;
    bo.naddrs = cli->nargs;
    return bt_run(c, &bo, stdout);
}

static int run_bversion(struct cli *cli, struct conf *c)
{
    (void)cli;
    conf_print_version(c, stdout);
    return 0;
}

static int run_bp(struct cli *cli, struct conf *c)
{
    return conf_print(c, cli->args, cli->nargs, cli->terse, stdout);
}

static int run_bs(struct cli *cli, struct conf *c)
{
    (void)cli;
    return oneshot_smtp(c, NULL, 0);
}

static int run_bh(struct cli *cli, struct conf *c)
{
    if (cli->client_ip == NULL || cli->client_ip[0] == '\0')
        return cli_usage_error("-bh needs the client's IP address");
    return oneshot_smtp(c, cli->client_ip, 1);
}

/* -bp, -bpc, -bpu, -bpa, -bpr..., mailq */
static int run_list(struct cli *cli, struct conf *c)
{
    unsigned how = (unsigned)cli->list_how;

    return queue_list(c, how | (cli->mode == CLI_COUNT ? QLIST_COUNT : 0),
                      stdout);
}

static int run_queue(struct cli *cli, struct conf *c)
{
    return queue_run(c, &cli->q);
}

/* -M ID...: a run over these messages only */
static int run_deliver(struct cli *cli, struct conf *c)
{
    cli->q.ids = cli->args;
    cli->q.nids = cli->nargs;
    return queue_run(c, &cli->q);
}

/* -Mrm, -Mf, -Mt */
static int run_admin(struct cli *cli, struct conf *c)
{
    return queue_admin(c, cli->mode_flag, cli->args, cli->nargs);
}

/* -Mvh, -Mvb, -Mvc, -Mvl ID */
static int run_view(struct cli *cli, struct conf *c)
{
    return queue_view(c, cli->mode_flag, cli->args, cli->nargs);
}

/* -Mar, -Mmd, -Mes ID ADDR... */
static int run_edit(struct cli *cli, struct conf *c)
{
    return queue_edit(c, cli->mode_flag, cli->args, cli->nargs);
}

static int run_help(struct cli *cli, struct conf *c)
{
    (void)cli, (void)c;
    cli_usage(stdout);
    return 0;
}

static int run_version(struct cli *cli, struct conf *c)
{
    (void)cli, (void)c;
    printf("tern version %s\n", TERN_VERSION);
    return 0;
}

#define MODE_NO_CONF    0x1     /* runs before (without) the configuration */
#define MODE_LOGS       0x2     /* opens the log files first */
#define MODE_KEEPS_CONF 0x4     /* owns the conf (the daemon reloads it) */
#define MODE_UNPRIV     0x8     /* as root: runs as tern_user (cmd/privs.c) */

struct mode_row {
    int (*run)(struct cli *, struct conf *);
    unsigned flags;
};

/* one row per mode; the queue listing, -bt/-bv/-bV/-bP and -bh write no
 * log lines, so they need no log files (nor the right to open them).
 * Modes that route, run ACLs or write the spool run as tern_user when
 * started as root, as the daemon's processes do (the daemon drops
 * privileges itself, after binding its sockets). */
static const struct mode_row modes[CLI_NMODES] = {
    [CLI_NONE] = { run_sendmail, MODE_LOGS | MODE_UNPRIV },
    [CLI_BT] = { run_bt, MODE_UNPRIV },
    [CLI_BV] = { run_bt, MODE_UNPRIV },
    [CLI_BVERSION] = { run_bversion, 0 },
    [CLI_BP] = { run_bp, 0 },
    [CLI_HELP] = { run_help, MODE_NO_CONF },
    [CLI_VERSION] = { run_version, MODE_NO_CONF },
    [CLI_BD] = { run_daemon, MODE_LOGS | MODE_KEEPS_CONF },
    [CLI_BS] = { run_bs, MODE_LOGS | MODE_UNPRIV },
    [CLI_BH] = { run_bh, MODE_UNPRIV },
    [CLI_LIST] = { run_list, 0 },
    [CLI_COUNT] = { run_list, 0 },
    [CLI_QUEUE] = { run_queue, MODE_LOGS | MODE_UNPRIV },
    [CLI_DELIVER] = { run_deliver, MODE_LOGS | MODE_UNPRIV },
    [CLI_ADMIN] = { run_admin, MODE_LOGS | MODE_UNPRIV },
    [CLI_VIEW] = { run_view, MODE_LOGS },
    [CLI_EDIT] = { run_edit, MODE_LOGS | MODE_UNPRIV },
};

static int open_logs(struct conf *c)
{
    if (logfile_open(c->main.log_file_path, "tern") != 0) {
        fprintf(stderr, "tern: cannot open the log files %s\n",
                c->main.log_file_path);
        return -1;
    }
    return 0;
}

static int run_mode(const struct mode_row *m, struct cli *cli,
                    struct conf *c)
{
    int rc;

    if ((m->flags & MODE_LOGS) && open_logs(c) != 0)
        return 73;
    if ((m->flags & MODE_UNPRIV)    /* after open_logs: it names the files */
        && (rc = privs_oneshot(c, (m->flags & MODE_LOGS) != 0)) != 0)
        return rc;
    return m->run(cli, c);
}

int main(int argc, char **argv)
{
    static char outbuf[1 << 16];
    const struct mode_row *m;
    struct cli cli;
    struct errbuf eb;
    struct conf *c;
    int rc;

    fatal_set_progname("tern");
    if ((rc = cli_parse(&cli, argc, argv)) != 0)
        return rc;
    m = &modes[cli.mode];
    if (m->flags & MODE_NO_CONF)
        return m->run(&cli, NULL);
    if ((rc = cli_check(&cli)) != 0)
        return rc;
    if ((c = conf_load(cli.conf_dir, &eb)) == NULL) {
        fprintf(stderr, "tern: configuration error: %s\n", eb.msg);
        return EX_CONFIG;
    }
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    rc = run_mode(m, &cli, c);
    if (fflush(stdout) != 0) {
        perror("tern: writing output");
        rc = 70;
    }
    if (!(m->flags & MODE_KEEPS_CONF))
        conf_free(c);
    return rc;
}
