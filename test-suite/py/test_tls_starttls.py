#!/usr/bin/env python3
"""test_tls_starttls - STARTTLS (RFC 3207) and implicit TLS in the tern
daemon: advertisement, verification against a test CA, the state reset
after the handshake, the pipelining injection of CVE-2011-0411, STARTTLS
twice, a tls_on_connect_ports port, tls_min_protocol, the X= and P= log
fields, the Received: header, and a bad certificate path."""
import os
import re
import ssl
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import (Tap, Tern, Raw, make_certs, client_ctx,  # noqa: E402
                           crypt_hash, lua, send_message, free_port,
                           skip_extra_greeting)

tap = Tap()
MSG = "Subject: tls test\r\nFrom: a@client.example.org\r\n\r\nover TLS\r\n"

# -- setup: a CA, a server certificate, a daemon with STARTTLS on one port
# and implicit TLS on another, and AUTH configured (advertised only in TLS)
t = Tern("tls", workers=1)
certs = make_certs(t.path("certs"))
with open(t.path("passwd"), "w") as f:
    f.write("alice: %s\n" % crypt_hash("secret", "6"))
tls_port = t.port
implicit_port = free_port()
t.ports = [tls_port, implicit_port]
t.main.update(tls_certificate=certs["cert"], tls_privatekey=certs["key"],
              tls_on_connect_ports=[implicit_port],
              auth_passwords="lsearch;" + t.path("passwd"))
t.write("main/00_main.lua", "main " + lua(t.main) + "\n")
# 127.0.0.2 is exempt from the synchronization checks (test 5); 127.0.0.3
# is greeted after a second, so its early input is there in time (7c)
t.write("acl/10_connect.lua", 'acl "connect" {\n'
        '  accept { hosts = "127.0.0.2", control = "no_enforce_sync" },\n'
        '  accept { hosts = "127.0.0.3", delay = "1s" },\n'
        '  accept {},\n}\n')
t.start()
ca_ctx = client_ctx(certs["ca"])


def ehlo_keywords(text):
    return [ln.split()[0].upper() for ln in text.split("\n")[1:] if ln]


# 1. plain EHLO: STARTTLS advertised, AUTH not (no TLS yet)
with tap.guard("plain EHLO"):
    c = t.raw()
    code, text = c.cmd("EHLO client.example.org")
    kw = ehlo_keywords(text)
    tap.ok(code == 250 and "STARTTLS" in kw, "EHLO advertises STARTTLS",
           text)
    tap.ok("AUTH" not in kw, "AUTH is not advertised before TLS", text)
    c.cmd("QUIT")
    c.close()

# 2. smtplib starttls() verifying against the test CA, then a message
with tap.guard("smtplib starttls"):
    s = t.smtp()
    s.ehlo()
    err = None
    try:
        code, _ = s.starttls(context=ca_ctx)
    except Exception as e:             # noqa: BLE001
        code, err = None, e
    tap.ok(code == 220 and err is None,
           "smtplib starttls() with verification against the test CA",
           "code %r, error %r" % (code, err))
    if err is None:
        tap.comment("negotiated %s %s" % (s.sock.version(), s.sock.cipher()))
        code, text = s.ehlo()
        kw = ehlo_keywords(text.decode())
        tap.ok("STARTTLS" not in kw, "STARTTLS not advertised inside TLS",
               text)
        tap.ok("AUTH" in kw and "PLAIN" in text.decode().upper(),
               "AUTH advertised after STARTTLS", text)
        refused = s.sendmail("sender@client.example.org",
                             ["alice@example.com"], MSG)
        tap.ok(refused == {}, "message accepted over STARTTLS")
        s.quit()
    else:
        for n in ("STARTTLS not advertised inside TLS",
                  "AUTH advertised after STARTTLS",
                  "message accepted over STARTTLS"):
            tap.ok(False, n, "no TLS session")

# 3. the arrival log line and the spool file of that message
with tap.guard("log and Received"):
    m = t.wait_log("main", r"<= sender@client\.example\.org .*", 5)
    line = m.group(0) if m else ""
    tap.like(line, r" P=esmtps ", "arrival log line has P=esmtps")
    tap.like(line, r" X=TLS1\.[23]:[A-Za-z0-9_-]+:\d+ ",
             "arrival log line has X=TLS1.x:CIPHER:bits")
    msgs = [r for r in t.spool_messages().values()
            if r["sender"] == "sender@client.example.org"]
    rec = msgs[0] if msgs else {"data": b"", "tls-cipher": "",
                                "protocol": ""}
    rcv = re.match(rb"Received:.*?\r\n(?![ \t])", rec["data"], re.S)
    rcv = rcv.group(0).decode() if rcv else ""
    tap.ok(re.search(r"with esmtps", rcv) and "TLS" in rcv,
           "Received: header says esmtps and mentions TLS", rcv)
    tap.ok(rec["protocol"] == "esmtps" and rec["tls-cipher"].startswith("TLS"),
           "spool envelope has protocol esmtps and the cipher",
           "protocol %r tls-cipher %r" % (rec["protocol"], rec["tls-cipher"]))

