#!/usr/bin/env python3
"""test_deliver_helpers - local deliveries run in helper processes kept
per identity (queue/sched_local.c, docs/tern.8 "Local delivery
identity"), driven through the daemon.

Each Maildir file name carries the pid of the process that wrote it
("...P<pid>Q..."), so the mailbox itself says which helper delivered
what. Checked:

  - a helper serves many messages of its identity, one after the other
    and in a burst (a burst of 30 messages is written by at most two
    processes), and another identity gets its own helper;
  - as root, a helper runs as its identity (the tern account for virtual
    users, "nobody" for a transport with user = "nobody"), every uid of
    it, and no process the scheduler started runs as root;
  - a helper killed while idle is logged and replaced by the next
    delivery; one killed with a job in hand (stopped first, so it never
    wrote a byte) gets its recipient deferred, loses nothing, and tern
    -M then delivers the message exactly once;
  - the scheduler killed: its helper exits (it sees the socket close)
    and the restarted scheduler delivers with a new one;
  - local_helper_idle: an idle helper exits; local_helper_max = 1: two
    identities take turns, every message delivered, and while the one
    helper is busy (stopped) the other identity's delivery waits for it
    rather than start a second process; SIGUSR1 (logs reopened)
    replaces the helper.
"""
import glob
import os
import pwd
import re
import signal
import time

from ternlib import TAP, Tern, message, LOCAL_DOMAIN as D

tap = TAP(timeout=240)
ROOT = os.geteuid() == 0

FILES = {
    "router/150_nobody.lua": """\
router "nb" {
  driver = "lua",
  domains = "+local_domains",
  local_parts = "nb",
  route = function(addr) return accept { transport = "nobody_maildir" } end,
}
""",
    "transport/20_nobody.lua": """\
transport "nobody_maildir" {
  driver = "maildir",
  directory = "@DIR@/nb/Maildir",
  user = "nobody",
}
""",
}


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(key + ":"):
                    return ln.split()[1:]
    except OSError:
        return None
    return None


def alive(pid):
    st = proc_status(pid, "State")
    return st is not None and st[0] != "Z"


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def helpers(t):
    """pids of the scheduler's children (the master's grandchildren)"""
    out = []
    for c in children(t.proc.pid):
        out += [p for p in children(c) if alive(p)]
    return out


def scheduler(t):
    """the master's child that holds the notify socket"""
    sock = os.path.join(t.spool, "notify.sock")
    for c in children(t.proc.pid):
        try:
            for fd in os.listdir("/proc/%d/fd" % c):
                link = os.readlink("/proc/%d/fd/%s" % (c, fd))
                if link.startswith("socket:"):
                    with open("/proc/%d/net/unix" % c) as f:
                        if any(sock in ln and link[8:-1] in ln for ln in f):
                            return c
        except OSError:
            continue
    return None


def box(t, user):
    if user == "nb":
        d = os.path.join(t.dir, "nb", "Maildir", "new")
    else:
        d = os.path.join(t.dir, "home", user, "Maildir", "new")
    return sorted(glob.glob(os.path.join(d, "*")))


def writer(path):
    m = re.search(r"\.M\d+P(\d+)Q\d+\.", os.path.basename(path))
    return int(m.group(1)) if m else None


def subjects(t, user):
    out = []
    for p in box(t, user):
        with open(p, errors="replace") as f:
            m = re.search(r"^Subject: (.*)$", f.read(), re.M)
        out.append(m.group(1) if m else None)
    return out


def send(t, rcpt, subject, wait=True):
    at = len(t.mainlog())
    s = t.smtp()
    s.sendmail("sender@client.example", [rcpt],
               message(subject=subject, to=rcpt))
    s.quit()
    if wait:
        return t.wait_log(r"^.* %s .*\n.* Completed$" % re.escape(
            "=> " + rcpt if "@" in rcpt else rcpt), since=at, timeout=10)
    return None


