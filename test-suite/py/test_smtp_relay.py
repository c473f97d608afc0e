#!/usr/bin/env python3
"""test_smtp_relay - tern is never an open relay. Classic relay tricks
(percent hack, source routes, bang paths, quoted local parts holding "@",
IP literals, <> sender, case and trailing-dot games, ...) from a client
outside relay_from_hosts are refused with 550 5.7.1 (or a 5xx syntax
refusal), through the built-in policy, through the shipped
conf.d/acl/30_rcpt.lua, and in -bh sessions from 192.0.2.1; relay
refusals are in the rejectlog. Positive cases: local recipients, clients
in relay_from_hosts, relay_to_domains."""
import os
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, TOP, crlf  # noqa: E402

t = TAP()

# (name, MAIL argument, RCPT argument, HELO name)
ATTEMPTS = [
    ("plain remote recipient", "<x@client.example>", "<user@a-only.test>",
     None),
    ("remote recipient with MX records", "<x@client.example>",
     "<user@mx-pref.test>", None),
    ("percent hack", "<x@client.example>", "<user%a-only.test@test.example>",
     None),
    ("double percent hack", "<x@client.example>",
     "<user%a-only.test%test.example@test.example>", None),
    ("quoted percent hack", "<x@client.example>",
     '<"user%a-only.test"@test.example>', None),
    ("source route", "<x@client.example>",
     "<@test.example:user@a-only.test>", None),
    ("source route over two hops", "<x@client.example>",
     "<@test.example,@mx.test.example:user@a-only.test>", None),
    ("bang path", "<x@client.example>", "<a-only.test!user@test.example>",
     None),
    ("bang path without domain", "<x@client.example>", "<a-only.test!user>",
     None),
    ("quoted local part with @", "<x@client.example>",
     '<"user@a-only.test"@test.example>', None),
    ("quoted local part with @ to an IP literal", "<x@client.example>",
     '<"user@a-only.test"@[127.0.0.1]>', None),
    ("IP literal", "<x@client.example>", "<user@[192.0.2.9]>", None),
    ("IPv6 literal", "<x@client.example>", "<user@[IPv6:2001:db8::9]>",
     None),
    ("null sender to a remote domain", "<>", "<user@a-only.test>", None),
    ("remote sender to a remote domain", "<someone@mx-pref.test>",
     "<user@a-only.test>", None),
    ("forged local sender to a remote domain", "<alice@test.example>",
     "<user@a-only.test>", None),
    ("upper-case remote domain", "<x@client.example>", "<USER@A-ONLY.TEST>",
     None),
    ("local domain as a prefix of a remote one", "<x@client.example>",
     "<user@test.example.a-only.test>", None),
    ("trailing dot on the remote domain", "<x@client.example>",
     "<user@a-only.test.>", None),
    ("percent hack with a trailing dot", "<x@client.example>",
     "<user%a-only.test@test.example.>", None),
    ("user@remote@local", "<x@client.example>",
     "<user@a-only.test@test.example>", None),
    ("local part starting with /", "<x@client.example>",
     "</tmp/evil@test.example>", None),
    ("local part with |", "<x@client.example>", "<|/bin/sh@test.example>",
     None),
    ("local part with ../", "<x@client.example>", "<a/../../x@test.example>",
     None),
    ("spaces inside the angle brackets", "<x@client.example>",
     "< user@a-only.test >", None),
    ("no angle brackets", "<x@client.example>", "user@a-only.test", None),
    ("postmaster at a remote domain", "<x@client.example>",
     "<postmaster@a-only.test>", None),
    ("AUTH= parameter naming a local user", "<x@client.example> "
     "AUTH=alice+40test.example", "<user@a-only.test>", None),
    ("HELO with our own name", "<x@client.example>", "<user@a-only.test>",
     "mx.test.example"),
    ("HELO localhost / [127.0.0.1]", "<x@client.example>",
     "<user@a-only.test>", "[127.0.0.1]"),
    ("UTF-8 remote domain with SMTPUTF8", "<x@client.example> SMTPUTF8",
     "<user@b\u00fccher.a-only.test>", None),
]


def attempt_session(send_cmd, name, mail, rcpt, helo):
    """run one attempt through send_cmd(line) -> Reply; returns the
    (rcpt reply, data reply)"""
    r = send_cmd("EHLO " + (helo or "client.example"))
    r = send_cmd("MAIL FROM:" + mail)
    if r is None or r.code != 250:
        return r, None          # refused at MAIL: also not relayed
    rr = send_cmd("RCPT TO:" + rcpt)
    rd = send_cmd("DATA")
    if rd is not None and rd.code == 354:
        send_cmd("Subject: relayed\r\n\r\nrelay test\r\n.")
    return rr, rd


