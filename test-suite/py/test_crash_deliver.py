#!/usr/bin/env python3
"""test_crash_deliver - the delivery side of the durability contract
(DESIGN §3) under kill -9.

A tern daemon (queue_only = false, queue_run_max = QRUN) delivers to the
Maildirs of six virtual users (u0..u5@example.com) and, through a
manualroute router, to a scripted SMTP peer that records every message it
accepts (its X-Marker header and each recipient) before it answers the
final ".". Six concurrent clients send messages with 1 to 4 recipients,
some local, some remote, each with a unique marker. While deliveries are
in progress:

  A. the whole process group (master, SMTP workers, scheduler and its
     local delivery children) is killed with SIGKILL; the spool and the
     journals are copied, what the Maildirs and the peer hold is counted,
     and tern is restarted on the same spool (its start-up queue run
     delivers what is left);
  B. only the scheduler is killed with SIGKILL, twice; the master must
     restart it (its local delivery children are orphaned and go on) and
     the clients keep sending;
  C. directed: the scheduler is killed while a slow pipe delivery of
     message A runs in its child and message B sits at the peer: the
     restarted scheduler must deliver B at once (the orphan must not hold
     B's spool lock) and A once the orphan is done with it (a message
     locked by another process is tried again, not forgotten).

Then, once the spool is empty (bounded wait):

  - every (acknowledged message, recipient) pair was delivered at least
    once (a Maildir file with its marker or a peer record); a message in
    flight at the kill (its "." sent, no reply) is delivered to all its
    recipients or to none; nothing else is delivered;
  - duplicates are listed and bounded by what can be in flight: at most
    QRUN messages are in delivery at once, with at most 4 recipients each,
    so at most QRUN * 4 duplicates per kill, and no pair twice per kill;
  - A: every delivery made after the restart is of a message that was
    still in the spool at the kill, to a recipient without a "D" line in
    its journal at the kill (no journalled outcome is delivered again, no
    removed message is delivered again);
  - no spool file or journal is left, nothing is in spool/corrupt, the
    paniclog has nothing but the expected lines.
"""
import collections
import glob
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import (Tap, Tern, MSGID_RE, parse_spool,  # noqa: E402
                           children_of, wait_for)
from ternlib import LoopbackServer  # noqa: E402

tap = Tap(timeout=85)
QRUN = 16                   # queue_run_max: messages in delivery at once
MAX_RCPTS = 4
LOCAL_USERS = ["u%d" % i for i in range(6)]
REMOTE = ["r%d@remote.test" % i for i in range(8)]
CLIENTS = 6
STALL = 4                   # seconds the peer sits on stall@remote.test
SLOW = 3                    # seconds the first slow@example.com delivery takes
MARKER_RE = re.compile(rb"(?m)^X-Marker: (\S+)\r?$")


