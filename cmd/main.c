/*
 * main.c - the tern command line (Exim- and sendmail-compatible, DESIGN §9).
 *
 * PURPOSE: parse options, load the configuration, run the mode asked for:
 * -bd/-bdf (daemon, -q30m), -bs, -bh IP, -bt, -bv, -bV, -bP, the queue
 * commands -bp/-bpc/mailq, -q/-qf/-qff (-R, -S, -N), -M, -Mrm, -Mf, -Mt,
 * and without a -b mode the sendmail interface (recipients as arguments
 * or -t).
 * Exit codes: -bt/-bv 0 ok, 1 deferred, 2 failed; sendmail's sysexits;
 * 64 usage error; 78 configuration error; 70 internal error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/log.h"
#include "route/bt.h"
#include "core/conf/conf.h"
#include "cmd/conf_print.h"
#include "cmd/daemon.h"
#include "core/mail/logfile.h"
#include "smtpd/oneshot.h"
#include "queue/queue.h"
#include "cmd/sendmail.h"
#include "core/base/version.h"

#ifndef TERN_CONF_DIR
#define TERN_CONF_DIR "/etc/tern/conf.d"
#endif

#define EX_USAGE 64
#define EX_CONFIG 78

enum mode { M_NONE, M_BT, M_BV, M_BVERSION, M_BP, M_HELP, M_VERSION,
            M_BD, M_BS, M_BH, M_LIST, M_COUNT, M_QUEUE, M_DELIVER, M_ADMIN };

struct cli {
    enum mode mode;
    const char *mode_flag;
    const char *conf_dir;
    const char *sender;
    const char *client_ip;
    const char *ports;          /* -oX */
    const char *full_name;      /* -F */
    int foreground;             /* -bdf */
    long queue_interval;        /* -bd -q30m */
    struct queue_opts q;        /* -q, -qf, -qff, -R, -S, -N */
    int extract;                /* -t */
    int delivery;               /* -odb, -odi, -odq */
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
"  -bp, mailq       list the queue; -bpc counts it\n"
"  -q               deliver every queued message whose retry time has come;\n"
"                   -qf: ignore retry times, -qff: frozen ones too;\n"
"                   -R DOMAIN / -S SENDER: only messages for/from them;\n"
"                   with -bd, -q30m runs the queue every 30 minutes\n"
"  -M ID...         deliver these messages now (retry times ignored)\n"
"  -Mrm ID...       remove messages (logged); -Mf / -Mt freeze / thaw them\n"
"  -N               with -q/-M: log what would be delivered (*>), deliver\n"
"                   nothing\n"
"\n"
"  -C DIR           configuration directory (default %s)\n"
"  -f SENDER        envelope sender for -bt/-bv conditions (\"<>\" for null)\n"
"  -oMa IP          client address for -bt/-bv conditions\n"
"  -d[CLASSES]      debug trace to stderr: all or route,dns,lua,lookup,conf\n"
"  -t, -i/-oi, -F   sendmail: recipients from the headers, a lone dot does\n"
"                   not end the message, the sender's full name\n"
"  -odb, -odi, -odq sendmail: deliver in the background (default), before\n"
"                   returning, or only at the next queue run\n"
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
    if (c->mode != M_NONE)
        return bad_usage("only one mode may be given (%s)", flag);
    c->mode = m;
    c->mode_flag = flag;
    return 0;
}

/* -q, -qf, -qff, -q30m (with -bd: the queue interval) */
static int queue_flag(struct cli *c, const char *a)
{
    const char *t = a + 2;
    long secs;

    if (*t == 'f') {
        c->q.force = 1;
        if (*++t == 'f')
            c->q.thaw = 1, t++;
    }
    if (*t != '\0') {
        if (conf_parse_time(t, &secs) != 0 || secs <= 0)
            return bad_usage("bad queue run interval in %s", a);
        c->queue_interval = secs;
        return 0;               /* only meaningful with -bd: checked later */
    }
    return c->mode == M_BD ? 0 : set_mode(c, M_QUEUE, a);
}

