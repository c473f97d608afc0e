#!/usr/bin/env python3
"""test_hostile_state - state on disk and privileges cannot take tern down
(issue 9, points 14-17), driven through the real binaries:

  15. a retry hints database full of garbage ("Bad magic number") is moved
      aside and recreated with one panic-log line; deliveries and
      deferrals go on and are recorded in the new file; tern_fixdb and
      tern_dumpdb cope with a damaged file too;
  16. a host on a port other than 25 that fails (a 421 greeting) is not
      tried again within its retry wait: not by a new message, not after
      SIGHUP, not by tern -q (only -qf forces it), and each skip is logged
      as Exim logs it, "defer (-53): retry time not reached for any host";
  17. Maildir/tmp files older than 36 hours (left by killed delivery
      processes) are removed at the next delivery; younger files, links
      (and what they point to) and directories are left alone;
  14. (as root) the daemon runs as the tern account by default: no
      process is root, an alias pipe runs as tern, a transport with user
      root is deferred "(-29) User 0 ... never_users", tern -bs as root
      spools files tern can read; a tree root made is handed over at start
      (never through a link), and when it cannot be used the daemon
      refuses to start instead of accepting connections nobody serves.
"""
import glob
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import (TAP, Tern, BIN_DIR, LOCAL_DOMAIN, RawClient,  # noqa
                     LoopbackServer, message, give_to_tern, tern_account,
                     _free_port)

D = LOCAL_DOMAIN
tap = TAP(timeout=100)
DUMPDB = os.path.join(BIN_DIR, "tern_dumpdb")
FIXDB = os.path.join(BIN_DIR, "tern_fixdb")
HOURS = 3600


def send(t, rcpts, subject="test", sender="sender@client.example"):
    s = t.smtp()
    s.sendmail(sender, rcpts, message(subject=subject, sender=sender,
                                      to=", ".join(rcpts)))
    s.quit()


def tool(*argv):
    p = subprocess.run(list(argv), capture_output=True, timeout=20)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def maildir_new(t, user):
    return glob.glob(os.path.join(t.dir, "home", user, "Maildir", "new", "*"))


def panic_lines(t):
    return [ln for ln in t.paniclog().splitlines() if ln.strip()]


# ---- 15. a damaged retry database is disposable ----------------------------
FULL = """\
router "full" {
  driver = "redirect",
  domains = "+local_domains",
  local_parts = "many",
  data = "%s",
  qualify_preserve_domain = true,
}
router "fullbox" {
  driver = "local_user",
  domains = "+local_domains",
  local_parts = "^d[0-9]+$",
  users = "lsearch;@DIR@/full_users",
  transport = "full_maildir",
}
""" % ", ".join(["d%d" % i for i in range(40)] + ["alice"])

