/*
 * test_tp_pipe.c - the pipe transport's deliver_local on a real
 * configuration: the arguments a command gets (quotes, a variable with
 * spaces and shell syntax staying one argument), its environment (built
 * from nothing), the message on stdin, exit codes to OK/DEFER/FAIL with
 * Exim's wording and the output, timeout killing the process group, no
 * deadlock or SIGPIPE with big input and output, use_shell, "|command"
 * items of a redirect.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "test-suite/unit/tap.h"
#include "test-suite/unit/tp_fixture.h"

static const char config[] =
    "transport \"p_args\" { driver = \"pipe\", command = [[/bin/sh -c "
    "'printf \"[%s]\\n\" \"$$@\" > \"$$HOME/argv\"; cat > \"$$HOME/stdin\"; "
    "env > \"$$HOME/env\"' sh ${local_part} \"a b\" x'y'z \"q\\\"uote\" "
    "${address_data}]],\n"
    "  environment = { \"FOO=bar ${local_part}\" } }\n"
    "transport \"p_exit\" { driver = \"pipe\", command = [[/bin/sh -c "
    "'cat >/dev/null; echo \"out put\"; echo line2 >&2; exit $$0' "
    "${address_data}]] }\n"
    "transport \"p_ro\" { driver = \"pipe\", return_output = true,\n"
    "  command = [[/bin/sh -c 'cat >/dev/null; printf \"$$0\"' "
    "\"${address_data}\"]] }\n"
    "transport \"p_sleep\" { driver = \"pipe\", timeout = \"1s\",\n"
    "  command = [[/bin/sh -c 'sleep 5 & echo $$! > \"$$HOME/sleep.pid\"; "
    "wait']] }\n"
    "transport \"p_shell\" { driver = \"pipe\", use_shell = true,\n"
    "  command = [[echo \"$$LOCAL_PART ${local_part}\" > "
    "\"$$HOME/shell.out\"]] }\n"
    "transport \"p_noent\" { driver = \"pipe\", command = "
    "\"/nonexistent/prog\" }\n"
    "transport \"p_nopath\" { driver = \"pipe\", command = \"no-such-prog\" }\n"
    "transport \"p_true\" { driver = \"pipe\", command = \"true\" }\n"
    "transport \"p_bigout\" { driver = \"pipe\", command = [[/bin/sh -c "
    "'head -c 200000 /dev/zero | tr \"\\0\" y; exit 1']] }\n"
    "transport \"p_sig\" { driver = \"pipe\", command = [[/bin/sh -c "
    "'kill -TERM $$$$']] }\n"
    "transport \"p_badenv\" { driver = \"pipe\", command = \"/bin/true\",\n"
    "  environment = { \"NOEQUALS\" } }\n"
    "transport \"address_pipe\" { driver = \"pipe\" }\n";

static const char *const alice[] = { "alice" };

static void file_of(struct fx *f, const char *name, struct strbuf *sb)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    if (fx_read(path, sb) != 0)
        sb_reset(sb);
}

static int has_line(const struct strbuf *sb, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = sb_str(sb); p != NULL; p = strchr(p, '\n')) {
        p += *p == '\n';
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

static void test_args_env(struct fx *f)
{
    struct strbuf sb;
    char home[200];

    setenv("TERN_TEST_SECRET", "leak", 1);
    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "p_args", 1, alice);
    f->r[0].address_data = "one; two $(touch x) `y`";
    ok(fx_run(f), "pipe: recipient settled");
    is_int(f->r[0].status, DLV_OK, "pipe: exit 0 delivers");
    sb_init(&sb);
    file_of(f, "argv", &sb);
    is_str(sb_str(&sb), "[alice]\n[a b]\n[xyz]\n[q\"uote]\n"
           "[one; two $(touch x) `y`]\n", "pipe: words split before "
           "expansion; quotes; a variable stays one argument, unexpanded");
    file_of(f, "stdin", &sb);
    is_str(sb_str(&sb), "Delivered-To: alice@example.org\n"
           "From: Alice <alice@example.org>\nTo: bob@example.org\n"
           "Subject: test\n\nline 1\nFrom the start\n>From quoted\n.\n"
           "last\n", "pipe: message on stdin, LF ends, no From_ line, no "
           "quoting");
    file_of(f, "env", &sb);
    snprintf(home, sizeof(home), "HOME=%s", f->dir);
    ok(has_line(&sb, "LOCAL_PART=alice") && has_line(&sb, "DOMAIN=example.org")
       && has_line(&sb, "SENDER=sender@example.net")
       && has_line(&sb, "RECIPIENT=alice@example.org") && has_line(&sb, home)
       && has_line(&sb, "MESSAGE_ID=1vABCD-000000000Ab-0001")
       && has_line(&sb, "PATH=/bin:/usr/bin")
       && has_line(&sb, "SHELL=/bin/sh") && has_line(&sb, "LOCAL_PART_PREFIX=")
       && has_line(&sb, "LOCAL_PART_SUFFIX="),
       "pipe: environment has the address variables");
    ok(has_line(&sb, "FOO=bar alice"), "pipe: environment option expanded");
    ok(geteuid() != 0 || has_line(&sb, "USER=root"), "pipe: USER set");
    ok(strstr(sb_str(&sb), "TERN_TEST_SECRET") == NULL,
       "pipe: nothing inherited from tern's own environment");
    sb_free(&sb);
}

static void exit_case(struct fx *f, const char *code, enum dlv_status want,
                      const char *msg)
{
    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "p_exit", 1, alice);
    f->r[0].address_data = code;
    fx_run(f);
    ok(f->r[0].status == want, "pipe: exit %s gives status %d", code,
       (int)want);
    is_str(f->r[0].msg, msg, "pipe: message for exit code");
}

#define EXIT_CMD "/bin/sh -c cat >/dev/null; echo \"out put\"; " \
                 "echo line2 >&2; exit $0 "

static void test_exit_codes(struct fx *f)
{
    exit_case(f, "0", DLV_OK, "");
    exit_case(f, "75", DLV_DEFER, "Child process of p_exit transport "
              "returned 75 (could mean temporary error) from command: "
              EXIT_CMD "75; output: out put line2");
    exit_case(f, "1", DLV_FAIL, "Child process of p_exit transport "
              "returned 1 from command: " EXIT_CMD "1; output: out put "
              "line2");
    fx_batch(f, "p_ro", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "return_output: exit 0, no output: OK");
    fx_batch(f, "p_ro", 1, alice);
    f->r[0].address_data = "said something";
    fx_run(f);
    is_int(f->r[0].status, DLV_FAIL, "return_output: exit 0 with output "
           "fails (as in Exim)");
    ok(strstr(f->r[0].msg, "returned 0") != NULL
       && strstr(f->r[0].msg, "output: said something") != NULL,
       "return_output: output in the message (%s)", f->r[0].msg);
    fx_batch(f, "p_sig", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_FAIL, "pipe: killed by a signal fails");
    ok(strstr(f->r[0].msg, "killed by signal 15") != NULL, "pipe: "
       "signal named (%s)", f->r[0].msg);
}

static double since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec)
           + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* gone, or a zombie nobody reaped yet (PID 1 of a container may not) */