class Peer(LoopbackServer):
    """An SMTP server on 127.0.0.1 that records (marker, rcpt) for every
    message it accepts, before it answers the final dot."""

    def __init__(self):
        self.records = []           # (marker, rcpt), in acceptance order
        self.lock = threading.Lock()
        self.errors = []
        self.stalls = 0
        self.stalled = threading.Event()
        super().__init__(backlog=128)

    def _data(self, f):
        lines = []
        while True:
            ln = f.readline()
            if not ln:
                return None         # the client died in DATA: not accepted
            if ln == b".\r\n":
                return b"".join(lines)
            lines.append(ln[1:] if ln.startswith(b".") else ln)

    def _accept(self, c, f, rcpts):
        data = self._data(f)
        if data is None:
            return False
        m = MARKER_RE.search(data)
        with self.lock:
            for r in rcpts:
                self.records.append((m.group(1).decode() if m else None, r))
        c.sendall(b"250 2.0.0 accepted\r\n")
        return True

    def _stall(self, rcpt):
        """the first RCPT for stall@remote.test waits STALL seconds"""
        if rcpt != "stall@remote.test":
            return
        with self.lock:
            self.stalls += 1
            first = self.stalls == 1
        if first:
            self.stalled.set()
            time.sleep(STALL)

    def session(self, c):
        f = c.makefile("rb")
        rcpts = []
        try:
            c.sendall(b"220 peer ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                up = line.decode("latin-1").strip().upper()
                if up.startswith("EHLO") or up.startswith("HELO"):
                    c.sendall(b"250-peer\r\n250-PIPELINING\r\n"
                              b"250 8BITMIME\r\n")
                elif up.startswith("MAIL"):
                    rcpts = []
                    c.sendall(b"250 ok\r\n")
                elif up.startswith("RCPT"):
                    rcpts.append(re.search(r"<(.*)>", up).group(1).lower())
                    self._stall(rcpts[-1])
                    c.sendall(b"250 ok\r\n")
                elif up == "DATA":
                    c.sendall(b"354 go\r\n")
                    if not self._accept(c, f, rcpts):
                        return
                    rcpts = []
                elif up in ("RSET", "NOOP"):
                    c.sendall(b"250 ok\r\n")
                elif up == "QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"500 what\r\n")
        except (OSError, AttributeError) as e:
            self.errors.append(repr(e))
        finally:
            c.close()

    def count(self, prefix):
        """Counter of (marker, rcpt) for the markers starting with prefix"""
        with self.lock:
            return collections.Counter(r for r in self.records
                                       if (r[0] or "").startswith(prefix))


def new_tern(name, peer):
    t = Tern(name, workers=2, main={
        "queue_only": False, "queue_run_max": QRUN, "delay_warning": "0s",
        "relay_from_hosts": ["127.0.0.1"], "smtp_accept_max": 100},
        files={
            "router/050_peer.lua": """\
router "peer" {
  driver = "manualroute",
  domains = "remote.test",
  route_list = "* 127.0.0.1",
  self = "send",
  transport = "to_peer",
}
""",
            "transport/50_peer.lua":
                'transport "to_peer" { driver = "smtp", port = %d,'
                ' connect_timeout = "3s", command_timeout = "5s" }\n'
                % peer.port,
            "retry/00_test.lua": 'retry { "*", "*", "F,1h,1s" }\n'})
    t.write("router/040_slow.lua", """\
router "slow" {
  driver = "local_user",
  domains = "example.com",
  local_parts = "slow",
  users = "lsearch;%s/users",
  transport = "slow_pipe",
}
""" % t.dir)
    t.write("transport/40_slow.lua", 'transport "slow_pipe" { driver = '
            '"pipe", command = "/bin/sh %s/slow.sh" }\n' % t.dir)
    os.makedirs(t.path("slow"))
    with open(t.path("slow.sh"), "w") as f:
        # the first delivery sleeps SLOW seconds; each leaves a file
        f.write("D=%s\nif mkdir $D/slow.first 2>/dev/null; then\n"
                "  touch $D/slow.started; sleep %d\nfi\n"
                "cat > $D/slow/$$\n" % (t.dir, SLOW))
    with open(t.path("users"), "a") as f:
        for u in LOCAL_USERS + ["slow"]:
            f.write("%s: %s/home/%s\n" % (u, t.dir, u))
    return t


class Load:
    """CLIENTS threads sending up to limit messages; records[marker] =
    dict(rcpts, state: unfinished/in flight/acked/refused, id)."""

    def __init__(self, t, limit, seed):
        self.t = t
        self.limit = limit
        self.seed = seed
        self.prefix = "m%d-" % seed
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.records = {}
        self.started = 0
        self.acked = 0
        self.errors = []
        self.threads = [threading.Thread(target=self._client, args=(i,),
                                         daemon=True) for i in range(CLIENTS)]

    def begin(self):
        for th in self.threads:
            th.start()

    def _message(self, marker, rcpts, rnd):
        body = "".join("line %d of %s %s\r\n" % (i, marker, "x" * rnd.randint(
            0, 200)) for i in range(rnd.randint(1, 30)))
        return ("From: client@client.example.org\r\nTo: %s\r\n"
                "Subject: crash delivery %s\r\nX-Marker: %s\r\n\r\n%s"
                % (", ".join(rcpts), marker, marker, body)).encode()

    def _pick(self, rnd):
        pool = ["%s@example.com" % u for u in LOCAL_USERS] + REMOTE
        return rnd.sample(pool, rnd.randint(1, MAX_RCPTS))

    def _one(self, s, n, rnd):
        with self.lock:
            if self.stop.is_set() or self.started >= self.limit:
                return False
            self.started += 1
            seq = self.started
        marker = "m%d-%05d-%08x" % (self.seed, seq, rnd.getrandbits(32))
        rcpts = self._pick(rnd)
        rec = {"rcpts": rcpts, "state": "unfinished", "id": None}
        with self.lock:
            self.records[marker] = rec
        if s.mail("c%d@client.example.org" % n)[0] != 250:
            raise smtplib.SMTPException("MAIL refused")
        for r in rcpts:
            if s.rcpt(r)[0] != 250:
                raise smtplib.SMTPException("RCPT refused")
        rec["state"] = "in flight"      # tern may have it from now on
        code, text = s.data(self._message(marker, rcpts, rnd))
        if code != 250:
            rec["state"] = "refused"
            return True
        m = re.search(rb"id=(\S+)", text)
        rec["id"] = m.group(1).decode() if m else None
        rec["state"] = "acked"
        with self.lock:
            self.acked += 1
        return True

    def _client(self, n):
        rnd = random.Random(self.seed * 1000 + n)
        s = None
        while not self.stop.is_set():
            try:
                if s is None:
                    s = self.t.smtp(timeout=10)
                    s.ehlo("c%d.example" % n)
                if not self._one(s, n, rnd):
                    break
            except (OSError, smtplib.SMTPException) as e:
                if not self.stop.is_set():
                    self.errors.append("client %d: %r" % (n, e))
                s = None
                time.sleep(0.05)
        if s is not None:
            try:
                s.quit()
            except (OSError, smtplib.SMTPException):
                pass

    def wait_acked(self, n, timeout):
        return wait_for(lambda: self.acked >= n or self.started >= self.limit
                        and not any(th.is_alive() for th in self.threads),
                        timeout, 0.01)

    def finish(self, timeout=30):
        for th in self.threads:
            th.join(timeout)

    def by_state(self):
        out = collections.Counter(r["state"] for r in self.records.values())
        return dict(out)


def maildir_count(t):
    """Counter of (marker, rcpt) over every Maildir's new/."""
    out = collections.Counter()
    for u in LOCAL_USERS:
        for p in glob.glob(t.path("home", u, "Maildir", "new", "*")):
            with open(p, "rb") as f:
                m = MARKER_RE.search(f.read())
            out[(m.group(1).decode() if m else None,
                 "%s@example.com" % u)] += 1
    return out


def maildir_tmp(t):
    return sum(len(os.listdir(d)) for d in
               glob.glob(t.path("home", "*", "Maildir", "tmp")))


def deliveries(t, peer, load):
    return maildir_count(t) + peer.count(load.prefix)


def spool_snapshot(t):
    """{id: (marker, set of "D" addresses in its journal)} of the spool,
    and a copy of spool/input kept under the test's directory."""
    snap = {}
    keep = t.path("spool-at-kill")
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(os.path.join(t.spool, "input"), keep)
    for p in glob.glob(os.path.join(keep, "*", "*")):
        mid = os.path.basename(p)
        if not MSGID_RE.match(mid):
            continue
        with open(p, "rb") as f:
            rec = parse_spool(f.read())
        m = MARKER_RE.search(rec["data"])
        done = set()
        if os.path.exists(p + ".J"):
            with open(p + ".J", "rb") as f:
                for line in f.read().decode("utf-8", "replace").split("\n"):
                    parts = line.split("\t")
                    if parts[0] == "D" and len(parts) >= 3:
                        done.add(parts[1])
        snap[mid] = (m.group(1).decode() if m else None, done)
    return snap


def kids(pid):
    """the children of pid (fast: /proc/PID/task/PID/children)"""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return children_of(pid)


def busy_scheduler(t, timeout=3):
    """the scheduler's pid, at a moment it has local delivery children if
    one comes within timeout"""
    sched = wait_for(lambda: scheduler_pid(t), timeout)
    if sched:
        wait_for(lambda: kids(sched), timeout, 0.0005)
    return sched


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[3]) == pgid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return out


