#!/usr/bin/env python3
"""test_acl_lua - Lua in ACLs, in the running daemon (one worker, so
"another session is served meanwhile" proves the worker does not block):
a whole ACL as a function, acl_c_ variables seen through s.vars, dns.mx /
dns.txt / dns.a from an ACL function (a coroutine that yields; the DNS
server here answers after a delay), delay = "2s", a script error and a
runaway loop (instruction limit) give 451 and the daemon keeps serving,
and the configured ACLs keep applying after many Lua calls."""
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import Tap, Tern, test_dns, reply_id  # noqa: E402

tap = Tap()
DNS_DELAY = 1.0


class SlowDns:
    """A UDP proxy in front of the test dnsmasq that answers each query
    DNS_DELAY seconds late."""

    def __init__(self, upstream):
        host, port = upstream.rsplit(":", 1)
        self.up = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stop = False
        self.queries = 0
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            threading.Thread(target=self.answer, args=(q, peer),
                             daemon=True).start()

    def answer(self, q, peer):
        time.sleep(DNS_DELAY)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        try:
            s.sendto(q, self.up)
            a, _ = s.recvfrom(4096)
            self.sock.sendto(a, peer)
        except OSError:
            pass
        finally:
            s.close()


ACLS = r'''
acl "helo" {
  accept { condition = function(s) return s.helo == "slow.example" end,
           delay = "2s" },
  warn   { set = "acl_c_x = from-helo" },
  accept {},
}
acl "rcpt" (function(s)
  local r = s.rcpt
  if s.helo == "conditions.example" then
    local v = acl.verify("recipient")
    local bl, why = acl.dnslists("mx-pref.test")
    return deny { message = "verify=" .. tostring(v) .. " listed=" ..
                            tostring(bl) .. "/" .. tostring(why) }
  elseif s.helo == "badcondition.example" then
    acl.verify("telepathy")
  elseif s.helo == "nocondition.example" then
    acl.hosts("127.0.0.1")
  end
  if r == "deny@example.com" then
    return deny { message = "function says no" }
  elseif r == "defer@example.com" then
    return defer { message = "function says later" }
  elseif r == "err@example.com" then
    error("boom in acl")
  elseif r == "loop@example.com" then
    while true do end
  elseif r == "vars@example.com" then
    return deny { message = "acl_c_x=" .. tostring(s.vars.acl_c_x) }
  elseif r == "dns@example.com" then
    local mx, e1 = dns.mx("mx-pref.test")
    local txt, e2 = dns.txt("txt.test")
    local hosts = {}
    for _, m in ipairs(mx or {}) do hosts[#hosts + 1] = m.pref .. ":" .. m.host end
    table.sort(hosts)
    return deny { message = "mx=" .. table.concat(hosts, ",") ..
                            " txt=" .. tostring(txt and txt[1]) ..
                            " e=" .. tostring(e1) .. "/" .. tostring(e2) }
  elseif r == "nx@example.com" then
    local a, err = dns.a("nonexistent.test")
    return deny { message = "a=" .. tostring(a) .. " err=" .. tostring(err) }
  elseif r == "garbage@example.com" then
    local junk = {}
    for i = 1, 3000 do junk[i] = tostring(i) .. "-" .. r end
    return accept {}
  elseif r:match("@example%.com$") then
    return accept {}
  end
  return deny { message = "relay refused by function" }
end)
acl "data" {
  warn   { add_header = "X-Data-Acl: seen" },
  accept {},
}
acl "predata" {
  accept { condition = function(s)
             if s.helo == "predata-bl.example" then
               return not acl.dnslists("mx-pref.test")
             end
             return s.helo ~= "predata-helo.example" or acl.verify("helo")
           end },
  deny   { message = "predata condition said no" },
}
'''

upstream = test_dns()
slow = SlowDns(upstream) if upstream else None
t = Tern("acllua", files={"acl/10_acls.lua": ACLS},
         main={"dns_servers": slow.addr if slow else "127.0.0.1:9",
               "dns_timeout": "5s"})
t.start()


def rcpt(addr, timeout=20):
    c = t.raw(timeout=timeout)
    c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<s@client.example.org>")
    t0 = time.time()
    got = c.cmd("RCPT TO:<%s>" % addr)
    dt = time.time() - t0
    c.close()
    return got, dt


