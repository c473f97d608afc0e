#!/usr/bin/env python3
"""test_acl_dnslists - the dnslists condition over real SMTP sessions and
tern -bh, against a private dnsmasq serving test-suite/zones/
dnsbl.zone.conf: dnslists in the connect ACL, several lists (first listed
in list order wins), a merged list, each value form (=, ==, &, !=, !&), a
domain list keyed on $sender_address_domain, a list of keys,
$dnslist_domain/_matched/_value/_text in messages, add_header and Lua's
session.vars, a DNSWL that accepts early (= and & forms), answers outside
127.0.0.0/8 ignored and logged, a DNS failure not listed (and
+defer_unknown / +include_unknown), IPv6 clients (the 32-nibble name is
asked). Then the ACL syntax: '!' before several kinds of condition,
acl = NAME (accept, deny with its message, defer, a Lua function ACL,
endless recursion bounded), verify = header_sender and
header_names_ascii in the data ACL, and $acl_verify_message."""
import os
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, TOP, scratch_dir  # noqa: E402

tap = TAP()
DNSMASQ_SH = os.path.join(TOP, "test-suite/lib/dnsmasq.sh")
ZONE = os.path.join(TOP, "test-suite/zones/dnsbl.zone.conf")
dns_dir = scratch_dir("dnsbl-dns")
port = subprocess.run(["bash", DNSMASQ_SH, "start", dns_dir],
                      env=dict(os.environ, DNSMASQ_CONF=ZONE),
                      capture_output=True, text=True, timeout=30)
if port.returncode != 0:
    tap.ok(False, "private dnsmasq starts", port.stderr)
    tap.done()
DNS = "127.0.0.1:%s" % port.stdout.strip()

ACLS = r'''
acl "is_one" {
  accept { hosts = "127.0.0.1" },
  deny   { message = "not client one ($sender_host_address)" },
}
acl "defers" { defer { message = "called defer" } }
acl "loop" { accept { acl = "loop" } }
acl "lua_named" (function(s)
  if s.client_ip == "127.0.0.1" then return accept {} end
  return deny { message = "lua named says no" }
end)

acl "connect" {
  drop   { dnslists = "bl.test=127.0.0.7", message = "connect: $dnslist_domain" },
  accept {},
}

acl "rcpt" {
  accept { local_parts = "^wlmask$", dnslists = "wl.test&0.0.10.2" },
  deny   { local_parts = "^wlmask$", message = "wlmask: not whitelisted" },
  accept { local_parts = "^wl$", dnslists = "wl.test=127.0.10.2,127.0.10.3" },
  deny   { local_parts = "^wl$", dnslists = "bl.test", message = "wl: blocked" },
  deny   { local_parts = "^multi$",
           dnslists = "nx.test : bl.test=127.0.0.3 : bl2.test",
           message = "multi $dnslist_domain $dnslist_value" },
  deny   { local_parts = "^merged$", dnslists = "sbl.test,zen.test=127.0.0.2",
           message = "merged $dnslist_domain $dnslist_text" },
  deny   { local_parts = "^eq$", dnslists = "bl.test=127.0.0.2,127.0.0.3",
           message = "eq $dnslist_value" },
  deny   { local_parts = "^all$", dnslists = "bl.test==127.0.0.2",
           message = "all $dnslist_value" },
  deny   { local_parts = "^mask$", dnslists = "bl.test&0.0.0.4",
           message = "mask $dnslist_value" },
  deny   { local_parts = "^neq$", dnslists = "bl.test!=127.0.0.2",
           message = "neq $dnslist_value" },
  deny   { local_parts = "^nmask$", dnslists = "bl.test!&0.0.0.4",
           message = "nmask $dnslist_value" },
  deny   { local_parts = "^text$", dnslists = "bl.test",
           message = "text $dnslist_domain|$dnslist_matched|$dnslist_value|$dnslist_text|end" },
  deny   { local_parts = "^bad$", dnslists = "bad.test", message = "bad listed" },
  deny   { local_parts = "^fail$", dnslists = "fail.test",
           message = "fail listed" },
  deny   { local_parts = "^faildefer$",
           dnslists = "+defer_unknown : fail.test", message = "faildefer" },
  warn   { local_parts = "^warndefer$",
           dnslists = "+defer_unknown : fail.test",
           add_header = "X-Warn-Listed: yes" },
  accept { local_parts = "^warndefer$" },
  deny   { local_parts = "^failinc$",
           dnslists = "+include_unknown : fail.test",
           message = "failinc listed $dnslist_domain" },
  deny   { local_parts = "^dbl$", dnslists = "dbl.test/$sender_address_domain",
           message = "dbl $dnslist_matched: $dnslist_text" },
  deny   { local_parts = "^luavars$", dnslists = "bl.test",
           condition = function(s)
             return s.vars.dnslist_domain == "bl.test"
                    and s.vars.dnslist_matched == s.client_ip
                    and s.vars.dnslist_text:find("^listed: see") ~= nil
           end,
           message = "lua sees the dnslist variables" },
  deny   { local_parts = "^keys$",
           dnslists = "bl.test/<; 192.0.2.9 ;$sender_host_address",
           message = "keys $dnslist_matched" },
  deny   { local_parts = "^negdns$", ["!dnslists"] = "bl.test",
           message = "negdns: not listed" },
  deny   { local_parts = "^neghosts$", ["!hosts"] = "127.0.0.1",
           message = "neghosts: not client one" },
  deny   { local_parts = "^negsenders$", ["!senders"] = "*@good.example",
           message = "negsenders" },
  deny   { local_parts = "^negcond$", ["!condition"] = "$acl_c_unset",
           message = "negcond" },
  deny   { local_parts = "^callacl$", acl = "is_one",
           message = "callacl: one" },
  deny   { local_parts = "^negacl$", ["!acl"] = "is_one" },
  deny   { local_parts = "^acldefer$", acl = "defers" },
  deny   { local_parts = "^luaacl$", ["!acl"] = "lua_named" },
  deny   { local_parts = "^loop$", acl = "loop" },
  warn   { local_parts = "^hdr$", dnslists = "bl.test",
           add_header = "X-DNSList: $dnslist_domain $dnslist_value $dnslist_matched" },
  deny   { local_parts = "^nv_", ["!verify"] = "recipient",
           message = "no such user: $acl_verify_message" },
  deny   { local_parts = "^nr_", ["!verify"] = "recipient" },
  accept { domains = "+local_domains" },
  deny   { message = "relay not permitted" },
}

acl "data" {
  deny   { ["!verify"] = "header_names_ascii",
           message = "header names: $acl_verify_message" },
  deny   { ["!verify"] = "header_sender",
           message = "header sender: $acl_verify_message" },
  accept {},
}
'''

