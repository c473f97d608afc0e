#!/usr/bin/env python3
"""test_hostile_stall - the last line of defence (issue 9, points 4 and 5).

A script that never returns (here a Lua loop the instruction budget
cannot stop: the budget is set huge, and a loop of coroutines defeats
the per-coroutine budget of older builds) stands in for any bug that
keeps a process from going back to its event loop.

  1. A worker stuck in a Lua rcpt ACL is killed and restarted after
     process_stall_limit; the log (mainlog and paniclog) names the
     worker, the session [ip]:port, the ACL and the script's file:line.
     A session on the other worker is served meanwhile and afterwards;
     new clients are served after the restart.
  2. SIGTERM with a worker stuck: the daemon exits within
     shutdown_timeout and a few seconds (the stuck child gets SIGKILL).
  3. A poison message (a Lua router that never returns, for its domain
     only) stalls the scheduler: killed three times, then frozen
     ("Frozen (the scheduler died 3 times while delivering it)", -bp
     shows *** frozen ***), while a message sent after it is delivered
     first and one sent after the freeze is delivered at once.
  4. The same for crashes: a scheduler that aborts three times while it
     holds the message (SIGABRT, what panic() does; the sanitizers do not
     take it for one of their reports) freezes it.
  5. Long legitimate work does not trip the watchdog: a 100,000-address
     alias routed (two Lua routers per address) and delivered (to an SMTP
     sink) by the scheduler with process_stall_limit = 1s, in slices.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, message, LOCAL_DOMAIN, LoopbackServer  # noqa: E402

D = LOCAL_DOMAIN
tap = TAP(timeout=58)

# a loop no instruction budget of one coroutine stops
SPIN = ("while true do coroutine.wrap(function() for i = 1, 100000 do end "
        "end)() end")
ACL_STALL = r'''
acl "rcpt" (function(s)
  if s.rcpt == "stall@%s" then
    %s
  elseif s.rcpt == "busy@%s" then
    local t = os.clock()
    while os.clock() - t < 1 do end
  end
  return accept {}
end)
''' % (D, SPIN, D)
POISON_ROUTER = '''
router "poison" {
  driver = "lua",
  domains = "poison.example",
  route = function(addr)
    %s
  end,
}
''' % SPIN


def known_options(*names):
    """the main options of names this build knows"""
    probe = Tern(start=False, name="probe")
    try:
        return {n for n in names if probe.run("-bP", n).returncode == 0}
    finally:
        probe.cleanup()


KNOWN = known_options("lua_time_limit", "process_stall_limit")
# what keeps the Lua layer from stopping the loop: a huge instruction
# budget and, where this build has one, a huge time limit
LUA_LIMITS = {"lua_instruction_limit": 10 ** 15}
if "lua_time_limit" in KNOWN:
    LUA_LIMITS["lua_time_limit"] = "1d"


def stall_limit(value):
    """process_stall_limit = value (left out where a build lacks it, so
    the checks below show what such a build does)"""
    return {"process_stall_limit": value} \
        if "process_stall_limit" in KNOWN else {}


def server_inode(d, client):
    """the socket inode of the daemon's end of client's connection"""
    port = client.sock.getsockname()[1]
    want_local = ":%04X" % d.port
    want_remote = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if p[1].endswith(want_local) and p[2].endswith(want_remote):
                return p[9]
    return None


def pid_holding(pids, link):
    """the first pid with an open fd whose link text is link"""
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == link:
                    return pid
            except OSError:
                pass
    return None


def worker_of(d, client):
    ino = server_inode(d, client)
    return pid_holding(d.pids()[1:], "socket:[%s]" % ino) if ino else None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def transaction(c, rcpt="alice@" + D):
    """one message through RawClient c; the reply to the final dot"""
    for line in ("MAIL FROM:<s@client.example>", "RCPT TO:<%s>" % rcpt,
                 "DATA"):
        r = c.cmd(line)
        if r.code >= 400:
            return r
    c.send(message(to=rcpt) + ".\r\n")
    return c.reply()


def clients_on_two_workers(d):
    """two clients, each on its own worker: the second connects while the
    first one's worker is busy for a second in its rcpt ACL"""
    for _ in range(3):
        a = d.raw()
        a.cmd("EHLO client.example")
        a.cmd("MAIL FROM:<s@client.example>")
        a.send("RCPT TO:<busy@%s>\r\n" % D)
        time.sleep(0.2)
        b = d.raw()
        b.cmd("EHLO client.example")
        r = a.reply()
        wa, wb = worker_of(d, a), worker_of(d, b)
        if r.code == 250 and wa and wb and wa != wb:
            a.cmd("RSET")
            return (wa, a), (wb, b)
    return (None, None), (None, None)