def refused(r):
    return r is not None and 500 <= r.code < 600 and r.status_ok("5.")


def relay_refusal(r):
    return (r is not None and r.code == 550 and r.status_ok("5.7.1"))


def run_daemon_attempts(d, label):
    n550 = 0
    for name, mail, rcpt, helo in ATTEMPTS:
        c = d.raw()

        def send_cmd(line):
            return c.cmd(line.encode("utf-8"))

        rr, rd = attempt_session(send_cmd, name, mail, rcpt, helo)
        t.ok(refused(rr) and (rd is None or rd.code in (503, 554)),
             "%s: %s (RCPT TO:%s) refused with 5xx, DATA refused"
             % (label, name, rcpt), repr((rr, rd)))
        if relay_refusal(rr):
            n550 += 1
        c.close()
    return n550


before_total = 0

# ---- 1. the built-in policy (no rcpt ACL), relay_from_hosts empty
with t.guard("relay-builtin: the session ran to its end"), \
     Tern(name="relay-builtin") as d:
    n550 = run_daemon_attempts(d, "built-in policy")
    t.ok(n550 >= 15, "built-in policy: at least 15 attempts refused as "
         "relaying (550 5.7.1), %d of %d" % (n550, len(ATTEMPTS)))
    t.eq(d.spool_messages(), [], "built-in policy: nothing spooled")
    rej = d.rejectlog()
    lines = re.findall(r"^.* rejected RCPT .*$", rej, re.M)
    t.ok(len(lines) >= n550, "rejectlog: one \"rejected RCPT\" line per "
         "relay refusal (%d lines, %d refusals)" % (len(lines), n550),
         rej[-2000:])
    t.ok(re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d H=\(client\.example\) "
                   r"\[127\.0\.0\.1\]:\d+ F=<x@client\.example> rejected "
                   r"RCPT <user@a-only\.test>: relay not permitted$", rej,
                   re.M) is not None,
         "rejectlog: H=(client.example) [127.0.0.1]:PORT F=<x@client.example>"
         " rejected RCPT <user@a-only.test>: relay not permitted",
         rej[-1500:])
    t.ok(re.search(r"rejected RCPT <user%a-only\.test@test\.example>: "
                   r"restricted characters in address", rej) is not None,
         "rejectlog: the percent hack, with the address and reason",
         rej[-1500:])
    t.ok(all(ln in d.mainlog() for ln in lines),
         "mainlog has every rejectlog RCPT line too", d.mainlog()[-1500:])

    # the positive cases on the same daemon
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    t.reply(c.cmd("RCPT TO:<alice@test.example>"), 250, "2.1.5",
            "built-in policy: a local-domain recipient is accepted")
    t.reply(c.cmd("RCPT TO:<bob@mx.test.example>"), 250, "2.1.5",
            "built-in policy: a recipient @primary_hostname is accepted")
    t.reply(c.cmd("RCPT TO:<Postmaster>"), 250, "2.1.5",
            "built-in policy: <Postmaster> is accepted")
    t.reply(c.cmd("RCPT TO:<user@a-only.test>"), 550, "5.7.1",
            "built-in policy: the remote one in the same transaction is not",
            "relay")
    r = c.cmd("DATA")
    c.send(crlf("Subject: local\n\nlocal mail\n.\n"))
    r = c.try_reply()
    t.reply(r, 250, "2.0.0", "built-in policy: the local message is "
            "accepted")
    m = d.spool_messages()
    t.ok(len(m) == 1 and "user@a-only.test" not in m[0].rcpts
         and len(m[0].rcpts) == 3, "spool: the local recipients only",
         repr(m))

# ---- 2. the shipped acl/30_rcpt.lua, relay_from_hosts empty
with open(os.path.join(TOP, "conf.d/acl/30_rcpt.lua")) as f:
    shipped = f.read()
with t.guard("relay-shipped: the session ran to its end"), \
     Tern(files={"acl/30_rcpt.lua": shipped}, name="relay-shipped") as d:
    n550 = run_daemon_attempts(d, "shipped ACL")
    t.ok(n550 >= 15, "shipped ACL: at least 15 attempts refused as relaying "
         "or restricted (550 5.7.1), %d of %d" % (n550, len(ATTEMPTS)))
    t.eq(d.spool_messages(), [], "shipped ACL: nothing spooled")
    t.ok(re.search(r"rejected RCPT <user@a-only\.test>: relay not "
                   r"permitted", d.rejectlog()) is not None,
         "shipped ACL: rejectlog has the relay refusal with the address",
         d.rejectlog()[-1500:])
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    t.reply(c.cmd("RCPT TO:<alice@test.example>"), 250, "2.1.5",
            "shipped ACL: a known local user is accepted")
    r = c.cmd("RCPT TO:<nosuchuser@test.example>")
    t.ok(r.code == 550 and r.status_ok("5."), "shipped ACL: an unknown "
         "local user is refused (verify = recipient)", repr(r))
    t.reply(c.cmd("RCPT TO:<postmaster@test.example>"), 250, "2.1.5",
            "shipped ACL: postmaster (an alias) is accepted")