t = Tern(main={"dns_servers": DNS}, files={"acl/10_acls.lua": ACLS},
         name="dnsl")


def rcpt(lp, source="127.0.0.1", sender="s@client.example.org"):
    c = t.raw(source=source)
    try:
        c.cmd("EHLO client.example.org")
        c.cmd("MAIL FROM:<%s>" % sender)
        return c.cmd("RCPT TO:<%s@test.example>" % lp)
    finally:
        c.close()


def check(lp, source, code, text, name, sender="s@client.example.org"):
    """text: a part of the reply, or a tuple of parts of which one must be
    there (dnsmasq gives several records in no promised order)"""
    texts = text if isinstance(text, tuple) else (text,)
    with tap.guard(name):
        r = rcpt(lp, source, sender)
        tap.ok(r.code == code and (text is None
                                   or any(x in r.text for x in texts)), name,
               "RCPT %s from %s: got %d %r, want %d %r"
               % (lp, source, r.code, r.text, code, text))


# ---- the connect ACL
with tap.guard("connect"):
    c = t.raw(source="127.0.0.7")
    tap.ok(c.banner.code == 554 and "connect: bl.test" in c.banner.text,
           "connect ACL: drop a client listed with =127.0.0.7",
           repr(c.banner))
    c.close()
    c = t.raw(source="127.0.0.1")
    tap.ok(c.banner.code == 220, "connect ACL: a client listed with another "
           "value is greeted", repr(c.banner))
    c.close()

# ---- several lists, first listed in list order
check("multi", "127.0.0.1", 550, "multi bl2.test 127.0.0.2",
      "several lists: bl.test=127.0.0.3 does not match, bl2.test lists")
