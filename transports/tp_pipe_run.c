/*
 * tp_pipe_run.c - run one command with the message on its stdin
 *                 (tp_pipe.h).
 *
 * PURPOSE: fork; the child starts its own session (setsid, so a timeout
 * kills the whole process group), gets stdin from us and stdout+stderr
 * into one pipe, default signal dispositions, every other fd closed, and
 * execs. The parent writes stdin and reads output together with poll()
 * (no deadlock on a full pipe), keeps the first PP_OUTPUT_MAX bytes of
 * output, and reaps the child, killing its group with SIGKILL at timeout.
 * A command that exits without reading stdin is normal (EPIPE ignored).
 * An exec failure comes back through a close-on-exec pipe as its errno.
 * INTERFACE: pp_run.
 * ERRORS: -1 with eb only when pipes or fork fail.
 * SECURITY: the environment is exactly x->envp; no shell unless the
 * caller made argv one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "transports/tp_local.h"
#include "transports/tp_pipe.h"

struct pp_io {
    int in;                 /* our end of the child's stdin, -1 closed */
    int out;                /* our end of its output, -1 closed */
    size_t off;             /* input bytes written */
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void child_signals(void)
{
    static const int sigs[] = { SIGPIPE, SIGXFSZ, SIGCHLD, SIGALRM,
                                SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    sigset_t all;

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

/* in the child: never returns */
static void child_exec(const struct pp_run *x, int in, int out, int st)
{
    int err;

    child_signals();
    setsid();
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        goto fail;
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        for (int fd = 3; fd < 1024; fd++)
            if (fd != st)
                close(fd);
    if (chdir(x->dir != NULL && *x->dir != '\0' ? x->dir : "/") != 0
        && chdir("/") != 0)
        goto fail;
    execve(x->path, (char *const *)x->argv, (char *const *)x->envp);
fail:
    err = errno;
    if (write(st, &err, sizeof(err)) < 0)
        _exit(126);
    _exit(127);
}

/* write what the child's stdin takes now; EPIPE ends the input */
static void feed(struct pp_run *x, struct pp_io *io)
{
    while (io->off < x->inlen) {
        size_t n = x->inlen - io->off;
        ssize_t w = write(io->in, x->input + io->off, n > 65536 ? 65536 : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        if (w <= 0)
            break;                      /* EPIPE: it stopped reading */
        io->off += (size_t)w;
    }
    close_fd(&io->in);
}

/* read the output there is; keep the first PP_OUTPUT_MAX bytes */
static void drain(struct pp_run *x, struct pp_io *io)
{
    char buf[4096];

    for (;;) {
        ssize_t n = read(io->out, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close_fd(&io->out);
            return;
        }
        size_t keep = PP_OUTPUT_MAX - x->outlen;
        if ((size_t)n < keep)
            keep = (size_t)n;
        memcpy(x->output + x->outlen, buf, keep);
        x->outlen += keep;
        x->output[x->outlen] = '\0';
    }
}

static void kill_group(pid_t pid, int *status)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* one poll round: up to wait_ms */
static void step(struct pp_run *x, struct pp_io *io, int wait_ms)
{
    struct pollfd pfd[2];
    nfds_t n = 0;
    int iin = -1, iout = -1;

    if (io->in >= 0) {
        pfd[n] = (struct pollfd){ io->in, POLLOUT, 0 };
        iin = (int)n++;
    }
    if (io->out >= 0) {
        pfd[n] = (struct pollfd){ io->out, POLLIN, 0 };
        iout = (int)n++;
    }
    if (poll(pfd, n, wait_ms) <= 0)
        return;
    if (iin >= 0 && pfd[iin].revents != 0)
        feed(x, io);
    if (iout >= 0 && pfd[iout].revents != 0)
        drain(x, io);
}

/* talk to the child until it exits (or the deadline: killed) */
static void exchange(struct pp_run *x, pid_t pid, struct pp_io *io)
{
    long long deadline = now_ms() + x->timeout * 1000LL;

    for (;;) {
        pid_t w = waitpid(pid, &x->status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) {
            if (io->out >= 0)
                drain(x, io);           /* what it wrote before exiting */
            return;
        }
        long long left = deadline - now_ms();
        if (left <= 0) {
            x->timed_out = 1;
            kill_group(pid, &x->status);
            return;
        }
        /* with output open, its EOF wakes us when the child exits */
        long long wait = io->out >= 0 ? 1000 : 10;
        step(x, io, (int)(left < wait ? left : wait));
    }
}

static int open_pipes(int in[2], int out[2], int st[2])
{
    in[0] = in[1] = out[0] = out[1] = st[0] = st[1] = -1;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0
        || pipe2(st, O_CLOEXEC) != 0)
        return -1;
    if (fcntl(in[1], F_SETFL, O_NONBLOCK) != 0
        || fcntl(out[0], F_SETFL, O_NONBLOCK) != 0)
        return -1;
    return 0;
}

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        close_fd(&fds[i]);
}

/* pp_run - run x->argv with x->input on stdin (see tp_pipe.h) */
int pp_run(struct pp_run *x, struct errbuf *eb)
{
    int fds[6], *in = fds, *out = fds + 2, *st = fds + 4;
    struct pp_io io;
    struct sigaction old;
    pid_t pid;

    x->status = 0;
    x->timed_out = x->exec_errno = 0;
    x->outlen = 0;
    x->output[0] = '\0';
    if (open_pipes(in, out, st) != 0 || (pid = fork()) < 0) {
        errbuf_set(eb, "cannot start the command: %s", strerror(errno));
        close_all(fds, 6);
        return -1;
    }
    if (pid == 0)
        child_exec(x, in[0], out[1], st[1]);
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&st[1]);
    io = (struct pp_io){ in[1], out[0], 0 };
    tp_sig_ignore(SIGPIPE, &old);
    exchange(x, pid, &io);
    tp_sig_restore(SIGPIPE, &old);
    close_fd(&io.in);
    close_fd(&io.out);
    if (read(st[0], &x->exec_errno, sizeof(x->exec_errno))
        != (ssize_t)sizeof(x->exec_errno))
        x->exec_errno = 0;
    close_fd(&st[0]);
    return 0;
}
