#!/usr/bin/env python3
"""test_queue_view - viewing and editing queued messages as an Exim
administrator does (issue 12, point 7), with the real tern commands on a
real spool; every expectation is computed from what the test submitted
and from the spool file and main log tern wrote:

  1. -bp, -bpu (undelivered only), -bpa (+D generated addresses done),
     -bpr (directory order), -bpru, -bpra after a partial delivery
     through an alias;
  2. -Mvh (envelope in Exim's -H layout, then "LLLx Name: value"
     headers), -Mvb ("ID-D" then the body), -Mvc (the whole message),
     -Mvl (the message's main log lines), one id only;
  3. -Mar adds a recipient who is then delivered; -Mmd marks one done so
     the queue run does not deliver it; -Mes changes the sender, and the
     bounce of -Mg goes to the new one; -Mg removes the message, logs
     "cancelled by USER" and "** ADDR: delivery cancelled by
     administrator", and works on a frozen message;
  4. refusals in Exim's words, the spool file left as it was: a bad
     address, a missing domain, not a recipient, two senders, no address;
  5. a message being delivered: -Mar, -Mmd, -Mes and -Mg answer "Message
     ID is locked" and change nothing;
  6. a user who is not an admin (nobody): "Permission denied".
"""
import glob
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import (TAP, TERN, Tern, SpoolMessage, message,  # noqa: E402
                     LOCAL_DOMAIN)

D = LOCAL_DOMAIN
tap = TAP(timeout=60)
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_RE = re.compile(r"^[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}$")

ROUTERS = """\
router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "lsearch;@DIR@/aliases",
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
team: alice, bob
later: |/bin/sh @DIR@/later.sh
sleeper: |/bin/sh @DIR@/sleep.sh
"""
LATER_SH = "touch @DIR@/later.ran\nexit 75\n"
SLEEP_SH = "touch @DIR@/sleeping\nsleep 3\ncat > /dev/null\nexit 0\n"


def out(r):
    return r.stdout.decode("utf-8", "replace")


def err(r):
    return r.stderr.decode("utf-8", "replace")


def submit(t, rcpts, sender="carol@" + D, subject="queued", body="hello\n"):
    at = len(t.mainlog())
    r = t.run("-odq", "-f", sender, *rcpts,
              input=message(subject=subject, to=", ".join(rcpts), body=body))
    m = t.wait_log(r"^\S+ \S+ (\S+) <= ", since=at, timeout=5)
    if r.returncode != 0 or m is None:
        tap.diag("submission failed: %r" % r)
        return None
    return m.group(1)


def spool_path(t, mid):
    return os.path.join(t.spool, "input", mid[-1], mid)


def spool_msg(t, mid):
    return SpoolMessage(spool_path(t, mid))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def maildir(t, user):
    return sorted(glob.glob(os.path.join(t.dir, "home", user, "Maildir",
                                         "new", "*")))


def entry(q, mid):
    m = re.search(r"(?m)^.{3} .{5} %s .*\n(?:.+\n)*\n" % re.escape(mid), q)
    return m.group(0) if m else ""


def entries(q):
    return re.findall(r"(?m)^.{3} .{5} \S+ .*\n(?:.+\n)*\n", q)


def lf(b):
    return b.replace(b"\r\n", b"\n").decode("utf-8", "replace")


def exim_flag(name):
    return {"bcc": "B", "cc": "C", "from": "F", "message-id": "I",
            "received": "P", "reply-to": "R", "sender": "S",
            "to": "T"}.get(name.lower(), " ")


def header_lines(data):
    """the header section as -Mvh shows it: each field (with its
    continuation lines) after its length with LF and Exim's flag"""
    head = lf(data.split(b"\r\n\r\n", 1)[0] + b"\r\n")
    fields = re.findall(r"(?m)^[^ \t\n][^\n]*\n(?:[ \t][^\n]*\n)*", head)
    return "".join("%03d%s %s" % (len(f.encode()), exim_flag(f.split(":")[0]),
                                  f) for f in fields)


def exim_tree(addrs):
    """Exim's tree_write of a balanced tree of the sorted addresses"""
    addrs = sorted(addrs)

    def walk(lo, hi):
        if lo >= hi:
            return ""
        mid = lo + (hi - lo) // 2
        return ("%s%s %s\n" % ("Y" if mid > lo else "N",
                               "Y" if mid + 1 < hi else "N", addrs[mid])
                + walk(lo, mid) + walk(mid + 1, hi))
    return walk(0, len(addrs)) or "XX\n"