def quick_session(out):
    """A full EHLO/MAIL/RCPT on a fresh connection; its duration in out."""
    t0 = time.time()
    c = t.raw(timeout=10)
    c.cmd("EHLO quick.example")
    c.cmd("MAIL FROM:<q@client.example.org>")
    r = c.cmd("RCPT TO:<alice@example.com>")
    c.close()
    out.append((time.time() - t0, r, time.time()))


with tap.guard("function ACL verbs"):
    got, _ = rcpt("deny@example.com")
    tap.ok(got[0] == 550 and "function says no" in got[1],
           "ACL function returning deny{message=...}: 550 with the message",
           repr(got))
    got, _ = rcpt("defer@example.com")
    tap.ok(got[0] == 451 and "function says later" in got[1],
           "ACL function returning defer{...}: 451", repr(got))
    got, _ = rcpt("alice@example.com")
    tap.ok(got[0] == 250, "ACL function returning accept{}: 250", repr(got))
    got, _ = rcpt("x@a-only.test")
    tap.ok(got[0] == 550 and "relay refused by function" in got[1],
           "ACL function: its own relay refusal", repr(got))
    got, _ = rcpt("vars@example.com")
    tap.ok("acl_c_x=from-helo" in got[1],
           "acl_c_ set in the helo ACL is visible to the rcpt function as "
           "s.vars.acl_c_x", repr(got))

with tap.guard("dns from Lua"):
    if slow is None:
        tap.skip("dns.mx/dns.txt in an ACL function", "no test DNS server")
    else:
        res, other = [], []
        th = threading.Thread(target=lambda: res.append(
            rcpt("dns@example.com")))
        th.start()
        time.sleep(0.3)                 # A is now waiting for DNS
        quick_session(other)
        th.join(20)
        got, dt = res[0] if res else ((0, "no reply"), 0)
        tap.ok(got[0] == 550 and
               "mx=10:mx1.mx-pref.test,20:mx2.mx-pref.test,30:mx3.mx-pref.test"
               in got[1] and "txt=v=spf1 -all" in got[1],
               "dns.mx(\"mx-pref.test\") and dns.txt(\"txt.test\") in an ACL "
               "function return the zone data", repr(got))
        tap.comment("DNS ACL took %.2f s (2 queries, %.1f s each)"
                    % (dt, DNS_DELAY))
        tap.ok(dt >= 2 * DNS_DELAY - 0.1, "the DNS ACL waited for both "
               "delayed answers", "%.2f s" % dt)
        ok = other and other[0][1][0] == 250 and other[0][0] < DNS_DELAY
        tap.ok(ok, "while the ACL function waits for DNS, another session "
               "on the same worker is served at once",
               "other session: %r, DNS session took %.2f s" % (other, dt))
        got, _ = rcpt("nx@example.com")
        tap.ok("a=nil err=nxdomain" in got[1],
               "dns.a of a non-existent name gives nil, \"nxdomain\"",
               repr(got))

with tap.guard("acl.NAME conditions from Lua"):
    def conditions(helo, rcpt_to):
        c = t.raw(timeout=20)
        c.cmd("EHLO " + helo)
        c.cmd("MAIL FROM:<s@client.example.org>")
        got = c.cmd("RCPT TO:<%s>" % rcpt_to)
        c.close()
        return got
    got = conditions("conditions.example", "alice@example.com")
    tap.ok(got[0] == 550 and "verify=true" in got[1],
           "acl.verify(\"recipient\") in an ACL function: true for a user "
           "the routers know", repr(got))
    got = conditions("conditions.example", "nosuchuser@example.com")
    tap.ok(got[0] == 550 and "verify=false" in got[1],
           "acl.verify(\"recipient\"): false for an unknown user",
           repr(got))
    tap.ok("listed=false/nil" in got[1],
           "acl.dnslists(zone): false when the client is not listed",
           repr(got))
    c = t.raw(timeout=20)           # closed while acl.dnslists waits
    c.cmd("EHLO conditions.example")
    c.cmd("MAIL FROM:<s@client.example.org>")
    c.send(b"RCPT TO:<alice@example.com>\r\n")
    time.sleep(0.2)
    c.close()
    time.sleep(DNS_DELAY * 2.5)     # the late answers arrive
    got = conditions("conditions.example", "alice@example.com")
    tap.ok(got[0] == 550 and "verify=true" in got[1]
           and "killed by signal" not in t.mainlog(),
           "a session closed while acl.* waits: the late answer is dropped, "
           "the worker keeps serving", repr(got))
    got = conditions("badcondition.example", "alice@example.com")
    pat = r'acl\.verify: unknown verify kind "telepathy"'
    tap.ok(got[0] == 451 and (t.wait_log("main", pat, 3)
                              or t.wait_log("reject", pat, 1)),
           "acl.verify with a value the condition refuses: script error, "
           "451, the reason logged", repr(got))
    got = conditions("nocondition.example", "alice@example.com")
    tap.ok(got[0] == 451, "acl.hosts (not a callable condition): 451",
           repr(got))
    for helo, want, what in (("predata-bl.example", 3, "not acl.dnslists"),
                             ("predata-helo.example", 5,
                              "acl.verify(\"helo\") of a name that does not "
                              "resolve")):
        c = t.raw(timeout=20)
        c.cmd("EHLO " + helo)
        c.cmd("MAIL FROM:<s@client.example.org>")
        c.cmd("RCPT TO:<alice@example.com>")
        got = c.cmd("DATA")
        c.close()
        tap.ok(got[0] // 100 == want, "%s in a condition function of the "
               "predata ACL: %dxx" % (what, want), repr(got))

