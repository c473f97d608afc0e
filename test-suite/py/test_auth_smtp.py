#!/usr/bin/env python3
"""test_auth_smtp - SMTP AUTH (RFC 4954) in the tern daemon: advertisement,
PLAIN and LOGIN against auth_passwords ($6$ SHA-512 and $y$ yescrypt
hashes in an lsearch file) and against a Lua auth_check function, the
failure delay and auth_failure_max, the protocol errors (503, 504, 501),
relaying for authenticated clients, the A= and P= log fields, the
rejectlog line, and AUTH under TLS (P=esmtpsa)."""
import base64
import os
import re
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import fail2ban_matched  # noqa: E402
from ternlib_extra import (Tap, Tern, Raw, make_certs, client_ctx,  # noqa: E402
                           crypt_hash, lua, send_message, free_port,
                           reply_id, LuaCode, skip_extra_greeting)

tap = Tap()
MSG = b"Subject: auth test\r\n\r\nauthenticated\r\n"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain(user, pw, authz=""):
    return b64("%s\0%s\0%s" % (authz, user, pw))


def ehlo_keywords(text):
    return [ln.split()[0].upper() for ln in text.split("\n")[1:] if ln]


# -- daemon A: passwords configured, no auth_advertise_hosts, no TLS
ta = Tern("authA")
with open(ta.path("passwd"), "w") as f:
    f.write("alice: %s\n" % crypt_hash("secret", "6"))
ta.main["auth_passwords"] = "lsearch;" + ta.path("passwd")
ta.write("main/00_main.lua", "main " + lua(ta.main) + "\n")
ta.start()
with tap.guard("no AUTH without TLS"):
    c = ta.raw()
    code, text = c.cmd("EHLO client.example.org")
    tap.ok(code == 250 and "AUTH" not in ehlo_keywords(text),
           "AUTH not advertised without TLS (no auth_advertise_hosts)", text)
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "secret"))
    tap.ok(code == 503, "AUTH when not advertised gets 503",
           "got %d %s" % (code, text))
    c.close()
ta.stop()

# -- daemon B: auth_advertise_hosts = 127.0.0.1, $6$ and $y$ users, an
# implicit-TLS port for the esmtpsa case, no relay_from_hosts
tb = Tern("authB")
certs = make_certs(tb.path("certs"))
tls_port = free_port()
tb.ports = [tb.port, tls_port]
h6 = crypt_hash("secret", "6")
hy = crypt_hash("yes-pw", "y")
with open(tb.path("passwd"), "w") as f:
    f.write("alice: %s\nbob: %s\n" % (h6, hy))
tap.ok(h6.startswith("$6$") and hy.startswith("$y$"),
       "made a $6$ and a $y$ hash", "%s %s" % (h6, hy))
tb.main.update(auth_passwords="lsearch;" + tb.path("passwd"),
               auth_advertise_hosts="127.0.0.1", auth_failure_max=3,
               tls_certificate=certs["cert"], tls_privatekey=certs["key"],
               tls_on_connect_ports=[tls_port])
tb.write("main/00_main.lua", "main " + lua(tb.main) + "\n")
tb.start()

with tap.guard("advertised to auth_advertise_hosts"):
    c = tb.raw()
    code, text = c.cmd("EHLO client.example.org")
    auth = [ln for ln in text.split("\n") if ln.upper().startswith("AUTH")]
    tap.ok(auth and "PLAIN" in auth[0] and "LOGIN" in auth[0],
           "AUTH PLAIN LOGIN advertised to a host in auth_advertise_hosts",
           text)
    c.close()

