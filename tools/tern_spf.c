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
 *            -g RECORD a guess record for domains without one, -H.
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

struct opts {
    const char *servers;
    unsigned timeout, tries;
    struct spf_request rq;
};

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " [-s servers] [-t timeout_ms] "
            "[-r tries] [-R receiver] [-g guess] [-H] IP SENDER [HELO]\n");
    return 64;
}

static void print_outcome(const struct spf_outcome *o, void *arg)
{
    const struct spf_request *rq = arg;
    char line[2048];

    printf("%s\n", spf_result_name(o->result));
    if (o->explanation != NULL)
        printf("explanation: %s\n", o->explanation);
    if (o->problem != NULL)
        printf("problem: %s\n", o->problem);
    if (o->mechanism != NULL)
        printf("mechanism: %s\n", o->mechanism);
    spf_received(o, rq->receiver, rq->ip, rq->helo, line, sizeof(line));
    printf("%s\n", line);
    fflush(stdout);
    exit(0);
}

static int get_opts(int argc, char **argv, struct opts *o)
{
    int c;

    o->rq.receiver = "localhost";
    while ((c = getopt(argc, argv, "s:t:r:R:g:H")) != -1) {
        switch (c) {
        case 's': o->servers = optarg; break;
        case 't': o->timeout = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'r': o->tries = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'R': o->rq.receiver = optarg; break;
        case 'g': o->rq.guess = optarg; break;
        case 'H': o->rq.helo_identity = 1; break;
        default: return -1;
        }
    }
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
    spf_start(ev, dc, &o.rq, print_outcome, &o.rq);
    for (;;)
        ev_run_once(ev, 1000);
}
