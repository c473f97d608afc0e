#!/usr/bin/env python3
"""test_queue_admin - the queue as an Exim administrator handles it, with
the real tern commands on a real spool:

  1. -bp in Exim's format (age, size, id, <sender>, recipients indented,
     "D" for delivered ones, an empty line after each), compared with
     Exim's own age/size rules for several ages and sizes; -bpc; mailq
     (tern called by that name); an empty queue;
  2. -Mf / -Mt (output, log, *** frozen ***), -q and -qf leave a frozen
     message alone, -qff delivers it;
  3. -Mrm (output, log, files gone), an unknown id, a locked message;
  4. -M ID delivers now, ignoring the retry time; an unknown id;
  5. -q respects a local retry time, -qf does not; -q -R / -q -S select
     messages; -N logs *> and delivers nothing;
  6. the sendmail interface: -odq, -odi, -odb with no daemon;
  7. with a daemon (queue_only false): -odb, control = queue_only,
     control = freeze, and -Mt handing the thawed message to the daemon.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, TERN, Tern, message, LOCAL_DOMAIN  # noqa: E402

D = LOCAL_DOMAIN
tap = TAP(timeout=60)

ROUTERS = """\
router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "lsearch;@DIR@/aliases",
  allow_fail = true,
  qualify_preserve_domain = true,
  pipe_transport = "address_pipe",
}
router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/virtual_users",
  transport = "local_maildir",
}
"""
TRANSPORTS = """\
transport "local_maildir" { driver = "maildir", directory = "$home/Maildir" }
transport "address_pipe" { driver = "pipe" }
"""
ALIASES = """\
sleeper: |/bin/sh @DIR@/sleep.sh
oncea: |/bin/sh @DIR@/once.sh a
onceb: |/bin/sh @DIR@/once.sh b
oncec: |/bin/sh @DIR@/once.sh c
"""
# exit 75 the first time, then deliver (the message goes to DIR/once.N)
ONCE_SH = """\
if [ -e @DIR@/once.$1.tried ]; then cat > @DIR@/once.$1; exit 0; fi
touch @DIR@/once.$1.tried
exit 75
"""
SLEEP_SH = """\
touch @DIR@/sleeping
sleep 3
cat > /dev/null
exit 0
"""
ACLS = """\
acl "rcpt" {
  warn   { local_parts = "^hold$", control = "queue_only" },
  warn   { local_parts = "^ice$", control = "freeze" },
  accept { domains = "+local_domains" },
  deny   { message = "relay not permitted" },
}
"""


def files(extra=None):
    f = {"router/10_routers.lua": ROUTERS,
         "transport/10_transports.lua": TRANSPORTS,
         "retry/00_test.lua": 'retry { "*", "*", "F,1h,10m" }\n'}
    f.update(extra or {})
    return f


def setup(t):
    t.write("aliases", ALIASES + "hold: alice\nice: alice\n")
    t.write("once.sh", ONCE_SH)
    t.write("sleep.sh", SLEEP_SH)


def maildir(t, user):
    return sorted(glob.glob(os.path.join(t.dir, "home", user, "Maildir",
                                         "new", "*")))


def out(r):
    return r.stdout.decode("utf-8", "replace")


def err(r):
    return r.stderr.decode("utf-8", "replace")


def submit(t, rcpts, sender="carol@" + D, mode="-odq", subject="queued",
           body="hello\n"):
    """tern MODE -f SENDER RCPTS < message: (id, S= size, the result)"""
    at = len(t.mainlog())
    r = t.run(*([mode] if mode else []), "-f", sender, *rcpts,
              input=message(subject=subject, sender=sender or "x@y",
                            to=", ".join(rcpts), body=body))
    m = t.wait_log(r"^\S+ \S+ (\S+) <= \S+ .*S=(\d+)", since=at, timeout=5)
    if r.returncode != 0 or m is None:
        tap.diag("submission failed: %r %r" % (r, t.mainlog()[at:]))
        return None, 0, r
    return m.group(1), int(m.group(2)), r


def spool_files(t, mid):
    return glob.glob(os.path.join(t.spool, "input", "*", mid + "*"))


def exim_age(secs):
    """Exim's queue_list: minutes up to 90, then rounded hours up to 72,
    then rounded days"""
    i = secs // 60
    if i > 90:
        i = (i + 30) // 60
        return "%2dd" % ((i + 12) // 24) if i > 72 else "%2dh" % i
    return "%2dm" % i


def exim_size(n):
    """Exim's string_format_size"""
    if n < 1024:
        return "%5d" % n
    if n < 10 * 1024:
        return "%4.1fK" % (n / 1024.0)
    if n < 1024 * 1024:
        return "%4dK" % ((n + 512) // 1024)
    if n < 10 * 1024 * 1024:
        return "%4.1fM" % (n / (1024.0 * 1024.0))
    return "%4dM" % ((n + 512 * 1024) // (1024 * 1024))


def set_received(t, mid, when):
    """make a message older: rewrite the spool file's received time"""
    path = [p for p in spool_files(t, mid) if p.endswith(mid)][0]
    with open(path, "rb") as f:
        blob = f.read()
    blob = re.sub(rb"(?m)^received \d+$", b"received %d" % when, blob,
                  count=1)
    with open(path, "wb") as f:
        f.write(blob)


def entry(q, mid):
    """the -bp entry of mid (header line to the empty line), or """""
    m = re.search(r"(?m)^.{3} .{5} %s .*\n(?:.+\n)*\n" % re.escape(mid), q)
    return m.group(0) if m else ""


t = Tern(name="qadmin", start=False, routers=False, files=files())
setup(t)

# ---- 1. -bp / -bpc / mailq ------------------------------------------------
with tap.guard("-bp format"):
    r = t.run("-bp")
    tap.ok(r.returncode == 0 and out(r) == "", "-bp on an empty queue: no "
           "output, exit 0", r)
    tap.eq(out(t.run("-bpc")), "0\n", "-bpc on an empty queue: 0")
    id1, s1, _ = submit(t, ["alice@" + D, "bob@" + D])
    id2, s2, _ = submit(t, ["alice@" + D], sender="<>")
    r = t.run("-bp")
    want = (" 0m %5d %s <carol@%s>\n          alice@%s\n          bob@%s\n\n"
            " 0m %5d %s <>\n          alice@%s\n\n"
            % (s1, id1, D, D, D, s2, id2, D))
    tap.eq(out(r), want, "-bp: two messages, oldest first, Exim's layout")
    tap.eq(out(t.run("-bpc")), "2\n", "-bpc: 2")
    with tempfile.TemporaryDirectory() as tmp:
        link = os.path.join(tmp, "mailq")
        os.symlink(TERN, link)
        mq = subprocess.run([link, "-C", t.conf], capture_output=True,
                            timeout=10)
    tap.eq(mq.stdout.decode(), want, "mailq (tern called by that name) "
           "prints the same listing")
    tap.eq(mq.returncode, 0, "mailq exits 0")
    for mid in (id1, id2):
        t.run("-Mrm", mid)

with tap.guard("-bp age and size"):
    big, sbig, _ = submit(t, ["bob@" + D], body=("y" * 72 + "\n") * 200)
    now = int(time.time())
    got, want = [], []
    for age in (45 * 60 + 10, 100 * 60 + 10, 50 * 3600 + 10, 80 * 3600 + 10,
                20 * 86400 + 10):
        set_received(t, big, now - age)
        line = entry(out(t.run("-bp")), big).split("\n")[0]
        got.append(line[:3])
        want.append(exim_age(age))
    tap.eq(got, want, "ages as Exim prints them (45m, 2h, 50h, 3d, 20d)")
    line = entry(out(t.run("-bp")), big).split("\n")[0]
    tap.eq(line[4:9], exim_size(sbig), "size %d printed as Exim rounds it "
           "(%r)" % (sbig, exim_size(sbig)))
    t.run("-Mrm", big)

with tap.guard("-bp D lines"):
    at = len(t.mainlog())
    idp, sp_, _ = submit(t, ["alice@" + D, "oncea@" + D])
    r = t.run("-q")
    tap.ok(t.wait_log(r"%s => alice@%s" % (idp, D), since=at, timeout=5),
           "-q: alice delivered, the pipe deferred", t.mainlog()[at:])
    q = out(t.run("-bp"))
    tap.eq(entry(q, idp), " 0m %5d %s <carol@%s>\n        D alice@%s\n"
           "          oncea@%s\n\n" % (sp_, idp, D, D, D),
           "-bp: the delivered recipient with D, the pending one indented")

# ---- 5a. -q leaves a message in its retry wait, -qf delivers it ----------
with tap.guard("-q and -qf"):
    at = len(t.mainlog())
    t.run("-q")
    time.sleep(0.2)
    tap.ok(not os.path.exists(os.path.join(t.dir, "once.a")),
           "-q: the pipe is not run before its retry time", t.mainlog()[at:])
    tap.ok(entry(out(t.run("-bp")), idp) != "", "the message stays queued")
    r = t.run("-qf")
    tap.ok(t.wait_log(r"%s Completed" % idp, since=at, timeout=5),
           "-qf: delivered regardless of the retry time", t.mainlog()[at:])
    tap.ok(os.path.exists(os.path.join(t.dir, "once.a")),
           "the pipe got the message")
    tap.eq(spool_files(t, idp), [], "its spool files are gone")

# ---- 4. -M ----------------------------------------------------------------
with tap.guard("-M"):
    at = len(t.mainlog())
    idm, _, _ = submit(t, ["onceb@" + D])
    t.run("-q")
    tap.ok(t.wait_log(r"%s == \|/bin/sh \S+ b <onceb@%s>" % (idm, D),
                      since=at, timeout=5), "first attempt deferred (==)",
           t.mainlog()[at:])
    t.run("-q")
    tap.ok(entry(out(t.run("-bp")), idm) != "", "a second -q leaves it "
           "(retry time not reached)")
    r = t.run("-M", idm)
    tap.eq(r.returncode, 0, "-M ID exits 0")
    tap.ok(t.wait_log(r"%s => \|/bin/sh \S+ b <onceb@%s>" % (idm, D),
                      since=at, timeout=5), "-M ID delivers it now",
           t.mainlog()[at:])
    tap.ok(os.path.exists(os.path.join(t.dir, "once.b")), "the pipe ran")
    r = t.run("-M", "1xUw0r-000000003II-0000")
    tap.ok(r.returncode == 1 and "not found" in err(r),
           "-M with an unknown id: exit 1 and a message", r)

# ---- 2. -Mf / -Mt ---------------------------------------------------------
with tap.guard("freeze and thaw"):
    at = len(t.mainlog())
    idf, _, _ = submit(t, ["alice@" + D], subject="to freeze")
    before = len(maildir(t, "alice"))
    r = t.run("-Mf", idf)
    tap.ok(r.returncode == 0 and out(r) == "Message %s is now frozen\n" % idf,
           "-Mf: \"Message ID is now frozen\"", r)
    tap.ok(t.wait_log(r"%s frozen by root$" % idf, since=at, timeout=2),
           "log: ID frozen by root")
    tap.match(r"(?m)^ 0m .{5} %s <carol@%s> \*\*\* frozen \*\*\*$"
              % (idf, D), out(t.run("-bp")), "-bp: *** frozen ***")
    t.run("-q")
    t.run("-qf")
    tap.eq(len(maildir(t, "alice")), before, "-q and -qf leave a frozen "
           "message alone")
    tap.ok(entry(out(t.run("-bp")), idf) != "", "it is still queued")
    r = t.run("-Mt", idf)
    tap.ok(r.returncode == 0 and out(r) == "Message %s is no longer frozen\n"
           % idf, "-Mt: \"Message ID is no longer frozen\"", r)
    tap.ok(t.wait_log(r"%s unfrozen by root$" % idf, since=at, timeout=2),
           "log: ID unfrozen by root")
    tap.ok("frozen" not in entry(out(t.run("-bp")), idf),
           "-bp: no longer frozen")
    t.run("-Mf", idf)
    t.run("-qff")
    tap.ok(t.wait_log(r"%s Completed" % idf, since=at, timeout=5),
           "-qff delivers a frozen message (and removes it)",
           t.mainlog()[at:])
    tap.ok(t.wait_log(r"%s Unfrozen by forced delivery$" % idf, since=at,
                      timeout=1), "log: Unfrozen by forced delivery")
    tap.eq(len(maildir(t, "alice")), before + 1, "into alice's Maildir")

# ---- 3. -Mrm --------------------------------------------------------------
with tap.guard("-Mrm"):
    at = len(t.mainlog())
    idr, _, _ = submit(t, ["bob@" + D])
    r = t.run("-Mrm", idr)
    tap.ok(r.returncode == 0 and out(r) == "Message %s has been removed\n"
           % idr, "-Mrm: \"Message ID has been removed\"", r)
    tap.ok(t.wait_log(r"%s removed by root$" % idr, since=at, timeout=2),
           "log: ID removed by root")
    tap.ok(t.wait_log(r"%s Completed$" % idr, since=at, timeout=2),
           "log: ID Completed")
    tap.eq(spool_files(t, idr), [], "its spool files are gone")
    r = t.run("-Mrm", idr)
    tap.ok(r.returncode == 1 and idr in err(r), "-Mrm of an unknown id: "
           "exit 1, the id named on stderr", r)
    r = t.run("-Mrm", "not-an-id")
    tap.ok(r.returncode == 1 and err(r) != "", "-Mrm of a malformed id: "
           "exit 1 and a message", r)

with tap.guard("-Mrm locked"):
    at = len(t.mainlog())
    idl, _, _ = submit(t, ["sleeper@" + D])
    p = subprocess.Popen(t.cmd("-M", idl), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    flag = os.path.join(t.dir, "sleeping")
    for _ in range(100):
        if os.path.exists(flag):
            break
        time.sleep(0.05)
    r = t.run("-Mrm", idl)
    tap.ok(r.returncode == 1 and "locked" in err(r),
           "-Mrm of a message being delivered: refused (locked), exit 1", r)
    tap.ok(spool_files(t, idl) != [], "its files are still there")
    p.wait(10)
    tap.ok(t.wait_log(r"%s Completed" % idl, since=at, timeout=3),
           "the delivery finished normally", t.mainlog()[at:])
    tap.ok("removed by" not in t.mainlog()[at:], "no \"removed\" logged")

# ---- 5b. -R, -S, -N -------------------------------------------------------
with tap.guard("-R -S -N"):
    at = len(t.mainlog())
    ida, _, _ = submit(t, ["carol@localhost"], subject="local")
    idb, _, _ = submit(t, ["bob@" + D], subject="for bob")
    idc, _, _ = submit(t, ["carol@" + D], sender="dave@other.example")
    r = t.run("-q", "-R", "LOCALHOST")
    tap.eq(r.returncode, 0, "-q -R exits 0")
    log = t.mainlog()[at:]
    tap.ok("%s Completed" % ida in log and "%s =>" % idb not in log
           and "%s =>" % idc not in log,
           "-q -R localhost: only the message for localhost delivered", log)
    at = len(t.mainlog())
    t.run("-q", "-S", "other.example")
    log = t.mainlog()[at:]
    tap.ok("%s Completed" % idc in log and idb not in log,
           "-q -S other.example: only dave's message delivered", log)
    bob = len(maildir(t, "bob"))
    t.run("-q", "-N")
    tap.ok(t.wait_log(r"%s \*> bob@%s R=users T=local_maildir" % (idb, D),
                      since=at, timeout=3), "-N: *> logged", t.mainlog()[at:])
    tap.eq(spool_files(t, idb), [], "-N: the message is removed")
    tap.eq(len(maildir(t, "bob")), bob, "-N: nothing delivered")

# ---- 6. the sendmail interface without a daemon ---------------------------
with tap.guard("sendmail -od"):
    alice = len(maildir(t, "alice"))
    idq, _, r = submit(t, ["alice@" + D], mode="-odq")
    time.sleep(0.3)
    tap.ok(spool_files(t, idq) != [] and len(maildir(t, "alice")) == alice,
           "-odq: queued, not delivered")
    t.run("-Mrm", idq)
    idi, _, r = submit(t, ["alice@" + D], mode="-odi")
    tap.ok(len(maildir(t, "alice")) == alice + 1 and not spool_files(t, idi),
           "-odi: delivered before tern returns (queue_only overridden, "
           "as in Exim)", t.mainlog()[-600:])
    at = len(t.mainlog())
    idb2, _, r = submit(t, ["alice@" + D], mode="-odb")
    tap.ok(t.wait_log(r"%s Completed" % idb2, since=at, timeout=5),
           "-odb with no daemon: delivered in the background",
           t.mainlog()[at:])
    tap.eq(len(maildir(t, "alice")), alice + 2, "alice has both")
t.cleanup()

# ---- 7. a daemon with queue_only false --------------------------------------
d = Tern(name="qadmin-d", main={"queue_only": False}, start=False,
         routers=False, files=files({"acl/10_acls.lua": ACLS}))
setup(d)
d.start()

with tap.guard("daemon"):
    at = len(d.mainlog())
    idd, _, r = submit(d, ["alice@" + D], mode=None)
    tap.ok(d.wait_log(r"%s => alice@%s" % (idd, D), since=at, timeout=5),
           "default -odb with a daemon: the daemon delivers it",
           d.mainlog()[at:])
    tap.ok(len(maildir(d, "alice")) == 1, "into alice's Maildir")

    at = len(d.mainlog())
    s = d.smtp()
    s.sendmail("carol@" + D, ["hold@" + D], message(to="hold@" + D))
    s.sendmail("carol@" + D, ["ice@" + D], message(to="ice@" + D))
    s.quit()
    ids = re.findall(r"(?m)^\S+ \S+ (\S+) <= ", d.mainlog()[at:])
    time.sleep(1.0)
    tap.eq(len(ids), 2, "both messages received")
    q = out(d.run("-bp"))
    tap.ok(entry(q, ids[0]) != "" and "frozen" not in entry(q, ids[0]),
           "control = queue_only: still queued a second later", q)
    tap.ok(" *** frozen ***\n" in entry(q, ids[1]),
           "control = freeze: -bp shows *** frozen ***", q)
    tap.eq(len(maildir(d, "alice")), 1, "neither delivered")
    at = len(d.mainlog())
    r = d.run("-Mt", ids[1])
    tap.ok(d.wait_log(r"%s Completed" % ids[1], since=at, timeout=3),
           "-Mt hands the thawed message to the daemon: delivered at once",
           d.mainlog()[at:])
    tap.ok(entry(out(d.run("-bp")), ids[0]) != "",
           "the queue_only message is still waiting")
    d.run("-q")
    tap.ok(d.wait_log(r"%s Completed" % ids[0], since=at, timeout=3),
           "tern -q delivers it")
    tap.eq(len(maildir(d, "alice")), 3, "alice has all three")

tap.eq(d.paniclog(), "", "nothing in the panic log")
d.stop()

# ---- the not_smtp ACL's controls apply to the sendmail interface too
with tap.guard("not_smtp controls"):
    n = Tern(name="qadmin-notsmtp", routers=False, start=False,
             main={"queue_only": False}, files=files({"acl/40_ns.lua": """\
acl "not_smtp" {
  warn   { recipients = "^hold@", control = "queue_only" },
  warn   { recipients = "^ice@", control = "freeze" },
  accept { },
}
"""}))
    setup(n)
    held, _, _ = submit(n, ["hold@" + D], mode="-odi", subject="held")
    iced, _, _ = submit(n, ["ice@" + D], mode="-odi", subject="iced")
    q = out(n.run("-bp"))
    tap.ok(held is not None and entry(q, held) != ""
           and "frozen" not in entry(q, held),
           "not_smtp control = queue_only: queued even with -odi", q)
    tap.ok(iced is not None and " *** frozen ***\n" in entry(q, iced),
           "not_smtp control = freeze: frozen", q)
    tap.eq(len(maildir(n, "alice")), 0, "nothing delivered")
    n.cleanup()

tap.done()
