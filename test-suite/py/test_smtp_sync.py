#!/usr/bin/env python3
"""test_smtp_sync - SMTP synchronization (issue 11, point 5):
smtp_enforce_sync (on by default, as Exim) refuses a client that talks
before the greeting, or sends more input after a command that must be
synchronised (EHLO, NOOP, DATA, ...; MAIL/RCPT too where PIPELINING was
not offered), with "554 SMTP synchronization error", Exim's log lines and
a closed connection; a client that pipelines where PIPELINING was offered
is served; control = no_enforce_sync exempts a host, control =
no_pipelining and pipelining_advertise_hosts withhold PIPELINING;
smtp_banner_delay sends the banner after the delay without blocking the
worker's loop and refuses a client that talks meanwhile; -bs is never
checked; fail2ban's own exim filter (fail2ban-regex) matches the lines
tern logs.

Clients come from several loopback addresses (127.0.0.2 ... 127.0.0.6)
so the connect ACL can treat them apart."""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, RawClient, crlf  # noqa: E402

t = TAP()

CONNECT_ACL = """\
acl "connect" {
  -- exempt, and slow to greet: its early input is surely there in time
  accept { hosts = "127.0.0.2", control = "no_enforce_sync", delay = "1s" },
  accept { hosts = "127.0.0.4", control = "no_pipelining" },
  -- slow to greet: an early talker's input has arrived when it is checked
  accept { hosts = "127.0.0.5", delay = "1s" },
  accept {},
}
"""
PREDATA_ACL = """\
acl "predata" {
  accept { hosts = "127.0.0.6", delay = "1s" },
  accept {},
}
"""
MSG = crlf("From: s@client.example\nSubject: sync\n\nbody\n")
SYNC_GREETING = ("SMTP protocol synchronization error (input sent without "
                 "waiting for greeting): rejected connection from ")
SYNC_SOON = ("SMTP protocol synchronization error (next input sent too "
             "soon: pipelining was%s advertised): rejected ")


def raw(d, source=None, banner=True):
    c = RawClient("127.0.0.1", d.port, timeout=5, banner=False,
                  source=source)
    d.clients.append(c)
    if banner:
        c.banner = c.reply()
    return c


def port_of(c):
    return c.sock.getsockname()[1]


def codes(rs):
    return [r.code if r is not None else None for r in rs]


def log_has(d, line, which="main"):
    """the exact line (after the date) is in the log, within a few s"""
    rx = r"(?m)^\S+ \S+ " + re.escape(line) + "$"
    return d.wait_log(rx, which=which, timeout=5) is not None


def transaction(c, rcpt="alice@test.example"):
    """MAIL, RCPT, DATA one at a time, then the message: the codes"""
    rs = [c.cmd("MAIL FROM:<s@client.example>"),
          c.cmd("RCPT TO:<%s>" % rcpt), c.cmd("DATA")]
    c.send(MSG + ".\r\n")
    return codes(rs + [c.try_reply()])