# ---- 1. a stuck worker is killed, named, restarted
with tap.guard("worker stall"):
    LIMIT = 2
    with Tern(main=dict(LUA_LIMITS, **stall_limit("%ds" % LIMIT)),
              files={"acl/30_rcpt.lua": ACL_STALL}, name="stall") as d:
        (stuck_w, stuck), (other_w, other) = clients_on_two_workers(d)
        tap.ok(stuck_w is not None and stuck_w != other_w,
               "clients on both workers")
        port = stuck.sock.getsockname()[1]
        stuck.cmd("MAIL FROM:<s@client.example>")
        t0 = time.monotonic()
        stuck.send("RCPT TO:<stall@%s>\r\n" % D)
        time.sleep(0.5)
        tap.eq(stuck.try_reply(0.5), None, "the stuck session gets no reply")
        r = transaction(other)
        tap.ok(r.code == 250 and time.monotonic() - t0 < LIMIT,
               "a session on the other worker is served during the stall",
               r.raw)
        m = d.wait_log(r"SMTP worker \d+ \(pid %d\) stalled: not back in its "
                       r"event loop for \d+s \(session \[127\.0\.0\.1\]:%d, "
                       r"acl rcpt, script \S*acl/30_rcpt\.lua:\d+\); "
                       r"killing it" % (stuck_w, port), timeout=LIMIT + 6)
        took = time.monotonic() - t0
        tap.ok(m is not None, "the kill is logged with the session, the ACL "
               "and the script", d.mainlog()[-1500:])
        tap.ok(m is not None and took <= LIMIT + 2.5,
               "killed within process_stall_limit + 2 s (%.1f s)" % took)
        tap.ok(m is not None and m.group(0) in d.paniclog(),
               "the same line is in the paniclog", d.paniclog()[-1000:])
        # a killed process with a thread inside syncfs(2) stays a zombie
        # until that call returns: give it the same 3 s as the session
        closed = stuck.is_closed(3)
        for _ in range(30):
            if not alive(stuck_w):
                break
            time.sleep(0.1)
        tap.ok(closed and not alive(stuck_w),
               "the stuck worker is gone, its session closed")
        tap.ok(d.wait_log(r"SMTP worker \d+ killed by signal 9; restarting "
                          r"it") is not None, "the worker is restarted")
        r = other.cmd("NOOP")
        tap.ok(r.code == 250 and transaction(other).code == 250,
               "the session on the other worker goes on", r.raw)
        time.sleep(1.2)             # the restart is at most 1 s away
        served = 0
        for _ in range(6):
            c = d.raw()
            if c.banner.code == 220 and c.cmd("EHLO a.example").code == 250:
                served += 1
        tap.eq(served, 6, "new clients are served after the restart")
        tap.eq(len(d.pids()), 4, "master, two workers and the scheduler "
               "are running again")