# 4. after STARTTLS the state is reset: MAIL needs a new EHLO
with tap.guard("state reset"):
    c = t.raw()
    c.cmd("EHLO client.example.org")
    code, _ = c.cmd("STARTTLS")
    c.starttls(ca_ctx)
    code, text = c.cmd("MAIL FROM:<a@client.example.org>")
    tap.ok(code == 503, "MAIL right after STARTTLS (no new EHLO) gets 503",
           "got %d %s" % (code, text))
    code, text = c.cmd("EHLO client.example.org")
    tap.ok(code == 250, "EHLO after STARTTLS works", text)
    code, text = c.cmd("STARTTLS")
    tap.ok(code == 503, "STARTTLS twice gets 503", "got %d %s" % (code, text))
    c.cmd("QUIT")
    c.close()

# 5. CVE-2011-0411: "STARTTLS\r\nMAIL FROM:<x@y>\r\n" in one write; the
# MAIL must never be executed inside TLS. With smtp_enforce_sync (the
# default) STARTTLS must be the last command of its packet: 554, closed.
with tap.guard("STARTTLS pipelining injection, smtp_enforce_sync"):
    c = t.raw()
    c.cmd("EHLO client.example.org")
    c.send(b"STARTTLS\r\nMAIL FROM:<x@y.example>\r\n")
    code, text = c.reply()
    tap.ok(code == 554 and "synchronization error" in text,
           "pipelined STARTTLS: 554 SMTP synchronization error, no TLS",
           "got %d %s" % (code, text))
    try:
        c.reply()
        closed = False
    except (EOFError, OSError):
        closed = True
    tap.ok(closed, "and the connection is closed")
    c.close()

# ... and where the check is off (control = no_enforce_sync), the
# pipelined plain text is discarded
with tap.guard("STARTTLS pipelining injection"):
    c = t.raw(source="127.0.0.2")
    c.cmd("EHLO client.example.org")
    c.send(b"STARTTLS\r\nMAIL FROM:<x@y.example>\r\n")
    code, text = c.reply()
    tap.ok(code == 220, "pipelined STARTTLS answered 220 (nothing else "
           "before the handshake)", "got %d %s" % (code, text))
    c.starttls(ca_ctx)
    code, text = c.cmd("EHLO client.example.org")
    tap.ok(code == 250 and "Hello" in text,
           "first reply inside TLS is the EHLO reply (no injected MAIL "
           "reply)", "got %d %s" % (code, text))
    code, text = c.cmd("RCPT TO:<alice@example.com>")
    tap.ok(code == 503, "RCPT inside TLS gets 503: the pipelined MAIL was "
           "not executed", "got %d %s" % (code, text))
    c.cmd("QUIT")
    c.close()

# 6. the worker survived all of the above
with tap.guard("no worker crash"):
    time.sleep(0.3)
    died = re.findall(r".*worker \d+ (?:killed by signal|exited).*",
                      t.mainlog())
    tap.ok(not died, "no SMTP worker died during the STARTTLS sessions",
           "\n".join(died))

# 7. implicit TLS on a tls_on_connect_ports port (465 style)
with tap.guard("implicit TLS"):
    c = Raw(implicit_port, tls_ctx=ca_ctx, server_hostname="localhost")
    code, text = c.reply()
    tap.ok(code == 220, "tls_on_connect port: 220 greeting inside TLS",
           "got %d %s" % (code, text))
    tap.comment("implicit TLS: %s %s" % (c.sock.version(), c.sock.cipher()))
    skip_extra_greeting(c)      # a duplicate 220 is checked in 7b
    replies = send_message(c, "implicit@client.example.org",
                           ["alice@example.com"], MSG)
    kw = ehlo_keywords(replies[0][1])
    tap.ok("STARTTLS" not in kw, "no STARTTLS offered on the implicit TLS "
           "port", replies[0][1])
    tap.ok(replies[-1][0] == 250, "message accepted on the implicit TLS port",
           repr(replies))
    c.cmd("QUIT")
    c.close()
    m = t.wait_log("main", r"<= implicit@client\.example\.org .*", 5)
    tap.like(m.group(0) if m else "", r" P=esmtps X=TLS",
             "implicit TLS arrival logged with P=esmtps X=TLS...")

# 7c. an early talker inside implicit TLS: the input is read through TLS,
# answered 554 and logged as for a plain connection
with tap.guard("implicit TLS early talker"):
    c = Raw(implicit_port, tls_ctx=ca_ctx, server_hostname="localhost",
            source="127.0.0.3")
    c.send(b"EHLO early.example\r\n")
    code, text = c.reply()
    tap.ok(code == 554 and text == "SMTP synchronization error",
           "tls_on_connect port, EHLO before the greeting: 554 inside TLS",
           "got %d %s" % (code, text))
    m = t.wait_log("main", r"(?m)SMTP protocol synchronization error \(input "
                   r"sent without waiting for greeting\): rejected "
                   r"connection from H=\[127\.0\.0\.3\]:\d+ "
                   r'input="EHLO early\.example\\r\\n"$', 5)
    tap.ok(m is not None, "mainlog: the early talker line with the "
           "decrypted input", t.mainlog()[-600:])
    c.close()