check("multi", "127.0.0.2", 550, "multi bl.test 127.0.0.3",
      "several lists: the first listing one wins (bl.test before bl2.test)")
check("multi", "127.0.0.6", 250, None, "several lists: listed nowhere")

# ---- a merged list: zen.test=127.0.0.2 first, then sbl.test for details
check("merged", "127.0.0.1", 550, "merged sbl.test sbl detail",
      "merged list matches, the detailed list lists: its domain and TXT")
check("merged", "127.0.0.2", 250, None,
      "merged list answers another value: not listed")
check("merged", "127.0.0.3", 250, None,
      "merged list matches but the detailed list does not list")
with tap.guard("merged queries"):
    with open(os.path.join(dns_dir, "dnsmasq.log"), errors="replace") as f:
        qlog = f.read()
    tap.ok("query[A] 3.0.0.127.sbl.test" in qlog
           and "query[A] 2.0.0.127.sbl.test" not in qlog,
           "the detailed list is asked only after the merged one matched")

# ---- value forms
check("eq", "127.0.0.1", 550, "eq 127.0.0.2", "=V,V matches 127.0.0.2")
check("eq", "127.0.0.2", 550, "eq 127.0.0.3", "=V,V matches 127.0.0.3")
check("eq", "127.0.0.3", 550, ("eq 127.0.0.2, 127.0.0.4",
                               "eq 127.0.0.4, 127.0.0.2"),
      "=V,V: one of two records is enough; $dnslist_value has both")
check("eq", "127.0.0.6", 250, None, "=V,V: not listed")
check("all", "127.0.0.1", 550, "all 127.0.0.2", "==V: the only record")
check("all", "127.0.0.3", 250, None, "==V: not every record is the value")
check("mask", "127.0.0.3", 550, ("mask 127.0.0.2, 127.0.0.4",
                                 "mask 127.0.0.4, 127.0.0.2"),
      "&0.0.0.4: a record has the bit")
check("mask", "127.0.0.1", 250, None, "&0.0.0.4: no record has the bit")
check("neq", "127.0.0.2", 550, "neq 127.0.0.3",
      "!=127.0.0.2: listed with another value")
check("neq", "127.0.0.1", 250, None, "!=127.0.0.2: listed with that value")
check("neq", "127.0.0.6", 250, None, "!=127.0.0.2: not listed at all")
check("nmask", "127.0.0.1", 550, "nmask 127.0.0.2",
      "!&0.0.0.4: listed without the bit")
check("nmask", "127.0.0.3", 250, None, "!&0.0.0.4: a record has the bit")

# ---- variables
check("text", "127.0.0.1", 550,
      "text bl.test|127.0.0.1|127.0.0.2|listed: see "
      "http://bl.test/lookup?127.0.0.1",
      "$dnslist_domain, _matched, _value and _text (the TXT record)")
check("text", "127.0.0.3", 550, ("text bl.test|127.0.0.3|127.0.0.2, "
                                 "127.0.0.4||end", "text bl.test|127.0.0.3|"
                                 "127.0.0.4, 127.0.0.2||end"),
      "no TXT record: $dnslist_text is empty")

# ---- DNSWL accepts early
check("wl", "127.0.0.4", 250, None,
      "DNSWL =127.0.10.2,127.0.10.3 accepts a client that bl.test lists too")
check("wl", "127.0.0.1", 550, "wl: blocked",
      "a client not in the DNSWL meets the DNSBL")
check("wlmask", "127.0.0.4", 250, None, "DNSWL &0.0.10.2 accepts")
check("wlmask", "127.0.0.1", 550, "wlmask: not whitelisted",
      "DNSWL &0.0.10.2: not listed")

# ---- answers outside 127/8, DNS failures
log_at = len(t.mainlog())
check("bad", "127.0.0.5", 250, None,
      "an answer outside 127.0.0.0/8 is not a listing")
with tap.guard("non-127 logged"):
    tap.ok(t.wait_log(r"5\.0\.0\.127\.bad\.test returned 192\.0\.2\.99, "
                      r"outside 127\.0\.0\.0/8: ignored", since=log_at)
           is not None, "the non-127 answer is logged")
check("fail", "127.0.0.1", 250, None,
      "a DNS failure (REFUSED) of a list is 'not listed', not 451")