def wait(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def new_tern(**main):
    opts = {"queue_only": False}
    opts.update(main)
    t = Tern(main=opts, files=FILES, start=False)
    os.makedirs(os.path.join(t.dir, "nb"))
    if ROOT:
        nobody = pwd.getpwnam("nobody")
        os.chown(os.path.join(t.dir, "nb"), nobody.pw_uid, nobody.pw_gid)
    t.start()
    return t


# ---- one helper per identity, kept; the identity it runs as
t = new_tern()
with tap.guard("kept per identity"):
    for i in range(3):
        tap.ok(send(t, "alice@" + D, "one by one %d" % i),
               "message %d to alice delivered" % i, t.mainlog()[-600:])
    pids = {writer(p) for p in box(t, "alice")}
    tap.eq(len(pids), 1, "three messages, one after the other, were "
           "written by one process")
    alice_helper = pids.pop()
    tap.ok(alice_helper in helpers(t), "it is a child of the scheduler, "
           "still alive after its work", (alice_helper, helpers(t)))
    for i in range(2):
        send(t, "nb@" + D, "nobody %d" % i)
    nb_pids = {writer(p) for p in box(t, "nb")}
    tap.ok(len(nb_pids) == 1 and alice_helper not in nb_pids,
           "another identity has a helper of its own", nb_pids)
    nb_helper = nb_pids.pop() if nb_pids else None
    if ROOT:
        tern_uid = pwd.getpwnam(t.main_opts.get("tern_user", "tern")).pw_uid
        nobody_uid = pwd.getpwnam("nobody").pw_uid
        tap.eq(proc_status(alice_helper, "Uid"), [str(tern_uid)] * 4,
               "alice's helper runs as the tern account (real, effective, "
               "saved, filesystem uid)")
        tap.eq(proc_status(nb_helper, "Uid"), [str(nobody_uid)] * 4,
               "the nobody_maildir helper runs as nobody")
        tap.eq(os.stat(box(t, "nb")[0]).st_uid, nobody_uid,
               "and writes nobody's files")
        tap.ok(all(proc_status(p, "Uid") and "0" not in
                   proc_status(p, "Uid") for p in helpers(t)),
               "no process the scheduler started runs as root",
               [(p, proc_status(p, "Uid")) for p in helpers(t)])
    else:
        tap.skip("helper uids", "not root")

with tap.guard("a burst"):
    s = t.smtp()
    for i in range(30):
        s.sendmail("sender@client.example", ["bob@" + D],
                   message(subject="burst %d" % i, to="bob@" + D))
    s.quit()
    tap.ok(wait(lambda: len(box(t, "bob")) >= 30, 30),
           "30 messages sent in one session are delivered",
           len(box(t, "bob")))
    writers = {writer(p) for p in box(t, "bob")}
    tap.ok(1 <= len(writers) <= 2, "by at most two processes (a second "
           "helper only while the first is busy)", writers)
    tap.ok(alice_helper in writers, "the helper alice's mail used is one "
           "of them (same identity: the tern account)", writers)

with tap.guard("an idle helper killed"):
    at = len(t.mainlog())
    os.kill(alice_helper, signal.SIGKILL)
    m = t.wait_log(r"local delivery process killed by signal 9 \(pid %d, "
                   r"user \S+\)$" % alice_helper, since=at, timeout=5)
    tap.ok(m, "its end is logged", t.mainlog()[at:])
    tap.ok(send(t, "alice@" + D, "after the kill"),
           "the next message is delivered")
    last = box(t, "alice")[-1] if box(t, "alice") else ""
    tap.ok(writer(last) not in (None, alice_helper), "by a new helper",
           (alice_helper, last))
    alice_helper = writer(last)

with tap.guard("a helper killed with a job in hand"):
    os.kill(alice_helper, signal.SIGSTOP)
    at = len(t.mainlog())
    send(t, "alice@" + D, "in hand", wait=False)
    m = t.wait_log(r"^\S+ \S+ (\S+) <= ", since=at, timeout=5)
    msgid = m.group(1) if m else None
    time.sleep(0.5)             # the job is handed over at once
    n_before = len(box(t, "alice"))
    os.kill(alice_helper, signal.SIGKILL)
    m = t.wait_log(r"== alice@%s R=users T=local_maildir defer \(-?\d+\): "
                   r"local delivery process killed by signal 9"
                   % re.escape(D), since=at, timeout=5)
    tap.ok(m, "the recipient is deferred: the helper was killed",
           t.mainlog()[at:])
    tap.like(t.mainlog()[at:], r"local delivery process killed by signal 9 "
             r"\(pid %d, user \S+\) during a delivery" % alice_helper,
             "the helper's end is logged, during a delivery")
    tap.eq(len(box(t, "alice")), n_before, "nothing was written")
    tap.ok(msgid and any(sm.id == msgid for sm in t.spool_messages()),
           "the message is still in the spool", msgid)
    r = t.run("-M", msgid or "none")
    tap.ok(r.returncode == 0, "tern -M delivers it", r.stderr)
    tap.eq(subjects(t, "alice").count("in hand"), 1,
           "exactly one copy in the mailbox")
    tap.ok(wait(lambda: not any(sm.id == msgid
                                for sm in t.spool_messages())),
           "and the spool no longer holds it")

with tap.guard("the scheduler killed"):
    old = helpers(t)
    sched = scheduler(t)
    tap.ok(sched is not None and old, "a scheduler with helpers",
           (sched, old))
    at = len(t.mainlog())
    if sched:
        os.kill(sched, signal.SIGKILL)
    tap.ok(wait(lambda: not any(alive(p) for p in old), 10),
           "its helpers exit when their socket closes",
           [(p, alive(p)) for p in old])
    tap.ok(wait(lambda: scheduler(t) not in (None, sched), 10),
           "the master starts a new scheduler")
    time.sleep(0.5)
    tap.ok(send(t, "alice@" + D, "new scheduler"),
           "which delivers", t.mainlog()[at:][-800:])
    tap.ok(writer(box(t, "alice")[-1]) not in old, "with a new helper")
tap.eq(t.paniclog(), "", "nothing in the panic log")
t.cleanup()

# ---- local_helper_idle
t = new_tern(local_helper_idle="1s")
with tap.guard("local_helper_idle"):
    send(t, "alice@" + D, "idle 1")
    first = writer(box(t, "alice")[-1])
    tap.ok(first is not None and wait(lambda: not alive(first), 5),
           "a helper idle for local_helper_idle exits", first)
    tap.ok(send(t, "alice@" + D, "idle 2")
           and writer(box(t, "alice")[-1]) != first,
           "the next delivery starts another")
t.cleanup()

# ---- local_helper_max = 1: identities take turns; SIGUSR1
t = new_tern(local_helper_max=1)
with tap.guard("local_helper_max"):
    order = ["alice", "nb", "alice", "nb"]
    for i, u in enumerate(order):
        tap.ok(send(t, u + "@" + D, "turn %d" % i),
               "turn %d (%s) delivered" % (i, u), t.mainlog()[-500:])
    w = [writer(p) for p in box(t, "alice")] + [writer(p)
                                                for p in box(t, "nb")]
    tap.ok(len(set(w)) == 4, "each turn needed a new helper: the one "
           "helper allowed belonged to the other identity", w)
    tap.ok(len(helpers(t)) <= 1, "at most one helper alive", helpers(t))

with tap.guard("local_helper_max: no room"):
    send(t, "alice@" + D, "room 1")
    busy = writer(box(t, "alice")[-1])
    os.kill(busy, signal.SIGSTOP)
    at = len(t.mainlog())
    send(t, "alice@" + D, "room held", wait=False)
    send(t, "nb@" + D, "room waits", wait=False)
    time.sleep(1.0)
    tap.ok("room waits" not in subjects(t, "nb") and len(helpers(t)) == 1,
           "while the one helper allowed is busy, another identity's "
           "delivery waits (no second process)", helpers(t))
    os.kill(busy, signal.SIGCONT)
    tap.ok(wait(lambda: "room waits" in subjects(t, "nb")
                and "room held" in subjects(t, "alice")),
           "when its job is over, both are delivered", t.mainlog()[at:])
    tap.ok(writer(box(t, "nb")[-1]) != busy and not alive(busy),
           "the busy helper was retired to make room for the other "
           "identity's")

with tap.guard("SIGUSR1"):
    send(t, "alice@" + D, "before reopen")
    before = writer(box(t, "alice")[-1])
    t.signal(signal.SIGUSR1)
    tap.ok(wait(lambda: not alive(before), 5),
           "after the logs are reopened the idle helper exits")
    send(t, "alice@" + D, "after reopen")
    tap.ok(writer(box(t, "alice")[-1]) not in (None, before),
           "and the next delivery has a new one")
tap.eq(t.paniclog(), "", "nothing in the panic log")
t.cleanup()
tap.done()
