/*
 * tern_spf.c - check SPF from the command line, as tern's spf ACL
 *              condition would (spfquery's job, on tern's evaluator).
 *
 * PURPOSE:   "tern_spf [options] IP SENDER [HELO]" prints the result of
 *            RFC 7208 check_host() for the client IP and the envelope
 *            sender (or, with -H, the HELO identity), then the
 *            explanation, the problem and the Received-SPF header line.
 *            The test suite runs the RFC 7208 conformance cases through it.
 * OPTIONS:   -s "ip[:port],..." DNS servers (default /etc/resolv.conf),
 *            -t MS query timeout, -r N tries, -R NAME receiver name,
 *            -g RECORD a guess record for domains without one, -e TEXT
 *            a fail's explanation when the domain gives none, -H.
 *            -b: batch: read "IP<TAB>SENDER<TAB>HELO" lines from stdin,
 *            evaluate them all at once on one loop (as a worker does its
 *            sessions) and print each case's lines prefixed "N " (its
 *            line number from 1) as it finishes.
 * INTERFACE: main only. Exit 0 when a result was printed, 64 usage,
 *            1 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/net/dns.h"
#include "core/net/spf.h"

#define PROG "tern_spf"

#define BATCH_MAX 1000

struct opts {
    const char *servers;
    unsigned timeout, tries;
    int batch;
    struct spf_request rq;
};

struct job {
    struct spf_request rq;
    char line[1200];
    int n;
    int *left;
};

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " [-s servers] [-t timeout_ms] "
            "[-r tries] [-R receiver] [-g guess] [-e explanation] [-H] "
            "IP SENDER [HELO]\n"
            "       " PROG " [options] -b < lines of "
            "IP<TAB>SENDER<TAB>HELO\n");
    return 64;
}

/* the outcome's lines, each after prefix */
static void print_lines(const char *prefix, const struct spf_outcome *o,
                        const struct spf_request *rq)
{
    char line[2048];

    printf("%s%s\n", prefix, spf_result_name(o->result));
    if (o->explanation != NULL)
        printf("%sexplanation: %s\n", prefix, o->explanation);
    if (o->problem != NULL)
        printf("%sproblem: %s\n", prefix, o->problem);
    if (o->mechanism != NULL)
        printf("%smechanism: %s\n", prefix, o->mechanism);
    spf_received(o, rq->receiver, rq->ip, rq->helo, line, sizeof(line));
    printf("%s%s\n", prefix, line);
    fflush(stdout);
}

static void print_outcome(const struct spf_outcome *o, void *arg)
{
    print_lines("", o, arg);
    exit(0);
}

static void job_done(const struct spf_outcome *o, void *arg)
{
    struct job *j = arg;
    char prefix[16];

    snprintf(prefix, sizeof(prefix), "%d ", j->n);
    print_lines(prefix, o, &j->rq);
    if (--*j->left == 0)
        exit(0);
}

/* -b: start every line of stdin; the loop runs them all */
static int batch(struct ev *ev, struct dns_ctx *dc, const struct opts *o)
{
    static struct job jobs[BATCH_MAX];
    static int left;
    int n = 0;

    while (n < BATCH_MAX && fgets(jobs[n].line, sizeof(jobs[n].line), stdin)) {
        struct job *j = &jobs[n];
        char *save = NULL;
        j->line[strcspn(j->line, "\r\n")] = '\0';
        j->rq = o->rq;
        j->rq.ip = j->line;
        j->rq.sender = j->rq.helo = "";
        if ((save = strchr(j->line, '\t')) != NULL) {
            *save++ = '\0';
            j->rq.sender = save;
            if ((save = strchr(save, '\t')) != NULL) {
                *save++ = '\0';
                j->rq.helo = save;
            }
        }
        j->n = ++n;
        j->left = &left;
    }
    left = n;
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++)
        spf_start(ev, dc, &jobs[i].rq, job_done, &jobs[i]);
    return 1;
}

static int get_opts(int argc, char **argv, struct opts *o)
{
    int c;

    o->rq.receiver = "localhost";
    while ((c = getopt(argc, argv, "s:t:r:R:g:e:Hb")) != -1) {
        switch (c) {
        case 's': o->servers = optarg; break;
        case 't': o->timeout = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'r': o->tries = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'R': o->rq.receiver = optarg; break;
        case 'g': o->rq.guess = optarg; break;
        case 'e': o->rq.default_exp = optarg; break;
        case 'H': o->rq.helo_identity = 1; break;
        case 'b': o->batch = 1; break;
        default: return -1;
        }
    }
    if (o->batch)
        return argc == optind ? 0 : -1;
    if (argc - optind < 2 || argc - optind > 3)
        return -1;
    o->rq.ip = argv[optind];
    o->rq.sender = argv[optind + 1];
    o->rq.helo = argc - optind == 3 ? argv[optind + 2] : "";
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = { 0 };
    struct errbuf eb;
    struct ev *ev;
    struct dns_ctx *dc;

    if (get_opts(argc, argv, &o) != 0)
        return usage();
    if ((ev = ev_new()) == NULL) {
        fprintf(stderr, PROG ": cannot create the event loop\n");
        return 1;
    }
    if ((dc = dns_new(ev, o.servers, o.timeout, o.tries, &eb)) == NULL) {
        fprintf(stderr, PROG ": %s\n", eb.msg);
        return 1;
    }
    if (!o.batch)
        spf_start(ev, dc, &o.rq, print_outcome, &o.rq);
    else if (!batch(ev, dc, &o))
        return 0;
    for (;;)
        ev_run_once(ev, 1000);
}