# ---- 2. SIGTERM with a stuck worker
with tap.guard("SIGTERM escalates"):
    with Tern(main=dict(LUA_LIMITS, shutdown_timeout="2s",
                        **stall_limit("0s")),
              files={"acl/30_rcpt.lua": ACL_STALL}, name="term") as d:
        c = d.raw()
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<s@client.example>")
        c.send("RCPT TO:<stall@%s>\r\n" % D)
        stuck_w = worker_of(d, c)
        time.sleep(0.5)
        kids = d.pids()[1:]
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(12)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        tap.ok(rc == 0 and took <= 2 + 4, "the daemon stops within "
               "shutdown_timeout + 4 s with a stuck worker (%.1f s, exit %r)"
               % (took, rc))
        tap.like(d.mainlog(), r"SMTP worker \d+ \(pid %s\) did not stop "
                 r"within shutdown_timeout; killing it" % stuck_w,
                 "the stuck worker's kill is logged")
        time.sleep(0.3)
        tap.eq([p for p in kids if alive(p)], [], "no child is left")


def poison_daemon(limit, name):
    return Tern(main=dict(LUA_LIMITS, queue_only=False,
                          relay_from_hosts=["127.0.0.1"],
                          **stall_limit(limit)),
                files={"router/050_poison.lua": POISON_ROUTER}, name=name)


def spooled_id(d, rcpt):
    for m in d.spool_messages():
        if rcpt in m.rcpts:
            return m.id
    return None


def frozen_in_bp(d, mid):
    out = d.run("-bp").stdout.decode()
    return re.search(r"%s <s@client\.example> \*\*\* frozen \*\*\*" % mid,
                     out) is not None, out


# ---- 3. a poison message that stalls the scheduler
with tap.guard("poison message (stall)"):
    with poison_daemon("1s", "poison") as d:
        s = d.smtp()
        s.sendmail("s@client.example", ["x@poison.example"],
                   message(to="x@poison.example"))
        mid = spooled_id(d, "x@poison.example")
        t0 = time.monotonic()
        s.sendmail("s@client.example", ["alice@" + D], message())
        s.quit()
        m = d.wait_log(r"=> alice@%s" % D, timeout=15)
        tap.ok(m is not None, "a message sent after the poison one is "
               "delivered (%.1f s)" % (time.monotonic() - t0))
        fr = d.wait_log(r"%s Frozen \(the scheduler died 3 times while "
                        r"delivering it\)" % mid, timeout=25)
        tap.ok(fr is not None, "the poison message is frozen with its reason "
               "in the mainlog", d.mainlog()[-2500:])
        log = d.mainlog()
        tap.ok(m is not None and fr is not None
               and log.index(m.group(0)) < log.index(fr.group(0)),
               "the other message went first")
        tap.eq(len(re.findall(r"scheduler \(pid \d+\) stalled: not back in "
                              r"its event loop for \d+s \(message %s, router "
                              r"poison, script \S*050_poison\.lua:\d+\); "
                              r"killing it" % mid, log)), 3,
               "three kills, each naming the message, router and script")
        tap.eq(re.findall(r"%s the scheduler died while delivering it "
                          r"\(strike (\d) of 3\)" % mid, log),
               ["1", "2", "3"], "three strikes logged")
        ok, out = frozen_in_bp(d, mid)
        tap.ok(ok, "-bp shows it frozen", out)
        n_kills = log.count("stalled:")
        s = d.smtp()
        s.sendmail("s@client.example", ["bob@" + D], message(to="bob@" + D))
        s.quit()
        tap.ok(d.wait_log(r"=> bob@%s" % D, timeout=5) is not None,
               "mail sent after the freeze is delivered at once")
        time.sleep(1.5)
        tap.eq(d.mainlog().count("stalled:"), n_kills,
               "the frozen message stalls nothing any more")

