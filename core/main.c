/*
 * main.c - the tern command line (Exim- and sendmail-compatible, DESIGN §9).
 *
 * PURPOSE: parse options, load the configuration, run the mode asked for:
 * -bd/-bdf (daemon), -bs, -bh IP, -bt, -bv, -bV, -bP, and without a -b
 * mode the sendmail interface (recipients as arguments or -t). The queue
 * commands report that they are not available yet instead of pretending.
 * Exit codes: -bt/-bv 0 ok, 1 deferred, 2 failed; sendmail's sysexits;
 * 64 usage error; 78 configuration error; 70 internal error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/bt.h"
#include "core/conf.h"
#include "core/conf_print.h"
#include "core/daemon.h"
#include "core/logfile.h"
#include "core/oneshot.h"
#include "core/sendmail.h"
#include "core/version.h"

#ifndef TERN_CONF_DIR
#define TERN_CONF_DIR "/etc/tern/conf.d"
#endif

#define EX_USAGE 64
#define EX_CONFIG 78

enum mode { M_NONE, M_BT, M_BV, M_BVERSION, M_BP, M_LATER, M_HELP, M_VERSION,
            M_BD, M_BS, M_BH };

struct cli {
    enum mode mode;
    const char *mode_flag;
    const char *conf_dir;
    const char *sender;
    const char *client_ip;
    const char *ports;          /* -oX */
    const char *full_name;      /* -F */
    int foreground;             /* -bdf */
    int extract;                /* -t */
    int no_dot;                 /* -i, -oi */
    char **args;
    int nargs;
};

static void usage(FILE *out)
{
    fprintf(out,
"usage: tern [-C DIR] [-d[CLASSES]] MODE [ARGS]\n"
"       tern [-f SENDER] [-F NAME] [-t] [-i] [RECIPIENT...] < message\n"
"\n"
"  -bd, -bdf        run the SMTP daemon (-bdf: in the foreground);\n"
"                   -oX PORT[,PORT] overrides daemon_smtp_ports\n"
"  -bs              one SMTP session on stdin/stdout (local submission)\n"
"  -bh IP           a test SMTP session from IP on stdin/stdout: every ACL\n"
"                   decision is shown on stderr, nothing is queued\n"
"  -bt ADDRESS...   show how each address would be routed (stdin when none)\n"
"  -bv ADDRESS...   verify addresses (routers with verify_only included)\n"
"  -bV              check the configuration; print version and files read\n"
"  -bP [WHAT...]    print main options; also: config, routers, transports,\n"
"                   retry, OPTION, router NAME, transport NAME, +LISTNAME\n"
"\n"
"  -C DIR           configuration directory (default %s)\n"
"  -f SENDER        envelope sender for -bt/-bv conditions (\"<>\" for null)\n"
"  -oMa IP          client address for -bt/-bv conditions\n"
"  -d[CLASSES]      debug trace to stderr: all or route,dns,lua,lookup,conf\n"
"  -t, -i/-oi, -F   sendmail: recipients from the headers, a lone dot does\n"
"                   not end the message, the sender's full name\n"
"  --help, --version\n"
"\n"
"Exit status of -bt/-bv: 0 all routed, 1 some deferred, 2 some failed;\n"
"64 usage error, 78 configuration error.\n", TERN_CONF_DIR);
}

static int bad_usage(const char *fmt, ...) TERN_PRINTF(1, 2);

static int bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tern: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(tern --help lists the options)\n");
    return EX_USAGE;
}

static int set_mode(struct cli *c, enum mode m, const char *flag)
{
    if (c->mode == M_LATER && m == M_LATER && flag[1] == 'q')
        return 0;               /* -bd -q30m: one daemon mode */
    if (c->mode != M_NONE)
        return bad_usage("only one mode may be given (%s)", flag);
    c->mode = m;
    c->mode_flag = flag;
    return 0;
}

static int mode_flag(struct cli *c, const char *a)
{
    static const char *const later[] = {
        "-bp", "-bpc", "-q", "-M", "-Mrm", "-Mf", "-Mt", NULL };

    if (strcmp(a, "-bt") == 0)
        return set_mode(c, M_BT, a);
    if (strcmp(a, "-bv") == 0)
        return set_mode(c, M_BV, a);
    if (strcmp(a, "-bV") == 0)
        return set_mode(c, M_BVERSION, a);
    if (strcmp(a, "-bP") == 0)
        return set_mode(c, M_BP, a);
    if (strcmp(a, "-bd") == 0 || strcmp(a, "-bdf") == 0) {
        c->foreground = a[3] == 'f';
        return set_mode(c, M_BD, a);
    }
    if (strcmp(a, "-bs") == 0)
        return set_mode(c, M_BS, a);
    if (a[1] == 'q' && c->mode == M_BD)
        return 0;               /* -bd -q30m: queue runs arrive later */
    for (int i = 0; later[i] != NULL; i++)
        if (strcmp(a, later[i]) == 0 || (a[1] == 'q' && a[2] != '\0'))
            return set_mode(c, M_LATER, a);
    if (strcmp(a, "-t") == 0)
        return c->extract = 1, 0;
    if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0)
        return c->no_dot = 1, 0;
    if (strncmp(a, "-od", 3) == 0 || strncmp(a, "-oe", 3) == 0
        || strcmp(a, "-bm") == 0 || strcmp(a, "-v") == 0
        || strcmp(a, "-U") == 0 || strcmp(a, "-om") == 0)
        return 0;               /* sendmail options with no effect here */
    return -1;
}