check("faildefer", "127.0.0.1", 451, None,
      "+defer_unknown: a DNS failure defers")
check("failinc", "127.0.0.1", 550, "failinc listed fail.test",
      "+include_unknown: a DNS failure counts as listed")
log_at = len(t.mainlog())
check("warndefer", "127.0.0.1", 250, None,
      "a warn statement whose condition defers is skipped (Exim), "
      "the ACL goes on")
with tap.guard("warn deferred logged"):
    tap.ok(t.wait_log(r'Warning: ACL "warn" statement skipped: condition '
                      r'test deferred', since=log_at) is not None,
           "the skipped warn statement is logged as Exim logs it",
           t.mainlog()[log_at:][-600:])

# ---- domain list keyed on $sender_address_domain
check("dbl", "127.0.0.6", 550,
      "dbl spam.example: spam.example is a spam domain",
      "dbl.test/$sender_address_domain lists the sender's domain",
      sender="x@spam.example")
check("dbl", "127.0.0.1", 250, None,
      "dbl.test/$sender_address_domain: a clean domain passes",
      sender="x@good.example")
check("dbl", "127.0.0.1", 250, None,
      "dbl.test/$sender_address_domain: the null sender has no key",
      sender="")

check("luavars", "127.0.0.1", 550, "lua sees the dnslist variables",
      "a Lua condition after dnslists reads session.vars.dnslist_*")

# ---- several keys in one item (Exim's "/<;key;key")
check("keys", "127.0.0.2", 550, "keys 127.0.0.2",
      "a key list: the second key is listed, $dnslist_matched names it")
check("keys", "127.0.0.6", 250, None, "a key list: no key listed")

# ---- negation of several condition kinds
check("negdns", "127.0.0.6", 550, "negdns: not listed",
      "!dnslists: true for a client not listed")
check("negdns", "127.0.0.1", 250, None, "!dnslists: false for a listed one")
check("neghosts", "127.0.0.2", 550, "neghosts: not client one",
      "!hosts: true for another host")
check("neghosts", "127.0.0.1", 250, None, "!hosts: false for the host")
check("negsenders", "127.0.0.1", 550, "negsenders",
      "!senders: true for another sender", sender="a@bad.example")
check("negsenders", "127.0.0.1", 250, None,
      "!senders: false for the sender", sender="a@good.example")
check("negcond", "127.0.0.1", 550, "negcond",
      "!condition: an empty string is false, negated true")

# ---- acl = NAME
check("callacl", "127.0.0.1", 550, "callacl: one",
      "acl = NAME: the called ACL accepts: true")
check("callacl", "127.0.0.2", 250, None,
      "acl = NAME: the called ACL denies: false")
check("negacl", "127.0.0.2", 550, "not client one (127.0.0.2)",
      "!acl = NAME: the called ACL's deny message becomes the reply")
check("negacl", "127.0.0.1", 250, None,
      "!acl = NAME: the called ACL accepts: false")
check("luaacl", "127.0.0.2", 550, "lua named says no",
      "!acl = NAME where NAME is a Lua function ACL")
check("luaacl", "127.0.0.1", 250, None,
      "acl = NAME, a Lua function ACL that accepts")
check("acldefer", "127.0.0.1", 451, None,
      "acl = NAME: the called ACL defers: the condition defers")
log_at = len(t.paniclog())
check("loop", "127.0.0.1", 451, None,
      "acl = NAME calling itself: stopped at depth 20, deferred")
with tap.guard("loop panic"):
    tap.like(t.paniclog()[log_at:], r"acl = loop: ACLs nested more than 20 "
             "deep", "the panic log says why")

# ---- !verify = recipient, $acl_verify_message
with tap.guard("verify message"):
    r1 = rcpt("nv_nobody")
    tap.ok(r1.code == 550 and r1.text.count("no such user: ") == 1
           and len(r1.text.split("no such user: ")[1]) > 3,
           "!verify = recipient with $acl_verify_message in the message",
           repr(r1))
    why = r1.text.split("no such user: ")[1].replace("nv_nobody",
                                                      "nr_nobody")
    r2 = rcpt("nr_nobody")
    tap.ok(r2.code == 550 and why in r2.text,
           "deny !verify = recipient without a message answers with the "
           "verify failure", "%r / %r" % (r2, why))