# 7b. exactly one greeting on the implicit TLS port (a second 220 would
# answer the client's EHLO and shift every later reply)
with tap.guard("one greeting"):
    extra = []
    for i in range(10):
        c = Raw(implicit_port, tls_ctx=ca_ctx, server_hostname="localhost")
        first = c.reply()
        c.sock.settimeout(0.4)
        try:
            more = c.sock.recv(4096)
        except (OSError, ssl.SSLError):
            more = b""
        if more:
            extra.append((first, more))
        c.close()
    tap.ok(not extra, "tls_on_connect port: exactly one 220 greeting "
           "(10 connections)", "extra data after the greeting: %r" % extra)

# 8. a plain-text client on the implicit TLS port gets no SMTP greeting
with tap.guard("plain client on the TLS port"):
    c = Raw(implicit_port, timeout=3)
    try:
        c.send(b"EHLO plain.example\r\n")
        got = c.sock.recv(100)
    except OSError:
        got = b""
    tap.ok(not got.startswith(b"220") and not got.startswith(b"250"),
           "a plain client on the implicit TLS port is not served in clear",
           repr(got))
    c.close()

t.stop()

# 9. tls_min_protocol = "TLSv1.3" refuses a TLSv1.2-only client
with tap.guard("tls_min_protocol"):
    t3 = Tern("tls13")
    t3.main.update(tls_certificate=certs["cert"], tls_privatekey=certs["key"],
                   tls_min_protocol="TLSv1.3")
    t3.write("main/00_main.lua", "main " + lua(t3.main) + "\n")
    t3.start()
    c = t3.raw()
    c.cmd("EHLO client.example.org")
    code, _ = c.cmd("STARTTLS")
    err = None
    try:
        c.starttls(client_ctx(certs["ca"], max_version=ssl.TLSVersion.TLSv1_2))
    except (ssl.SSLError, OSError) as e:
        err = e
    tap.ok(code == 220 and err is not None,
           "tls_min_protocol TLSv1.3: a TLSv1.2-only client's handshake fails",
           "STARTTLS %r, handshake error %r" % (code, err))
    c.close()
    c = t3.raw()
    c.cmd("EHLO client.example.org")
    c.cmd("STARTTLS")
    err = None
    try:
        c.starttls(client_ctx(certs["ca"]))
        ver = c.sock.version()
    except (ssl.SSLError, OSError) as e:
        err, ver = e, None
    tap.ok(err is None and ver == "TLSv1.3",
           "tls_min_protocol TLSv1.3: a TLSv1.3 client gets TLSv1.3",
           "version %r error %r" % (ver, err))
    c.close()
    tap.ok(t3.wait_log("main", r"TLS error on connection from \[127\.0\.0\.1\]",
                       3), "the failed handshake is logged",
           t3.mainlog()[-1500:])
    t3.stop()

# 10. a bad certificate path: tern must say so clearly (paniclog naming the
# file) and either refuse to start or serve without STARTTLS
with tap.guard("bad certificate"):
    tb = Tern("tlsbad")
    bad = tb.path("no-such-cert.pem")
    tb.main.update(tls_certificate=bad, tls_privatekey=bad)
    tb.write("main/00_main.lua", "main " + lua(tb.main) + "\n")
    started = True
    try:
        tb.start()
    except RuntimeError as e:
        started = False
        tap.comment("tern refused to start: %s" % e)
    if started:
        c = tb.raw()
        code, text = c.cmd("EHLO client.example.org")
        tap.ok(code == 250 and "STARTTLS" not in ehlo_keywords(text),
               "bad certificate: the daemon serves without STARTTLS", text)
        code, text = c.cmd("STARTTLS")
        tap.ok(code in (454, 503), "bad certificate: STARTTLS refused (454/503)",
               "got %d %s" % (code, text))
        replies = send_message(c, "nocert@client.example.org",
                               ["alice@example.com"], MSG)
        tap.ok(replies[-1][0] == 250, "bad certificate: mail still accepted "
               "in clear", repr(replies))
        c.close()
        m = tb.wait_log("panic", r".*no-such-cert\.pem.*", 3)
        tap.ok(m is not None, "bad certificate: paniclog names the file",
               "paniclog: %r" % tb.paniclog())
        if m:
            tap.comment("paniclog: " + m.group(0))
        tb.stop()
    else:
        out = tb.daemon_output() + tb.paniclog()
        tap.ok("no-such-cert.pem" in out,
               "bad certificate: the start-up error names the file", out)

tap.done()