main = {"pipelining_advertise_hosts": "! 127.0.0.3 : *"}
files = {"acl/10_connect.lua": CONNECT_ACL, "acl/40_predata.lua": PREDATA_ACL}
with t.guard("sync: the daemon ran to its end"), \
        Tern(name="sync", main=main, files=files) as d:
    bp = d.run("-bP", "smtp_enforce_sync").stdout.strip()
    t.eq(bp, b"smtp_enforce_sync", "-bP: smtp_enforce_sync is on by "
         "default (Exim prints a false one as no_smtp_enforce_sync)")

    # ---- an early talker: input before the banner
    c = raw(d, "127.0.0.5", banner=False)
    c.send(b"EHLO early.example\r\n\x01")
    r = c.try_reply(5)
    t.ok(r is not None and r.raw == b"554 SMTP synchronization error\r\n",
         "input before the banner: '554 SMTP synchronization error' "
         "instead of the 220", repr(r))
    t.ok(c.is_closed(3), "and the connection is closed")
    line = (SYNC_GREETING + "H=[127.0.0.5]:%d input=\"EHLO early.example"
            "\\r\\n\\001\"" % port_of(c))
    t.ok(log_has(d, line), "mainlog: Exim's line, input escaped: " + line,
         d.mainlog()[-600:])
    t.ok(log_has(d, line, "reject"), "the same line in the reject log",
         d.rejectlog()[-600:])

    # ---- EHLO followed by MAIL in the same packet, before any PIPELINING
    c = raw(d)
    c.send("EHLO c.example\r\nMAIL FROM:<s@client.example>\r\n")
    r = c.try_reply()
    t.ok(r is not None and r.raw == b"554 SMTP synchronization error\r\n",
         "EHLO and MAIL in one write: 554, the EHLO is not answered",
         repr(r))
    t.ok(c.is_closed(3), "and the connection is closed")
    line = (SYNC_SOON % " not" + "\"EHLO c.example\" H=[127.0.0.1]:%d next "
            "input=\"MAIL FROM:<s@client.example>\\r\\n\"" % port_of(c))
    t.ok(log_has(d, line), "mainlog: " + line, d.mainlog()[-600:])

    # ---- NOOP must end its group even with PIPELINING
    c = raw(d)
    r = c.cmd("EHLO c.example")
    t.ok(r.code == 250 and "PIPELINING" in r.text, "EHLO offers "
         "PIPELINING", repr(r))
    c.send("NOOP\r\nNOOP\r\n")
    r = c.try_reply()
    t.reply(r, 554, "5.5.0", "NOOP with more input after it: 554 5.5.0 "
            "(an enhanced code after EHLO)", "SMTP synchronization error")
    t.ok(c.is_closed(3), "and the connection is closed")
    line = (SYNC_SOON % "" + "\"NOOP\" H=(c.example) [127.0.0.1]:%d next "
            "input=\"NOOP\\r\\n\"" % port_of(c))
    t.ok(log_has(d, line), "mainlog: " + line, d.mainlog()[-600:])

    # ---- RFC 2920 pipelining where PIPELINING was offered is fine
    c = raw(d)
    c.cmd("EHLO c.example")
    c.send("MAIL FROM:<s@client.example>\r\nRCPT TO:<alice@test.example>"
           "\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n")
    rs = [c.try_reply() for _ in range(4)]
    t.eq(codes(rs), [250, 250, 250, 354], "MAIL, RCPT, RCPT, DATA in one "
         "write after EHLO offered PIPELINING: answered in order")
    c.send(MSG + ".\r\nRSET\r\nMAIL FROM:<s@client.example>\r\n"
           "RCPT TO:<alice@test.example>\r\nDATA\r\n")
    rs = [c.try_reply() for _ in range(5)]
    t.eq(codes(rs), [250, 250, 250, 250, 354], "the message end, RSET, "
         "MAIL, RCPT, DATA in one write: answered in order")
    c.send(MSG + ".\r\nQUIT\r\n")
    t.eq(codes([c.try_reply(), c.try_reply()]), [250, 221],
         "the message end and QUIT in one write: 250, 221")
    t.eq(len(d.spool_messages()), 2, "both pipelined messages are spooled")

    # ---- no PIPELINING offered: MAIL, RCPT and RSET must wait too
    for src, why in (("127.0.0.3", "pipelining_advertise_hosts"),
                     ("127.0.0.4", "control = no_pipelining")):
        c = raw(d, src)
        r = c.cmd("EHLO c.example")
        t.ok(r.code == 250 and "PIPELINING" not in r.text, "%s: EHLO does "
             "not offer PIPELINING" % why, repr(r))
        t.eq(transaction(c), [250, 250, 354, 250], "%s: a transaction one "
             "command at a time is served" % why)
        c.send("MAIL FROM:<s@client.example>\r\nRCPT TO:<alice@test."
               "example>\r\n")
        r = c.try_reply()
        t.reply(r, 554, "5.5.0", "%s: MAIL and RCPT in one write: 554" % why,
                "SMTP synchronization error")
        t.ok(c.is_closed(3), "%s: and the connection is closed" % why)
        line = (SYNC_SOON % " not" + "\"MAIL FROM:<s@client.example>\" "
                "H=(c.example) [%s]:%d next input=\"RCPT TO:<alice@test."
                "example>\\r\\n\"" % (src, port_of(c)))
        t.ok(log_has(d, line), "%s: mainlog: %s" % (why, line),
             d.mainlog()[-600:])

    # ---- control = no_enforce_sync: the same early talker is served
    c = raw(d, "127.0.0.2", banner=False)
    c.send("EHLO early.example\r\nMAIL FROM:<s@client.example>\r\n"
           "RCPT TO:<alice@test.example>\r\nDATA\r\n")
    rs = [c.try_reply() for _ in range(5)]
    t.eq(codes(rs), [220, 250, 250, 250, 354], "control = no_enforce_sync "
         "in the connect ACL: a client that talks before the banner and "
         "pipelines EHLO is served")
    c.send(MSG + ".\r\n")
    t.reply(c.try_reply(), 250, "2.0.0", "and its message is accepted")

    # ---- input sent while the predata ACL waits (delay = 1s)
    c = raw(d, "127.0.0.6")
    c.cmd("EHLO c.example")
    c.cmd("MAIL FROM:<s@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.send("DATA\r\n")
    time.sleep(0.3)
    c.send("Subject: sent early\r\n")
    r = c.try_reply(5)
    t.reply(r, 554, "5.5.0", "message data sent before the 354 (during "
            "the predata ACL's delay): 554", "SMTP synchronization error")
    t.ok(c.is_closed(3), "and the connection is closed")
    line = (SYNC_SOON % "" + "\"DATA\" H=(c.example) [127.0.0.6]:%d next "
            "input=\"Subject: sent early\\r\\n\"" % port_of(c))
    t.ok(log_has(d, line), "mainlog: " + line, d.mainlog()[-600:])

    # ---- local submission is never checked
    p = d.run("-bs", input=b"HELO local.example\r\nMAIL FROM:<s@client."
              b"example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n" +
              MSG.encode() + b".\r\nQUIT\r\n")
    got = re.findall(rb"(?m)^(\d{3}) ", p.stdout)
    t.eq(got, [b"220", b"250", b"250", b"250", b"354", b"250", b"221"],
         "-bs: a whole pipelined dialogue on stdin is served")

    # ---- fail2ban's exim filter over tern's own log
    f2b = shutil.which("fail2ban-regex")
    filt = "/etc/fail2ban/filter.d/exim.conf"
    if f2b is None or not os.path.exists(filt):
        t.ok(False, "fail2ban-regex and %s are installed (make deps)" % filt)
    else:
        log = os.path.join(d.logdir, "mainlog")
        p = subprocess.run([f2b, "--print-all-matched", log, filt],
                           capture_output=True, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        sect = out.split("Matched line(s):", 1)[-1].split("\n`-", 1)[0]
        matched = [ln for ln in sect.splitlines() if "synchronization" in ln]
        want = [ln for ln in d.mainlog().splitlines()
                if SYNC_GREETING in ln or "rejected \"NOOP\"" in ln
                or "rejected \"DATA\"" in ln]
        t.ok(p.returncode == 0 and len(want) == 3
             and all(any(w in m for m in matched) for w in want),
             "fail2ban-regex with fail2ban's exim filter matches the early "
             "talker line and the NOOP and DATA lines (%d lines)" % len(want),
             out[-1500:])
        hosts = set(re.findall(r"\[(127\.0\.0\.\d)\]", "\n".join(matched)))
        t.eq(sorted(hosts), ["127.0.0.1", "127.0.0.5", "127.0.0.6"],
             "the filter finds the clients' addresses")
    t.eq(d.paniclog(), "", "paniclog is empty")


# ---- smtp_banner_delay: postscreen's pre-greet test
DELAY = 2
EXEMPT_ACL = """\
acl "connect" {
  accept { hosts = "127.0.0.2", control = "no_enforce_sync" },
  accept {},
}
"""
with t.guard("banner delay: the daemon ran to its end"), \
        Tern(name="sync-delay", main={"smtp_banner_delay": "%ds" % DELAY},
             files={"acl/10_connect.lua": EXEMPT_ACL}, probe=False) as d:
    # a polite client: the banner comes after the delay
    t0 = time.monotonic()
    c = raw(d)
    took = time.monotonic() - t0
    t.ok(c.banner is not None and c.banner.code == 220
         and DELAY - 0.2 <= took < DELAY + 2, "the 220 arrives after "
         "smtp_banner_delay (%.2f s for %d s)" % (took, DELAY),
         repr(c.banner))
    r = c.cmd("EHLO c.example")
    t.eq([r.code] + transaction(c), [250, 250, 250, 354, 250],
         "and the session goes on as usual")

    # a talker during the delay
    c = raw(d, banner=False)
    time.sleep(0.3)
    c.send("HELO bot.example\r\n")
    t0 = time.monotonic()
    r = c.try_reply(DELAY + 3)
    t.ok(r is not None and r.raw == b"554 SMTP synchronization error\r\n",
         "a client that talks during the delay: 554", repr(r))
    t.ok(c.is_closed(3), "and the connection is closed")
    line = (SYNC_GREETING + "H=[127.0.0.1]:%d input=\"HELO bot.example"
            "\\r\\n\"" % port_of(c))
    t.ok(log_has(d, line), "mainlog: " + line, d.mainlog()[-600:])

    # the loop is not blocked: 6 clients wait at once, and meanwhile an
    # exempt client (no_enforce_sync: no delay) runs a whole transaction
    n = 6
    got, lock = [], threading.Lock()

    def wait_banner():
        t0 = time.monotonic()
        try:
            cc = RawClient("127.0.0.1", d.port, timeout=DELAY + 5)
            b = cc.banner.code if cc.banner else None
            cc.close()
        except OSError:
            b = None
        with lock:
            got.append((b, time.monotonic() - t0))

    th = [threading.Thread(target=wait_banner) for _ in range(n)]
    for x in th:
        x.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    c = raw(d, "127.0.0.2")
    c.cmd("EHLO exempt.example")
    codes_exempt = transaction(c)
    exempt_took = time.monotonic() - t0
    for x in th:
        x.join(DELAY + 8)
    t.ok(codes_exempt == [250, 250, 354, 250] and exempt_took < DELAY / 2,
         "while %d clients wait for their banner, an exempt client is "
         "greeted and sends a message (%.2f s)" % (n, exempt_took),
         repr(codes_exempt))
    t.ok(len(got) == n and all(b == 220 and DELAY - 0.3 <= s < DELAY + 1.5
                               for b, s in got),
         "the %d waiting clients all get their 220 after about %d s "
         "(the delays overlap, they do not add up)" % (n, DELAY), repr(got))
    t.eq(d.paniclog(), "", "paniclog is empty")

# ---- a banner delay clients would never wait out, or no time at all,
# is refused at load time
for value, why in (("10m", "is over 5m"), ("soon", 'bad time "soon"')):
    with t.guard("banner delay %s: refused at load time" % value), \
            Tern(name="sync-bad", main={"smtp_banner_delay": value},
                 start=False) as d:
        p = d.run("-bV")
        err = p.stderr.decode("utf-8", "replace")
        t.ok(p.returncode == 78 and "smtp_banner_delay" in err
             and why in err and "main/00_test.lua:" in err,
             "smtp_banner_delay = %s: -bV exits 78 naming the file, line "
             "and reason" % value, "exit %d: %s" % (p.returncode, err))

t.done()