def scheduler_pid(t):
    """The master's child that has SPOOL/notify.sock bound."""
    want = os.path.join(t.spool, "notify.sock")
    inodes = set()
    with open("/proc/net/unix") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == want:
                inodes.add("socket:[%s]" % parts[6])
    for pid in children_of(t.pid):
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
            if any(os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes
                   for fd in fds):
                return pid
        except OSError:
            continue
    return None


def wait_empty(t, timeout):
    return wait_for(lambda: not t.spool_files(), timeout, 0.1)


def check_outcome(name, t, peer, load, kills):
    """the checks common to both variants; returns the delivery counts"""
    got = deliveries(t, peer, load)
    recs = load.records
    lost, partial, unknown = [], [], []
    for marker, r in recs.items():
        have = [x for x in r["rcpts"] if got[(marker, x)] > 0]
        if r["state"] == "acked" and len(have) != len(r["rcpts"]):
            lost.extend((marker, r["id"], x) for x in r["rcpts"]
                        if x not in have)
        elif r["state"] != "acked" and have and len(have) != len(r["rcpts"]):
            partial.append((marker, r["state"], have))
    for (marker, rcpt) in got:
        r = recs.get(marker)
        if r is None or rcpt not in r["rcpts"] or r["state"] not in (
                "acked", "in flight"):
            unknown.append((marker, rcpt))
    acked_pairs = sum(len(r["rcpts"]) for r in recs.values()
                      if r["state"] == "acked")
    tap.ok(not lost, "%s: every (acknowledged message, recipient) pair was "
           "delivered (%d pairs)" % (name, acked_pairs),
           "%d lost, first %r" % (len(lost), lost[:10]))
    tap.ok(not partial, "%s: a message in flight at the kill went to all "
           "its recipients or to none" % name, repr(partial[:10]))
    tap.ok(not unknown, "%s: nothing else was delivered" % name,
           repr(unknown[:10]))
    dups = sorted((k, n) for k, n in got.items() if n > 1)
    tap.comment("%s: %d deliveries, %d duplicates%s" % (
        name, sum(got.values()), len(dups),
        "".join("\n  %s -> %s x%d" % (k[0], k[1], n) for k, n in dups)))
    bound = kills * QRUN * MAX_RCPTS
    tap.ok(len(dups) <= bound and all(n <= kills + 1 for _, n in dups),
           "%s: duplicates bounded by what was in flight (%d <= %d, none "
           "more than %d times)" % (name, len(dups), bound, kills + 1),
           repr(dups[:10]))
    left = t.spool_files()
    tap.ok(not left, "%s: no spool file or journal is left" % name,
           repr([os.path.basename(p) for p in left[:10]]))
    corrupt = os.path.join(t.spool, "corrupt")
    bad = os.listdir(corrupt) if os.path.isdir(corrupt) else []
    tap.ok(not bad, "%s: nothing in spool/corrupt" % name, repr(bad[:10]))
    panic = [ln for ln in t.paniclog().splitlines() if ln.strip()]
    tap.ok(not panic, "%s: nothing in the paniclog" % name,
           "\n".join(panic[:10]))
    tap.comment("%s: Maildir tmp/ files left by killed children: %d; "
                "peer errors %d" % (name, maildir_tmp(t), len(peer.errors)))
    return got


