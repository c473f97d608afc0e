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
 * The watchdog (watchdog.h): four times a second the master looks at
 * each child's slot; one that has not returned to its event loop for
 * process_stall_limit is killed (SIGKILL), logged with what it was doing
 * and restarted. When the scheduler dies (a crash, or that kill) busy
 * with a message, the message gets a strike in the poison database
 * (poisondb.h). A child still running shutdown_timeout (and 2 s of
 * grace) after SIGTERM is killed, so a stuck one cannot keep the daemon
 * up.
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
#include "core/base/watchdog.h"
#include "core/base/xalloc.h"
#include "core/conf/conf.h"
#include "core/hints/poisondb.h"
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
    int wd;                     /* its watchdog slot, -1 none */
    int killed;                 /* the master sent SIGKILL */
};

/* workers, retiring workers, the scheduler and a retiring one */
#define WD_SLOTS (2 * LIMITS_MAX_WORKERS + 2)
/* after shutdown_timeout, a stopping child gets this long to exit (the
 * scheduler closes its cached connections) before SIGKILL */
#define STOP_GRACE_MS 2000
/* how often the master reads the watchdog slots: a stall is seen at most
 * this long after process_stall_limit */
#define WATCH_MS 250

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
    struct slot sched_old;      /* a scheduler finishing after a reload */
    struct watchdog *wd;
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

/* fork a child into sl with a watchdog slot; 0 in the child, -1 failed */
static pid_t fork_child(struct master *m, struct slot *sl)
{
    int k = watchdog_claim(m->wd);
    pid_t pid = fork();

    if (pid < 0) {
        watchdog_release(m->wd, k);
        return -1;
    }
    if (pid == 0) {
        ev_free(m->ev);         /* the child builds its own loop */
        watchdog_attach(m->wd, k);
        return 0;
    }
    watchdog_set_pid(m->wd, k, pid);
    sl->pid = pid;
    sl->started = time(NULL);
    sl->retiring = 0;
    sl->wd = k;
    sl->killed = 0;
    return pid;
}

/* the child of sl is gone: what its slot said last, then free it */
static void child_gone(struct master *m, struct slot *sl,
                       struct watchdog_report *last)
{
    watchdog_read(m->wd, sl->wd, watchdog_now_ms(), last);
    watchdog_release(m->wd, sl->wd);
    sl->wd = -1;
    sl->pid = 0;
}