with tap.guard("damaged retry database"):
    t = Tern(name="hdb", start=False, main={"queue_only": False}, files={
        "router/150_full.lua": FULL,
        "transport/20_full.lua": 'transport "full_maildir" { driver = '
        '"maildir", directory = "@DIR@/full/$local_part", quota = "1" }\n',
        "retry/00_test.lua": 'retry { "*", "*", "F,1h,10m" }\n'})
    t.write("full_users", "".join("d%d: @DIR@/full\n" % i for i in range(40)))
    db = os.path.join(t.spool, "db")
    os.makedirs(db)
    with open(os.path.join(db, "retry"), "wb") as f:
        f.write(b"this is not a GDBM file\n" * 100)
    t.start()
    at = len(t.mainlog())
    send(t, ["many@" + D], "many deferrals")
    done = t.wait_log(r"(?:== d\d+@%s .*\n.*){39}== d\d+@" % re.escape(D),
                      since=at, timeout=20)
    log = t.mainlog()[at:]
    defers = re.findall(r"== d\d+@\S+ <many@\S+> R=fullbox T=full_maildir "
                        r"defer \(-22\): mailbox is full", log)
    tap.eq(len(defers), 40, "the 40 over-quota recipients are deferred (==)")
    tap.ok(re.search(r"=> alice@%s <many@%s> R=users" % (D, D), log),
           "the other recipient of the message is delivered", log[-1500:])
    tap.eq(len(maildir_new(t, "alice")), 1, "one copy in alice's Maildir")
    pl = panic_lines(t)
    tap.eq(len(pl), 1, "exactly one panic-log line for the damaged file "
           "(not one per deferred recipient)")
    tap.like("\n".join(pl), r"retry database \S+/db/retry was damaged "
             r"\(.*\): moved to \S+/db/retry\.corrupt-",
             "it says the file was damaged and where it was moved")
    tap.eq(len(re.findall(r"retry database", log)), 1,
           "and the main log has that one line too, no more")
    aside = glob.glob(os.path.join(db, "retry.corrupt-*"))
    tap.ok(len(aside) == 1 and open(aside[0], "rb").read().startswith(
        b"this is not a GDBM file"), "the damaged file is kept aside, "
        "unchanged", aside)
    rc, out, err = tool(DUMPDB, t.spool, "retry")
    tap.ok(rc == 0 and len(re.findall(r"(?m)^R:d\d+@", out)) == 40,
           "tern_dumpdb reads the new database: 40 address records",
           "rc %d\n%s\n%s" % (rc, out[-500:], err))

    # damage behind a good header: found when the records are read
    path = os.path.join(db, "retry")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        for off in range(4096, size, 1024):
            f.seek(off)
            f.write(b"\xff" * 512)
    at = len(t.mainlog())
    send(t, ["many@" + D], "more deferrals")
    t.wait_log(r"(?:== d\d+@%s .*\n.*){39}== d\d+@" % re.escape(D),
               since=at, timeout=20)
    log = t.mainlog()[at:]
    tap.eq(len(re.findall(r"== d\d+@\S+ <many@\S+> R=fullbox", log)), 40,
           "a file damaged behind its header: the deferrals go on")
    tap.ok(len(panic_lines(t)) == 2, "with one more panic-log line",
           t.paniclog())
    rc, out, err = tool(DUMPDB, t.spool, "retry")
    tap.ok(rc == 0 and len(re.findall(r"(?m)^R:d\d+@", out)) == 40,
           "and a new database holds their records", "rc %d\n%s" % (rc, err))

    # the tools meet a damaged file: moved aside, then they work
    with open(os.path.join(db, "retry"), "wb") as f:
        f.write(b"\x13\x57\x9a\xce" + b"garbage" * 300)
    rc, out, err = tool(FIXDB, t.spool, "retry", "-a")
    tap.ok(rc == 0 and "0 records deleted" in out,
           "tern_fixdb -a on a damaged file: exit 0, a fresh database",
           "rc %d\n%s\n%s" % (rc, out, err))
    tap.ok("was damaged" in err, "and it says what happened to the file",
           err)
    with open(os.path.join(db, "retry"), "wb") as f:
        f.write(b"GDBM? no." * 50)
    rc, out, err = tool(DUMPDB, t.spool, "retry")
    tap.ok(rc == 0 and out == "", "tern_dumpdb on a damaged file: exit 0, "
           "no records", "rc %d\n%s\n%s" % (rc, out, err))
    tap.ok(len(glob.glob(os.path.join(db, "retry.corrupt-*"))) == 4,
           "each damaged file was kept aside")
    t.stop()

# ---- 16. retry records of a host on a port other than 25 -------------------


class BusyPeer(LoopbackServer):
    """An SMTP server that greets with 421 and closes; counts connections
    (one at a time, in the accepting thread)."""

    def __init__(self):
        self.connections = 0
        super().__init__()

    def on_connect(self, c):
        self.connections += 1
        try:
            c.sendall(b"421 4.3.2 busy, try later\r\n")
            c.recv(1024)
        except OSError:
            pass
        c.close()


WAIT = r"== %s R=peer T=to_peer defer \(-53\): retry time not reached " \
       r"for any host"