def dir_order(t):
    """ids as the spool directories list them (input/<c> in base-62
    order, readdir order inside)"""
    ids = []
    for c in B62:
        d = os.path.join(t.spool, "input", c)
        if os.path.isdir(d):
            ids += [n for n in os.listdir(d) if ID_RE.match(n)
                    and n[-1] == c]
    return ids


t = Tern(name="qview", start=False, routers=False,
         files={"router/10_routers.lua": ROUTERS,
                "transport/10_transports.lua": TRANSPORTS,
                "retry/00_test.lua": 'retry { "*", "*", "F,1h,10m" }\n'})
t.write("aliases", ALIASES)
t.write("later.sh", LATER_SH)
t.write("sleep.sh", SLEEP_SH)

# ---- 1. the listings ------------------------------------------------------
with tap.guard("-bpu -bpa -bpr"):
    mid = submit(t, ["team@" + D, "later@" + D])
    other = submit(t, ["alice@" + D])
    t.run("-Mf", other)                 # stays queued: a second entry
    at = len(t.mainlog())
    t.run("-q")
    tap.ok(t.wait_log(r"%s -> \S+@%s <team@%s>" % (mid, D, D), since=at),
           "-q: team's two addresses delivered, the pipe deferred",
           t.mainlog()[at:])
    m = spool_msg(t, mid)
    size = out(t.run("-bp"))
    head = entry(size, mid).split("\n")[0] + "\n"
    tap.eq(entry(size, mid), head + "        D team@%s\n          later@%s\n\n"
           % (D, D), "-bp: team done (D), later pending")
    tap.eq(entry(out(t.run("-bpu")), mid), head + "          later@%s\n\n"
           % D, "-bpu: only the undelivered recipient")
    tap.eq(entry(out(t.run("-bpa")), mid), head + "        D team@%s\n"
           "          later@%s\n       +D alice@%s\n       +D bob@%s\n\n"
           % (D, D, D, D), "-bpa: the generated addresses delivered, +D")
    q = out(t.run("-bpr"))
    got = re.findall(r"(?m)^.{3} .{5} (\S+) ", q)
    tap.eq(got, dir_order(t), "-bpr: the messages in directory order")
    tap.eq(sorted(entries(q)), sorted(entries(out(t.run("-bp")))),
           "-bpr: the same entries as -bp")
    tap.eq(len(entries(q)), 2, "two messages listed")
    tap.eq(entry(out(t.run("-bpru")), mid), entry(out(t.run("-bpu")), mid),
           "-bpru: unsorted and undelivered only")
    tap.eq(entry(out(t.run("-bpra")), mid), entry(out(t.run("-bpa")), mid),
           "-bpra: unsorted with +D lines")
    tap.ok("+D" not in out(t.run("-bp")), "-bp alone shows no +D lines")

# ---- 2. -Mvh -Mvb -Mvc -Mvl -----------------------------------------------
with tap.guard("-Mvh"):
    r = t.run("-Mvh", mid)
    want = ("%s-H\nroot 0 0\n<%s>\n%s 0\n-received_time_usec .%06d\n"
            "-ident root\n-received_protocol local\n"
            % (mid, m.sender, m.env["received"],
               int(m.env.get("received-usec", "0"))))
    body = lf(m.data.split(b"\r\n\r\n", 1)[1])
    lines = lf(m.data).split("\n")
    want += "-body_linecount %d\n" % body.count("\n")
    want += "-max_received_linelength %d\n" % max(len(x.encode())
                                                  for x in lines)
    want += "-local\n" + exim_tree(["team@" + D, "alice@" + D, "bob@" + D])
    want += "%d\n%s\n" % (len(m.rcpts), "\n".join(m.rcpts))
    want += "\n" + header_lines(m.data)
    tap.eq(out(r), want, "-Mvh: Exim's -H layout: envelope, tree of the "
           "addresses done, recipients, headers with length and flag")
    tap.eq(r.returncode, 0, "-Mvh exits 0")

