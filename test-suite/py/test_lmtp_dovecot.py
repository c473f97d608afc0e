#!/usr/bin/env python3
"""test_lmtp_dovecot - the lmtp transport against a real Dovecot.

A private Dovecot (test-suite/py/dovecot.py) listens on a unix LMTP socket
and on 127.0.0.1; build/test-bin/tp_drive runs the transport's
deliver_local on a message for alice, bob and an unknown user. Dovecot
refuses the unknown one (550: FAIL) and stores the others (OK); the copies
are then read back over IMAP (imaplib) and POP3 (poplib) and must be the
transport's added headers plus the original message, byte for byte, after
Dovecot's own trace headers. Also: host:port with batch_max 1 (one
transaction per recipient), a socket given as a Lua function, a missing
socket (DEFER refused), and a maildir written by hand in Dovecot's mail
location is readable over IMAP (the fixture later maildir tests use).
Skipped when dovecot is not installed (tools/deps.sh installs it).
"""
import os
import re
import socket
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib  # noqa: E402
from ternlib import TAP, BIN_DIR  # noqa: E402
import dovecot  # noqa: E402

TP_DRIVE = os.path.join(BIN_DIR, "test-bin", "tp_drive")

MESSAGE = (b"From: Sender <sender@client.example>\n"
           b"To: alice@test.example, bob@test.example\n"
           b"Subject: lmtp to dovecot\n"
           b"Message-ID: <lmtp-dovecot-1@client.example>\n"
           b"\n"
           b"first line\n"
           b".a line that starts with a dot\n"
           b"..two dots\n"
           b".\n"
           b"last line\n")

RCPTS = ["alice@test.example", "bob@test.example", "nobody@test.example"]

t = TAP(timeout=120)


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def write_conf(dc):
    d = ternlib.scratch_dir("tern-lmtp-conf-")
    os.mkdir(os.path.join(d, "transport"))
    with open(os.path.join(d, "transport", "10_lmtp.lua"), "w") as f:
        f.write('main { primary_hostname = "mx.test.example" }\n'
                'transport "dc_unix" { driver = "lmtp", socket = "%s",\n'
                '  envelope_to_add = true,\n'
                '  headers_add = "X-Tern-Test: lmtp",\n'
                '  headers_remove = "Message-ID" }\n'
                'transport "dc_inet" { driver = "lmtp", host = "127.0.0.1",\n'
                '  port = %d, batch_max = 1, timeout = "10s" }\n'
                'transport "dc_lua" { driver = "lmtp",\n'
                '  socket = function(a) return "%s" end }\n'
                'transport "dc_none" { driver = "lmtp",\n'
                '  socket = "%s/no-such-socket" }\n'
                % (dc.lmtp_socket, dc.lmtp_port, dc.lmtp_socket, d))
    return d


def drive(conf, transport, rcpts, msg=MESSAGE, sender="sender@client.example"):
    """{address: (status, code, errtype, msg)} from tp_drive"""
    p = subprocess.run([TP_DRIVE, conf, transport, sender] + rcpts,
                       input=msg, capture_output=True, timeout=60)
    out = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(" ", 4)
        if len(parts) == 5:
            out[parts[0]] = (parts[1], int(parts[2]), parts[3], parts[4])
    if p.returncode != 0 or len(out) != len(rcpts):
        t.diag("tp_drive exit %d\n%s%s" % (p.returncode, p.stdout.decode(
            "utf-8", "replace"), p.stderr.decode("utf-8", "replace")))
    return out


def expected_copy():
    """what the dc_unix transport sends: its headers, then the message
    without Message-ID"""
    env_to = "Envelope-to: " + ",\r\n\t".join(RCPTS) + "\r\n"
    orig = crlf(MESSAGE).replace(
        b"Message-ID: <lmtp-dovecot-1@client.example>\r\n", b"")
    return env_to.encode() + b"X-Tern-Test: lmtp\r\n" + orig


def dovecot_prefix_ok(prefix):
    """only Dovecot's own trace headers may precede our copy"""
    text = prefix.decode("utf-8", "replace")
    names = re.findall(r"^([A-Za-z-]+):", text, re.M)
    return set(names) <= {"Return-Path", "Delivered-To", "Received"} \
        and "Return-Path" in names


def check_copy(got, name):
    want = expected_copy()
    good = got is not None and got.endswith(want)
    t.ok(good, name + ": the transport's headers and the original message",
         "got:  %r\nwant: ...%r" % (got, want))
    if good:
        t.ok(dovecot_prefix_ok(got[:-len(want)]),
             name + ": only Dovecot's trace headers before them",
             got[:-len(want)])


def imap_fetch_all(dc, user):
    m = dc.imap(user)
    try:
        typ, data = m.select("INBOX", readonly=True)
        n = int(data[0])
        msgs = []
        for i in range(1, n + 1):
            typ, data = m.fetch(str(i), "(BODY.PEEK[])")
            msgs.append(data[0][1] if typ == "OK" else None)
        return msgs
    finally:
        m.logout()