with tap.guard("retry wait of a host on port != 25"):
    peer = BusyPeer()
    t = Tern(name="hport", main={"queue_only": False,
                                 "relay_from_hosts": ["127.0.0.1"]}, files={
        "router/050_peer.lua": """\
router "peer" {
  driver = "manualroute",
  domains = "! +local_domains",
  route_list = "* 127.0.0.1::%d",
  self = "send",
  transport = "to_peer",
}
""" % peer.port,
        "transport/50_peer.lua": 'transport "to_peer" { driver = "smtp", '
        'connect_timeout = "3s", command_timeout = "3s" }\n',
        "retry/00_test.lua": 'retry { "*", "*", "F,1h,10m" }\n'})
    at = len(t.mainlog())
    send(t, ["x@far.example"], "first")
    tap.ok(t.wait_log(r"== x@far\.example R=peer T=to_peer defer \(-?\d+\)"
                      r".*: 421 ", since=at, timeout=15),
           "the first attempt meets the 421 and is deferred",
           t.mainlog()[at:])
    tap.eq(peer.connections, 1, "one connection so far")
    rc, out, err = tool(DUMPDB, t.spool, "retry")
    tap.like(out, r"(?m)^T:127\.0\.0\.1:127\.0\.0\.1:%d " % peer.port,
             "the host's record carries its port")

    at = len(t.mainlog())
    send(t, ["y@far.example"], "second")
    tap.ok(t.wait_log(WAIT % r"y@far\.example", since=at, timeout=6),
           "a new message for the host in its wait: logged "
           "\"retry time not reached for any host\"", t.mainlog()[at:])
    tap.eq(peer.connections, 1, "and no connection is made")

    at = len(t.mainlog())
    t.signal(signal.SIGHUP)
    tap.ok(t.wait_log(r"SIGHUP: configuration reloaded", since=at,
                      timeout=10), "SIGHUP reloads")
    ok = t.wait_log(WAIT % r"x@far\.example", since=at, timeout=6) and \
        t.wait_log(WAIT % r"y@far\.example", since=at, timeout=6)
    time.sleep(0.5)
    tap.ok(ok and peer.connections == 1, "the new scheduler's queue run "
           "skips both messages (no connection, two log lines)",
           "connections %d\n%s" % (peer.connections, t.mainlog()[at:]))

    at = len(t.mainlog())
    t.run("-q")
    tap.ok(peer.connections == 1 and t.wait_log(WAIT % r"x@far\.example",
                                                since=at, timeout=3),
           "tern -q skips the host too", "connections %d\n%s" % (
               peer.connections, t.mainlog()[at:]))
    t.run("-qf")
    tap.ok(peer.connections >= 2, "tern -qf forces a new attempt",
           "connections %d" % peer.connections)
    t.stop()
    peer.close()

# ---- 17. Maildir/tmp leftovers older than 36 hours -------------------------
with tap.guard("Maildir tmp leftovers"):
    t = Tern(name="htmp", main={"queue_only": False})
    md = os.path.join(t.dir, "home", "alice", "Maildir")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub))
    tmp = os.path.join(md, "tmp")
    now = time.time()
    files = {"old1": 40, "old2": 100, "young": 35, "fresh": 0}
    for name, age in files.items():
        p = os.path.join(tmp, "1700000000.M1P%s.host,S=5" % name)
        with open(p, "w") as f:
            f.write("hello")
        os.utime(p, (now - age * HOURS, now - age * HOURS))
    target = os.path.join(t.dir, "precious")
    with open(target, "w") as f:
        f.write("keep me")
    os.utime(target, (now - 50 * HOURS, now - 50 * HOURS))
    link = os.path.join(tmp, "oldlink")
    os.symlink(target, link)
    os.utime(link, (now - 50 * HOURS, now - 50 * HOURS),
             follow_symlinks=False)
    olddir = os.path.join(tmp, "olddir")
    os.makedirs(olddir)
    os.utime(olddir, (now - 50 * HOURS, now - 50 * HOURS))
    give_to_tern(md)
    at = len(t.mainlog())
    send(t, ["alice@" + D], "sweep")
    tap.ok(t.wait_log(r"Completed$", since=at, timeout=10),
           "the message is delivered", t.mainlog()[at:])
    left = sorted(os.listdir(tmp))
    tap.ok(not any("Pold" in n for n in left),
           "tmp/ files untouched for 40 and 100 hours are removed", left)
    tap.ok(any("Pyoung" in n for n in left) and any("Pfresh" in n
                                                    for n in left),
           "files of 35 hours and of now stay", left)
    tap.ok(os.path.islink(link) and open(target).read() == "keep me",
           "an old link stays, and what it points to is untouched", left)
    tap.ok(os.path.isdir(olddir), "an old directory stays")
    tap.like(t.mainlog()[at:], r"maildir \S+/alice/Maildir: removed 2 files "
             r"left in tmp/ for more than 36 hours", "the removal is logged")
    tap.eq(len(maildir_new(t, "alice")), 1, "and the new copy is in new/")
    t.stop()