with tap.guard("delay"):
    res, other = [], []

    def slow_helo():
        c = t.raw(timeout=15)
        t0 = time.time()
        r = c.cmd("EHLO slow.example")
        res.append((time.time() - t0, r, time.time()))
        c.close()
    th = threading.Thread(target=slow_helo)
    th.start()
    time.sleep(0.3)
    quick_session(other)
    th.join(15)
    dt, r, end_slow = res[0] if res else (0, None, 0)
    tap.ok(r is not None and r[0] == 250 and dt >= 1.9,
           "delay = \"2s\": the delayed EHLO is answered after >= 2 s",
           "%.2f s, %r" % (dt, r))
    tap.ok(other and other[0][1][0] == 250 and other[0][0] < 1.0
           and other[0][2] < end_slow,
           "delay does not block the worker: a concurrent session completes "
           "first", "quick %r, slow ended %.2f" % (other, end_slow))

with tap.guard("errors"):
    got, _ = rcpt("err@example.com")
    tap.ok(got[0] == 451, "ACL function that raises an error: 451",
           repr(got))
    tap.ok(t.wait_log("main", r"boom in acl", 3)
           or t.wait_log("reject", r"boom in acl", 1),
           "the Lua error is logged", t.mainlog()[-1000:] + t.rejectlog()[-600:])
    got, dt = rcpt("loop@example.com", timeout=30)
    tap.ok(got[0] == 451, "ACL function in an endless loop: stopped by the "
           "instruction limit, 451", "%r after %.2f s" % (got, dt))
    tap.comment("endless loop stopped after %.2f s" % dt)
    got, _ = rcpt("alice@example.com")
    tap.ok(got[0] == 250, "the daemon keeps serving after the runaway script",
           repr(got))
    tap.ok("killed by signal" not in t.mainlog(), "no worker died",
           t.mainlog()[-800:])

with tap.guard("many Lua calls"):
    # the configured ACLs must keep applying however many Lua calls (and
    # garbage collections) happened: 60 RCPTs checked by the function
    c = t.raw()
    c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<s@client.example.org>")
    bad = []
    for i in range(60):
        got = c.cmd("RCPT TO:<deny@example.com>")
        if got[0] != 550 or "function says no" not in got[1]:
            bad.append((i, got))
    c.close()
    tap.ok(not bad, "the rcpt ACL function still decides after 60 calls",
           "first deviations: %r" % bad[:3])
    # many messages whose RCPT runs a function that makes garbage: the
    # data ACL (statements only) must still add its header to each
    c = t.raw()
    c.cmd("EHLO client.example.org")
    missing = []
    for i in range(25):
        c.cmd("MAIL FROM:<s@client.example.org>")
        c.cmd("RCPT TO:<garbage@example.com>")
        c.cmd("DATA")
        c.send(b"Subject: gc %d\r\n\r\nbody\r\n.\r\n" % i)
        code, text = c.reply()
        mid = reply_id(text)
        if not mid or b"X-Data-Acl: seen" not in t.read_spool(mid)["data"]:
            missing.append((i, code, text))
    c.close()
    tap.ok(not missing, "the data ACL still applies to every one of 25 "
           "messages after many Lua allocations (garbage collections)",
           "messages without its header: %d, first %r"
           % (len(missing), missing[:2]))
    got2, _ = rcpt("vars@example.com")
    tap.ok("acl_c_x=from-helo" in got2[1],
           "the helo ACL (statements) still runs after many Lua calls",
           repr(got2))

t.stop()
if slow:
    slow.stop = True
tap.done()
