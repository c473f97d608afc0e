#!/usr/bin/env python3
"""test_deliver_policy - the delivery policies an Exim administrator sets,
observed through tern -q runs on a real spool:

  8. delay_warning: a delay warning (Subject "Warning: message ID delayed
     2 seconds", Action: delayed) reaches the sender once per interval;
  9. timeout_frozen_after: a frozen message past it is cancelled and
     bounced by -q and by -M; ignore_bounce_errors_after: a bounce that
     fails is frozen ("Frozen (delivery error message)"), and once past
     the setting a queue run tries it again and discards it;
 10. errors_to on a router: the failure's bounce goes there, not to the
     envelope sender;
 11. tern_dumpdb / tern_fixdb on the retry records real deferrals made
     (T: an unreachable smtp host, R: a local deferral), and a deleted
     host record letting the next -q try the host again.
"""
import email
import email.policy
import glob
import os
import re
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import (BIN_DIR, TAP, Tern, message, LOCAL_DOMAIN,  # noqa: E402
                    delivery_status)

D = LOCAL_DOMAIN
tap = TAP(timeout=60)

ROUTERS = """\
router "remote" {
  driver = "manualroute",
  domains = "! +local_domains",
  route_list = "* 127.0.0.1",
  self = "send",
  transport = "dead_smtp",
}
router "errs" {
  driver = "redirect",
  domains = "+local_domains",
  local_parts = "pfail",
  data = "|/bin/sh @DIR@/fail.sh",
  pipe_transport = "address_pipe",
  errors_to = "bob@test.example",
}
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
transport "address_pipe" { driver = "pipe", return_output = true }
transport "dead_smtp" { driver = "smtp", port = %d, connect_timeout = "2s" }
"""
ALIASES = """\
stuck: |/bin/sh @DIR@/stuck.sh
broken: :fail: this alias is broken
"""


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                   # nothing listens there: refused
    return port


DEAD = dead_port()


def instance(name, main=None, retry="F,1h,1s"):
    t = Tern(name=name, main=main, start=False, routers=False,
             files={"router/10_routers.lua": ROUTERS,
                    "transport/10_transports.lua": TRANSPORTS % DEAD,
                    "retry/00_test.lua": 'retry { "*", "*", "%s" }\n'
                    % retry})
    t.write("aliases", ALIASES)
    t.write("stuck.sh", "cat > /dev/null\nexit 75\n")
    t.write("fail.sh", "cat > /dev/null\necho pipe refused it\nexit 1\n")
    return t


def maildir(t, user):
    return sorted(glob.glob(os.path.join(t.dir, "home", user, "Maildir",
                                         "new", "*")))


def read_mail(path):
    with open(path, "rb") as f:
        return email.message_from_bytes(f.read(),
                                        policy=email.policy.default)


def submit(t, rcpts, sender="carol@" + D, subject="policy"):
    """tern -odq: the new message's id"""
    at = len(t.mainlog())
    r = t.run("-odq", "-f", sender, *rcpts,
              input=message(subject=subject, sender=sender or "x@y",
                            to=", ".join(rcpts)))
    m = t.wait_log(r"^\S+ \S+ (\S+) <= ", since=at, timeout=5)
    if r.returncode != 0 or m is None:
        tap.diag("submission failed: %r %r" % (r, t.mainlog()[at:]))
        return None
    return m.group(1)


def queued(t, mid):
    return any(m.id == mid for m in t.spool_messages())


def sleep_until_age(secs, since):
    left = since + secs - time.time()
    if left > 0:
        time.sleep(left)


def ds_of(msg):
    """the message/delivery-status fields, unfolded (ternlib)"""
    return delivery_status(msg)


# ---- 8. delay_warning --------------------------------------------------------
with tap.guard("delay_warning"):
    t = instance("policy-warn", main={"delay_warning": "2s"})
    t0 = time.time()
    mid = submit(t, ["stuck@" + D], subject="slow one")
    t.run("-q")
    tap.ok(t.wait_log(r"%s == \|/bin/sh \S+/stuck\.sh <stuck@%s>" % (mid, D),
                      timeout=3), "first attempt deferred", t.mainlog())
    tap.eq(maildir(t, "carol"), [], "no warning before 2 seconds")
    sleep_until_age(2.1, t0)
    at = len(t.mainlog())
    t.run("-q")
    tap.ok(t.wait_log(r"\S+ <= <> R=%s " % mid, since=at, timeout=3),
           "after 2 s a queue run spools a warning (<= <> R=ID)",
           t.mainlog()[at:])
    tap.ok(t.wait_log(r"=> carol@%s R=users" % D, since=at, timeout=3),
           "delivered to the sender", t.mainlog()[at:])
    got = maildir(t, "carol")
    tap.eq(len(got), 1, "one warning in the sender's Maildir")
    w = read_mail(got[0]) if got else None
    tap.eq(w["Subject"] if w else None,
           "Warning: message %s delayed 2 seconds" % mid,
           "Subject: Warning: message ID delayed 2 seconds")
    tap.like(ds_of(w) if w else "", r"Action: delayed",
             "the DSN says Action: delayed")
    tap.like(ds_of(w) if w else "", r"Status: 4\.\d\.\d", "with a 4.x.x")
    tap.ok(queued(t, mid), "the message itself stays queued")
    t.run("-qf")
    tap.eq(len(maildir(t, "carol")), 1,
           "another run within the interval sends no second warning")
    sleep_until_age(4.1, t0)
    t.run("-q")
    got = maildir(t, "carol")
    tap.eq(len(got), 2, "after the next interval (4 s) a second warning")
    subjects = sorted(str(read_mail(p)["Subject"]) for p in got)
    tap.ok(any(s.endswith("delayed 4 seconds") for s in subjects),
           "saying 4 seconds", subjects)
    t.cleanup()

