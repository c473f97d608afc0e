#!/usr/bin/env python3
"""test_antispam_dropin - the shipped anti-spam drop-in,
conf.d/examples/40_antispam.lua, copied into conf.d/acl/ beside the
shipped acl/30_rcpt.lua exactly as an administrator enables it, with only
its placeholder list names replaced (zen.example -> zen.test,
list.dnswl.example -> dnswl.test) and, to keep the test short, its
connection rate lowered from 30 to 5 a minute. Real SMTP sessions from
several 127.0.0.x client addresses against a private dnsmasq serving
test-suite/zones/antispam.zone.conf: a DNSBL-listed client is refused with
the list's TXT, a DNSWL client is accepted at once, an SPF fail is refused
with 5.7.23 and the explanation, an SPF softfail is greylisted and then
accepted with a Received-SPF: header, an unknown user gets 5.1.1, and a
client connecting too fast is refused at connect."""
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import BIN_DIR, TAP, Tern, TOP, scratch_dir  # noqa: E402

tap = TAP()
DNSMASQ_SH = os.path.join(TOP, "test-suite/lib/dnsmasq.sh")
ZONE = os.path.join(TOP, "test-suite/zones/antispam.zone.conf")
DROPIN = os.path.join(TOP, "conf.d/examples/40_antispam.lua")
RCPT_ACL = os.path.join(TOP, "conf.d/acl/30_rcpt.lua")
DELAY = 2                           # greylist_delay, seconds

dns_dir = scratch_dir("antispam-dns")
port = subprocess.run(["bash", DNSMASQ_SH, "start", dns_dir],
                      env=dict(os.environ, DNSMASQ_CONF=ZONE),
                      capture_output=True, text=True, timeout=30)
if port.returncode != 0:
    tap.ok(False, "private dnsmasq starts", port.stderr)
    tap.done()


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


dropin = read(DROPIN)
for old, new in (("zen.example", "zen.test"),
                 ("list.dnswl.example", "dnswl.test"),
                 ("30 / 1m / per_conn", "5 / 1m / per_conn")):
    tap.ok(old in dropin, "the drop-in says %s" % old)
    dropin = dropin.replace(old, new)

t = Tern(main={"dns_servers": "127.0.0.1:%s" % port.stdout.strip(),
               "greylist_delay": "%ds" % DELAY},
         files={"acl/30_rcpt.lua": read(RCPT_ACL),
                "acl/40_antispam.lua": dropin},
         probe=False, name="antispam")


def session(source, sender, rcpt, data=None):
    """EHLO, MAIL, RCPT (and DATA when data is given) from source; the
    RCPT reply and, with data, the final one"""
    c = t.raw(source=source)
    try:
        c.cmd("EHLO client.example.org")
        c.cmd("MAIL FROM:<%s>" % sender)
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        final = None
        if data is not None and r.code == 250:
            c.cmd("DATA")
            c.send(data.replace("\n", "\r\n") + "\r\n.\r\n")
            final = c.reply()
        c.cmd("QUIT")
        return r, final
    finally:
        c.close()


MSG = "Subject: drop-in test\nFrom: <%s>\n\nhello\n"

with tap.guard("DNSBL"):
    r, _ = session("127.0.0.2", "a@spf-pass.test", "alice@test.example")
    tap.ok(r.code == 550 and "5.7.1" in r.text
           and "127.0.0.2 is listed in zen.test: listed for spam" in r.text,
           "a client in the DNSBL is refused with the list and its TXT",
           repr(r))

with tap.guard("DNSWL"):
    r, final = session("127.0.0.3", "a@spf-fail.test", "alice@test.example",
                       MSG % "a@spf-fail.test")
    tap.ok(r.code == 250 and final is not None and final.code == 250,
           "a client in the DNSWL (medium trust) is accepted at once: no "
           "greylisting, no DNSBL or SPF refusal", "%r %r" % (r, final))
    r, _ = session("127.0.0.5", "a@spf-pass.test", "alice@test.example")
    tap.ok(r.code == 450 and "4.7.1" in r.text,
           "a low-trust DNSWL entry does not skip greylisting", repr(r))

with tap.guard("SPF fail"):
    r, _ = session("127.0.0.4", "a@spf-fail.test", "alice@test.example")
    tap.ok(r.code == 550 and "5.7.23" in r.text
           and "SPF check failed" in r.text
           and "127.0.0.4 may not send for spf-fail.test" in r.text,
           "SPF fail: 550 5.7.23 with the domain's explanation", repr(r))

with tap.guard("unknown user"):
    r, _ = session("127.0.0.4", "a@spf-pass.test", "nosuch@test.example")
    tap.ok(r.code == 550 and "5.1.1" in r.text and "unknown user" in r.text,
           "an unknown user: 550 5.1.1", repr(r))

