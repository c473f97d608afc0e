#!/usr/bin/env python3
"""test_rcpt_codes - the rcpt policy answers with the reason's code
(issue 11, point 7): an unknown user in a local domain gets
"550 5.1.1 <addr>: unknown user" (logged as Exim's "Unknown user", which
fail2ban's exim filter matches), a relay attempt 550 5.7.1 relay not
permitted, a remote address that cannot be routed 550 5.1.2, a router's
own refusal (a :fail: alias) its text with 5.1.1, a temporary failure
451 4.x.x; a failed sender verification 5.1.7/5.1.8. Checked over real
SMTP with the shipped conf.d (from an untrusted address, 127.0.0.2:
127.0.0.1 is in its relay_from_hosts) and with the built-in policy (no
rcpt ACL)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import (TAP, TERN, TOP, Tern, RawClient, _free_port,  # noqa
                     give_to_tern, LOCAL_DOMAIN)

t = TAP(timeout=90)


def rcpts(port, addrs, source=None, sender="s@client.example"):
    """the RCPT replies for addrs in one session"""
    c = RawClient("127.0.0.1", port, timeout=10, source=source)
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<%s>" % sender)
    got = [c.cmd("RCPT TO:<%s>" % a) for a in addrs]
    c.cmd("QUIT")
    c.close()
    return got


def f2b_matches(logfile):
    """the lines fail2ban's exim filter matches in logfile"""
    f2b = shutil.which("fail2ban-regex")
    filt = "/etc/fail2ban/filter.d/exim.conf"
    if f2b is None or not os.path.exists(filt):
        return None
    p = subprocess.run([f2b, "--print-all-matched", logfile, filt],
                       capture_output=True, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    sect = out.split("Matched line(s):", 1)[-1].split("\n`-", 1)[0]
    return [ln for ln in sect.splitlines() if "rejected RCPT" in ln]


# ---- the shipped configuration, as `make run` lays it out
base = tempfile.mkdtemp(prefix="ternpy-rcptcodes-")
os.chmod(base, 0o755)
for sub in ("conf.d", "etc"):
    shutil.copytree(os.path.join(TOP, sub), os.path.join(base, sub))
os.makedirs(os.path.join(base, "var", "mail"))
shutil.copy(os.path.join(TOP, "var", "virtual_users"),
            os.path.join(base, "var", "virtual_users"))
give_to_tern(base)
port = _free_port()
daemon = subprocess.Popen([TERN, "-C", os.path.join(base, "conf.d"), "-bdf",
                           "-oX", str(port)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          start_new_session=True)
rejectlog = os.path.join(base, "var", "log", "rejectlog")


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(pattern, path, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if re.search(pattern, read(path), re.M):
            return True
        time.sleep(0.05)
    return False


try:
    with t.guard("shipped conf.d: the session ran to its end"):
        t.ok(wait_for(r"tern daemon started",
                      os.path.join(base, "var", "log", "mainlog")),
             "the shipped configuration starts")
        rs = rcpts(port, ["nosuch@localhost", "postmaster@localhost",
                          "x@remote.example"], source="127.0.0.2")
        t.ok(rs[0].code == 550 and rs[0].raw
             == b"550 5.1.1 <nosuch@localhost>: unknown user\r\n",
             "shipped conf.d: an unknown local user gets '550 5.1.1 "
             "<nosuch@localhost>: unknown user'", repr(rs[0]))
        t.reply(rs[1], 250, "2.1.5", "a known one (postmaster, an alias) "
                "gets 250")
        t.ok(rs[2].raw == b"550 5.7.1 relay not permitted\r\n",
             "a remote domain from an untrusted client: 550 5.7.1 relay "
             "not permitted", repr(rs[2]))
        line = (re.escape("H=(client.example) [127.0.0.2]:") + r"\d+ " +
                re.escape("F=<s@client.example> rejected RCPT "
                          "<nosuch@localhost>: Unknown user") + "$")
        t.ok(wait_for(line, rejectlog), "rejectlog: '... rejected RCPT "
             "<nosuch@localhost>: Unknown user' (Exim's words)",
             read(rejectlog)[-600:])
        rs = rcpts(port, ["nosuch@localhost"])
        t.reply(rs[0], 250, "2.1.5", "from 127.0.0.1 (relay_from_hosts) "
                "the recipient is not verified, as in Exim's default "
                "configuration: 250")
        m = f2b_matches(rejectlog)
        t.ok(m is not None and any("<nosuch@localhost>: Unknown user" in ln
                                   and "[127.0.0.2]" in ln for ln in m),
             "fail2ban-regex with fail2ban's exim filter matches the "
             "unknown user line", repr(m))
finally:
    if daemon.poll() is None:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
    if not os.environ.get("TERN_KEEP"):
        shutil.rmtree(base, ignore_errors=True)

# ---- the built-in policy (no rcpt ACL) and require verify in an ACL
L = LOCAL_DOMAIN
main = {"relay_to_domains": ["nowhere.test", "mx-nxhost.test",
                             "servfail.test", "a-only.test"],
        "dns_timeout": "2s", "dns_retry": 1}
with t.guard("built-in policy: ran to its end"), \
        Tern(name="rcptcodes", main=main) as d:
    rs = rcpts(d.port, ["nosuch@" + L, "alice@" + L, "broken@" + L,
                        "x@nowhere.test", "x@mx-nxhost.test",
                        "x@servfail.test", "x@dual.test"])
    t.ok(rs[0].raw == ("550 5.1.1 <nosuch@%s>: unknown user\r\n"
                       % L).encode(),
         "no ACL: an unknown local user gets 550 5.1.1 <addr>: unknown "
         "user", repr(rs[0]))
    t.reply(rs[1], 250, "2.1.5", "a known user gets 250")
    t.reply(rs[2], 550, "5.1.1", "a :fail: alias: 550 5.1.1 with its own "
            "text", r"^5\.1\.1 this alias is broken$")
    t.reply(rs[3], 550, "5.1.2", "a relay_to_domains domain that does not "
            "exist: 550 5.1.2", r"Unrouteable address")
    t.reply(rs[4], 550, "5.1.2", "one whose MX hosts do not exist: 550 "
            "5.1.2", r"non-existent hosts")
    t.reply(rs[5], 451, "4.", "one whose DNS fails: 451 4.x.x, no "
            "internal detail", r"Temporary local problem")
    t.reply(rs[6], 550, "5.7.1", "a domain we do not relay to: 550 5.7.1",
            r"^5\.7\.1 relay not permitted$")

ACLS = {"acl/30_rcpt.lua": """\
acl "rcpt" {
  require { verify = "recipient", message = "no mailbox here" },
  accept {},
}
""", "acl/20_mail.lua": """\
acl "mail" {
  require { verify = "sender" },
  accept {},
}
"""}
with t.guard("require verify: ran to its end"), \
        Tern(name="rcptcodes-acl", main=main, files=ACLS) as d:
    rs = rcpts(d.port, ["nosuch@" + L], sender="alice@" + L)
    t.ok(rs[0].raw == b"550 5.1.1 no mailbox here\r\n", "require verify = "
         "recipient with a message: the reason's status, the message's text",
         repr(rs[0]))
    c = RawClient("127.0.0.1", d.port, timeout=10)
    c.cmd("EHLO client.example")
    r1 = c.cmd("MAIL FROM:<x@nowhere.test>")
    r2 = c.cmd("MAIL FROM:<nosuch@%s>" % L)
    r3 = c.cmd("MAIL FROM:<alice@%s>" % L)
    c.close()
    t.reply(r1, 550, "5.1.8", "require verify = sender, a sender domain "
            "that does not exist: 550 5.1.8")
    t.reply(r2, 550, "5.1.7", "a local sender that does not exist: 550 "
            "5.1.7")
    t.reply(r3, 250, "2.1.0", "a good sender: 250")
    t.eq(d.paniclog(), "", "paniclog is empty")

t.done()
