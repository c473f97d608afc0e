/*
 * daemon.c - the master process of tern -bd.
 *
 * PURPOSE: bind the listening sockets, drop privileges (tern_user) when
 * started as root, write the pid file, start smtp_workers workers (default:
 * one per CPU) and keep them running: a worker that dies is logged and
 * restarted (at most one restart a second per slot). SIGHUP reloads the
 * configuration: a configuration that does not load is refused and
 * logged, and the running workers keep the old one; a good one replaces
 * the workers gracefully. SIGTERM stops: workers finish their sessions
 * within shutdown_timeout, then the master removes the pid file and exits.
 * SIGUSR1 reopens the log files (logrotate).
 * It also starts the scheduler (schedd.c) and restarts it when it dies;
 * a reload replaces it too.
 * SECURITY: sockets are bound before privileges are dropped. Started as
 * root, the master hands the spool tree and the logs to tern_user (default
 * "tern"; privs.c), becomes it, and refuses to start (exit 73) when that
 * user cannot use them. It keeps a saved uid of 0 only to hand it to the
 * scheduler (whose local delivery children become the recipient, never
 * root); workers drop it for good.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/ev.h"
#include "core/base/strbuf.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "cmd/daemon.h"
#include "cmd/privs.h"
#include "smtpd/limits.h"
#include "smtpd/listen.h"
#include "core/mail/logfile.h"
#include "queue/schedd.h"
#include "core/spool/spool.h"
#include "smtpd/worker.h"

struct slot {
    pid_t pid;
    time_t started;
    int retiring;               /* told to stop (reload, shutdown) */
};

struct master {
    const struct daemon_opts *o;
    struct conf *conf;
    struct listeners ls;
    struct limits *lim;
    struct ev *ev;
    int nworkers;
    struct slot slots[LIMITS_MAX_WORKERS];
    struct slot old[LIMITS_MAX_WORKERS];    /* retiring after a reload */
    int stopping;
    char pidfile[1024];
    struct slot sched;          /* the scheduler process */
    pid_t sched_old;            /* a scheduler finishing after a reload */
};

static int worker_count(const struct conf *c)
{
    long n = c->main.smtp_workers > 0 ? c->main.smtp_workers
                                      : sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > LIMITS_MAX_WORKERS ? LIMITS_MAX_WORKERS : (int)n;
}

/* Workers keep no way back to root: only the scheduler needs one. */
static int drop_saved_root(void)
{
    uid_t r, e, s;

    if (getresuid(&r, &e, &s) != 0 || s != 0 || e == 0)
        return 0;
    return setresuid(e, e, e);
}

static void spawn_sched(struct master *m)
{
    pid_t pid = fork();

    if (pid < 0) {
        log_panic("cannot fork the scheduler: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        ev_free(m->ev);
        listen_close(&m->ls);
        schedd_main(m->conf, m->o->queue_interval);
    }
    m->sched.pid = pid;
    m->sched.started = time(NULL);
}

static void sched_respawn_cb(void *arg)
{
    struct master *m = arg;

    if (!m->stopping && m->sched.pid == 0)
        spawn_sched(m);
}

static void sched_died(struct master *m, int status)
{
    m->sched.pid = 0;
    if (m->stopping)
        return;
    log_main("scheduler %s %d; restarting it", WIFSIGNALED(status)
             ? "killed by signal" : "exited with status", WIFSIGNALED(status)
             ? WTERMSIG(status) : WEXITSTATUS(status));
    if (time(NULL) - m->sched.started < 1)
        ev_timer_add(m->ev, 1000, sched_respawn_cb, m);
    else
        spawn_sched(m);
}

static void spawn(struct master *m, int i)
{
    pid_t pid = fork();

    if (pid < 0) {
        log_panic("cannot fork worker %d: %s", i, strerror(errno));
        return;
    }
    if (pid == 0) {
        ev_free(m->ev);             /* the worker builds its own loop */
        if (drop_saved_root() != 0)
            exit(71);
        worker_main(m->conf, &m->ls, m->lim, i);
    }
    m->slots[i].pid = pid;
    m->slots[i].started = time(NULL);
    m->slots[i].retiring = 0;
}

static void respawn_cb(void *arg);

struct respawn {
    struct master *m;
    int i;
};

static void worker_died(struct master *m, int i, int status)
{
    char how[64];

    limits_worker_gone(m->lim, i);
    if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "exited with status %d",
                 WEXITSTATUS(status));
    m->slots[i].pid = 0;
    if (m->stopping)
        return;
    log_main("SMTP worker %d %s; restarting it", i, how);
    if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
        log_panic("SMTP worker %d %s", i, how);
    if (time(NULL) - m->slots[i].started < 1) {
        static struct respawn r[LIMITS_MAX_WORKERS];
        r[i] = (struct respawn){ m, i };
        ev_timer_add(m->ev, 1000, respawn_cb, &r[i]);
        return;
    }
    spawn(m, i);
}

