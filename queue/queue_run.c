/*
 * queue_run.c - deliveries done by a command rather than the daemon:
 *               tern -q (a queue run), -M ID (these messages now), and the
 *               background delivery of a freshly spooled message.
 *
 * PURPOSE: the same scheduler as the daemon's, on a loop of its own, run
 * until it is idle; deferred messages stay in the spool for the next
 * run. Messages another process is delivering are skipped (spool lock).
 * -Mg ID is -M ID with the ids given up (sched_opts.give_up): admin users
 * only, and a locked message is refused ("Message ID is locked").
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/errbuf.h"
#include "core/base/ev.h"
#include "core/conf/conf.h"
#include "core/net/dns.h"
#include "core/mail/logfile.h"
#include "queue/queue.h"
#include "queue/queue_impl.h"
#include "core/conf/resolver.h"
#include "queue/sched.h"
#include "core/spool/spool.h"

struct runner {
    struct ev *ev;
    struct dns_ctx *dns;
    struct spool *sp;
    struct sched *s;
};

static int runner_open(struct runner *r, struct conf *c,
                       const struct queue_opts *o)
{
    struct sched_opts so = { o->force, o->thaw, o->dont_deliver, 0,
                             c->main.queue_run_max,
                             o->give_up ? o->ids : NULL,
                             o->give_up ? o->nids : 0 };
    struct errbuf eb;

    memset(r, 0, sizeof(*r));
    signal(SIGPIPE, SIG_IGN);
    r->ev = ev_new();
    if ((r->dns = conf_resolver(c, r->ev, &eb)) == NULL
        || (r->sp = spool_open(c->main.spool_directory, r->ev, &eb))
           == NULL) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        dns_free(r->dns);
        ev_free(r->ev);
        return -1;
    }
    r->s = sched_new(c, r->ev, r->sp, r->dns, &so);
    return 0;
}

static void runner_close(struct runner *r)
{
    sched_flush(r->s);
    for (int i = 0; i < 50 && ev_io_count(r->ev) > 0; i++)
        ev_run_once(r->ev, 100);    /* let QUITs go out */
    sched_free(r->s);
    spool_close(r->sp);
    dns_free(r->dns);
    ev_free(r->ev);
}

/* locked - -Mg of a message in delivery is refused, as Exim's queue
 * actions are ("Message ID is locked"); the scheduler would skip it */
static int locked(struct runner *r, const char *id)
{
    struct errbuf eb;
    int fd = spool_lock(r->sp, id, &eb);

    if (fd >= 0) {
        (void)close(fd);        /* read only: unlocks */
        return 0;
    }
    if (errno != EWOULDBLOCK)
        return 0;               /* gone meanwhile: nothing to do */
    printf("Message %s is locked\n", id);
    return 1;
}

static int known_ids(struct runner *r, const struct queue_opts *o)
{
    struct spool_msg m;
    struct errbuf eb;
    int rc = 0;

    for (int i = 0; i < o->nids; i++) {
        if (!msgid_valid(o->ids[i]) || spool_read(r->sp, o->ids[i], &m, &eb)
                                       != 0) {
            fprintf(stderr, "tern: message %s not found\n", o->ids[i]);
            rc = 1;
            continue;
        }
        spool_msg_free(&m);
        if (o->give_up && locked(r, o->ids[i])) {
            rc = 1;
            continue;
        }
        sched_add(r->s, o->ids[i]);
    }
    return rc;
}

/* queue_run - deliver until idle */
int queue_run(struct conf *c, const struct queue_opts *o)
{
    struct runner r;
    int rc = 0;

    if (o->give_up && !queue_is_admin(c))
        return queue_denied();
    if (runner_open(&r, c, o) != 0)
        return 73;
    if (o->nids > 0)
        rc = known_ids(&r, o);
    else
        sched_queue_run(r.s, o->domain, o->sender);
    while (!sched_idle(r.s))
        ev_run_once(r.ev, -1);
    runner_close(&r);
    return rc;
}

/* queue_deliver_background - a detached child delivers id */
int queue_deliver_background(struct conf *c, const char *id)
{
    struct queue_opts o = { 0 };
    char *ids[1] = { (char *)id };
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return 0;
    }
    if (setsid() < 0 || (pid = fork()) < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);               /* the grandchild is re-parented to init */
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        if (fd > 2)
            close(fd);
    }
    o.ids = ids;
    o.nids = 1;
    _exit(queue_run(c, &o));
}