# ---- 9a. timeout_frozen_after ----------------------------------------------------
with tap.guard("timeout_frozen_after"):
    t = instance("policy-frozen", main={"timeout_frozen_after": "2s"})
    t0 = time.time()
    m1 = submit(t, ["alice@" + D], subject="frozen one")
    m2 = submit(t, ["bob@" + D], subject="frozen two")
    t.run("-Mf", m1, m2)
    t.run("-q")
    tap.ok(queued(t, m1) and maildir(t, "alice") == [],
           "young frozen message: left alone by -q")
    sleep_until_age(2.1, t0)
    at = len(t.mainlog())
    t.run("-q")
    tap.ok(t.wait_log(r"%s cancelled by timeout_frozen_after" % m1,
                      since=at, timeout=3),
           "-q: cancelled by timeout_frozen_after", t.mainlog()[at:])
    tap.ok(t.wait_log(r"%s \*\* alice@%s" % (m1, D), since=at, timeout=3),
           "its recipient fails (**)", t.mainlog()[at:])
    tap.ok(t.wait_log(r"%s Completed" % m1, since=at, timeout=3),
           "and the message is completed", t.mainlog()[at:])
    tap.eq(maildir(t, "alice"), [], "nothing delivered to alice")
    tap.ok(not queued(t, m1), "it is gone from the queue")
    tap.ok(not queued(t, m2), "-q treated the other old frozen one alike")
    tap.eq(maildir(t, "bob"), [], "bob got nothing either")
    got = maildir(t, "carol")
    tap.eq(len(got), 2, "the sender gets a bounce for each")
    texts = " ".join(ds_of(read_mail(p)) for p in got)
    tap.like(texts, r"Action: failed", "Action: failed")
    at = len(t.mainlog())
    m3 = submit(t, ["alice@" + D], subject="frozen three")
    t.run("-Mf", m3)
    time.sleep(2.1)
    t.run("-qff")
    tap.ok(t.wait_log(r"%s cancelled by timeout_frozen_after" % m3,
                      since=at, timeout=3) and maildir(t, "alice") == [],
           "-qff does not thaw a message past timeout_frozen_after: "
           "cancelled too", t.mainlog()[at:])
    tap.eq(len(maildir(t, "carol")), 3, "bounced as well")
    t.cleanup()

# ---- 9b. ignore_bounce_errors_after -------------------------------------------
with tap.guard("ignore_bounce_errors_after"):
    t = instance("policy-bounce", main={"ignore_bounce_errors_after": "3s"})
    t0 = time.time()
    mid = submit(t, ["broken@" + D], sender="<>", subject="a bounce")
    t.run("-q")
    tap.ok(t.wait_log(r"%s \*\* broken@%s" % (mid, D), timeout=3),
           "the bounce's recipient fails (**)", t.mainlog())
    tap.ok(t.wait_log(r"%s Frozen \(delivery error message\)$" % mid,
                      timeout=3), "Frozen (delivery error message)",
           t.mainlog())
    q = t.run("-bp").stdout.decode()
    tap.match(r"%s <> \*\*\* frozen \*\*\*" % mid, q,
              "-bp shows it frozen")
    tap.ok(not re.search(r"<= <> R=%s" % mid, t.mainlog()),
           "a bounce is never bounced")
    t.run("-q")
    tap.ok(queued(t, mid), "a queue run before the timer leaves it frozen")
    sleep_until_age(3.1, t0)
    at = len(t.mainlog())
    t.run("-q")
    tap.ok(t.wait_log(r"%s Unfrozen by errmsg timer" % mid, since=at,
                      timeout=3), "past ignore_bounce_errors_after: "
           "Unfrozen by errmsg timer", t.mainlog()[at:])
    tap.ok(t.wait_log(r"%s Completed" % mid, since=at, timeout=3)
           and not queued(t, mid), "it fails again and is discarded",
           t.mainlog()[at:])
    tap.ok("Frozen" not in t.mainlog()[at:], "not frozen again")
    t.cleanup()