static void respawn_cb(void *arg)
{
    struct respawn *r = arg;

    if (!r->m->stopping && r->m->slots[r->i].pid == 0)
        spawn(r->m, r->i);
}

static void reap(struct master *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == m->sched.pid) {
            sched_died(m, status);
            continue;
        }
        if (pid == m->sched_old) {
            m->sched_old = 0;
            continue;
        }
        for (int i = 0; i < LIMITS_MAX_WORKERS; i++) {
            if (m->old[i].pid == pid) {
                m->old[i].pid = 0;      /* a retired worker finished */
                break;
            }
            if (m->slots[i].pid == pid) {
                worker_died(m, i, status);
                break;
            }
        }
    }
}

static void reload(struct master *m)
{
    struct errbuf eb;
    struct conf *c = conf_load(m->o->conf_dir, &eb);

    logfile_reopen();
    if (c == NULL) {
        log_main("SIGHUP: configuration reload refused, old configuration "
                 "kept: %s", eb.msg);
        log_panic("configuration reload refused: %s", eb.msg);
        return;
    }
    log_main("SIGHUP: configuration reloaded from %s", m->o->conf_dir);
    for (int i = 0; i < m->nworkers; i++) {
        if (m->slots[i].pid > 0) {
            kill(m->slots[i].pid, SIGTERM);
            m->old[i] = m->slots[i];
        }
        limits_worker_gone(m->lim, i);  /* new workers count afresh */
    }
    conf_free(m->conf);
    m->conf = c;
    m->nworkers = worker_count(c);
    limits_raise_nofile(&c->main);      /* smtp_accept_max may have grown */
    for (int i = 0; i < m->nworkers; i++)
        spawn(m, i);
    if (m->sched.pid > 0) {
        kill(m->sched.pid, SIGTERM);
        m->sched_old = m->sched.pid;
    }
    spawn_sched(m);
}

static void begin_stop(struct master *m)
{
    m->stopping = 1;
    log_main("SIGTERM received: stopping");
    listen_close(&m->ls);       /* new connections are refused at once */
    if (m->sched.pid > 0)
        kill(m->sched.pid, SIGTERM);
    if (m->sched_old > 0)
        kill(m->sched_old, SIGTERM);
    for (int i = 0; i < LIMITS_MAX_WORKERS; i++) {
        if (m->slots[i].pid > 0)
            kill(m->slots[i].pid, SIGTERM);
        if (m->old[i].pid > 0)
            kill(m->old[i].pid, SIGTERM);
    }
}

static void reopen_logs(struct master *m)
{
    logfile_reopen();
    if (m->sched.pid > 0)
        kill(m->sched.pid, SIGUSR1);
    for (int i = 0; i < LIMITS_MAX_WORKERS; i++)
        if (m->slots[i].pid > 0)
            kill(m->slots[i].pid, SIGUSR1);
}

static void signal_cb(int fd, unsigned events, void *arg)
{
    struct master *m = arg;
    struct signalfd_siginfo si;

    (void)events;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            reap(m);
        else if (si.ssi_signo == SIGHUP && !m->stopping)
            reload(m);
        else if (si.ssi_signo == SIGUSR1)
            reopen_logs(m);
        else if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                 && !m->stopping)
            begin_stop(m);
    }
}

static int children_left(const struct master *m)
{
    if (m->sched.pid > 0 || m->sched_old > 0)
        return 1;
    for (int i = 0; i < LIMITS_MAX_WORKERS; i++)
        if (m->slots[i].pid > 0 || m->old[i].pid > 0)
            return 1;
    return 0;
}

/* Started as root: become tern_user, after handing it the spool tree and
 * the logs; then prove that the spool, the hints databases and the logs
 * work for the user we are now, else refuse to start (exit status) rather
 * than accept connections that workers and a scheduler dying at start
 * would never serve. 0 or an exit status, reported on stderr. */
