#!/usr/bin/env python3
"""test_acl_hooks - ACLs at every SMTP hook (connect, helo, mail, rcpt,
predata, data, quit) with every verb (accept, deny, defer, discard, drop,
require, warn) and the modifiers message, log_message, add_header,
remove_header, set (acl_m_* / acl_c_* seen by later hooks through
s.vars) and control = submission / queue_only, in the running daemon."""
import os
import re
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import Tap, Tern, reply_id  # noqa: E402

tap = Tap()

ACLS = r'''
acl "helo" {
  deny { condition = function(s) return s.helo == "evil.example" end,
         message = "go away evil helo" },
  warn { set = "acl_c_heloed = yes" },
  accept {},
}
acl "mail" {
  deny  { senders = "*@spam.example", message = "sender $sender_address refused",
          log_message = "spam sender logged" },
  defer { senders = "later@client.example.org", message = "try again later" },
  drop  { senders = "dropme@client.example.org", message = "dropped at MAIL" },
  accept {},
}
acl "rcpt" {
  drop    { local_parts = "^drop$", message = "dropping you" },
  discard { local_parts = "^discard$", log_message = "discarded rcpt" },
  defer   { local_parts = "^defer$", message = "deferred rcpt" },
  deny    { local_parts = "^deny$", message = "denied ${local_part} at ${domain}" },
  deny    { local_parts = "^logdeny$", message = "visible text",
            log_message = "secret log text" },
  require { condition = function(s) return not s.rcpt:match("^reqfail@") end,
            message = "require failed" },
  warn    { local_parts = "^warn$", log_message = "warn statement hit",
            add_header = "X-Rcpt-Warn: yes" },
  warn    { local_parts = "^setvar$", set = "acl_m_flag = from-rcpt" },
  warn    { local_parts = "^setvar$", set = "acl_m_who = $local_part via $acl_c_heloed" },
  deny    { local_parts = "^varmsg$", set = "acl_m_why = listed",
            message = "refused: $acl_m_why, heloed=$acl_c_heloed, unset=[$acl_m_none]" },
  warn    { local_parts = "^submit$", control = "submission" },
  warn    { local_parts = "^queueonly$", control = "queue_only" },
  accept  { domains = "+local_domains" },
  deny    { message = "relay not permitted" },
}
acl "predata" {
  deny { senders = "nodata@client.example.org", message = "no DATA for you" },
  accept {},
}
acl "data" {
  deny    { regex = "^Subject:.*VIAGRA", message = "spam content",
            log_message = "spam content logged" },
  discard { regex = "^X-Discard: yes" },
  defer   { regex = "^X-Defer: yes", message = "data deferred" },
  warn    { add_header = "X-Data-Acl: seen" },
  warn    { remove_header = "X-Remove-Me" },
  warn    { condition = function(s) return s.vars.acl_m_flag == "from-rcpt" end,
            add_header = "X-Flag: from-rcpt" },
  warn    { condition = function(s) return s.vars.acl_c_heloed == "yes" end,
            add_header = "X-Heloed: yes" },
  warn    { add_header = "X-Vars: $acl_m_who / ${acl_c_heloed} $$5" },
  accept  {},
}
acl "quit" {
  warn { log_message = "quit acl ran" },
  accept {},
}
'''

t = Tern("aclhooks", files={"acl/10_acls.lua": ACLS})
t.start()


def new(helo="client.example.org"):
    c = t.raw()
    code, text = c.cmd("EHLO " + helo)
    return c


def body(extra=""):
    return ("From: s@client.example.org\r\nSubject: hooks\r\n%s\r\n"
            "hello\r\n" % extra).encode()


def transaction(c, sender, rcpts, data):
    """MAIL, RCPTs, DATA; returns (mail, [rcpt replies], data reply,
    final reply or None)."""
    m = c.cmd("MAIL FROM:<%s>" % sender)
    rs = [c.cmd("RCPT TO:<%s>" % r) for r in rcpts]
    d = c.cmd("DATA")
    final = None
    if d[0] == 354:
        c.send(data + b".\r\n")
        final = c.reply()
    return m, rs, d, final


def headers_of(mid):
    data = t.read_spool(mid)["data"]
    return data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")


def nspool():
    return len(t.spool_ids())


# ---- helo
with tap.guard("helo"):
    c = t.raw()
    code, text = c.cmd("EHLO evil.example")
    tap.ok(code == 550 and "go away evil helo" in text,
           "helo ACL deny with message: 550 and the text",
           "got %d %s" % (code, text))
    code, text = c.cmd("EHLO client.example.org")
    tap.ok(code == 250, "helo ACL: another name accepted",
           "got %d %s" % (code, text))
    c.close()