static void spawn_sched(struct master *m)
{
    pid_t pid = fork_child(m, &m->sched);

    if (pid < 0) {
        log_panic("cannot fork the scheduler: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        listen_close(&m->ls);
        schedd_main(m->conf, m->o->queue_interval);
    }
}

static void sched_respawn_cb(void *arg)
{
    struct master *m = arg;

    if (!m->stopping && m->sched.pid == 0)
        spawn_sched(m);
}

/* A scheduler died inside a message's work (a crash, or killed for a
 * stall): one strike against the message (poisondb.h). */
static void strike(struct master *m, int status,
                   const struct watchdog_report *last)
{
    const char *id = last->what[WD_MESSAGE];
    struct errbuf eb;
    int n = 0;

    if (m->stopping || !last->busy || !msgid_valid(id)
        || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        return;
    if (poisondb_strike(m->conf->main.spool_directory, id, time(NULL), &n,
                        &eb) != 0) {
        log_panic("%s: cannot record that the scheduler died with it: %s",
                  id, eb.msg);
        return;
    }
    log_main("%s the scheduler died while delivering it (strike %d of %d)",
             id, n, POISON_STRIKES);
}

static void sched_died(struct master *m, struct slot *sl, int status)
{
    struct watchdog_report last;
    int current = sl == &m->sched;

    child_gone(m, sl, &last);
    strike(m, status, &last);
    if (m->stopping || !current)
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
    pid_t pid = fork_child(m, &m->slots[i]);

    if (pid < 0) {
        log_panic("cannot fork worker %d: %s", i, strerror(errno));
        return;
    }
    if (pid == 0) {
        if (drop_saved_root() != 0)
            exit(71);
        worker_main(m->conf, &m->ls, m->lim, i);
    }
}

static void respawn_cb(void *arg);

struct respawn {
    struct master *m;
    int i;
};

static void worker_died(struct master *m, int i, int status)
{
    struct watchdog_report last;
    char how[64];

    limits_worker_gone(m->lim, i);
    if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "exited with status %d",
                 WEXITSTATUS(status));
    child_gone(m, &m->slots[i], &last);
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

static void reap_one(struct master *m, pid_t pid, int status)
{
    struct watchdog_report last;

    if (pid == m->sched.pid || pid == m->sched_old.pid) {
        sched_died(m, pid == m->sched.pid ? &m->sched : &m->sched_old,
                   status);
        return;
    }
    for (int i = 0; i < LIMITS_MAX_WORKERS; i++) {
        if (m->old[i].pid == pid) {
            child_gone(m, &m->old[i], &last);  /* a retired worker */
            return;
        }
        if (m->slots[i].pid == pid) {
            worker_died(m, i, status);
            return;
        }
    }
}

static void reap(struct master *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        reap_one(m, pid, status);
}

/* sl goes into retiring: told to stop. A process still retiring there
 * from an earlier reload is no longer watched (its slot is needed). */
static void retire(struct master *m, struct slot *sl, struct slot *into)
{
    if (into->pid > 0)
        watchdog_release(m->wd, into->wd);
    kill(sl->pid, SIGTERM);
    *into = *sl;
    into->retiring = 1;
    sl->pid = 0;
    sl->wd = -1;
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
        if (m->slots[i].pid > 0)
            retire(m, &m->slots[i], &m->old[i]);
        limits_worker_gone(m->lim, i);  /* new workers count afresh */
    }
    conf_free(m->conf);
    m->conf = c;
    m->nworkers = worker_count(c);
    limits_raise_nofile(&c->main);      /* smtp_accept_max may have grown */
    for (int i = 0; i < m->nworkers; i++)
        spawn(m, i);
    if (m->sched.pid > 0)
        retire(m, &m->sched, &m->sched_old);
    spawn_sched(m);
}

typedef void child_fn(struct master *m, struct slot *sl, const char *name);

/* call fn for every running child, with its name for the log */
static void each_child(struct master *m, child_fn *fn)
{
    char name[64];

    for (int i = 0; i < LIMITS_MAX_WORKERS; i++) {
        if (m->slots[i].pid > 0) {
            snprintf(name, sizeof(name), "SMTP worker %d", i);
            fn(m, &m->slots[i], name);
        }
        if (m->old[i].pid > 0) {
            snprintf(name, sizeof(name), "retiring SMTP worker %d", i);
            fn(m, &m->old[i], name);
        }
    }
    if (m->sched.pid > 0)
        fn(m, &m->sched, "scheduler");
    if (m->sched_old.pid > 0)
        fn(m, &m->sched_old, "retiring scheduler");
}

/* a child busy in one loop turn for process_stall_limit: SIGKILL */
static void kill_stalled(struct master *m, struct slot *sl, const char *name)
{
    struct watchdog_report r;
    char what[4 * WATCHDOG_TEXT + 64];
    long limit = m->conf->main.process_stall_limit;

    if (sl->killed || limit <= 0)
        return;
    watchdog_read(m->wd, sl->wd, watchdog_now_ms(), &r);
    if (r.pid != sl->pid || r.busy_ms < (uint64_t)limit * 1000)
        return;
    watchdog_describe(&r, what, sizeof(what));
    log_panic("%s (pid %d) stalled: not back in its event loop for %llus "
              "(%s); killing it", name, (int)sl->pid,
              (unsigned long long)(r.busy_ms / 1000), what);
    kill(sl->pid, SIGKILL);
    sl->killed = 1;
}

static void watch_cb(void *arg)
{
    struct master *m = arg;

    each_child(m, kill_stalled);
    ev_timer_add(m->ev, WATCH_MS, watch_cb, m);
}

static void kill_left(struct master *m, struct slot *sl, const char *name)
{
    (void)m;
    if (sl->killed)
        return;
    log_panic("%s (pid %d) did not stop within shutdown_timeout; killing "
              "it", name, (int)sl->pid);
    kill(sl->pid, SIGKILL);
    sl->killed = 1;
}

/* shutdown_timeout has passed since SIGTERM, and the grace a child
 * needs to close its connections after it */
static void stop_timeout_cb(void *arg)
{
    each_child(arg, kill_left);
}

static void term(struct master *m, struct slot *sl, const char *name)
{
    (void)m, (void)name;
    kill(sl->pid, SIGTERM);
}

static void begin_stop(struct master *m)
{
    m->stopping = 1;
    log_main("SIGTERM received: stopping");
    listen_close(&m->ls);       /* new connections are refused at once */
    each_child(m, term);
    ev_timer_add(m->ev, (uint64_t)m->conf->main.shutdown_timeout * 1000
                 + STOP_GRACE_MS, stop_timeout_cb, m);
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
    if (m->sched.pid > 0 || m->sched_old.pid > 0)
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
        || write_pidfile(m) != 0 || (m->lim = limits_new()) == NULL
        || (m->wd = watchdog_new(WD_SLOTS)) == NULL)
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
    watchdog_free(m->wd);
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
    m->sched.wd = m->sched_old.wd = -1;
    for (int i = 0; i < LIMITS_MAX_WORKERS; i++)
        m->slots[i].wd = m->old[i].wd = -1;
    if ((rc = setup(m)) != 0)
        goto fail;
    m->nworkers = worker_count(c);
    limits_raise_nofile(&c->main);      /* inherited by the workers */
    log_started(m);
    spawn_sched(m);
    for (int i = 0; i < m->nworkers; i++)
        spawn(m, i);
    ev_timer_add(m->ev, WATCH_MS, watch_cb, m);
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