# ---- A: kill -9 the whole process group during delivery -----------------
peer = Peer()
with tap.guard("A: whole tree"):
    t = new_tern("crash-dlv-a", peer)
    t.start()
    load = Load(t, 700, 1)
    t0 = time.time()
    load.begin()
    load.wait_acked(300, 20)
    wait_for(lambda: sum(deliveries(t, peer, load).values()) >= 200, 10)
    # a kill while local children and SMTP connections are busy
    sched = busy_scheduler(t)
    orphans = kids(sched) if sched else []
    master = t.pid
    os.killpg(master, signal.SIGKILL)
    kill_time = time.time() - t0
    load.stop.set()
    t.proc.wait(10)
    gone = wait_for(lambda: not group_pids(master), 10)
    tap.ok(gone, "A: master, workers, scheduler and %d local delivery "
           "children killed with SIGKILL" % len(orphans),
           repr(group_pids(master)))
    load.finish()
    tap.comment("A: killed after %.2f s; messages %r; client errors after "
                "the kill are expected" % (kill_time, load.by_state()))
    time.sleep(0.3)            # the peer settles a dot that came in time
    snap = spool_snapshot(t)
    before = deliveries(t, peer, load)
    in_journal = sum(len(d) for _, d in snap.values())
    tap.comment("A: at the kill: %d messages in the spool, %d recipients "
                "journalled as delivered, %d deliveries made"
                % (len(snap), in_journal, sum(before.values())))
    tap.ok(len(snap) > 0 and sum(before.values()) > 0,
           "A: the kill came while messages were being delivered",
           "spool %d, delivered %d" % (len(snap), sum(before.values())))
    t.start()
    empty = wait_empty(t, 25)
    tap.ok(empty, "A: the restarted daemon empties the spool",
           "%d files left" % len(t.spool_files()))
    got = check_outcome("A", t, peer, load, 1)
    by_marker = {mk: (mid, done) for mid, (mk, done) in snap.items()}
    again = []
    for (marker, rcpt), n in (got - before).items():
        spooled = by_marker.get(marker)
        if spooled is None or rcpt in spooled[1]:
            again.append((marker, rcpt, n,
                          "removed before the kill" if spooled is None
                          else "journalled D in %s" % spooled[0]))
    tap.ok(not again, "A: after the restart, only recipients without a "
           "journalled outcome of messages still spooled were delivered",
           repr(again[:10]))
    t.stop()