# ---- 10. errors_to ------------------------------------------------------------------
with tap.guard("errors_to"):
    t = instance("policy-errto")
    at = len(t.mainlog())
    mid = submit(t, ["pfail@" + D], subject="to the failing pipe")
    t.run("-q")
    tap.ok(t.wait_log(r"%s \*\* \|/bin/sh \S+/fail\.sh <pfail@%s> R=errs"
                      % (mid, D), since=at, timeout=3),
           "the pipe fails (**)", t.mainlog()[at:])
    tap.ok(t.wait_log(r"=> bob@%s R=users" % D, since=at, timeout=3),
           "a bounce is delivered to bob (the router's errors_to)",
           t.mainlog()[at:])
    tap.eq(maildir(t, "carol"), [], "the envelope sender gets nothing")
    got = maildir(t, "bob")
    tap.eq(len(got), 1, "one bounce in bob's Maildir")
    b = read_mail(got[0]) if got else None
    tap.eq(b["To"] if b else None, "bob@" + D, "To: the errors_to address")
    tap.like(ds_of(b) if b else "",
             r"(?m)^Final-Recipient: rfc822; ?\|/bin/sh \S+/fail\.sh$",
             "naming the failed pipe")
    tap.ok(not queued(t, mid), "the message is done")
    t.cleanup()

# ---- 11. tern_dumpdb / tern_fixdb -------------------------------------------------


def tool(name, *args):
    return subprocess.run([os.path.join(BIN_DIR, name)] + list(args),
                          capture_output=True, timeout=10)


with tap.guard("retry db tools"):
    t = instance("policy-db", retry="F,1h,10m")
    at = len(t.mainlog())
    mid = submit(t, ["y@far.example", "stuck@" + D], subject="two defers")
    t.run("-q")
    tap.ok(t.wait_log(r"%s == y@far\.example R=remote T=dead_smtp defer "
                      r"\(111\)" % mid, since=at, timeout=5),
           "the unreachable host defers (111)", t.mainlog()[at:])
    r = tool("tern_dumpdb", "-C", t.conf, "retry")
    dump = r.stdout.decode()
    tap.eq(r.returncode, 0, "tern_dumpdb exits 0")
    hk = re.search(r"(?m)^(T:127\.0\.0\.1:127\.0\.0\.1(?::%d)?)  " % DEAD,
                   dump)
    tap.ok(hk is not None, "a T: record for the host", dump)
    rk = re.search(r"(?m)^(R:\|/bin/sh \S+/stuck\.sh)  ", dump)
    tap.ok(rk is not None, "an R: record for the local address", dump)
    tap.match(r"(?m)^  first failed: \d\d-\w{3}-\d{4} \d\d:\d\d:\d\d  "
              r"last try: .*  next try: ", dump,
              "times in exim_dumpdb's layout")
    r2 = tool("tern_dumpdb", t.spool, "retry")
    tap.eq(r2.stdout.decode(), dump, "the spool directory as argument: "
           "the same records")
    at = len(t.mainlog())
    t.run("-q")
    tap.ok(not re.search(r"defer \(111\)", t.mainlog()[at:]),
           "-q: the host is not tried before its retry time",
           t.mainlog()[at:])
    key = hk.group(1) if hk else "T:none"
    r = tool("tern_fixdb", "-C", t.conf, "retry", "-d", key)
    tap.ok(r.returncode == 0 and r.stdout.decode() == key + ": deleted\n",
           "tern_fixdb -d KEY deletes the host record", r)
    dump2 = tool("tern_dumpdb", "-C", t.conf, "retry").stdout.decode()
    tap.ok(key not in dump2 and rk is not None and rk.group(1) in dump2,
           "tern_dumpdb: the host record is gone, the other stays", dump2)
    r = tool("tern_fixdb", "-C", t.conf, "retry", "-d", key)
    tap.ok(r.returncode == 1, "deleting it again: exit 1", r)
    at = len(t.mainlog())
    t.run("-q")
    tap.ok(t.wait_log(r"%s == y@far\.example R=remote T=dead_smtp defer "
                      r"\(111\)" % mid, since=at, timeout=5),
           "the next -q tries the host again", t.mainlog()[at:])
    r = tool("tern_fixdb", "-C", t.conf, "retry", "-a")
    tap.eq(r.returncode, 0, "tern_fixdb -a exits 0")
    tap.eq(tool("tern_dumpdb", "-C", t.conf, "retry").stdout.decode(), "",
           "and the database is empty")
    tap.eq(t.paniclog(), "", "nothing in the panic log")
    t.cleanup()

tap.done()
