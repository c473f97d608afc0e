#!/usr/bin/env python3
"""test_acl_conditions - every ACL condition in the running daemon:
hosts, domains, local_parts (regex), senders, recipients (data ACL),
authenticated, encrypted, regex, condition (string and Lua function),
verify = recipient / sender / helo / header_syntax (recipient and sender
verification run the routers: an unknown local user fails with the
routing message, a DNS temporary failure defers)."""
import base64
import os
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import (Tap, Tern, Raw, make_certs, client_ctx,  # noqa: E402
                           lua, free_port, LuaCode, skip_extra_greeting)

tap = Tap()

RCPT_ACL = r'''
acl "rcpt" {
  deny    { hosts = "192.0.2.0/24", message = "hosts: test net" },
  deny    { hosts = "127.0.0.1", local_parts = "^hostcheck$",
            message = "hosts: loopback" },
  deny    { domains = "blocked.example : *.blocked.example",
            message = "domains: blocked" },
  deny    { local_parts = "^bad[0-9]+$", message = "local_parts: regex" },
  deny    { senders = "*@spam.example", message = "senders: spam" },
  deny    { local_parts = "^condstr$", condition = "yes",
            message = "condition string" },
  deny    { local_parts = "^condstrno$", condition = "false",
            message = "condition false matched" },
  deny    { condition = function(s) return s.rcpt == "condfn@example.com" end,
            message = "condition function" },
  accept  { local_parts = "^secret$", encrypted = "*" },
  deny    { local_parts = "^secret$", message = "encrypted: needs TLS" },
  accept  { authenticated = "*" },
  accept  { local_parts = "^trap$" },
  require { verify = "recipient" },
  accept  { domains = "+local_domains" },
  deny    { message = "relay not permitted" },
}
acl "data" {
  deny    { recipients = "trap@example.com", message = "recipients: trap" },
  deny    { regex = "^Subject:.*[Vv]iagra", message = "regex: spam" },
  require { verify = "header_syntax" },
  accept  {},
}
'''

t = Tern("aclcond", files={"acl/10_acls.lua": RCPT_ACL})
certs = make_certs(t.path("certs"))
tls_port = free_port()
t.ports = [t.port, tls_port]
t.main.update(tls_certificate=certs["cert"], tls_privatekey=certs["key"],
              tls_on_connect_ports=[tls_port],
              auth_advertise_hosts="127.0.0.1",
              auth_check=LuaCode('function(u, p) return u == "u" and p == "p" end'))
t.write("main/00_main.lua", "main " + lua(t.main) + "\n")
t.start()


def rcpt(rcpt, sender="s@client.example.org", c=None):
    own = c is None
    if own:
        c = t.raw()
        c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<%s>" % sender)
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    c.cmd("RSET")
    if own:
        c.close()
    return r


def check_rcpt(addr, code, text, name, sender="s@client.example.org",
               c=None):
    got = rcpt(addr, sender, c)
    tap.ok(got[0] == code and text in got[1], name,
           "RCPT TO:<%s>: got %d %s, want %d ...%s..." % (addr, got[0],
                                                        got[1], code, text))


with tap.guard("list conditions"):
    check_rcpt("hostcheck@example.com", 550, "hosts: loopback",
               "hosts = 127.0.0.1 matches the client")
    check_rcpt("alice@example.com", 250, "",
               "hosts = 192.0.2.0/24 does not match 127.0.0.1")
    check_rcpt("x@blocked.example", 550, "domains: blocked",
               "domains matches a listed domain")
    check_rcpt("x@sub.blocked.example", 550, "domains: blocked",
               "domains matches a *.wildcard")
    check_rcpt("bad42@example.com", 550, "local_parts: regex",
               "local_parts regex ^bad[0-9]+$ matches bad42")
    check_rcpt("bad4x@example.com", 550, "unknown user",
               "local_parts regex does not match bad4x (falls through to "
               "verify)")
    check_rcpt("alice@example.com", 550, "senders: spam",
               "senders = *@spam.example matches at RCPT",
               sender="x@spam.example")
    check_rcpt("condstr@example.com", 550, "condition string",
               "condition = \"yes\" (string) is true")
    check_rcpt("condstrno@example.com", 550, "unknown user",
               "condition = \"false\" (string) is false")
    check_rcpt("condfn@example.com", 550, "condition function",
               "condition = Lua function returning true")