# ---- B: kill -9 only the scheduler, twice; the master restarts it --------
with tap.guard("B: scheduler only"):
    t = new_tern("crash-dlv-b", peer)
    t.start()
    load = Load(t, 500, 2)
    load.begin()
    killed = []
    for at in (120, 300):
        load.wait_acked(at, 20)
        wait_for(lambda: sum(deliveries(t, peer, load).values()) >= at, 10)
        sched = busy_scheduler(t)
        if sched is None:
            continue
        orphans = kids(sched)
        log_at = len(t.mainlog())
        os.kill(sched, signal.SIGKILL)
        killed.append((sched, len(orphans)))
        restarted = t.wait_log("main", r"scheduler killed by signal 9; "
                               r"restarting it", timeout=5, start=log_at)
        new = wait_for(lambda: scheduler_pid(t) not in (None, sched), 5)
        tap.ok(restarted and new, "B: the master restarts the scheduler "
               "killed with SIGKILL (%d local delivery children orphaned)"
               % len(orphans), t.mainlog()[log_at:][-1500:])
    tap.eq(len(killed), 2, "B: the scheduler was killed twice")
    load.finish()
    tap.comment("B: messages %r, client errors %d%s" % (
        load.by_state(), len(load.errors),
        (": " + load.errors[0]) if load.errors else ""))
    tap.eq(load.by_state(), {"acked": 500}, "B: every message was accepted "
           "while the scheduler was killed")
    empty = wait_empty(t, 25)
    tap.ok(empty, "B: the restarted scheduler empties the spool",
           "%d files left: %r" % (len(t.spool_files()), t.spool_files()[:5]))
    check_outcome("B", t, peer, load, 2)
    t.stop()

# ---- C: a killed scheduler's orphaned child still delivering ------------
# B first: its batch for stall@remote.test sits at the peer (in delivery,
# its spool lock held) when A's local child forks for slow@example.com;
# then the scheduler is killed. The restarted one must deliver B at once
# (the orphan must not hold B's lock) and A once the orphan is done with
# it (A's lock is the orphan's until then: A is in flight, and may be
# delivered twice).
with tap.guard("C: orphaned child"):
    t = new_tern("crash-dlv-c", peer)
    t.start()
    time.sleep(1.1)     # the master restarts a scheduler that ran >= 1 s
    send_b = threading.Thread(target=lambda: t.smtp().sendmail(
        "u0@example.com", ["stall@remote.test"],
        b"Subject: B\r\nX-Marker: c-B\r\n\r\nB\r\n"), daemon=True)
    send_b.start()
    tap.ok(peer.stalled.wait(5), "C: B's delivery is in progress (the peer "
           "holds its RCPT)")
    s = t.smtp()
    s.sendmail("u0@example.com", ["slow@example.com"],
               b"Subject: A\r\nX-Marker: c-A\r\n\r\nA\r\n")
    s.quit()
    tap.ok(wait_for(lambda: os.path.exists(t.path("slow.started")), 5),
           "C: A's local delivery child is running")
    sched = scheduler_pid(t)
    orphans = kids(sched)
    log_at = len(t.mainlog())
    os.kill(sched, signal.SIGKILL)
    t_kill = time.time()
    tap.ok(t.wait_log("main", r"scheduler killed by signal 9; restarting",
                      timeout=5, start=log_at),
           "C: the scheduler is killed and restarted (orphans %r)" % orphans)
    got_b = wait_for(lambda: peer.count("c-B")[("c-B", "stall@remote.test")],
                     SLOW + 2)
    b_after = time.time() - t_kill
    tap.ok(got_b and b_after < SLOW - 0.5,
           "C: the restarted scheduler delivers B at once, while the orphan "
           "still runs (%.1f s after the kill)" % b_after,
           t.mainlog()[log_at:])
    empty = wait_empty(t, 15)
    tap.ok(empty, "C: A, locked by the orphan, is delivered once it is "
           "done, and the spool empties (%.1f s after the kill)"
           % (time.time() - t_kill), t.mainlog()[log_at:])
    copies = len(os.listdir(t.path("slow")))
    tap.ok(1 <= copies <= 2, "C: A delivered by the orphan and/or the "
           "restarted scheduler: %d copies" % copies)
    panic = [ln for ln in t.paniclog().splitlines() if ln.strip()]
    tap.ok(not panic, "C: nothing in the paniclog", "\n".join(panic[:10]))
    t.stop()

peer.close()
tap.done()
