#!/usr/bin/env python3
"""test_smtp_logs - what the SMTP server writes to mainlog and rejectlog
(DESIGN 10): the arrival line and its fields, rejections with their
reason in both logs, the headers of a message refused at DATA time in the
rejectlog, and log files reopened on SIGUSR1 and SIGHUP after logrotate
renamed them."""
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, crlf  # noqa: E402

t = TAP()
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}"

DATA_ACL = '''
acl "data" {
  deny { regex = "XYZZY-SPAM", message = "message looks like spam",
         log_message = "spam word found" },
  accept {},
}
'''

MAIL_ACL = '''
acl "mail" {
  deny { senders = "blocked@client.example", message = "sender blocked" },
  deny { hosts = "127.0.0.2", message = "no mail from this host" },
  accept {},
}
'''


def send(d, sender, rcpts, msg, helo="client.example"):
    s = d.smtp(helo=helo)
    try:
        return s.sendmail(sender, rcpts, msg)
    finally:
        try:
            s.quit()
        except Exception:       # noqa: BLE001 - closed by the server
            pass


def arrival(d, mid, timeout=3):
    m = d.wait_log(r"^.* <= .* id=%s$" % re.escape(mid), timeout=timeout)
    return m.group(0) if m else ""


with t.guard("logs: the session ran to its end"), \
     Tern(files={"acl/50_data.lua": DATA_ACL}, name="logs") as d:
    # ---- the arrival line
    msg = crlf("From: a@client.example\nTo: alice@test.example\n"
               "Subject: log test\nMessage-ID: <log.1@client.example>\n\n"
               "hello\n")
    send(d, "a@client.example", ["alice@test.example", "bob@test.example"],
         msg)
    line = arrival(d, "<log.1@client.example>")
    m = re.match(r"^(%s) (%s) <= (\S+) H=\((\S+)\) \[([0-9.]+)\] "
                 r"P=(\S+) S=(\d+) id=(\S+)$" % (STAMP, ID), line)
    t.ok(m is not None, "arrival line: DATE TIME ID <= sender H=(helo) [ip] "
         "P=esmtp S=size id=msgid", line or d.mainlog()[-800:])
    spool = d.spool_messages()
    if m:
        t.eq(m.group(3), "a@client.example", "arrival line: the sender")
        t.eq(m.group(4), "client.example", "arrival line: the HELO name in "
             "parentheses (not verified)")
        t.eq(m.group(5), "127.0.0.1", "arrival line: the client address")
        t.eq(m.group(6), "esmtp", "arrival line: P=esmtp")
        sp = [x for x in spool if x.id == m.group(2)]
        t.ok(len(sp) == 1, "arrival line: its id is the spool file's id",
             repr((m.group(2), spool)))
        if sp:
            t.eq(int(m.group(7)), len(sp[0].data), "arrival line: S= is "
                 "the size of the spooled message, Received: included")
        t.ok(abs(time.mktime(time.strptime(m.group(1),
                                           "%Y-%m-%d %H:%M:%S"))
                 - time.time()) < 60, "arrival line: local time now")
    # the null sender, and a message without Message-ID
    send(d, "", ["alice@test.example"], crlf("Subject: bounce\n\nx\n"))
    mm = d.wait_log(r"^%s %s <= <> H=\(client\.example\) \[127\.0\.0\.1\] "
                    r"P=esmtp S=\d+$" % (STAMP, ID))
    t.ok(mm is not None, "arrival line: <> for the null sender; no id= "
         "without a Message-ID", d.mainlog()[-600:])
    # a HELO name with control characters cannot forge a log line
    c = d.raw()
    c.cmd("EHLO evil.example")
    c.cmd("MAIL FROM:<e@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.cmd("DATA")
    c.send(b"Message-ID: <fake\x01@x>\r\nSubject: ctl\r\n\r\nx\r\n.\r\n")
    r = c.try_reply()
    c.close()
    log = d.mainlog()
    t.ok(all(ln.startswith(tuple("0123456789")) for ln in
             log.splitlines() if ln), "every mainlog line starts with a "
         "date (no control character splits a line)", log[-800:])

    # ---- rejections: relay refusal, in both logs, with the reason
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<r@client.example>")
    r = c.cmd("RCPT TO:<victim@a-only.test>")
    t.ok(r.code == 550, "relay attempt refused", repr(r))
    rl = d.wait_log(r"^%s H=\(client\.example\) \[127\.0\.0\.1\]:\d+ "
                    r"F=<r@client\.example> rejected RCPT "
                    r"<victim@a-only\.test>: relay not permitted$" % STAMP,
                    "reject")
    t.ok(rl is not None, "rejectlog: H=(helo) [ip]:port F=<sender> rejected "
         "RCPT <rcpt>: relay not permitted (Exim's shape)",
         d.rejectlog()[-800:])
    t.ok(re.search(r"F=<r@client\.example> rejected RCPT .*relay not "
                   r"permitted", d.mainlog()) is not None,
         "mainlog: the RCPT rejection too", d.mainlog()[-800:])
    c.close()

    # ---- a data-time rejection: the reason, and the headers
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<spammer@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.cmd("DATA")
    c.send(crlf("From: spammer@client.example\nTo: alice@test.example\n"
                "Subject: XYZZY-SPAM offer\nX-Marker: header-in-rejectlog\n"
                "Message-ID: <spam.1@client.example>\n\nbuy now\n.\n"))
    r = c.try_reply()
    t.reply(r, 550, "5.7.1", "data ACL deny: 550 5.7.1 with the ACL's "
            "message", "looks like spam")
    c.close()
    rej = d.rejectlog()
    t.ok(re.search(r"^%s H=\(client\.example\) \[127\.0\.0\.1\]:\d+ "
                   r"F=<spammer@client\.example> rejected after DATA: spam "
                   r"word found$" % STAMP, rej, re.M) is not None,
         "rejectlog: F=<sender> rejected after DATA: <log_message>",
         rej[-1200:])
    t.ok("X-Marker: header-in-rejectlog" in rej
         and "Subject: XYZZY-SPAM offer" in rej,
         "rejectlog: the headers of the rejected message are logged",
         rej[-1200:])
    t.ok("X-Marker: header-in-rejectlog" in rej and "buy now" not in rej,
         "rejectlog: the headers are logged but not the body", rej[-1200:])
    t.ok(re.search(r"rejected after DATA: spam word found", d.mainlog())
         is not None, "mainlog: the DATA rejection with its reason",
         d.mainlog()[-800:])
    t.ok(not any(m.header("Message-ID") == ["<spam.1@client.example>"]
                 for m in d.spool_messages()),
         "the rejected message is not spooled")

    # a protocol-level data rejection (bare LF) is logged with its reason
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<lf@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.cmd("DATA")
    c.send(b"Subject: bare lf\n\nx\r\n.\r\n")
    r = c.try_reply()
    c.close()
    t.ok(d.wait_log(r"F=<lf@client\.example> rejected after DATA: Bare LF",
                    "reject") is not None,
         "rejectlog: F=<sender> rejected after DATA: Bare LF ...",
         d.rejectlog()[-800:])

    # ---- logrotate: rename the logs, signal the daemon, new lines go to
    # new files. The signal goes to the pid in the pid file, as logrotate's
    # postrotate does.
    pidfile = os.path.join(d.spool, "tern-daemon.pid")
    with open(pidfile) as f:
        master = int(f.read().strip())
    t.eq(master, d.proc.pid, "the pid file names the daemon's master")
    for sig, name in ((signal.SIGUSR1, "SIGUSR1"), (signal.SIGHUP,
                                                    "SIGHUP")):
        main_p = os.path.join(d.logdir, "mainlog")
        rej_p = os.path.join(d.logdir, "rejectlog")
        for path in (main_p, rej_p):    # (absent if a reopen failed)
            if os.path.exists(path):
                os.rename(path, path + "." + name)
            else:
                open(path + "." + name, "a").close()
        os.kill(master, sig)
        time.sleep(1.0)
        mid = "<rotate.%s@client.example>" % name
        send(d, "rot@client.example", ["alice@test.example"],
             crlf("Subject: after %s\nMessage-ID: %s\n\nx\n" % (name, mid)))
        c = d.raw()
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<after-%s@client.example>" % name.lower())
        c.cmd("RCPT TO:<victim@a-only.test>")
        c.close()
        time.sleep(0.5)
        new_main = d.mainlog()
        new_rej = d.rejectlog()
        with open(main_p + "." + name, errors="replace") as f:
            old_main = f.read()
        with open(rej_p + "." + name, errors="replace") as f:
            old_rej = f.read()
        t.ok(mid in new_main and mid not in old_main,
             "%s: the arrival after the rotation is in the new mainlog"
             % name, "new:\n%s\nold tail:\n%s" % (new_main[-600:],
                                                   old_main[-400:]))
        t.ok(("after-%s" % name.lower()) in new_rej
             and ("after-%s" % name.lower()) not in old_rej,
             "%s: the rejection after the rotation is in the new rejectlog"
             % name, "new:\n%s\nold tail:\n%s" % (new_rej[-600:],
                                                   old_rej[-400:]))
    t.ok(d.proc.poll() is None, "the daemon is still running after the "
         "signals")
    t.ok(re.search(r"SIGHUP: configuration reloaded", d.mainlog())
         is not None, "mainlog: SIGHUP reloaded the configuration",
         d.mainlog()[-600:])
    t.ok(d.paniclog() == "", "paniclog is empty", d.paniclog())

# ---- a MAIL refused by an ACL: the sender is named in the log line
with t.guard("logs-mail: the session ran to its end"), \
     Tern(files={"acl/40_mail.lua": MAIL_ACL}, name="logs-mail") as d:
    c = d.raw(source="127.0.0.2")
    c.cmd("EHLO client.example")
    r = c.cmd("MAIL FROM:<x@client.example>")
    t.reply(r, 550, "5.7.1", "mail ACL deny by hosts: 550 5.7.1 with the "
            "ACL's message", "no mail from this host")
    t.ok(d.wait_log(r"^%s H=\(client\.example\) \[127\.0\.0\.2\]:\d+ "
                    r"rejected MAIL <x@client\.example>: no mail from this "
                    r"host$" % STAMP, "reject") is not None,
         "rejectlog: H=(helo) [ip]:port rejected MAIL <sender>: reason",
         d.rejectlog()[-800:])
    c.close()
    c = d.raw()
    c.cmd("EHLO client.example")
    r = c.cmd("MAIL FROM:<blocked@client.example>")
    t.reply(r, 550, "5.7.1", "mail ACL: senders = matches the address of "
            "the MAIL command being checked", "sender blocked")
    c.cmd("RSET")
    r = c.cmd("MAIL FROM:<fine@client.example>")
    t.reply(r, 250, "2.1.0", "mail ACL: another sender is accepted")
    c.close()

t.done()