static int dead(long pid)
{
    char path[64], buf[256], *p;
    struct strbuf sb;
    int zombie;

    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    sb_init(&sb);
    zombie = fx_read(path, &sb) != 0;
    snprintf(buf, sizeof(buf), "%s", sb_str(&sb));
    if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z')
        zombie = 1;
    sb_free(&sb);
    return zombie;
}

static void test_timeout(struct fx *f)
{
    struct timespec t0;
    struct strbuf sb;
    long pid = 0;
    int gone = 0;

    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "p_sleep", 1, alice);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fx_run(f);
    ok(since(&t0) >= 0.9 && since(&t0) < 3.5, "timeout: returns after "
       "the 1s timeout, not after the 5s sleep");
    is_int(f->r[0].status, DLV_DEFER, "timeout: defers");
    is_str(f->r[0].errtype, "timeout", "timeout: errtype timeout");
    ok(strncmp(f->r[0].msg, "pipe timed out", 14) == 0, "timeout: message "
       "(%s)", f->r[0].msg);
    sb_init(&sb);
    file_of(f, "sleep.pid", &sb);
    pid = atol(sb_str(&sb));
    for (int i = 0; i < 100 && pid > 0 && !(gone = dead(pid)); i++)
        usleep(10000);
    ok(pid > 0 && gone, "timeout: the command's background child (%ld) was "
       "killed with its process group", pid);
    sb_free(&sb);
}