with tap.guard("verify = recipient"):
    check_rcpt("alice@example.com", 250, "",
               "verify = recipient: a known local user is accepted")
    check_rcpt("nobody@example.com", 550,
               "5.1.1 <nobody@example.com>: unknown user",
               "verify = recipient: unknown local user gets 550 5.1.1 "
               "<addr>: unknown user")
    check_rcpt("x@servfail.test", 451, "",
               "verify = recipient: a DNS temporary failure while routing "
               "gets 451")
    got = rcpt("x@a-only.test")
    tap.ok(got[0] == 550 and "relay not permitted" in got[1],
           "verify = recipient passes for a routable remote domain (then "
           "the relay rule)", "got %r" % (got,))

with tap.guard("authenticated"):
    c = t.raw()
    c.cmd("EHLO client.example.org")
    check_rcpt("x@mx-pref.test", 550, "relay not permitted",
               "authenticated = * false before AUTH", c=c)
    code, text = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0u\0p").decode())
    tap.ok(code == 235, "AUTH for the authenticated condition",
           "got %d %s" % (code, text))
    check_rcpt("x@mx-pref.test", 250, "",
               "authenticated = * true after AUTH", c=c)
    c.close()

with tap.guard("encrypted"):
    check_rcpt("secret@example.com", 550, "encrypted: needs TLS",
               "encrypted = * false in clear")
    c = Raw(tls_port, tls_ctx=client_ctx(certs["ca"]),
            server_hostname="localhost")
    c.reply()
    skip_extra_greeting(c)
    c.cmd("EHLO client.example.org")
    check_rcpt("secret@example.com", 250, "",
               "encrypted = * true under TLS", c=c)
    c.close()


def data(rcpts, msg, sender="alice@example.com"):
    c = t.raw()
    c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<%s>" % sender)
    for r in rcpts:
        c.cmd("RCPT TO:<%s>" % r)
    code, text = c.cmd("DATA")
    if code == 354:
        c.send(msg + b".\r\n")
        code, text = c.reply()
    c.close()
    return code, text


GOOD = b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n" \
       b"Subject: hello\r\n\r\nbody\r\n"
with tap.guard("data conditions"):
    code, text = data(["alice@example.com", "trap@example.com"], GOOD)
    tap.ok(code == 550 and "recipients: trap" in text,
           "recipients condition in the data ACL matches one recipient",
           "got %d %s" % (code, text))
    code, text = data(["alice@example.com"], GOOD)
    tap.ok(code == 250, "recipients condition does not match others; good "
           "headers pass verify = header_syntax", "got %d %s" % (code, text))
    code, text = data(["alice@example.com"],
                      GOOD.replace(b"Subject: hello", b"Subject: cheap viagra"))
    tap.ok(code == 550 and "regex: spam" in text, "regex on the message",
           "got %d %s" % (code, text))
    code, text = data(["alice@example.com"],
                      GOOD.replace(b"From: Alice <alice@example.com>",
                                   b"From: Broken <alice@@example..com"))
    tap.ok(code == 550 and "From" in text,
           "verify = header_syntax: a bad From: is denied (550 naming From:)",
           "got %d %s" % (code, text))
t.stop()

# ---- verify = helo and verify = sender: one daemon, helo ACL and mail ACL
V_ACL = r'''
acl "helo" {
  require { verify = "helo", message = "helo verify failed" },
  accept  {},
}
acl "mail" {
  require { verify = "sender" },
  accept  {},
}
'''
tv = Tern("aclverify", files={"acl/10_acls.lua": V_ACL})
tv.start()
with tap.guard("verify = helo"):
    for helo, code, name in (
            ("smarthost.test", 250, "a name whose A record is 127.0.0.1"),
            ("[127.0.0.1]", 250, "the IP literal [127.0.0.1]"),
            ("a-only.test", 550, "a name resolving to another address"),
            ("[192.0.2.1]", 550, "another IP literal"),
            ("nonexistent.test", 550, "a name that does not exist")):
        c = tv.raw()
        got = c.cmd("EHLO " + helo)
        tap.ok(got[0] == code, "verify = helo: %s -> %d" % (name, code),
               "EHLO %s: got %r" % (helo, got))
        c.close()
with tap.guard("verify = sender"):
    for sender, code, name in (
            ("alice@example.com", 250, "a known local sender"),
            ("x@a-only.test", 250, "a routable remote sender"),
            ("", 250, "the null sender"),
            ("nobody@example.com", 550, "an unknown local sender"),
            ("x@servfail.test", 451, "a sender whose domain tempfails")):
        c = tv.raw()
        c.cmd("EHLO [127.0.0.1]")
        got = c.cmd("MAIL FROM:<%s>" % sender)
        tap.ok(got[0] == code, "verify = sender: %s -> %d" % (name, code),
               "MAIL FROM:<%s>: got %r" % (sender, got))
        c.close()
tv.stop()

tap.done()