# ---- 3. -bh 192.0.2.1: outside relay_from_hosts = 127.0.0.1
d = Tern(start=False, main={"relay_from_hosts": ["127.0.0.1", "::1"]},
         name="relay-bh")
n550 = 0
for name, mail, rcpt, helo in ATTEMPTS[:18]:
    lines = ["EHLO " + (helo or "client.example"), "MAIL FROM:" + mail,
             "RCPT TO:" + rcpt, "QUIT"]
    p = d.run("-bh", "192.0.2.1",
              input=("\r\n".join(lines) + "\r\n").encode("utf-8"))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    replies = re.findall(r"^(\d{3}) (.*)$", out, re.M)
    # replies: 220, 250 (EHLO last line), MAIL, RCPT, 221
    rc = replies[3] if len(replies) >= 5 else None
    ok = rc is not None and rc[0].startswith("5") and \
        re.match(r"5\.\d+\.\d+ ", rc[1]) is not None
    if rc is not None and rc[0] == "550" and rc[1].startswith("5.7.1"):
        n550 += 1
    if len(replies) >= 3 and not replies[2][0].startswith("2"):
        ok = replies[2][0].startswith("5")      # refused at MAIL
    t.ok(ok and p.returncode == 0, "-bh 192.0.2.1: %s refused" % name,
         out[-600:] + err[-600:])
t.ok(n550 >= 12, "-bh: most attempts are relay refusals (550 5.7.1): %d"
     % n550)
p = d.run("-bh", "192.0.2.1", input=b"EHLO client.example\r\n"
          b"MAIL FROM:<x@client.example>\r\nRCPT TO:<user@a-only.test>\r\n"
          b"QUIT\r\n")
err = p.stderr.decode("utf-8", "replace")
t.ok(re.search(r"^>>> .*rcpt.*deny.*relay not permitted", err, re.M)
     is not None, "-bh shows the ACL decision: >>> rcpt ... deny ... relay "
     "not permitted", err)
p = d.run("-bh", "127.0.0.1", input=b"EHLO client.example\r\n"
          b"MAIL FROM:<x@client.example>\r\nRCPT TO:<user@a-only.test>\r\n"
          b"QUIT\r\n")
out = p.stdout.decode("utf-8", "replace")
t.ok(re.search(r"^250 2\.1\.5", out, re.M) is not None,
     "-bh 127.0.0.1 (in relay_from_hosts): the remote recipient is "
     "accepted", out)
t.eq(d.spool_messages(), [], "-bh spooled nothing")
d.cleanup()

# ---- 4. a client in relay_from_hosts may relay (daemon)
with t.guard("relay-allowed: the session ran to its end"), \
     Tern(main={"relay_from_hosts": ["127.0.0.0/8"]},
          name="relay-allowed") as d:
    s = d.smtp()
    refusedr = s.sendmail("x@client.example", ["user@a-only.test",
                                               "alice@test.example"],
                          crlf("Subject: relay\n\nallowed\n"))
    t.ok(refusedr == {}, "relay_from_hosts 127.0.0.0/8: remote and local "
         "recipients accepted", repr(refusedr))
    m = d.spool_messages()
    t.ok(len(m) == 1 and m[0].rcpts == ["user@a-only.test",
                                        "alice@test.example"],
         "spool: the relayed recipient is queued", repr(m))

# ---- 5. relay_to_domains: anyone may send to them, nothing else
with t.guard("relay-to: the session ran to its end"), \
     Tern(main={"relay_to_domains": ["a-only.test"]},
          name="relay-to") as d:
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    t.reply(c.cmd("RCPT TO:<user@a-only.test>"), 250, "2.1.5",
            "relay_to_domains a-only.test: user@a-only.test accepted")
    t.reply(c.cmd("RCPT TO:<user@mx-pref.test>"), 550, "5.7.1",
            "relay_to_domains: another remote domain still refused")
    r = c.cmd("RCPT TO:<user%mx-pref.test@a-only.test>")
    t.ok(r.code == 550 and r.status_ok("5.7.1"), "relay_to_domains: the "
         "percent hack through it is refused", repr(r))
    t.ok(d.paniclog() == "", "paniclog is empty", d.paniclog())

t.done()
