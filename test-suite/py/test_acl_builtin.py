#!/usr/bin/env python3
"""test_acl_builtin - the policy with no ACL configured (never an open
relay: local domains and relay_to_domains for recipients that verify,
relay_from_hosts and authenticated clients only; an unknown local user
gets 550 5.1.1), -bh IP (a fake session that prints the ACL
decisions as ">>> " lines on stderr and queues nothing), and hosts = ""
matching local submission (-bs)."""
import os
import re
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import Tap, Tern  # noqa: E402

tap = Tap()

# ---- no ACL, no relay_from_hosts
t = Tern("aclbuiltin", main={"relay_to_domains": ["nowhere.test",
                                                   "mx-pref.test"]})
t.start()


def rcpt(tern, addr):
    c = tern.raw()
    c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<s@client.example.org>")
    got = c.cmd("RCPT TO:<%s>" % addr)
    c.close()
    return got


with tap.guard("built-in rcpt policy"):
    got = rcpt(t, "x@a-only.test")
    tap.ok(got == (550, "5.7.1 relay not permitted"),
           "no ACL: a remote recipient gets 550 5.7.1 relay not permitted",
           repr(got))
    got = rcpt(t, "alice@example.com")
    tap.ok(got[0] == 250, "no ACL: a local domain is accepted", repr(got))
    got = rcpt(t, "alice@mail.example.com")
    tap.ok(got[0] == 250, "no ACL: primary_hostname (@) is a local domain",
           repr(got))
    got = rcpt(t, "anyone@mail.example.com")
    tap.ok(got == (550, "5.1.1 <anyone@mail.example.com>: unknown user"),
           "no ACL: an unknown user of a local domain gets 550 5.1.1 "
           "<addr>: unknown user", repr(got))
    got = rcpt(t, "x@mx-pref.test")
    tap.ok(got[0] == 250, "no ACL: a relay_to_domains domain is accepted",
           repr(got))
    got = rcpt(t, "x@nowhere.test")
    tap.ok(got[0] == 550 and got[1].startswith("5.1.2 "),
           "no ACL: a relay_to_domains domain that cannot be routed gets "
           "550 5.1.2", repr(got))
    got = rcpt(t, "a%b@example.com")
    tap.ok(got[0] == 550 and "restricted characters" in got[1],
           "no ACL: restricted characters in a local part are refused",
           repr(got))
    c = t.raw()
    c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<s@client.example.org>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(b"Subject: builtin\r\n\r\nbody\r\n.\r\n")
    got = c.reply()
    c.close()
    tap.ok(got[0] == 250 and len(t.spool_ids()) == 1,
           "no ACL: a message for a local domain is accepted and spooled",
           "%r, spool %r" % (got, t.spool_ids()))
t.stop()

# ---- relay_from_hosts
tr = Tern("aclrelayhosts", main={"relay_from_hosts": ["127.0.0.1"]})
tr.start()
with tap.guard("relay_from_hosts"):
    got = rcpt(tr, "x@a-only.test")
    tap.ok(got[0] == 250, "no ACL: a client in relay_from_hosts may relay",
           repr(got))
tr.stop()

# ---- -bh 192.0.2.1 with no ACL
SESSION = (b"EHLO client.example.org\r\nMAIL FROM:<s@client.example.org>\r\n"
           b"RCPT TO:<x@a-only.test>\r\nRCPT TO:<alice@example.com>\r\n"
           b"DATA\r\nSubject: bh\r\n\r\nbody\r\n.\r\nQUIT\r\n")
with tap.guard("-bh built-in"):
    p = t.run(["-bh", "192.0.2.1"], input=SESSION)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    trace = [ln for ln in err.split("\n") if ln.startswith(">>> ")]
    tap.ok(p.returncode == 0, "-bh exits 0", "exit %d\n%s" % (p.returncode,
                                                          err[-800:]))
    tap.ok(any(re.search(r"rcpt ACL returned deny: relay not permitted", ln)
               for ln in trace),
           "-bh prints the rcpt decision (>>> ... deny: relay not "
           "permitted) on stderr", err[-1500:])
    tap.ok(any(re.search(r"rcpt ACL returned accept", ln) for ln in trace),
           "-bh prints the accepted rcpt decision", err[-1500:])
    tap.like(out, r"(?m)^550 5\.7\.1 relay not permitted\r?$",
             "-bh stdout has the 550 reply")
    tap.like(out, r"(?m)^250 .*not queued", "-bh: the message is not queued")
    tap.ok(len(t.spool_ids()) == 1, "-bh spooled nothing",
           "spool %r" % t.spool_ids())

# ---- -bh with statements: each statement's result is traced
ACL = r'''
acl "rcpt" {
  accept { hosts = "" },
  deny   { local_parts = "^blocked$", message = "blocked here" },
  accept { domains = "+local_domains" },
  deny   { message = "relay not permitted" },
}
'''
ta = Tern("aclbh", files={"acl/30_rcpt.lua": ACL})
with tap.guard("-bh statements"):
    p = ta.run(["-bh", "192.0.2.1"], input=(
        b"EHLO client.example.org\r\nMAIL FROM:<s@client.example.org>\r\n"
        b"RCPT TO:<blocked@example.com>\r\nQUIT\r\n"))
    err = p.stderr.decode("utf-8", "replace")
    tap.like(err, r"(?m)^>>> deny \(.*30_rcpt\.lua:\d+\): conditions true$",
             "-bh traces the deciding statement with its file and line")
    tap.like(err, r"(?m)^>>> accept \(.*30_rcpt\.lua:\d+\): conditions false$",
             "-bh traces statements whose conditions are false")
    tap.like(err, r"(?m)^>>> rcpt ACL returned deny: blocked here$",
             "-bh traces the result with the message")

# ---- hosts = "" matches local submission (-bs), not a TCP client
with tap.guard("hosts = \"\" and -bs"):
    p = ta.run(["-bs"], input=(
        b"EHLO local\r\nMAIL FROM:<me@example.com>\r\n"
        b"RCPT TO:<x@a-only.test>\r\nDATA\r\nSubject: local\r\n\r\nhi\r\n.\r\n"
        b"QUIT\r\n"))
    out = p.stdout.decode("utf-8", "replace")
    replies = re.findall(r"(?m)^(\d{3})[ ]", out)
    tap.ok(replies[:6] == ["220", "250", "250", "250", "354", "250"],
           "-bs: hosts = \"\" accepts a remote recipient from local "
           "submission", out)
    ids = ta.spool_ids()
    rec = ta.read_spool(ids[0]) if ids else {}
    tap.ok(rec.get("client-ip") == "" and rec.get("protocol", "").startswith(
        "local"), "-bs message spooled as local submission (no client ip, "
        "protocol local-*)", repr({k: rec.get(k) for k in
                                   ("client-ip", "protocol")}))
    ta.start()
    got = rcpt(ta, "x@a-only.test")
    tap.ok(got[0] == 550 and "relay not permitted" in got[1],
           "hosts = \"\" does not match a TCP client from 127.0.0.1",
           repr(got))
    ta.stop()

tap.done()