def pop3_retr(dc, user, i):
    p = dc.pop3(user)
    try:
        resp, lines, octets = p.retr(i)
        return b"\r\n".join(lines) + b"\r\n"
    finally:
        p.quit()


def test_unix(dc, conf):
    res = drive(conf, "dc_unix", RCPTS)
    for u in ("alice", "bob"):
        r = res.get(u + "@test.example")
        t.ok(r is not None and r[0] == "OK" and r[1] == 250
             and r[3].startswith("250 2.0.0"),
             "unix socket: %s delivered, the reply as message" % u, r)
    r = res.get("nobody@test.example")
    t.ok(r is not None and r[0] == "FAIL" and r[1] == 550
         and r[3].startswith("LMTP error after RCPT TO:<nobody@test.example>"
                             ": 550 5.1.1"),
         "unix socket: unknown user fails with Dovecot's 550", r)
    msgs = imap_fetch_all(dc, "alice")
    t.eq(len(msgs), 1, "IMAP: alice has one message")
    check_copy(msgs[0] if msgs else None, "IMAP fetch (alice)")
    with t.guard("POP3 RETR (bob)"):
        check_copy(pop3_retr(dc, "bob", 1), "POP3 RETR (bob)")
    t.ok(not os.path.exists(os.path.join(dc.dir, "mail", "nobody")),
         "no mailbox was made for the unknown user")


def test_inet(dc, conf):
    res = drive(conf, "dc_inet", RCPTS)
    t.eq([res.get(a, ("?",))[0] for a in RCPTS], ["OK", "OK", "FAIL"],
         "host:port, batch_max 1: OK, OK, FAIL")
    log = dc.log()
    t.ok(len(re.findall(r"lmtp\(alice\).*saved mail", log)) == 2
         and len(re.findall(r"lmtp\(bob\).*saved mail", log)) == 2,
         "host:port: Dovecot saved the second copies", log[-2000:])
    msgs = imap_fetch_all(dc, "alice")
    t.ok(len(msgs) == 2 and msgs[1] is not None
         and msgs[1].endswith(crlf(MESSAGE)),
         "IMAP: the second copy is the original message (no headers added)",
         msgs[-1:] if msgs else None)


def test_lua_and_missing(dc, conf):
    res = drive(conf, "dc_lua", ["bob@test.example"])
    r = res.get("bob@test.example")
    t.ok(r is not None and r[0] == "OK", "socket given as a Lua function",
         r)
    res = drive(conf, "dc_none", RCPTS[:2])
    t.ok(all(res.get(a, ("?",))[0] == "DEFER"
             and res[a][2] == "refused" for a in RCPTS[:2]),
         "missing socket: every recipient deferred (refused)", res)


def test_handmade_maildir(dc):
    data = (b"From: someone@client.example\nTo: carol@test.example\n"
            b"Subject: written by hand\n\nhand-made body\n")
    dc.put_maildir("carol", data)
    msgs = imap_fetch_all(dc, "carol")
    t.ok(len(msgs) == 1 and msgs[0] == crlf(data),
         "a maildir written by hand is read back over IMAP", msgs)
    with t.guard("hand-made maildir over POP3"):
        t.eq(pop3_retr(dc, "carol", 1), crlf(data),
             "a maildir written by hand is read back over POP3")


def lmtp_greeting(path):
    """the first line Dovecot's LMTP listener sends on path"""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        got = b""
        while b"\n" not in got:
            chunk = s.recv(512)
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def main():
    if not dovecot.available():
        t.skip("lmtp to dovecot", "dovecot not installed")
        t.done()
    if not os.path.exists(TP_DRIVE):
        t.ok(False, "%s is built" % TP_DRIVE)
        t.done()
    dc = dovecot.Dovecot(users={"alice": "secret", "bob": "secret",
                                "carol": "secret"})
    ternlib._instances.append(dc)       # the watchdog stops it too
    with t.guard("dovecot starts"):
        dc.start()
        greeting = lmtp_greeting(dc.lmtp_socket)
        t.ok(dc.proc.poll() is None and greeting.startswith(b"220 "),
             "dovecot %d.%d starts: its LMTP socket greets with 220"
             % dovecot.version(), "greeting %r\n%s" % (greeting,
                                                        dc.log()[-1500:]))
    if dc.proc is None:
        t.done()
    conf = write_conf(dc)
    try:
        with t.guard("lmtp over the unix socket"):
            test_unix(dc, conf)
        with t.guard("lmtp over host:port"):
            test_inet(dc, conf)
        with t.guard("socket as a function, missing socket"):
            test_lua_and_missing(dc, conf)
        with t.guard("hand-made maildir"):
            test_handmade_maildir(dc)
    finally:
        subprocess.run(["rm", "-rf", conf])
        dc.stop()
    t.done()


main()
