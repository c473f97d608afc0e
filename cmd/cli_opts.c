/*
 * cli_opts.c - tern's command line (Exim- and sendmail-compatible,
 *              DESIGN §9): one table of options, searched by one function.
 *
 * PURPOSE: a row per option says how it is written (alone, with its value
 * attached or next, or as a prefix such as -q30m and -d+route), which mode
 * it chooses, which field of struct cli it sets, or which small handler
 * runs for the odd ones (-q..., -bd, -M, -d, --help, --). Parsing stops at
 * the first argument that is not an option; every later argument is an
 * address or message id (-bt ADDR -f tests "-f", as Exim), but a recipient
 * of the sendmail interface that starts with "-" is a usage error, since
 * it would be mailed (an option misplaced, or the value of an option that
 * takes none: -d dns -bt ADDR), unless "--" ended the options.
 * INTERFACE: cli_parse, cli_check, cli_usage, cli_usage_error.
 * ERRORS: a usage error prints "tern: ..." and the --help hint on stderr
 *         and returns EX_USAGE (64); nothing is run after one, as Exim.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/base/log.h"
#include "core/conf/conf.h"
#include "cmd/cli_opts.h"

#ifndef TERN_CONF_DIR
#define TERN_CONF_DIR "/etc/tern/conf.d"
#endif

#define EX_USAGE 64

/* how a row's name matches an argument, and where its value is */
enum opt_form {
    OF_FLAG,                    /* the name alone */
    OF_NEXT,                    /* the name alone; the value is the next
                                   argument (-R DOMAIN) */
    OF_VALUE,                   /* the value attached (-fSENDER) or next */
    OF_PREFIX                   /* the name and anything after it (-q30m,
                                   -oem): the handler reads the argument */
};

#define OPT_STOP  (-1)          /* handler: options end here */

struct cli_opt {
    const char *name;
    enum opt_form form;
    enum cli_mode mode;         /* chosen by the option; CLI_NONE: none */
    size_t off;                 /* field set: the value (OF_NEXT, OF_VALUE)
                                   or, for OF_FLAG, the int set to val */
    int val;                    /* 0 with no fn: no field */
    int (*fn)(struct cli *, const struct cli_opt *, const char *arg);
};

/* cli_usage - the option summary of --help */
void cli_usage(FILE *out)
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
"                   retry, OPTION, router NAME, transport NAME, +LISTNAME;\n"
"                   -bP -n: only the options changed from their defaults,\n"
"                   -bP -n OPTION: its value alone\n"
"  -bp, mailq       list the queue; -bpc counts it; -bpu only undelivered\n"
"                   recipients, -bpa also generated ones delivered (+D),\n"
"                   -bpr unsorted (-bpru, -bpra)\n"
"  -q               deliver every queued message whose retry time has come;\n"
"                   -qf: ignore retry times, -qff: frozen ones too;\n"
"                   -R DOMAIN / -S SENDER: only messages for/from them;\n"
"                   with -bd, -q30m runs the queue every 30 minutes\n"
"  -M ID...         deliver these messages now (retry times ignored)\n"
"  -Mrm ID...       remove messages (logged); -Mf / -Mt freeze / thaw them\n"
"  -Mg ID...        give up: fail what is left (\"delivery cancelled by\n"
"                   administrator\"), bounce it, remove the message\n"
"  -Mvh/-Mvb/-Mvc/-Mvl ID  show the envelope and headers, the body, the\n"
"                   whole message, or its main log lines\n"
"  -Mar ID ADDR...  add recipients; -Mmd ID ADDR... mark them delivered;\n"
"                   -Mes ID ADDR change the sender\n"
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

/* cli_usage_error - "tern: MESSAGE" and the --help hint; EX_USAGE */
int cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tern: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(tern --help lists the options)\n");
    return EX_USAGE;
}

static int set_mode(struct cli *c, enum cli_mode m, const char *flag)
{
    if (c->mode != CLI_NONE)
        return cli_usage_error("only one mode may be given (%s)", flag);
    c->mode = m;
    c->mode_flag = flag;
    return 0;
}

/* -q, -qf, -qff, -q30m (with -bd: the queue interval) */
static int queue_flag(struct cli *c, const struct cli_opt *o, const char *a)
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
            return cli_usage_error("bad queue run interval in %s", a);
        c->queue_interval = secs;
        return 0;               /* only meaningful with -bd: checked later */
    }
    return c->mode == CLI_BD ? 0 : set_mode(c, o->mode, a);
}

/* -bd, -bdf: a bare -q given before them is dropped, not refused */
static int daemon_flag(struct cli *c, const struct cli_opt *o, const char *a)
{
    c->foreground = o->val;
    if (c->mode == CLI_QUEUE)
        c->mode = CLI_NONE;
    return set_mode(c, o->mode, a);
}

/* -M: retry times are ignored, frozen messages thawed; -Mg (val 1):
 * the same delivery gives up on what is left */