with tap.guard("relay before/after AUTH, PLAIN"):
    c = tb.raw()
    c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<alice@client.example.org>")
    code, text = c.cmd("RCPT TO:<someone@a-only.test>")
    tap.ok(code == 550, "before AUTH a remote RCPT is refused (no relay)",
           "got %d %s" % (code, text))
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "secret"))
    tap.ok(code == 503, "AUTH during a mail transaction gets 503",
           "got %d %s" % (code, text))
    c.cmd("RSET")
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "secret"))
    tap.ok(code == 235 and text.startswith("2.7.0"),
           "AUTH PLAIN with a $6$ password: 235 2.7.0",
           "got %d %s" % (code, text))
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "secret"))
    tap.ok(code == 503, "AUTH twice gets 503", "got %d %s" % (code, text))
    c.cmd("MAIL FROM:<alice@client.example.org>")
    code, text = c.cmd("RCPT TO:<someone@a-only.test>")
    tap.ok(code == 250, "after AUTH a remote RCPT is accepted (relay)",
           "got %d %s" % (code, text))
    code, _ = c.cmd("DATA")
    c.send(MSG + b".\r\n")
    code, text = c.reply()
    tap.ok(code == 250, "authenticated message accepted",
           "got %d %s" % (code, text))
    mid = reply_id(text)
    c.cmd("QUIT")
    c.close()
    m = tb.wait_log("main", r".*<= alice@client\.example\.org .*", 5)
    line = m.group(0) if m else ""
    tap.like(line, r" A=plain:alice ", "arrival log has A=plain:alice")
    tap.like(line, r" P=esmtpa ", "arrival log has P=esmtpa")
    rec = tb.read_spool(mid) if mid else {}
    tap.ok(rec.get("auth-id") == "alice" and rec.get("protocol") == "esmtpa",
           "spool envelope has auth-id alice, protocol esmtpa",
           "%r %r" % (rec.get("auth-id"), rec.get("protocol")))

with tap.guard("PLAIN without initial response"):
    c = tb.raw()
    c.cmd("EHLO client.example.org")
    code, text = c.cmd("AUTH PLAIN")
    tap.ok(code == 334, "AUTH PLAIN without initial response gets 334",
           "got %d %s" % (code, text))
    code, text = c.cmd(plain("alice", "secret"))
    tap.ok(code == 235, "... and the response line authenticates",
           "got %d %s" % (code, text))
    c.close()

with tap.guard("LOGIN"):
    c = tb.raw()
    c.cmd("EHLO client.example.org")
    code1, t1 = c.cmd("AUTH LOGIN")
    code2, t2 = c.cmd(b64("bob"))
    code3, t3 = c.cmd(b64("yes-pw"))
    tap.ok(code1 == 334 and base64.b64decode(t1).lower().startswith(b"user")
           and code2 == 334
           and base64.b64decode(t2).lower().startswith(b"pass")
           and code3 == 235,
           "AUTH LOGIN with a $y$ (yescrypt) password: 334 Username, "
           "334 Password, 235", "%r" % [(code1, t1), (code2, t2), (code3, t3)])
    r = send_message(c, "bob@client.example.org", ["x@a-only.test"], MSG)
    tap.ok(r[-1][0] == 250, "LOGIN-authenticated relay accepted", repr(r))
    c.close()
    m = tb.wait_log("main", r".*<= bob@client\.example\.org .*", 5)
    # Exim's A= names the authenticator that succeeded: login, not plain
    tap.like(m.group(0) if m else "", r" A=login:bob ",
             "arrival log after AUTH LOGIN has A=login:bob")

with tap.guard("504, 501, bad base64"):
    c = tb.raw()
    c.cmd("EHLO client.example.org")
    code, text = c.cmd("AUTH CRAM-MD5")
    tap.ok(code == 504, "unknown mechanism gets 504",
           "got %d %s" % (code, text))
    code, _ = c.cmd("AUTH LOGIN")
    code, text = c.cmd("*")
    tap.ok(code == 501, "cancelling with \"*\" gets 501",
           "got %d %s" % (code, text))
    code, text = c.cmd("AUTH PLAIN !!!notbase64")
    tap.ok(code == 501, "invalid base64 gets 501", "got %d %s" % (code, text))
    code, text = c.cmd("NOOP")
    tap.ok(code == 250, "session usable after those errors",
           "got %d %s" % (code, text))
    c.close()