/* Options that take a value, as the next argument or attached (-fSENDER). */
static int value_flag(struct cli *c, char **argv, int argc, int *i)
{
    const char *a = argv[*i];
    const char **slot = NULL;
    size_t n = 0;

    if (strncmp(a, "-C", 2) == 0)
        slot = &c->conf_dir, n = 2;
    else if (strncmp(a, "-oX", 3) == 0)
        slot = &c->ports, n = 3;
    else if (strncmp(a, "-bh", 3) == 0) {
        if (c->mode != M_NONE)
            return bad_usage("only one mode may be given (%s)", a);
        c->mode = M_BH;
        c->mode_flag = "-bh";
        slot = &c->client_ip, n = 3;
    } else if (strncmp(a, "-F", 2) == 0)
        slot = &c->full_name, n = 2;
    else if (strncmp(a, "-oMa", 4) == 0)
        slot = &c->client_ip, n = 4;
    else if (strncmp(a, "-f", 2) == 0)
        slot = &c->sender, n = 2;
    if (slot == NULL)
        return -1;
    if (a[n] != '\0') {
        *slot = a + n;
        return 0;
    }
    if (*i + 1 >= argc)
        return bad_usage("%s needs a value", a);
    *slot = argv[++*i];
    return 0;
}

static int debug_flag(const char *a)
{
    unsigned mask = DBG_ALL;

    if (a[2] != '\0' && log_debug_parse(a[2] == '+' ? a + 3 : a + 2, &mask)
        != 0)
        return bad_usage("unknown debug classes in %s", a);
    log_set_debug(mask);
    return 0;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
    int i, rc;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0) {
            c->mode = strcmp(a, "--help") == 0 ? M_HELP : M_VERSION;
            return 0;
        }
        if ((rc = mode_flag(c, a)) >= 0 || (rc = value_flag(c, argv, argc,
                                                            &i)) >= 0) {
            if (rc != 0)
                return rc;
            continue;
        }
        if (strncmp(a, "-d", 2) == 0) {
            if ((rc = debug_flag(a)) != 0)
                return rc;
            continue;
        }
        return bad_usage("unknown option %s", a);
    }
    c->args = argv + i;
    c->nargs = argc - i;
    return 0;
}

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
                                !cli->no_dot, cli->args, cli->nargs };

    return sendmail_submit(c, &so);
}

static int daemon_mode(struct cli *cli, struct conf *c)
{
    struct daemon_opts d = { cli->conf_dir, cli->ports, cli->foreground };

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

    if ((cli->mode == M_BD || cli->mode == M_BS || cli->mode == M_NONE)
        && open_logs(c) != 0)
        return 73;
    switch (cli->mode) {
    case M_NONE:
        return sendmail_mode(cli, c);
    case M_BD:
        return daemon_mode(cli, c);
    case M_BS:
        return oneshot_smtp(c, NULL, 0);
    case M_BH:
        if (cli->client_ip == NULL || cli->client_ip[0] == '\0')
            return bad_usage("-bh needs the client's IP address");
        return oneshot_smtp(c, cli->client_ip, 1);
    case M_BVERSION:
        conf_print_version(c, stdout);
        return 0;
    case M_BP:
        return conf_print(c, cli->args, cli->nargs, stdout);
    case M_BT:
    case M_BV:
        bo.verify = cli->mode == M_BV;
        bo.sender = sender_address(c, cli->sender);
        bo.client_ip = cli->client_ip ? cli->client_ip : "";
        bo.addrs = cli->nargs ? cli->args : NULL;
        bo.naddrs = cli->nargs;
        return bt_run(c, &bo, stdout);
    default:
        return EX_USAGE;
    }
}

int main(int argc, char **argv)
{
    struct cli cli = { .conf_dir = TERN_CONF_DIR };
    struct errbuf eb;
    struct conf *c;
    int rc;

    fatal_set_progname("tern");
    if ((rc = parse_args(&cli, argc, argv)) != 0)
        return rc;
    if (cli.mode == M_HELP)
        return usage(stdout), 0;
    if (cli.mode == M_VERSION)
        return printf("tern version %s\n", TERN_VERSION), 0;
    if (cli.mode == M_NONE && cli.nargs == 0 && !cli.extract)
        return usage(stderr), EX_USAGE;
    if (cli.mode == M_LATER)
        return bad_usage("%s is not available in this version of tern yet "
                         "(address testing and configuration checks are)",
                         cli.mode_flag);
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
    if (cli.mode != M_BD)       /* the daemon owns (and reloads) its conf */
        conf_free(c);
    return rc;
}
