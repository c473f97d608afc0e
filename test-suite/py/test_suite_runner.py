#!/usr/bin/env python3
"""test_suite_runner.py - the test runner (test-suite/run) judges what test
programs print: a skip is counted as skipped, never as passed, and listed
with its reason; a whole-file skip ("1..0 # SKIP why") is seen; a plan that
disagrees with the tests run (1..5 and one "ok"), no plan, two plans, a plan
in the middle, numbers out of order, "Bail out!" and a non-zero exit each
fail; sanitizer reports written through log_path by any process of a test
fail it; the closing line is "N passed, N failed, N skipped". The daemon
fixtures (ternlib.Tern, ternlib_extra.Tern) hand their environment, where
make sanitize puts ASAN_OPTIONS and UBSAN_OPTIONS, to the master and every
child it forks.

Fake test programs are small sh scripts in a temporary directory; the
runner is loaded as a module and its run_tap() called on them."""
import contextlib
import importlib.machinery
import importlib.util
import io
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib  # noqa: E402
import ternlib_extra  # noqa: E402
from ternlib import TAP, TOP, scratch_dir  # noqa: E402

tap = TAP()
work = scratch_dir("tern-runner-")


def load_runner():
    path = os.path.join(TOP, "test-suite", "run")
    loader = importlib.machinery.SourceFileLoader("tern_test_run", path)
    spec = importlib.util.spec_from_loader("tern_test_run", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


run = load_runner()


def fake(name, stdout, status=0, extra=""):
    """a program printing stdout (lines) and exiting with status"""
    p = os.path.join(work, name + ".sh")
    with open(p, "w") as f:
        f.write("#!/bin/sh\n%scat <<'EOF'\n%sEOF\nexit %d\n"
                % (extra, stdout, status))
    return p


def judge(name, stdout, status=0, extra=""):
    """run_tap on a fake program: (passed, failed, skipped, its output)"""
    before = dict(run.counts)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run.run_tap(["sh", fake(name, stdout, status, extra)], name,
                    dict(os.environ))
    d = [run.counts.get(k, 0) - before.get(k, 0)
         for k in ("pass", "fail", "skip")]
    return d[0], d[1], d[2], out.getvalue()


def check(name, stdout, want, what, status=0):
    got = judge(name, stdout, status)
    tap.ok(got[:3] == want, what, "passed, failed, skipped: got %r, want %r"
           "\nrunner printed:\n%s" % (got[:3], want, got[3]))
    return got


# ---- plans and exit status
check("good", "ok 1 - a\nok 2 - b\n1..2\n", (2, 0, 0),
      "two oks and the plan 1..2: two passes")
check("good-plan-first", "1..2\nok 1 - a\nok 2 - b\n", (2, 0, 0),
      "the plan may come first")
check("short", "1..5\nok 1 - a\n", (1, 1, 0),
      "1..5 and one ok: the missing four fail the file")
check("noplan", "ok 1 - a\nok 2 - b\n", (2, 1, 0),
      "oks without a plan fail the file")
check("twoplans", "1..2\nok 1 - a\nok 2 - b\n1..2\n", (2, 1, 0),
      "two plans fail the file")
check("middle", "ok 1 - a\n1..2\nok 2 - b\n", (2, 1, 0),
      "a plan between the tests fails the file")
check("order", "ok 1 - a\nok 3 - c\nok 2 - b\n1..3\n", (3, 1, 0),
      "tests numbered out of order fail the file")
check("bail", "ok 1 - a\nBail out! the database is gone\n1..1\n", (1, 1, 0),
      "Bail out! fails the file")
check("status", "ok 1 - a\n1..1\n", (1, 1, 0),
      "all ok but exit status 1: the file fails", status=1)
check("crash", "ok 1 - a\nnot ok 2 - b\n1..2\n", (1, 2, 0),
      "a not ok and a crash (status 134): both fail", status=134)
check("empty", "", (0, 1, 0), "no output at all fails")
got = check("failing", "ok 1 - a\nnot ok 2 - b\n#   got 1, want 2\n1..2\n",
            (1, 1, 0), "a not ok is a failure, once", status=1)
tap.like(got[3], r"(?m)^#   got 1, want 2$",
         "the failing test's diagnostics are shown")

# ---- skips
got = check("skipone", "ok 1 - a\nok 2 - mkpasswd # SKIP mkpasswd missing\n"
            "1..2\n", (1, 0, 1), "an ok with a SKIP directive counts as skipped, "
            "not passed")
tap.like(got[3], r"(?m)^ok \d+ - skipone: mkpasswd # SKIP mkpasswd missing$",
         "the skip is shown as a TAP skip, with its reason")
got = check("skipall", "1..0 # SKIP needs root\n", (0, 0, 1),
            "a whole-file skip (plan 1..0 with SKIP) counts as one skip")
tap.like(got[3], r"(?m)^ok \d+ - skipall \(whole file\) # SKIP needs root$",
         "the whole-file skip is shown with its reason")
check("skipall-status", "1..0 # SKIP needs root\n", (0, 1, 0),
      "a whole-file skip that exits 1 fails", status=1)
check("notokskip", "not ok 1 - a # SKIP why\n1..1\n", (0, 1, 0),
      "a not ok with a SKIP directive is still a failure", status=1)

# ---- the closing lines
with tap.guard("the closing lines"):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run.summary()
    lines = out.getvalue().splitlines()
    tap.match(r"^\d+ passed, \d+ failed, \d+ skipped$",
              lines[-1] if lines else "",
              "the closing line is 'N passed, N failed, N skipped'")
    tap.ok(any("mkpasswd missing" in ln for ln in lines[:-1])
           and any("needs root" in ln for ln in lines[:-1]),
           "before it, every skip is listed with its reason", out.getvalue())

# ---- sanitizer reports written by any process of a test
logs = os.path.join(work, "logs")
with tap.guard("sanitizer reports"):
    run.san_logs = run.SanitizerLogs(logs)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(run.san_logs.environ(saved))
    # a grandchild in the background, as a daemon's worker would be
    report_sh = ('(p=${ASAN_OPTIONS##*log_path=}; p=${p%%:*}; sleep 0.2; '
                 'printf "==1==ERROR: AddressSanitizer: heap-buffer-overflow'
                 '\\n    #0 0x1 in smtp_cmd smtpd/x.c:1\\n" > "$p.4242") '
                 '</dev/null >/dev/null 2>&1 &\nsleep 0.5\n')
    try:
        got = judge("asan", "ok 1 - a\n1..1\n", extra=report_sh)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    tap.eq(got[:3], (1, 1, 0), "a report file from a background process "
           "fails the test that ran it")
    tap.like(got[3], r"(?m)^not ok \d+ - asan: sanitizer report \S+"
             r"asan\.4242$", "the not ok names the report file")
    tap.like(got[3], r"(?m)^# .*heap-buffer-overflow", "and shows its first "
             "lines")
    got = judge("clean", "ok 1 - a\n1..1\n")
    tap.eq(got[:3], (1, 0, 0), "a report is blamed once, not on the next "
           "test too")
    run.san_logs = None


# ---- the daemon fixtures keep the environment for tern and its children
def environ_of(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            items = f.read().split(b"\0")
    except OSError:
        return None
    return dict(i.decode("utf-8", "replace").split("=", 1)
                for i in items if b"=" in i)


def env_reaches(pids, what):
    want = {"TERN_RUNNER_TEST_MARK": "seen"}
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if var in os.environ:
            want[var] = os.environ[var]
    bad = []
    for pid in pids:
        env = environ_of(pid)
        if env is not None and any(env.get(k) != v for k, v in want.items()):
            bad.append("%d: %r" % (pid, {k: env.get(k) for k in want}))
    tap.ok(len(pids) >= 3 and not bad, "%s: the master and its %d children "
           "have our environment (%s)" % (what, len(pids) - 1,
                                          ", ".join(sorted(want))),
           "pids %r\n%s" % (pids, "\n".join(bad)))


os.environ["TERN_RUNNER_TEST_MARK"] = "seen"
with tap.guard("ternlib.Tern environment"):
    with ternlib.Tern(name="runner-env") as t:
        ternlib_pids = []
        for _ in range(50):         # the workers and the scheduler
            ternlib_pids = t.pids()
            if len(ternlib_pids) >= 3:
                break
            time.sleep(0.1)
        env_reaches(ternlib_pids, "ternlib.Tern")
with tap.guard("ternlib_extra.Tern environment"):
    x = ternlib_extra.Tern(name="runner-env")
    try:
        x.start()
        for _ in range(50):
            if len(x.worker_pids()) >= 2:
                break
            time.sleep(0.1)
        env_reaches([x.pid] + x.worker_pids(), "ternlib_extra.Tern")
    finally:
        x.stop()

tap.done()