with tap.guard("failures, delay, auth_failure_max"):
    c = tb.raw(timeout=30)
    c.cmd("EHLO client.example.org")
    times, replies = [], []
    for pw in ("wrong1", "wrong2"):
        t0 = time.time()
        replies.append(c.cmd("AUTH PLAIN " + plain("alice", pw)))
        times.append(time.time() - t0)
    tap.ok(replies[0][0] == 535 and replies[0][1].startswith("5.7.8"),
           "wrong password gets 535 5.7.8", repr(replies[0]))
    tap.ok(times[1] >= 0.9 and times[1] > times[0],
           "the second failure is answered after a longer delay (>= 0.9 s)",
           "delays %.2f s, %.2f s" % tuple(times))
    tap.comment("failure delays: %.2f s, %.2f s" % tuple(times))
    t0 = time.time()
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "wrong3"))
    extra = None
    try:
        extra = c.reply()
    except (EOFError, OSError):
        pass
    tap.ok(code == 535 and extra is not None and extra[0] == 421,
           "after auth_failure_max (3) failures: 535 then 421",
           "got %r then %r" % ((code, text), extra))
    tap.ok(c.closed_by_peer(5), "... and the connection is closed")
    c.close()
    m = tb.wait_log("reject", r".*authenticator failed for.*alice.*", 3)
    tap.ok(m is not None, "rejectlog has the \"authenticator failed\" line",
           tb.rejectlog()[-1500:])
    tap.ok("wrong1" not in tb.mainlog() + tb.rejectlog() + tb.paniclog(),
           "the wrong password is not logged")
    fails = [ln for ln in tb.mainlog().splitlines()
             if "authenticator failed for" in ln]
    tap.ok(len(fails) == 3 and all(
        re.search(r" plain authenticator failed for \(\S+\) "
                  r"\[127\.0\.0\.1\]:\d+: 535 Incorrect authentication "
                  r"data \(set_id=alice\)$", ln) for ln in fails),
           "mainlog: Exim's \"plain authenticator failed for (helo) "
           "[ip]:port: 535 Incorrect authentication data (set_id=alice)\"",
           "\n".join(fails))
    matched = fail2ban_matched(os.path.join(tb.logdir, "mainlog"))
    tap.ok(matched is not None and len(fails) == 3
           and all(any(f.split(" ", 2)[2] in m for m in matched)
                   for f in fails),
           "fail2ban's exim filter (fail2ban-regex) matches the 3 AUTH "
           "failures", repr(matched)[-1500:])

with tap.guard("unknown user"):
    c = tb.raw()
    c.cmd("EHLO client.example.org")
    code, text = c.cmd("AUTH PLAIN " + plain("mallory", "secret"))
    tap.ok(code == 535, "unknown user gets 535", "got %d %s" % (code, text))
    c.close()

with tap.guard("AUTH under TLS"):
    c = Raw(tls_port, tls_ctx=client_ctx(certs["ca"]),
            server_hostname="localhost")
    c.reply()
    # tern may send the 220 twice on a tls_on_connect port (checked in
    # test_tls_starttls.py); drop a duplicate so this test checks AUTH
    skip_extra_greeting(c)
    code, text = c.cmd("EHLO client.example.org")
    code, text = c.cmd("AUTH PLAIN " + plain("alice", "secret"))
    tap.ok(code == 235, "AUTH PLAIN on the implicit TLS port",
           "got %d %s" % (code, text))
    r = send_message(c, "tlsalice@client.example.org", ["x@a-only.test"], MSG)
    tap.ok(r[-1][0] == 250, "message over TLS after AUTH accepted", repr(r))
    c.close()
    m = tb.wait_log("main", r".*<= tlsalice@client\.example\.org .*", 5)
    tap.like(m.group(0) if m else "", r" P=esmtpsa .*A=plain:alice ",
             "arrival log under TLS has P=esmtpsa and A=plain:alice")
tb.stop()

# -- daemon C: auth_check as a Lua function instead of a password table
tc = Tern("authC")
tc.main.update(auth_advertise_hosts="127.0.0.1", auth_check=LuaCode(
    'function(user, pass) return user == "carol" and pass == "lua-pw" end'))
tc.write("main/00_main.lua", "main " + lua(tc.main) + "\n")
tc.start()
with tap.guard("auth_check"):
    c = tc.raw()
    code, text = c.cmd("EHLO client.example.org")
    tap.ok("AUTH" in ehlo_keywords(text),
           "AUTH advertised with auth_check alone", text)
    code, text = c.cmd("AUTH PLAIN " + plain("carol", "nope"))
    tap.ok(code == 535, "auth_check false gets 535",
           "got %d %s" % (code, text))
    code, text = c.cmd("AUTH PLAIN " + plain("carol", "lua-pw"))
    tap.ok(code == 235, "auth_check true gets 235",
           "got %d %s" % (code, text))
    r = send_message(c, "carol@client.example.org", ["x@a-only.test"], MSG)
    tap.ok(r[-1][0] == 250, "auth_check user may relay", repr(r))
    c.close()
    m = tc.wait_log("main", r".*<= carol@client\.example\.org .*", 5)
    tap.like(m.group(0) if m else "", r" P=esmtpa A=plain:carol ",
             "auth_check arrival log has A=plain:carol")
tc.stop()

tap.done()