# ---- 4. a poison message that crashes the scheduler
with tap.guard("poison message (crash)"):
    with poison_daemon("0s", "crash") as d:
        s = d.smtp()
        s.sendmail("s@client.example", ["y@poison.example"],
                   message(to="y@poison.example"))
        s.quit()
        mid = spooled_id(d, "y@poison.example")
        path = os.path.realpath([m.path for m in d.spool_messages()
                                 if m.id == mid][0])
        crashes = 0
        for n in range(3):
            sched = None
            end = time.monotonic() + 5
            while sched is None and time.monotonic() < end:
                sched = pid_holding(d.pids()[1:], path)   # its spool lock
                time.sleep(0.05)
            if sched is None:
                break
            time.sleep(0.2)         # inside the router by now
            os.kill(sched, signal.SIGABRT)
            if d.wait_log(r"strike %d of 3" % (n + 1), timeout=5) is None:
                break
            crashes += 1
        tap.ok(crashes == 3, "three crashes with the message in hand "
               "counted (%d)" % crashes, d.mainlog()[-1500:])
        tap.ok(d.wait_log(r"%s Frozen \(the scheduler died 3 times while "
                          r"delivering it\)" % mid, timeout=5) is not None,
               "then it is frozen")
        ok, out = frozen_in_bp(d, mid)
        tap.ok(ok, "-bp shows it frozen", out)


class Sink(LoopbackServer):
    """An SMTP server on 127.0.0.1 that accepts everything; delivered
    counts the recipients of finished transactions."""

    def __init__(self):
        self.delivered = 0
        super().__init__(backlog=8)

    def session(self, c):
        buf, rcpts, in_data = b"", 0, False
        c.settimeout(30)
        try:
            c.sendall(b"220 sink ESMTP\r\n")
            while True:
                chunk = c.recv(1 << 16)
                if not chunk:
                    return
                buf += chunk
                out = []
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if in_data:
                        if line == b".\r":
                            in_data = False
                            self.delivered += rcpts
                            rcpts = 0
                            out.append(b"250 queued")
                        continue
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        out.append(b"250-sink\r\n250 PIPELINING")
                    elif verb == b"RCPT":
                        rcpts += 1
                        out.append(b"250 ok")
                    elif verb == b"DATA":
                        in_data = True
                        out.append(b"354 go")
                    elif verb == b"QUIT":
                        c.sendall(b"221 bye\r\n")
                        return
                    else:
                        out.append(b"250 ok")
                if out:
                    c.sendall(b"\r\n".join(out) + b"\r\n")
        except OSError:
            return
        finally:
            c.close()


# ---- 5. a 100,000-address alias is long work, not a stall
with tap.guard("100,000-address alias"):
    N = 100000
    sink = Sink()
    # scripted routing: two Lua calls per address
    bulk = '''
router "policy" {
  driver = "lua",
  route = function(addr)
    if addr.domain:match("%%.gov$") then
      return accept { transport = "bulk_smtp", hosts = { "192.0.2.1" } }
    end
    return pass()
  end,
}
router "bulk" {
  driver = "lua",
  domains = "bulk.example",
  route = function(addr)
    return accept { transport = "bulk_smtp", hosts = { "127.0.0.1::%d" } }
  end,
}
transport "bulk_smtp" { driver = "smtp", max_rcpt = 5000 }
''' % sink.port
    with Tern(main=dict(queue_only=False, **stall_limit("1s")),
              files={"router/050_bulk.lua": bulk}, name="bigalias") as d:
        d.write("aliases", "big: " + ", ".join(
            "u%06d@bulk.example" % i for i in range(N)) + "\n")
        t0 = time.monotonic()
        s = d.smtp()
        s.sendmail("s@client.example", ["big@" + D], message(to="big@" + D))
        s.quit()
        done = d.wait_log(r"Completed|stalled:", timeout=30)
        took = time.monotonic() - t0
        tap.ok(done is not None and done.group(0) == "Completed",
               "the message is delivered without a stall (%.1f s)" % took,
               "\n".join(ln for ln in d.mainlog().splitlines()
                         if "->" not in ln and "=>" not in ln)[-1500:])
        tap.eq(sink.delivered, N, "every address reached the sink")
        tap.eq(d.paniclog(), "", "nothing in the paniclog")

tap.done()
