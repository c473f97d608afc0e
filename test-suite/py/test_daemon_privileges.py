#!/usr/bin/env python3
"""test_daemon_privileges.py - started as root with tern_user set, the
daemon binds its port, then runs as that user: master and workers, and the
spool and logs stay writable (DESIGN §2, issue: "drops privileges to the
configured user after binding when started as root")."""
import os
import pwd
import smtplib
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern  # noqa: E402

tap = TAP()


def parent_of(p):
    """The parent pid of /proc/p, or None when p has exited since the
    listing (other processes come and go while the test runs)."""
    try:
        with open("/proc/%s/stat" % p) as f:
            return f.read().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return None


if os.getuid() != 0:
    print("1..0 # SKIP needs root to test dropping privileges")
    sys.exit(0)
nobody = pwd.getpwnam("nobody")

t = Tern(main={"tern_user": "nobody"}, name="privileges")
with t:
    pid = int(open(os.path.join(t.spool, "tern-daemon.pid")).read())
    procs = [pid] + [int(p) for p in os.listdir("/proc") if p.isdigit()
                     and parent_of(p) == str(pid)]
    uids = set()
    for p in procs:
        for line in open("/proc/%d/status" % p):
            if line.startswith("Uid:"):
                uids.add(int(line.split()[1]))
    tap.ok(len(procs) >= 2, "master and workers found (%d processes)"
           % len(procs))
    tap.ok(uids == {nobody.pw_uid}, "every tern process runs as nobody",
           "uids %r" % uids)
    s = smtplib.SMTP("127.0.0.1", t.port, timeout=10)
    s.ehlo("client.example")
    s.sendmail("a@client.example", ["alice@" + "test.example"],
               b"Subject: priv\r\n\r\nhi\r\n")
    s.quit()
    time.sleep(0.3)
    tap.ok(len(t.spool_messages()) == 1, "a message is spooled by the "
           "unprivileged workers")
    tap.ok(os.stat(t.spool).st_uid == nobody.pw_uid,
           "the spool belongs to nobody")
    tap.ok(" <= a@client.example " in t.mainlog(),
           "the arrival is logged (the log directory is writable)",
           t.mainlog()[-400:])
tap.done()