with tap.guard("greylisting and SPF softfail"):
    t0 = time.monotonic()
    r, _ = session("127.0.0.4", "b@spf-soft.test", "alice@test.example")
    tap.ok(r.code == 450 and "4.7.1" in r.text
           and "try again" in r.text.lower(),
           "first sight of a triplet: 450 4.7.1 ... try again", repr(r))
    r, _ = session("127.0.0.4", "b@spf-soft.test", "alice@test.example")
    tap.ok(r.code == 450, "an early retry is still greylisted", repr(r))
    time.sleep(max(0.0, DELAY + 0.5 - (time.monotonic() - t0)))
    r, final = session("127.0.0.4", "b@spf-soft.test", "alice@test.example",
                       MSG % "b@spf-soft.test")
    tap.ok(r.code == 250 and final is not None and final.code == 250,
           "a retry after greylist_delay is accepted", "%r %r" % (r, final))
    mid = re.search(r"id=(\S+)", final.text) if final else None
    hdrs = ""
    if mid:
        for m in t.spool_messages():
            if m.id == mid.group(1):
                hdrs = m.data.decode("latin-1").split("\r\n\r\n")[0]
    tap.like(hdrs, r"(?m)^Received-SPF: softfail \(",
             "the softfail message carries a Received-SPF: softfail header")
    out = subprocess.run([os.path.join(BIN_DIR, "tern_dumpdb"), t.spool,
                          "greylist"], capture_output=True, text=True,
                         timeout=30)
    tap.ok("127.0.0.0/24" in out.stdout and "spf-soft.test" in out.stdout,
           "tern_dumpdb greylist shows the triplet",
           out.stdout[-600:] + out.stderr[-300:])

with tap.guard("connection rate"):
    codes = []
    for i in range(7):
        c = t.raw(source="127.0.0.6", banner=True)
        codes.append(c.banner.code)
        c.close()
    tap.ok(codes[:5] == [220] * 5 and all(c // 100 == 5 for c in codes[5:]),
           "more than 5 connections a minute from one client: refused at "
           "connect", repr(codes))
    m = t.wait_log(r"too many connections from 127\.0\.0\.6", "reject", 3)
    tap.ok(m is not None, "the refusal is in the reject log",
           t.rejectlog()[-600:])

t.stop()

# The same policy as a Lua ACL function: each condition is the engine's
# own, called as acl.NAME(value) with the statement's syntax; it yields
# on DNS like dns.*, and its results land in session.vars.
LUA_RCPT = r'''
acl "rcpt" (function(s)
  if not acl.verify("recipient") then
    return deny { message = s.vars.acl_verify_message }
  end
  if acl.dnslists("dnswl.test&0.0.0.2") then return accept {} end
  if acl.dnslists("zen.test=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.9") then
    return deny { message = "listed in " .. s.vars.dnslist_domain }
  end
  local fail, why = acl.spf("fail")
  if fail == nil then return defer { message = "SPF: " .. why } end
  if fail then return deny { message = "550 5.7.23 SPF " .. s.vars.spf_result } end
  if acl.ratelimit("2 / 1m / per_rcpt / strict / $sender_address") then
    return deny { message = "rate " .. s.vars.sender_rate }
  end
  if acl.greylist("delay=%ds") then
    return defer { message = "450 4.7.1 greylisted by Lua" }
  end
  return accept {}
end)
''' % DELAY
t2 = Tern(main={"dns_servers": "127.0.0.1:%s" % port.stdout.strip()},
          files={"acl/40_antispam.lua": LUA_RCPT},
          name="antispam-lua")
t = t2
with tap.guard("the policy from Lua"):
    r, _ = session("127.0.0.3", "a@spf-fail.test", "nosuch@test.example")
    tap.ok(r.code == 550 and "unknown user" in r.text,
           "Lua: acl.verify(\"recipient\") false, its reason in "
           "session.vars.acl_verify_message", repr(r))
    r, _ = session("127.0.0.3", "a@spf-fail.test", "alice@test.example")
    tap.ok(r.code == 250, "Lua: acl.dnslists(DNSWL &mask) accepts", repr(r))
    r, _ = session("127.0.0.2", "a@spf-pass.test", "alice@test.example")
    tap.ok(r.code == 550 and "listed in zen.test" in r.text,
           "Lua: acl.dnslists(DNSBL=codes) is true and sets "
           "session.vars.dnslist_domain", repr(r))
    r, _ = session("127.0.0.4", "a@spf-fail.test", "alice@test.example")
    tap.ok(r.code == 550 and "5.7.23 SPF fail" in r.text,
           "Lua: acl.spf(\"fail\") yields on DNS and sets "
           "session.vars.spf_result", repr(r))
    r, _ = session("127.0.0.4", "c@spf-pass.test", "alice@test.example")
    tap.ok(r.code == 450 and "greylisted by Lua" in r.text,
           "Lua: acl.greylist() is true at first sight", repr(r))
    time.sleep(DELAY + 0.5)
    r, _ = session("127.0.0.4", "c@spf-pass.test", "alice@test.example")
    tap.ok(r.code == 250, "Lua: acl.greylist() is false after the delay",
           repr(r))
    r, _ = session("127.0.0.4", "c@spf-pass.test", "alice@test.example")
    tap.ok(r.code == 550 and "rate " in r.text,
           "Lua: acl.ratelimit() counts and is true over the limit "
           "(session.vars.sender_rate)", repr(r))

t2.stop()
subprocess.run(["bash", DNSMASQ_SH, "stop", dns_dir], timeout=30)
tap.done()