static int deliver_flag(struct cli *c, const struct cli_opt *o,
                        const char *a)
{
    c->q.force = c->q.thaw = 1;
    c->q.give_up = o->val;
    return set_mode(c, o->mode, a);
}

/* -d, -dCLASSES, -d+CLASSES */
static int debug_flag(struct cli *c, const struct cli_opt *o, const char *a)
{
    unsigned mask = DBG_ALL;

    (void)c, (void)o;
    if (a[2] != '\0' && log_debug_parse(a[2] == '+' ? a + 3 : a + 2, &mask)
        != 0)
        return cli_usage_error("unknown debug classes in %s", a);
    log_set_debug(mask);
    return 0;
}

/* --help, --version: whatever came before, and the rest is not read */
static int info_flag(struct cli *c, const struct cli_opt *o, const char *a)
{
    (void)a;
    c->mode = o->mode;
    return OPT_STOP;
}

/* --: what follows are recipients (or ids, addresses), even "-x" */
static int end_flag(struct cli *c, const struct cli_opt *o, const char *a)
{
    (void)c, (void)o, (void)a;
    return OPT_STOP;
}

#define F(field) offsetof(struct cli, field)
#define MODE(n, m)            { n, OF_FLAG, m, 0, 0, NULL }
#define SETS(n, field, v)     { n, OF_FLAG, CLI_NONE, F(field), v, NULL }
#define TAKES(n, fm, m, field) { n, fm, m, F(field), 0, NULL }
#define CALLS(n, fm, m, fn, v) { n, fm, m, 0, v, fn }
#define IGNORED(n, fm)        { n, fm, CLI_NONE, 0, 0, NULL }
#define LISTS(n, how)         { n, OF_FLAG, CLI_LIST, F(list_how), how, NULL }

/* An argument matching a name exactly takes that row (-qR, not -q; -odb,
 * not -od); otherwise the first OF_VALUE or OF_PREFIX row it starts with.
 * No two of those rows start alike, so their order does not matter. */
static const struct cli_opt cli_opts[] = {
    MODE("-bt", CLI_BT),
    MODE("-bv", CLI_BV),
    MODE("-bV", CLI_BVERSION),
    MODE("-bP", CLI_BP),
    CALLS("-bd", OF_FLAG, CLI_BD, daemon_flag, 0),
    CALLS("-bdf", OF_FLAG, CLI_BD, daemon_flag, 1),
    MODE("-bs", CLI_BS),
    TAKES("-bh", OF_VALUE, CLI_BH, client_ip),
    MODE("-bp", CLI_LIST),
    MODE("-bpc", CLI_COUNT),
    LISTS("-bpu", QLIST_UNDELIVERED),
    LISTS("-bpa", QLIST_GENERATED),
    LISTS("-bpr", QLIST_UNSORTED),
    LISTS("-bpru", QLIST_UNSORTED | QLIST_UNDELIVERED),
    LISTS("-bpra", QLIST_UNSORTED | QLIST_GENERATED),
    CALLS("-M", OF_FLAG, CLI_DELIVER, deliver_flag, 0),
    CALLS("-Mg", OF_FLAG, CLI_DELIVER, deliver_flag, 1),
    MODE("-Mrm", CLI_ADMIN),
    MODE("-Mf", CLI_ADMIN),
    MODE("-Mt", CLI_ADMIN),
    MODE("-Mvh", CLI_VIEW),
    MODE("-Mvb", CLI_VIEW),
    MODE("-Mvc", CLI_VIEW),
    MODE("-Mvl", CLI_VIEW),
    MODE("-Mar", CLI_EDIT),
    MODE("-Mmd", CLI_EDIT),
    MODE("-Mes", CLI_EDIT),
    SETS("-N", q.dont_deliver, 1),
    SETS("-n", terse, 1),
    CALLS("-q", OF_PREFIX, CLI_QUEUE, queue_flag, 0),
    TAKES("-qR", OF_NEXT, CLI_QUEUE, q.domain),
    TAKES("-qS", OF_NEXT, CLI_QUEUE, q.sender),
    TAKES("-R", OF_NEXT, CLI_NONE, q.domain),
    TAKES("-S", OF_NEXT, CLI_NONE, q.sender),
    TAKES("-C", OF_VALUE, CLI_NONE, conf_dir),
    TAKES("-f", OF_VALUE, CLI_NONE, sender),
    TAKES("-oMa", OF_VALUE, CLI_NONE, client_ip),
    TAKES("-oX", OF_VALUE, CLI_NONE, ports),
    CALLS("-d", OF_PREFIX, CLI_NONE, debug_flag, 0),
    /* the sendmail interface */
    SETS("-t", extract, 1),
    SETS("-i", no_dot, 1),
    SETS("-oi", no_dot, 1),
    TAKES("-F", OF_VALUE, CLI_NONE, full_name),
    SETS("-odb", delivery, 'b'),
    SETS("-odi", delivery, 'i'),
    SETS("-odq", delivery, 'q'),
    /* sendmail options with no effect here */
    IGNORED("-od", OF_PREFIX),
    IGNORED("-oe", OF_PREFIX),
    IGNORED("-bm", OF_FLAG),
    IGNORED("-v", OF_FLAG),
    IGNORED("-U", OF_FLAG),
    IGNORED("-om", OF_FLAG),
    CALLS("--help", OF_FLAG, CLI_HELP, info_flag, 0),
    CALLS("--version", OF_FLAG, CLI_VERSION, info_flag, 0),
    CALLS("--", OF_FLAG, CLI_NONE, end_flag, 0),
};