with tap.guard("-Mvb -Mvc -Mvl"):
    tap.eq(out(t.run("-Mvb", mid)), "%s-D\n%s" % (mid, body),
           "-Mvb: an ID-D line, then the body")
    tap.eq(out(t.run("-Mvc", mid)), lf(m.data),
           "-Mvc: the whole message, headers and body")
    mine = [x + "\n" for x in t.mainlog().split("\n")
            if re.match(r"^\S+ \S+ %s " % mid, x)]
    tap.ok(len(mine) >= 4, "the main log has the message's lines", mine)
    tap.eq(out(t.run("-Mvl", mid)), "".join(mine),
           "-Mvl: the message's main log lines, nothing else")
    r = t.run("-Mvh", mid, other)
    tap.ok(r.returncode == 1 and "Only one message" in out(r),
           "-Mvh with two ids: refused as Exim does", r)
    for op, sfx in (("-Mvb", "-D"), ("-Mvh", "-H")):
        r = t.run(op, "1xUw0r-000000003II-0000")
        tap.ok(r.returncode == 1 and out(r).startswith(
            "Failed to open input file for 1xUw0r-000000003II-0000%s: " % sfx),
            "%s of an unknown id: Exim's Failed to open... ID%s, exit 1"
            % (op, sfx), r)

# ---- 3. editing -----------------------------------------------------------
with tap.guard("-Mar -Mmd"):
    at = len(t.mainlog())
    r = t.run("-Mar", mid, "carol@" + D)
    tap.eq(out(r), "Message %s has been modified\n" % mid, "-Mar: Exim's "
           "reply")
    tap.ok(t.wait_log(r"%s recipient <carol@%s> added by root$" % (mid, D),
                      since=at), "-Mar logged with the user",
           t.mainlog()[at:])
    tap.eq(spool_msg(t, mid).rcpts, m.rcpts + ["carol@" + D],
           "the spool file has the new recipient")
    r = t.run("-Mmd", mid, "later@" + D)
    tap.eq(out(r), "Message %s has been modified\n" % mid, "-Mmd: Exim's "
           "reply")
    tap.ok(t.wait_log(r"%s address <later@%s> marked delivered by root$"
                      % (mid, D), since=at), "-Mmd logged",
           t.mainlog()[at:])
    tap.eq(entry(out(t.run("-bpu")), mid).split("\n")[1:],
           ["          carol@%s" % D, "", ""],
           "-bpu: only the added recipient is left")
    os.unlink(os.path.join(t.dir, "later.ran"))
    before = len(maildir(t, "carol"))
    t.run("-qf")
    tap.ok(t.wait_log(r"%s Completed" % mid, since=at),
           "-qf: the message is completed", t.mainlog()[at:])
    tap.eq(len(maildir(t, "carol")), before + 1, "the added recipient got "
           "the message")
    tap.ok(not os.path.exists(os.path.join(t.dir, "later.ran")),
           "the recipient marked delivered was not delivered (pipe not run)")

with tap.guard("-Mes -Mg"):
    at = len(t.mainlog())
    gid = submit(t, ["later@" + D, "nosuch@" + D], sender="carol@" + D,
                 subject="give me up")
    t.run("-Mf", gid)
    r = t.run("-Mes", gid, "bob@" + D)
    tap.eq(out(r), "Message %s has been modified\n" % gid, "-Mes: Exim's "
           "reply")
    tap.ok(t.wait_log(r"%s sender address changed to <bob@%s> by root$"
                      % (gid, D), since=at), "-Mes logged",
           t.mainlog()[at:])
    tap.match(r"^.{3} .{5} %s <bob@%s> \*\*\* frozen \*\*\*$" % (gid, D),
              entry(out(t.run("-bp")), gid).split("\n")[0],
              "-bp shows the new sender (still frozen)")
    bob = len(maildir(t, "bob"))
    r = t.run("-Mg", gid)
    tap.eq(r.returncode, 0, "-Mg exits 0")
    log = t.mainlog()[at:]
    tap.ok(re.search(r"%s cancelled by root\n" % gid, log), "-Mg: "
           "cancelled by root", log)
    for a in ("later@" + D, "nosuch@" + D):
        tap.ok(re.search(r"%s \*\* %s: delivery cancelled by administrator"
                         % (gid, re.escape(a)), log),
               "%s failed, unrouted, as Exim words it" % a, log)
    tap.ok(not os.path.exists(os.path.join(t.dir, "later.ran")),
           "nothing was delivered (the pipe did not run)")
    tap.ok(re.search(r"%s Completed" % gid, log), "the message is "
           "completed", log)
    tap.ok(not os.path.exists(spool_path(t, gid)), "and gone from the spool")
    new = maildir(t, "bob")[bob:]
    tap.eq(len(new), 1, "the bounce went to the new sender, bob")
    text = read(new[0]).decode("utf-8", "replace") if new else ""
    tap.ok("delivery cancelled by administrator" in text and
           "later@" + D in text, "the bounce gives the reason and the "
           "address", text[:2000])