static int become_tern(const struct conf *c)
{
    struct privs p;
    struct errbuf eb;
    int rc = privs_resolve(c, &p);

    if (rc != 0)
        return rc;
    privs_hand_over(c, &p, 1);
    if (privs_drop(&p, 0, &eb) != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 71;
    }
    if (privs_check(c, &eb) != 0) {
        fprintf(stderr, "tern: cannot start: %s\n", eb.msg);
        log_panic("daemon not started: %s", eb.msg);
        return PRIVS_EX_CANTCREAT;
    }
    return 0;
}

static int write_pidfile(struct master *m)
{
    const char *p = m->conf->main.pid_file_path;
    FILE *f;

    snprintf(m->pidfile, sizeof(m->pidfile), "%s", p ? p : "");
    if (p == NULL)
        snprintf(m->pidfile, sizeof(m->pidfile), "%s/tern-daemon.pid",
                 m->conf->main.spool_directory);
    if ((f = fopen(m->pidfile, "w")) == NULL
        || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
        fprintf(stderr, "tern: cannot write pid file %s: %s\n", m->pidfile,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int go_background(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    setsid();
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

/* Temp files of processes that died (kill -9, power loss) were never
 * acknowledged: remove them before serving. */
static void tidy_spool(const struct conf *c)
{
    struct errbuf eb;
    struct spool *sp = spool_open(c->main.spool_directory, NULL, &eb);
    unsigned removed = 0;

    if (sp == NULL) {
        log_panic("cannot open the spool %s: %s", c->main.spool_directory,
                  eb.msg);
        return;
    }
    if (spool_tidy(sp, &removed, &eb) != 0)
        log_panic("spool tidy: %s", eb.msg);
    else if (removed > 0)
        log_main("removed %u unfinished spool file%s left by a crash",
                 removed, removed == 1 ? "" : "s");
    spool_close(sp);
}

/* 0, or the exit status the daemon fails with */
static int setup(struct master *m)
{
    struct errbuf eb;
    sigset_t set;
    int sfd, rc;

    if (listen_open(m->conf, m->o->ports, &m->ls, &eb) != 0) {
        fprintf(stderr, "tern: %s\n", eb.msg);
        return 71;
    }
    if ((rc = become_tern(m->conf)) != 0)
        return rc;
    if ((!m->o->foreground && go_background() != 0)
        || write_pidfile(m) != 0 || (m->lim = limits_new()) == NULL)
        return 71;
    tidy_spool(m->conf);
    sigemptyset(&set);
    for (int s = 0; s < 5; s++)
        sigaddset(&set, (int[]){ SIGCHLD, SIGHUP, SIGTERM, SIGINT,
                                 SIGUSR1 }[s]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    m->ev = ev_new();
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return sfd < 0 || ev_io_set(m->ev, sfd, EV_READ, signal_cb, m) != 0
           ? 71 : 0;
}

/* Free the master and the configuration generation it holds. */
static void master_free(struct master *m)
{
    conf_free(m->conf);         /* the current generation (see daemon.h) */
    limits_free(m->lim);
    ev_free(m->ev);
    free(m);
}

static void log_started(const struct master *m)
{
    struct strbuf ports;

    sb_init(&ports);
    for (size_t i = 0; i < m->ls.n; i++)
        sb_printf(&ports, "%s[%s]:%d", i ? ", " : "", m->ls.v[i].addr,
                  m->ls.v[i].port);
    log_main("tern daemon started: pid=%d, %d workers, listening on %s",
             (int)getpid(), m->nworkers, sb_str(&ports));
    sb_free(&ports);
}

/* daemon_run - the master loop; returns the exit status */
int daemon_run(struct conf *c, const struct daemon_opts *o)
{
    struct master *m = xcalloc(1, sizeof(*m));
    int rc;

    m->o = o;
    m->conf = c;
    if ((rc = setup(m)) != 0)
        goto fail;
    m->nworkers = worker_count(c);
    limits_raise_nofile(&c->main);      /* inherited by the workers */
    log_started(m);
    spawn_sched(m);
    for (int i = 0; i < m->nworkers; i++)
        spawn(m, i);
    while (!(m->stopping && !children_left(m)))
        ev_run_once(m->ev, -1);
    unlink(m->pidfile);
    log_main("tern daemon stopped");
    master_free(m);
    return 0;
fail:
    listen_close(&m->ls);       /* setup() may have bound some */
    master_free(m);
    return rc;
}
