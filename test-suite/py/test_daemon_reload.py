#!/usr/bin/env python3
"""test_daemon_reload - the master process of tern -bd: SIGHUP with a good
configuration (new connections see it, a session open across the reload
finishes), SIGHUP with a broken one (refused, logged in mainlog and
paniclog, the old configuration keeps serving), kill -9 of a worker (logged
and restarted), SIGTERM (no new connections, a session in progress
finishes within shutdown_timeout, idle sessions are told 421, pid file
removed, process gone)."""
import os
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import Tap, Tern, pid_alive, wait_for  # noqa: E402

tap = Tap()


def acl(text):
    return ('acl "rcpt" {\n  deny { local_parts = "^probe$", message = "%s" },\n'
            '  accept { domains = "+local_domains" },\n'
            '  deny { message = "relay not permitted" },\n}\n' % text)


t = Tern("reload", workers=2, main={"shutdown_timeout": "6s"},
         files={"acl/30_rcpt.lua": acl("old message")})
t.start()


def probe():
    try:
        c = t.raw(timeout=5)
        c.cmd("EHLO client.example.org")
        c.cmd("MAIL FROM:<s@client.example.org>")
        got = c.cmd("RCPT TO:<probe@example.com>")
        c.close()
        return got
    except (OSError, EOFError) as e:
        return (0, repr(e))


with tap.guard("good reload"):
    got = probe()
    tap.ok("old message" in got[1], "before SIGHUP the old ACL answers",
           repr(got))
    # a session open across the reload: transaction started before it
    held = t.raw()
    held.cmd("EHLO client.example.org")
    held.cmd("MAIL FROM:<held@client.example.org>")
    held.cmd("RCPT TO:<alice@example.com>")
    old_workers = t.worker_pids()
    t.write("acl/30_rcpt.lua", acl("new message"))
    mark = len(t.mainlog())
    t.sighup()
    tap.ok(t.wait_log("main", r"SIGHUP: configuration reloaded", 5,
                      start=mark), "mainlog says the configuration was "
           "reloaded", t.mainlog()[mark:])
    got = wait_for(lambda: "new message" in probe()[1], 5)
    tap.ok(got, "after SIGHUP new connections see the new ACL",
           repr(probe()))
    code, _ = held.cmd("DATA")
    held.send(b"Subject: held\r\n\r\nacross the reload\r\n.\r\n")
    got = held.reply()
    tap.ok(code == 354 and got[0] == 250,
           "a session open across the reload finishes its message",
           "DATA %d, final %r" % (code, got))
    held.close()
    tap.ok(wait_for(lambda: not any(pid_alive(p) for p in old_workers), 6),
           "the old workers exit after the reload",
           "old %r still alive: %r" % (old_workers,
                                       [p for p in old_workers if pid_alive(p)]))

with tap.guard("bad reload"):
    t.write("acl/40_broken.lua", 'acl "mail" { accept { \n')  # syntax error
    mark, pmark = len(t.mainlog()), len(t.paniclog())
    workers = t.worker_pids()
    t.sighup()
    m = t.wait_log("main", r".*reload refused.*", 5, start=mark)
    tap.ok(m and "40_broken.lua" in m.group(0),
           "a broken configuration is refused, mainlog names the file",
           t.mainlog()[mark:])
    tap.ok(t.wait_log("panic", r"reload refused", 3, start=pmark),
           "the refused reload is in the paniclog", t.paniclog()[pmark:])
    time.sleep(0.5)
    got = probe()
    tap.ok("new message" in got[1],
           "the old (last good) configuration keeps serving", repr(got))
    tap.ok(t.worker_pids() == workers and t.running(),
           "the workers were not replaced and the master runs",
           "%r -> %r" % (workers, t.worker_pids()))
    t.remove("acl/40_broken.lua")

with tap.guard("kill -9 a worker"):
    workers = t.worker_pids()
    victim = workers[0]
    mark, pmark = len(t.mainlog()), len(t.paniclog())
    os.kill(victim, signal.SIGKILL)
    m = t.wait_log("main", r"SMTP worker \d+ killed by signal 9.*", 5,
                   start=mark)
    tap.ok(m is not None, "the master logs the killed worker",
           t.mainlog()[mark:])
    tap.ok(t.wait_log("panic", r"killed by signal 9", 3, start=pmark),
           "the killed worker is in the paniclog", t.paniclog()[pmark:])
    ok = wait_for(lambda: len(t.worker_pids()) == len(workers)
                  and victim not in t.worker_pids(), 5)
    tap.ok(ok, "the master restarts the worker",
           "before %r after %r" % (workers, t.worker_pids()))
    results = [probe() for _ in range(6)]
    tap.ok(all("new message" in r[1] for r in results),
           "new connections are served after the restart", repr(results))

with tap.guard("SIGTERM"):
    busy = t.raw()
    busy.cmd("EHLO client.example.org")
    busy.cmd("MAIL FROM:<busy@client.example.org>")
    busy.cmd("RCPT TO:<alice@example.com>")
    idle = t.raw()
    idle.cmd("EHLO idle.example.org")
    master = t.pid
    workers = t.worker_pids()
    t0 = time.time()
    os.kill(master, signal.SIGTERM)
    tap.ok(t.wait_log("main", r"SIGTERM received", 3),
           "mainlog says SIGTERM received", t.mainlog()[-600:])
    time.sleep(0.3)
    code, _ = busy.cmd("DATA")
    busy.send(b"Subject: busy\r\n\r\nfinishing during shutdown\r\n.\r\n")
    got = busy.reply()
    tap.ok(code == 354 and got[0] == 250,
           "a session in progress finishes its message after SIGTERM",
           "DATA %d, final %r" % (code, got))
    got = busy.cmd("QUIT")
    # RFC 5321 allows 421 to any command when the server shuts down
    tap.ok(got[0] in (221, 421), "... and its QUIT is answered (221 or 421)",
           repr(got))
    busy.close()
    # a new connection must not be served any more
    served = None
    try:
        s = socket.create_connection(("127.0.0.1", t.port), timeout=2)
        s.settimeout(2)
        try:
            served = s.recv(100)
        except socket.timeout:
            served = b"(no answer: connection accepted by the kernel, never "\
                     b"served)"
        s.close()
    except OSError as e:
        served = ("refused: %s" % e).encode()
    tap.ok(served.startswith(b"refused") or served.startswith(b"421")
           or served == b"",
           "after SIGTERM a new connection is refused (or told 421)",
           repr(served))
    # the idle session is told 421 without having to send anything
    idle_closed = idle.closed_by_peer(2)
    tap.ok(idle_closed and idle.buf.startswith(b"421"),
           "after SIGTERM an idle session gets 421 and is closed",
           "closed %r, got %r" % (idle_closed, idle.buf))
    idle.close()
    rc = None
    try:
        rc = t.proc.wait(10)
    except Exception:                  # noqa: BLE001
        pass
    dt = time.time() - t0
    tap.ok(rc == 0, "the master exits with status 0", "status %r" % rc)
    tap.ok(dt < 6 + 2, "the daemon is gone within shutdown_timeout (6 s)",
           "took %.1f s" % dt)
    tap.comment("SIGTERM to exit: %.2f s" % dt)
    tap.ok(not os.path.exists(t.pidfile), "the pid file is removed")
    tap.ok(not pid_alive(master) and not any(pid_alive(p) for p in workers),
           "master and workers are gone")
    tap.like(t.mainlog(), r"tern daemon stopped", "mainlog says stopped")

tap.done()