# ---- 14. started as root ---------------------------------------------------
WHOAMI = "id -u > @DIR@/out/uid.$1\ncat > /dev/null\n"
PIPES = """\
router "pipes" {
  driver = "redirect",
  domains = "+local_domains",
  local_parts = "whoami",
  data = "|/bin/sh @DIR@/whoami.sh w",
  pipe_transport = "address_pipe",
}
router "rootpipes" {
  driver = "redirect",
  domains = "+local_domains",
  local_parts = "rootpipe",
  data = "|/bin/sh @DIR@/whoami.sh r",
  pipe_transport = "root_pipe",
}
"""


def euids(pid):
    """euid of pid and of its children (and theirs)"""
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/status" % p) as f:
                for ln in f:
                    if ln.startswith("Uid:"):
                        out[p] = int(ln.split()[2])
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def owner(path):
    try:
        return os.lstat(path).st_uid
    except OSError:
        return None


def start_raw(t, timeout=8):
    """start the daemon without ternlib's hand-over of DIR to tern: the
    process, its port, and whether it answered 220 within timeout"""
    port = _free_port()
    err = open(os.path.join(t.dir, "raw.stderr"), "wb")
    p = subprocess.Popen(t.cmd("-bdf", "-oX", port), stdin=subprocess.DEVNULL,
                         stdout=err, stderr=err, cwd=t.dir)
    err.close()
    end = time.monotonic() + timeout
    banner = None
    while time.monotonic() < end and p.poll() is None and banner is None:
        try:
            c = RawClient("127.0.0.1", port, timeout=1)
            banner = c.banner
            c.close()
        except (OSError, socket.timeout, Exception):   # noqa: BLE001
            time.sleep(0.2)
    return p, port, banner


