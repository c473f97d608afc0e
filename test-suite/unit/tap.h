/*
 * tap.h - minimal TAP producer for the C unit tests.
 *
 * INTERFACE: ok(cond, fmt, ...), is_int(got, want, name), is_str(got, want,
 *            name), survives(fn) (fn returns in a child: no crash, no
 *            sanitizer report), done_testing() (prints the plan, returns the
 *            exit code).
 * Each test program prints "ok N - name" / "not ok N - name" lines; the
 * runner (test-suite/run) counts them.
 */
#ifndef TERN_TAP_H
#define TERN_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
    va_list ap;

    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (!cond)
        tap_failed++;
    fflush(stdout);
    return cond;
}

__attribute__((unused))
static int is_int(long long got, long long want, const char *name)
{
    if (!ok(got == want, "%s", name))
        printf("#   got %lld, want %lld\n", got, want);
    return got == want;
}

__attribute__((unused))
static int is_str(const char *got, const char *want, const char *name)
{
    int same = (got == NULL && want == NULL)
               || (got != NULL && want != NULL && strcmp(got, want) == 0);

    if (!ok(same, "%s", name))
        printf("#   got  \"%s\"\n#   want \"%s\"\n", got ? got : "(null)",
               want ? want : "(null)");
    return same;
}

/* survives - 1 when fn() returns normally in a forked child: for calls
 * whose only promise is not to crash (free(NULL) and the like), so that a
 * crash or a sanitizer report fails this check instead of ending the
 * program */
__attribute__((unused))
static int survives(void (*fn)(void))
{
    pid_t pid;
    int st;

    fflush(stdout);
    if ((pid = fork()) < 0)
        return 0;
    if (pid == 0) {
        fn();
        _exit(0);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 0;
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        printf("#   the child %s %d\n", WIFSIGNALED(st) ? "died of signal"
               : "exited with status", WIFSIGNALED(st) ? WTERMSIG(st)
               : WEXITSTATUS(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

__attribute__((unused))
static int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