check("alice", "127.0.0.1", 250, None,
      "an existing user passes !verify = recipient statements")


# ---- data ACL: add_header, header_sender, header_names_ascii
def send(rc, headers, source="127.0.0.1"):
    c = t.raw(source=source)
    try:
        c.cmd("EHLO client.example.org")
        c.cmd("MAIL FROM:<s@client.example.org>")
        r = c.cmd("RCPT TO:<%s@test.example>" % rc)
        if r.code != 250:
            return r
        c.cmd("DATA")
        c.send(headers.encode("latin-1") + b"\r\nbody\r\n.\r\n")
        return c.reply()
    finally:
        c.close()


with tap.guard("data"):
    n0 = len(t.spool_messages())
    r = send("hdr", "From: alice@test.example\r\nSubject: h\r\n")
    tap.ok(r.code == 250, "a message with a good From: is accepted", repr(r))
    msgs = t.spool_messages()
    tap.ok(len(msgs) == n0 + 1 and "\r\nX-DNSList: bl.test 127.0.0.2 "
           "127.0.0.1\r\n" in msgs[-1].headers(),
        "add_header with $dnslist_* from the rcpt ACL reaches the message",
        repr(msgs[-1].headers() if msgs else None))
    r = send("alice", "From: nobody@test.example\r\nSubject: h\r\n")
    tap.ok(r.code == 550 and "header sender: " in r.text,
           "verify = header_sender: an unknown From: address fails", repr(r))
    r = send("alice", "From: nobody@test.example\r\nReply-To: "
             "Bob <bob@test.example>\r\nSubject: h\r\n")
    tap.ok(r.code == 250, "verify = header_sender: one good address (Reply-"
           "To:) is enough", repr(r))
    r = send("alice", "Subject: no sender\r\n")
    tap.ok(r.code == 550 and "no valid sender" in r.text,
           "verify = header_sender: no Sender/Reply-To/From fails", repr(r))
    r = send("alice", "From: alice@test.example\r\nX-Caf\xe9: 1\r\n")
    tap.ok(r.code == 550 and "header names: a header name is not printable "
           "ASCII" in r.text, "verify = header_names_ascii: an 8-bit name "
           "fails, $acl_verify_message says why", repr(r))

# ---- tern -bh: IPv6 and IPv4 clients from other addresses
SESSION = ("EHLO client.example.org\r\nMAIL FROM:<s@client.example.org>\r\n"
           "RCPT TO:<%s@test.example>\r\nQUIT\r\n")
NIBBLES = ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
           "8.b.d.0.1.0.0.2.bl.test")
with tap.guard("-bh IPv6"):
    p = t.run("-bh", "2001:db8::1", input=SESSION % "text")
    out, err = p.stdout.decode(), p.stderr.decode()
    tap.like(out, r"(?m)^550.*text bl\.test\|2001:db8::1\|127\.0\.0\.2\|"
             r"v6 client listed", "-bh 2001:db8::1: listed with its TXT")
    tap.ok("DNS list check: %s: 127.0.0.2" % NIBBLES in err,
           "-bh traces the 32-nibble query name", err[-1200:])
    with open(os.path.join(dns_dir, "dnsmasq.log"), errors="replace") as f:
        tap.ok("query[A] %s" % NIBBLES in f.read(),
               "the DNS server was asked the reversed-nibble name")
with tap.guard("-bh IPv4"):
    p = t.run("-bh", "192.0.2.1", input=SESSION % "multi")
    tap.like(p.stdout.decode(), r"(?m)^550.*multi bl\.test 127\.0\.0\.3",
             "-bh 192.0.2.1: listed in bl.test")
    tap.ok("DNS list check: 1.2.0.192.bl.test: 127.0.0.3"
           in p.stderr.decode(), "-bh traces 1.2.0.192.bl.test",
           p.stderr.decode()[-800:])
    p = t.run("-bh", "192.0.2.2", input=SESSION % "wlmask")
    tap.like(p.stdout.decode(), r"(?m)^250 ", "-bh 192.0.2.2: the DNSWL "
             "&0.0.10.2 accepts 127.0.10.3")

t.stop()
subprocess.run(["bash", DNSMASQ_SH, "stop", dns_dir], timeout=30)
tap.done()