def stop_raw(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


acct = tern_account()
if os.geteuid() != 0:
    tap.skip("started as root (point 14)", "needs root")
elif acct is None:
    tap.ok(False, "the tern account exists (make deps creates it)")
else:
    with tap.guard("root: the default runs as tern"):
        t = Tern(name="hroot", main={"queue_only": False}, files={
            "router/150_pipes.lua": PIPES,
            "transport/30_pipes.lua": 'transport "address_pipe" { driver = '
            '"pipe" }\ntransport "root_pipe" { driver = "pipe", user = '
            '"root" }\n'}, start=False)
        t.write("whoami.sh", WHOAMI)
        os.makedirs(os.path.join(t.dir, "out"))
        os.chmod(os.path.join(t.dir, "out"), 0o777)
        t.start()
        ids = euids(t.proc.pid)
        tap.ok(len(ids) >= 4 and set(ids.values()) == {acct[0]},
               "master, 2 workers and the scheduler all run as tern "
               "(uid %d)" % acct[0], ids)
        at = len(t.mainlog())
        send(t, ["whoami@" + D], "who")
        t.wait_log(r"Completed$", since=at, timeout=10)
        uid = os.path.join(t.dir, "out", "uid.w")
        got = open(uid).read().strip() if os.path.exists(uid) else None
        tap.eq(got, str(acct[0]), "an alias pipe runs as tern, not root")

        at = len(t.mainlog())
        send(t, ["rootpipe@" + D], "root")
        m = t.wait_log(r"== \|/bin/sh \S+ r <rootpipe@%s> R=rootpipes "
                       r"T=root_pipe defer \(-29\): User 0 set for "
                       r"root_pipe transport is on the never_users list"
                       % re.escape(D), since=at, timeout=10)
        tap.ok(m, "a transport with user = root is deferred (-29), as Exim",
               t.mainlog()[at:])
        tap.like(t.mainlog()[at:], r"(?m)^\S+ \S+ \S+ User 0 set for "
                 r"root_pipe transport is on the never_users list$",
                 "with the reason on a line of its own")
        tap.ok(not os.path.exists(os.path.join(t.dir, "out", "uid.r")),
               "and the command never ran")

        # to the root pipe, which is deferred: the -bs message stays in
        # the spool to be looked at, whenever the daemon gets to it
        r = t.run("-bs", input="HELO me\r\nMAIL FROM:<a@b.example>\r\n"
                  "RCPT TO:<rootpipe@%s>\r\nDATA\r\nSubject: bs\r\n\r\n"
                  "hi\r\n.\r\nQUIT\r\n" % D)
        r2 = t.run("-odq", "-f", "c@d.example", "alice@" + D,
                   input="Subject: sendmail\n\nhi\n")
        msgs = t.spool_messages()
        tap.ok(len(msgs) == 3 and all(owner(m.path) == acct[0]
                                      for m in msgs),
               "tern -bs and sendmail run by root spool files the tern "
               "account owns", [(m.path, owner(m.path)) for m in msgs]
               + [r.stderr, r2.stderr])
        tap.like(t.mainlog(), r"<= c@d\.example U=root P=local ",
                 "and the sendmail interface still knows its caller as root")
        t.stop()

    with tap.guard("root: a tree root made is handed over"):
        t = Tern(name="htree", start=False, main={"queue_only": False,
                                                  "tern_user": "tern"})
        for d in ("spool/input/A", "spool/input/B", "spool/db",
                  "spool/corrupt", "log"):
            os.makedirs(os.path.join(t.dir, d), mode=0o700)
        for f in ("spool/db/retry", "log/mainlog", "log/paniclog"):
            with open(os.path.join(t.dir, f), "w"):
                pass
            os.chmod(os.path.join(t.dir, f), 0o600)
        os.chmod(os.path.join(t.dir, "spool"), 0o700)
        p, port, banner = start_raw(t, timeout=6)
        tap.ok(banner is not None and banner.code == 220,
               "the daemon answers 220 on a tree root made", open(
                   os.path.join(t.dir, "raw.stderr")).read()[-800:]
               + t.mainlog()[-800:])
        for rel in ("spool", "spool/input/A", "spool/db/retry", "log",
                    "log/mainlog"):
            tap.eq(owner(os.path.join(t.dir, rel)), acct[0],
                   "%s now belongs to tern" % rel)
        t.port = port
        at = len(t.mainlog())
        if banner is not None:
            send(t, ["alice@" + D], "tree")
        tap.ok(banner is not None and t.wait_log(
            r"=> alice@%s" % re.escape(D), since=at, timeout=10),
            "and mail is delivered", t.mainlog()[-1000:])
        tap.ok(re.search(r"exited with status 75", t.mainlog()) is None,
               "no worker or scheduler died at start")
        stop_raw(p)

    with tap.guard("root: a spool tern cannot use is refused"):
        t = Tern(name="hlink", start=False, main={"tern_user": "tern"})
        outside = os.path.join(t.dir, "outside")
        os.makedirs(outside, mode=0o700)
        os.makedirs(t.spool)
        os.symlink(outside, os.path.join(t.spool, "db"))
        p, port, banner = start_raw(t, timeout=6)
        try:
            rc = p.wait(4)
        except subprocess.TimeoutExpired:
            rc = None
        err = open(os.path.join(t.dir, "raw.stderr")).read()
        tap.ok(banner is None and rc not in (None, 0),
               "the daemon refuses to start (exit %r), no greeting" % rc,
               err[-600:])
        tap.eq(rc, 73, "exit status 73 (EX_CANTCREAT)")
        tap.like(err, r"cannot start: cannot use the spool: .*db",
                 "and says what it cannot use")
        tap.eq(owner(outside), 0, "the link was not followed: what it "
               "points to still belongs to root")
        stop_raw(p)

    with tap.guard("root: tern_user that does not exist"):
        t = Tern(name="hnouser", start=False,
                 main={"tern_user": "no-such-tern-user9"})
        p, port, banner = start_raw(t, timeout=3)
        try:
            rc = p.wait(4)
        except subprocess.TimeoutExpired:
            rc = None
        err = open(os.path.join(t.dir, "raw.stderr")).read()
        tap.ok(rc == 67 and 'tern_user "no-such-tern-user9" does not exist'
               in err, "exit 67 and a clear message", "rc %r: %s" % (rc, err))
        stop_raw(p)
        r = t.run("-bt", "alice@" + D)
        tap.ok(r.returncode == 67, "a one-shot mode as root refuses too "
               "(exit 67) rather than run as root", r)

tap.done()
