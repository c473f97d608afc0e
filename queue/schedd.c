/*
 * schedd.c - the scheduler process of tern -bd.
 *
 * PURPOSE: one process with its own loop, DNS resolver and spool handle
 * runs a scheduler (sched.h): it reads message ids from the notify socket
 * (notify.h) as the SMTP workers spool them, runs the whole queue when it
 * starts (unless queue_only leaves the queue to queue runs) and every
 * queue_interval (-q30m), and keeps deferred messages on timers for their
 * retry times. Without queue_only, a sweep every minute picks up messages
 * whose notification was lost (a full socket buffer, a restart). SIGTERM stops taking new work; it exits
 * when the deliveries in flight are done or shutdown_timeout has passed.
 * SIGUSR1 reopens the logs.
 * SECURITY: started by the master with a saved uid of 0 when tern runs as
 * root, so local delivery children can take the recipient's uid; it runs
 * with the tern user's effective uid otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/conf/conf.h"
#include "core/net/dns.h"
#include "core/mail/logfile.h"
#include "core/spool/notify.h"
#include "core/conf/resolver.h"
#include "queue/sched.h"
#include "queue/schedd.h"
#include "core/spool/spool.h"

#define SWEEP_MS 60000

struct schedd {
    struct conf *conf;
    struct ev *ev;
    struct sched *s;
    long interval;
    int nfd;
    int stopping;
    int timed_out;
};

static void notify_cb(int fd, unsigned events, void *arg)
{
    struct schedd *d = arg;
    char id[MSGID_LEN + 1];

    (void)events;
    while (notify_read(fd, id))
        sched_add(d->s, id);
}

static void queue_run_cb(void *arg)
{
    struct schedd *d = arg;

    if (d->stopping)
        return;
    sched_queue_run(d->s, NULL, NULL);
    if (d->interval > 0)
        ev_timer_add(d->ev, (uint64_t)d->interval * 1000, queue_run_cb, d);
}

/* every minute, messages whose notification was lost */
static void sweep_cb(void *arg)
{
    struct schedd *d = arg;

    if (d->stopping)
        return;
    sched_sweep(d->s);
    ev_timer_add(d->ev, SWEEP_MS, sweep_cb, d);
}

static void give_up_cb(void *arg)
{
    ((struct schedd *)arg)->timed_out = 1;
}

static void stop(struct schedd *d)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    sched_stop(d->s);
    ev_io_del(d->ev, d->nfd);
    ev_timer_add(d->ev, (uint64_t)d->conf->main.shutdown_timeout * 1000,
                 give_up_cb, d);
}

static void signal_cb(int fd, unsigned events, void *arg)
{
    struct schedd *d = arg;
    struct signalfd_siginfo si;

    (void)events;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
            logfile_reopen();
            sched_reopen(d->s);
        } else {
            stop(d);
        }
    }
}

static void orphan_cb(void *arg)
{
    struct schedd *d = arg;

    if (getppid() == 1)
        stop(d);
    ev_timer_add(d->ev, 1000, orphan_cb, d);
}

static int setup_signals(struct schedd *d)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -1 : ev_io_set(d->ev, fd, EV_READ, signal_cb, d);
}

/* schedd_main - the scheduler process */
void schedd_main(struct conf *c, long queue_interval)
{
    struct schedd d = { c, NULL, NULL, queue_interval, -1, 0, 0 };
    struct sched_opts so = { 0, 0, 0, 1, c->main.queue_run_max, NULL, 0 };
    struct errbuf eb;
    struct dns_ctx *dns;
    struct spool *sp;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    d.ev = ev_new();
    if (setup_signals(&d) != 0)
        exit(71);
    if ((dns = conf_resolver(c, d.ev, &eb)) == NULL) {
        log_panic("scheduler: no DNS resolver: %s", eb.msg);
        exit(75);
    }
    sp = spool_open(c->main.spool_directory, d.ev, &eb);
    if (sp == NULL || (d.nfd = notify_open(c->main.spool_directory, &eb)) < 0) {
        log_panic("scheduler: %s", eb.msg);
        exit(75);
    }
    d.s = sched_new(c, d.ev, sp, dns, &so);
    if (ev_io_set(d.ev, d.nfd, EV_READ, notify_cb, &d) != 0) {
        log_panic("scheduler: cannot watch the notify socket: %s",
                  strerror(errno));
        exit(71);
    }
    if (queue_interval > 0 || !c->main.queue_only)
        queue_run_cb(&d);       /* at once, then every queue_interval */
    if (!c->main.queue_only)
        ev_timer_add(d.ev, SWEEP_MS, sweep_cb, &d);
    ev_timer_add(d.ev, 1000, orphan_cb, &d);
    while (!(d.stopping && (sched_idle(d.s) || d.timed_out)))
        ev_run_once(d.ev, -1);
    sched_flush(d.s);
    for (int i = 0; i < 20 && ev_io_count(d.ev) > 1; i++)
        ev_run_once(d.ev, 100);
    exit(0);
}