# ---- mail
with tap.guard("mail"):
    c = new()
    code, text = c.cmd("MAIL FROM:<x@spam.example>")
    tap.ok(code == 550, "mail ACL deny (senders = *@spam.example): 550",
           "got %d %s" % (code, text))
    tap.ok("x@spam.example" in text,
           "mail ACL message expands $sender_address to the MAIL FROM address",
           "got %d %s" % (code, text))
    tap.ok(t.wait_log("reject", r"spam sender logged", 3),
           "mail ACL log_message goes to the rejectlog", t.rejectlog()[-800:])
    c.cmd("RSET")               # independent of the result above
    code, text = c.cmd("MAIL FROM:<later@client.example.org>")
    tap.ok(code == 451 and "try again later" in text,
           "mail ACL defer: 451 and the text", "got %d %s" % (code, text))
    c.cmd("RSET")
    code, text = c.cmd("MAIL FROM:<ok@client.example.org>")
    tap.ok(code == 250, "mail ACL accept", "got %d %s" % (code, text))
    c.close()
    c = new()
    code, text = c.cmd("MAIL FROM:<dropme@client.example.org>")
    tap.ok(code // 100 == 5 and "dropped at MAIL" in text,
           "mail ACL drop: 5xx with the text", "got %d %s" % (code, text))
    tap.ok(c.closed_by_peer(3), "mail ACL drop: the connection is closed")
    c.close()

# ---- rcpt: deny, defer, require, drop
with tap.guard("rcpt"):
    c = new()
    c.cmd("MAIL FROM:<s@client.example.org>")
    code, text = c.cmd("RCPT TO:<deny@example.com>")
    tap.ok(code == 550, "rcpt ACL deny: 550", "got %d %s" % (code, text))
    tap.ok("denied deny at example.com" in text,
           "rcpt ACL message expands ${local_part} and ${domain}",
           "got %d %s" % (code, text))
    tap.ok(t.wait_log("reject", r"rejected RCPT <deny@example\.com>", 3),
           "rejectlog line names the refused recipient",
           t.rejectlog()[-800:])
    code, text = c.cmd("RCPT TO:<logdeny@example.com>")
    m = t.wait_log("reject", r".*secret log text.*", 3)
    tap.ok(code == 550 and "visible text" in text
           and "secret log text" not in text and m,
           "deny with message and log_message: client sees message, "
           "rejectlog gets log_message",
           "reply %d %s; rejectlog %s" % (code, text, t.rejectlog()[-600:]))
    code, text = c.cmd("RCPT TO:<varmsg@example.com>")
    tap.ok(code == 550
           and "refused: listed, heloed=yes, unset=[]" in text,
           "message expands $acl_m_ (set by the same statement), $acl_c_ "
           "(set at HELO) and an unset one as empty",
           "got %d %s" % (code, text))
    code, text = c.cmd("RCPT TO:<defer@example.com>")
    tap.ok(code == 451 and "deferred rcpt" in text, "rcpt ACL defer: 451",
           "got %d %s" % (code, text))
    code, text = c.cmd("RCPT TO:<reqfail@example.com>")
    tap.ok(code == 550 and "require failed" in text,
           "rcpt ACL require (condition false): 550 with its message",
           "got %d %s" % (code, text))
    code, text = c.cmd("RCPT TO:<alice@example.com>")
    tap.ok(code == 250, "rcpt ACL require (condition true) then accept: 250",
           "got %d %s" % (code, text))
    code, text = c.cmd("RCPT TO:<x@a-only.test>")
    tap.ok(code == 550 and "relay not permitted" in text,
           "rcpt ACL final deny for a remote domain",
           "got %d %s" % (code, text))
    code, text = c.cmd("RCPT TO:<drop@example.com>")
    tap.ok(code == 550 and "dropping you" in text,
           "rcpt ACL drop: 550 with the text", "got %d %s" % (code, text))
    tap.ok(c.closed_by_peer(3), "rcpt ACL drop: the connection is closed")
    c.close()

# ---- rcpt: discard
with tap.guard("rcpt discard"):
    before = nspool()
    c = new()
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["discard@example.com"], body())
    tap.ok(rs[0][0] == 250, "rcpt ACL discard: RCPT answered 250",
           repr(rs))
    tap.ok(final is not None and final[0] == 250,
           "rcpt ACL discard (only recipient): DATA answered 250",
           "DATA %r final %r" % (d, final))
    tap.ok(nspool() == before,
           "rcpt ACL discard (only recipient): nothing spooled",
           "spool went from %d to %d" % (before, nspool()))
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["discard@example.com", "alice@example.com"],
                                  body())
    mid = reply_id(final[1]) if final else None
    rc = t.read_spool(mid)["rcpts"] if mid else None
    tap.ok(rc == ["alice@example.com"],
           "rcpt ACL discard: the discarded recipient is not in the spooled "
           "envelope", "recipients %r" % (rc,))
    c.close()

# ---- rcpt warn: log_message and add_header
with tap.guard("rcpt warn"):
    c = new()
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["warn@example.com"], body())
    tap.ok(final is not None and final[0] == 250,
           "rcpt ACL warn: message accepted", repr((rs, d, final)))
    tap.ok(t.wait_log("main", r"Warning: warn statement hit", 3),
           "rcpt ACL warn log_message in the mainlog", t.mainlog()[-800:])
    mid = reply_id(final[1]) if final else None
    hdrs = headers_of(mid) if mid else ""
    tap.like(hdrs, r"(?m)^X-Rcpt-Warn: yes\r?$",
             "rcpt ACL warn add_header: header present in the spooled message")
    c.close()