# ---- 4. refusals ----------------------------------------------------------
with tap.guard("refusals"):
    rid = submit(t, ["alice@" + D])
    blob = read(spool_path(t, rid))
    tap.ok(("\n-local\nXX\n1\nalice@%s\n\n" % D) in out(t.run("-Mvh", rid)),
           "-Mvh of a message with nothing done: the empty tree is XX")
    cases = [
        (["-Mar", rid, "nodomain"], "Message %s - error while adding "
         "recipient:\n  bad address nodomain: domain missing\n" % rid),
        (["-Mar", rid, "a@b@c"], "Message %s - error while adding "
         "recipient:\n  bad address a@b@c: " % rid),
        (["-Mmd", rid, "bob@" + D], "Message %s - error while marking as "
         "delivered:\n  bob@%s is not a recipient: message not updated\n"
         % (rid, D)),
        (["-Mes", rid, "x@" + D, "y@" + D], "Message %s - only one sender "
         "address can be specified\n" % rid),
        (["-Mar", rid], "Message %s - error while adding recipient: no "
         "address given\n" % rid),
        (["-Mar", rid, "ok@" + D, "bad"], "Message %s - error while adding "
         "recipient:\n  bad address bad: domain missing\n" % rid),
    ]
    for args, want in cases:
        r = t.run(*args)
        tap.ok(r.returncode == 1 and out(r).startswith(want),
               "%s: %r, exit 1" % (" ".join(args[:1] + args[2:]), want),
               out(r))
    tap.eq(read(spool_path(t, rid)), blob, "the spool file is unchanged")
    tap.ok(not os.path.exists(os.path.join(t.spool, "input", rid[-1],
                                           rid + ".J")),
           "and no journal was written")
    tap.eq(out(t.run("-Mes", rid, "<>")), "Message %s has been modified\n"
           % rid, "-Mes <> sets the null sender")
    tap.eq(spool_msg(t, rid).sender, "", "the spool file has sender <>")
    t.run("-Mrm", rid)

# ---- 5. a message being delivered -----------------------------------------
with tap.guard("locked"):
    lid = submit(t, ["sleeper@" + D])
    blob = read(spool_path(t, lid))
    p = subprocess.Popen(t.cmd("-M", lid), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    flag = os.path.join(t.dir, "sleeping")
    for _ in range(100):
        if os.path.exists(flag):
            break
        time.sleep(0.05)
    at = len(t.mainlog())
    for args in (["-Mar", lid, "bob@" + D], ["-Mmd", lid, "sleeper@" + D],
                 ["-Mes", lid, "bob@" + D], ["-Mg", lid]):
        r = t.run(*args)
        tap.ok(r.returncode == 1 and out(r) == "Message %s is locked\n" % lid,
               "%s of a message in delivery: Message ID is locked" % args[0],
               r)
    tap.eq(read(spool_path(t, lid)), blob, "its spool file is unchanged")
    p.wait(10)
    tap.ok(t.wait_log(r"%s Completed" % lid, since=at, timeout=3),
           "the delivery finished normally", t.mainlog()[at:])
    log = t.mainlog()[at:]
    tap.ok(" by root" not in log, "no edit was logged", log)

# ---- 6. not an admin --------------------------------------------------------
with tap.guard("not an admin"):
    nid = submit(t, ["alice@" + D])
    for args in (["-Mvh", nid], ["-Mvl", nid], ["-Mar", nid, "bob@" + D],
                 ["-Mg", nid], ["-Mrm", nid]):
        r = subprocess.run(["runuser", "-u", "nobody", "--", TERN, "-C",
                            t.conf] + args, capture_output=True, timeout=10)
        tap.ok(r.returncode == 1 and "Permission denied" in err(r)
               and out(r) == "", "%s as nobody: Permission denied" % args[0],
               r)
    tap.ok(os.path.exists(spool_path(t, nid)), "the message is still "
           "queued")

t.cleanup()
tap.done()