static const struct cli_opt *find_option(const char *a)
{
    const struct cli_opt *o, *prefix = NULL;
    size_t i;

    for (i = 0; i < sizeof(cli_opts) / sizeof(cli_opts[0]); i++) {
        o = &cli_opts[i];
        if (strcmp(a, o->name) == 0)
            return o;
        if (prefix == NULL && (o->form == OF_VALUE || o->form == OF_PREFIX)
            && strncmp(a, o->name, strlen(o->name)) == 0)
            prefix = o;
    }
    return prefix;
}

/* the value of an OF_NEXT or OF_VALUE row; *i moves past a separate one */
static int option_value(struct cli *c, const struct cli_opt *o, char **argv,
                        int argc, int *i)
{
    const char **slot = (const char **)((char *)c + o->off);
    const char *a = argv[*i];
    size_t n = strlen(o->name);

    if (a[n] != '\0') {         /* only OF_VALUE rows match a longer a */
        *slot = a + n;
        return 0;
    }
    if (*i + 1 >= argc)
        return cli_usage_error("%s needs a value", a);
    *slot = argv[++*i];
    return 0;
}

static int apply_option(struct cli *c, const struct cli_opt *o, char **argv,
                        int argc, int *i)
{
    int rc;

    if (o->fn != NULL)
        return o->fn(c, o, argv[*i]);
    if (o->mode != CLI_NONE && (rc = set_mode(c, o->mode, argv[*i])) != 0)
        return rc;
    if (o->form == OF_NEXT || o->form == OF_VALUE)
        return option_value(c, o, argv, argc, i);
    if (o->val != 0)
        *(int *)((char *)c + o->off) = o->val;
    return 0;
}

/* check_recipients - a sendmail recipient never looks like an option:
 * "tern -d dns -bt x@y" must not mail dns@, -bt@ and x@y */
static int check_recipients(char **args, int n)
{
    for (int i = 0; i < n; i++)
        if (args[i][0] == '-')
            return cli_usage_error("recipient %s starts with \"-\": options "
                                   "come before the recipients (after "
                                   "\"--\" it is taken as an address)",
                                   args[i]);
    return 0;
}

/* cli_parse - fill c from argv (argv[0] "mailq" means -bp) */
int cli_parse(struct cli *c, int argc, char **argv)
{
    const struct cli_opt *o;
    const char *base;
    int i, rc = 0;

    *c = (struct cli){ .conf_dir = TERN_CONF_DIR };
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if ((o = find_option(argv[i])) == NULL)
            return cli_usage_error("unknown option %s", argv[i]);
        rc = apply_option(c, o, argv, argc, &i);
        if (rc == OPT_STOP) {
            i++;
            break;
        }
        if (rc != 0)
            return rc;          /* fatal: tern -bt -bp a runs nothing */
    }
    c->args = argv + i;
    c->nargs = argc - i;
    base = strrchr(argv[0], '/');
    if (strcmp(base != NULL ? base + 1 : argv[0], "mailq") == 0
        && c->mode == CLI_NONE)
        c->mode = CLI_LIST;     /* mailq: tern -bp */
    if (c->mode == CLI_NONE && rc != OPT_STOP)
        return check_recipients(c->args, c->nargs);
    return 0;
}

/* cli_check - refuse combinations that make no sense */
int cli_check(const struct cli *c)
{
    if (c->queue_interval > 0 && c->mode != CLI_BD)
        return cli_usage_error("a queue run interval (-q30m) needs -bd");
    if ((c->mode == CLI_DELIVER || c->mode == CLI_ADMIN
         || c->mode == CLI_VIEW || c->mode == CLI_EDIT) && c->nargs == 0)
        return cli_usage_error("%s needs message ids", c->mode_flag);
    if ((c->q.domain || c->q.sender) && c->mode != CLI_QUEUE)
        return cli_usage_error("-R and -S select messages for a queue run "
                               "(-q)");
    if (c->mode == CLI_NONE && c->nargs == 0 && !c->extract) {
        cli_usage(stderr);      /* plain "tern": the summary, as an error */
        return EX_USAGE;
    }
    return 0;
}