# ---- predata
with tap.guard("predata"):
    c = new()
    m, rs, d, final = transaction(c, "nodata@client.example.org",
                                  ["alice@example.com"], body())
    tap.ok(d[0] // 100 == 5 and "no DATA for you" in d[1],
           "predata ACL deny: DATA refused with the text", repr(d))
    c.close()

# ---- data: deny, discard, defer, accept with headers and variables
with tap.guard("data"):
    c = new()
    before = nspool()
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["alice@example.com"],
                                  b"Subject: buy VIAGRA now\r\n\r\nx\r\n")
    tap.ok(final is not None and final[0] == 550 and "spam content" in final[1],
           "data ACL deny (regex): 550 with the text", repr(final))
    tap.ok(t.wait_log("reject", r"rejected after DATA: spam content logged", 3),
           "data ACL deny: rejectlog has the log_message",
           t.rejectlog()[-800:])
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["alice@example.com"], body("X-Discard: yes\r\n"))
    tap.ok(final is not None and final[0] == 250,
           "data ACL discard: 250", repr(final))
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["alice@example.com"], body("X-Defer: yes\r\n"))
    tap.ok(final is not None and final[0] == 451 and "data deferred" in final[1],
           "data ACL defer: 451", repr(final))
    tap.ok(nspool() == before, "data deny/discard/defer: nothing spooled",
           "spool went from %d to %d" % (before, nspool()))
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["setvar@example.com", "alice@example.com"],
                                  body("X-Remove-Me: please\r\n"))
    mid = reply_id(final[1]) if final else None
    tap.ok(mid is not None, "data ACL accept: 250 with id", repr(final))
    hdrs = headers_of(mid) if mid else ""
    rec = t.read_spool(mid) if mid else {"vars": {}}
    tap.like(hdrs, r"(?m)^X-Data-Acl: seen\r?$",
             "data ACL add_header: header in the spooled message")
    tap.ok("X-Remove-Me" not in hdrs,
           "data ACL remove_header: header gone from the spooled message", hdrs)
    tap.like(hdrs, r"(?m)^X-Flag: from-rcpt\r?$",
             "acl_m_ variable set in the rcpt ACL is seen by the data ACL "
             "(s.vars)")
    tap.like(hdrs, r"(?m)^X-Heloed: yes\r?$",
             "acl_c_ variable set in the helo ACL is seen by the data ACL")
    tap.eq(rec["vars"].get("acl_m_flag"), "from-rcpt",
           "acl_m_ variable is saved in the spool envelope")
    tap.like(hdrs, r"(?m)^X-Vars: setvar via yes / yes \$5\r?$",
             "set and add_header expand $variables ($$ is a dollar)")
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["alice@example.com"], body())
    mid = reply_id(final[1]) if final else None
    hdrs = headers_of(mid) if mid else ""
    tap.ok(mid and "X-Flag" not in hdrs and "X-Heloed: yes" in hdrs,
           "next message of the session: acl_m_ reset, acl_c_ kept", hdrs)
    code, text = c.cmd("QUIT")
    tap.ok(code == 221, "quit ACL: QUIT still answered 221",
           "got %d %s" % (code, text))
    tap.ok(t.wait_log("main", r"Warning: quit acl ran", 3),
           "quit ACL warn log_message in the mainlog", t.mainlog()[-800:])
    c.close()

# ---- control = submission, control = queue_only
with tap.guard("control"):
    c = new()
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["submit@example.com"],
                                  b"Subject: no id or date\r\n\r\nbody\r\n")
    mid = reply_id(final[1]) if final else None
    hdrs = headers_of(mid) if mid else ""
    tap.ok(re.search(r"(?mi)^Message-ID:", hdrs)
           and re.search(r"(?mi)^Date:", hdrs),
           "control = submission: Message-ID: and Date: added", hdrs)
    m, rs, d, final = transaction(c, "s@client.example.org",
                                  ["queueonly@example.com"], body())
    tap.ok(final is not None and final[0] == 250,
           "control = queue_only: message accepted (and queued)", repr(final))
    c.close()

t.stop()

# ---- connect ACL: deny, drop, defer (one daemon each)
for verb, want in (("deny", 5), ("drop", 5), ("defer", 4)):
    with tap.guard("connect " + verb):
        tc = Tern("aclconn" + verb, files={"acl/10_connect.lua":
            'acl "connect" { %s { hosts = "127.0.0.1", message = '
            '"connect %s text" } }\n' % (verb, verb)})
        tc.start()
        c = tc.raw(banner=False)
        code, text = c.reply()
        tap.ok(code // 100 == want and ("connect %s text" % verb) in text,
               "connect ACL %s: %dxx greeting with the text" % (verb, want),
               "got %d %s" % (code, text))
        tap.ok(c.closed_by_peer(3),
               "connect ACL %s: connection closed" % verb)
        c.close()
        tc.stop()

tap.done()