static void test_shell_and_address(struct fx *f)
{
    char text[400];
    struct strbuf sb;

    sb_init(&sb);
    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "p_shell", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "use_shell: delivered");
    file_of(f, "shell.out", &sb);
    is_str(sb_str(&sb), "alice alice\n", "use_shell: /bin/sh -c runs the "
           "expanded command");
    fx_batch(f, "address_pipe", 1, alice);
    f->r[0].kind = CHILD_PIPE;
    snprintf(text, sizeof(text), "|/bin/sh -c \"cat > '%s/ap.out'; "
             "echo '${local_part}' > '%s/ap.lit'\"", f->dir, f->dir);
    f->r[0].text = text;
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "|command of a redirect (command unset) "
           "runs");
    file_of(f, "ap.out", &sb);
    ok(strncmp(sb_str(&sb), "Delivered-To: alice@example.org\n", 32) == 0,
       "|command: gets the message");
    file_of(f, "ap.lit", &sb);
    is_str(sb_str(&sb), "${local_part}\n", "|command: not expanded");
    fx_batch(f, "address_pipe", 1, alice);
    f->r[0].kind = CHILD_PIPE;
    f->r[0].text = "|/bin/echo 'unterminated";
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "|command with an unterminated quote "
           "defers");
    fx_batch(f, "address_pipe", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "no command and no |command defers");
    sb_free(&sb);
}

static void test_failures(struct fx *f)
{
    fx_msg(f, "sender@example.net", NULL);
    fx_batch(f, "p_noent", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_FAIL, "a command that does not exist fails");
    ok(strstr(f->r[0].msg, "No such file or directory") != NULL,
       "with the reason (%s)", f->r[0].msg);
    fx_batch(f, "p_nopath", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_FAIL, "a command not in /bin:/usr/bin fails");
    fx_batch(f, "p_badenv", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_DEFER, "a bad environment item defers");
    ok(strstr(f->r[0].msg, "NAME=value") != NULL, "saying why (%s)",
       f->r[0].msg);
}

/* 2 MB in, 200 KB out, nobody reading stdin: no deadlock, no SIGPIPE */
static void test_big(struct fx *f)
{
    size_t n = 2 * 1024 * 1024;
    char *data = malloc(n + 64);
    struct timespec t0;

    if (data == NULL)
        return;
    memcpy(data, "Subject: big\r\n\r\n", 16);
    for (size_t i = 16; i < n; i += 8)
        memcpy(data + i, "xxxxxx\r\n", 8);
    data[n] = '\0';
    fx_msg(f, "sender@example.net", data);
    fx_batch(f, "p_true", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_OK, "big input to a command that reads "
           "nothing: delivered (EPIPE is not an error, no SIGPIPE)");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fx_batch(f, "p_bigout", 1, alice);
    fx_run(f);
    is_int(f->r[0].status, DLV_FAIL, "big output and input: exit 1 fails");
    ok(strstr(f->r[0].msg, "output: yyyy") != NULL
       && strlen(f->r[0].msg) < DLV_MSG_MAX, "big output: cut into the "
       "message");
    ok(since(&t0) < 10, "big output: no deadlock");
    free(data);
}

int main(void)
{
    struct fx f;

    signal(SIGPIPE, SIG_DFL);
    if (!ok(fx_setup(&f, "test_tp_pipe", config) == 0,
            "configuration with pipe transports loads"))
        return done_testing();
    test_args_env(&f);
    test_exit_codes(&f);
    test_timeout(&f);
    test_shell_and_address(&f);
    test_failures(&f);
    test_big(&f);
    fx_teardown(&f);
    return done_testing();
}