static int admin_flag(struct cli *c, const char *a)
{
    if (strcmp(a, "-bp") == 0)
        return set_mode(c, M_LIST, a);
    if (strcmp(a, "-bpc") == 0)
        return set_mode(c, M_COUNT, a);
    if (strcmp(a, "-M") == 0)
        return c->q.force = c->q.thaw = 1, set_mode(c, M_DELIVER, a);
    if (strcmp(a, "-Mrm") == 0 || strcmp(a, "-Mf") == 0
        || strcmp(a, "-Mt") == 0)
        return set_mode(c, M_ADMIN, a);
    if (strcmp(a, "-N") == 0)
        return c->q.dont_deliver = 1, 0;
    if (a[1] == 'q' && strcmp(a, "-qR") != 0 && strcmp(a, "-qS") != 0)
        return queue_flag(c, a);
    return -1;
}

static int mode_flag(struct cli *c, const char *a)
{
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
        if (c->mode == M_QUEUE)     /* -q30m -bd */
            c->mode = M_NONE;
        return set_mode(c, M_BD, a);
    }
    if (strcmp(a, "-bs") == 0)
        return set_mode(c, M_BS, a);
    if (admin_flag(c, a) >= 0)
        return 0;
    if (strcmp(a, "-t") == 0)
        return c->extract = 1, 0;
    if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0)
        return c->no_dot = 1, 0;
    if (strncmp(a, "-od", 3) == 0 && strchr("biq", a[3]) && a[3] != '\0'
        && a[4] == '\0')
        return c->delivery = a[3], 0;
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
    else if (strcmp(a, "-R") == 0 || strcmp(a, "-qR") == 0)
        slot = &c->q.domain, n = strlen(a);
    else if (strcmp(a, "-S") == 0 || strcmp(a, "-qS") == 0)
        slot = &c->q.sender, n = strlen(a);
    if (slot != NULL && a[1] == 'q' && set_mode(c, M_QUEUE, a) != 0)
        return EX_USAGE;        /* -qR DOMAIN, -qS SENDER: a queue run */
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

    if (cli->mode != M_BT && cli->mode != M_BV && cli->mode != M_BP
        && cli->mode != M_BVERSION && cli->mode != M_BH
        && cli->mode != M_LIST && cli->mode != M_COUNT && open_logs(c) != 0)
        return 73;
    switch (cli->mode) {
    case M_LIST:
    case M_COUNT:
        return queue_list(c, cli->mode == M_COUNT, stdout);
    case M_QUEUE:
        return queue_run(c, &cli->q);
    case M_DELIVER:
        cli->q.ids = cli->args;
        cli->q.nids = cli->nargs;
        return queue_run(c, &cli->q);
    case M_ADMIN:
        return queue_admin(c, cli->mode_flag, cli->args, cli->nargs);
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

/* combinations that make no sense are refused before anything runs */
static int check_args(const struct cli *c)
{
    if (c->queue_interval > 0 && c->mode != M_BD)
        return bad_usage("a queue run interval (-q30m) needs -bd");
    if ((c->mode == M_DELIVER || c->mode == M_ADMIN) && c->nargs == 0)
        return bad_usage("%s needs message ids", c->mode_flag);
    if ((c->q.domain || c->q.sender) && c->mode != M_QUEUE)
        return bad_usage("-R and -S select messages for a queue run (-q)");
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');

    return s != NULL ? s + 1 : p;
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
    if (strcmp(base_name(argv[0]), "mailq") == 0 && cli.mode == M_NONE)
        cli.mode = M_LIST;      /* mailq: tern -bp */
    if (cli.mode == M_HELP)
        return usage(stdout), 0;
    if (cli.mode == M_VERSION)
        return printf("tern version %s\n", TERN_VERSION), 0;
    if ((rc = check_args(&cli)) != 0)
        return rc;
    if (cli.mode == M_NONE && cli.nargs == 0 && !cli.extract)
        return usage(stderr), EX_USAGE;
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
