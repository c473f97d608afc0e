#!/usr/bin/env python3
"""test_queue_interval - tern -bd -q2s: with queue_only, a message waits
for the daemon's periodic queue run and is then delivered; without
-qTIME it waits for good (until tern -q), and a queue run at start-up
delivers what an earlier daemon left behind."""
import glob
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, message, LOCAL_DOMAIN  # noqa: E402

D = LOCAL_DOMAIN
tap = TAP(timeout=60)


def maildir(t, user):
    return glob.glob(os.path.join(t.dir, "home", user, "Maildir", "new",
                                  "*"))


def send(t, subject):
    s = t.smtp()
    s.sendmail("carol@" + D, ["alice@" + D], message(subject=subject))
    s.quit()


with tap.guard("-q2s"):
    t = Tern(name="qinterval", main={"queue_only": True}, start=False)
    t.daemon_args = ["-q2s"]
    t.start()
    at = len(t.mainlog())
    send(t, "periodic")
    time.sleep(0.4)
    tap.eq(len(maildir(t, "alice")), 0, "queue_only: not delivered at once")
    tap.ok(t.wait_log(r"=> alice@%s R=users" % D, since=at, timeout=5)
           is not None, "delivered by the next queue run (-q2s)",
           t.mainlog()[at:])
    tap.eq(len(maildir(t, "alice")), 1, "in alice's Maildir")
    t.stop()

with tap.guard("no interval"):
    t = Tern(name="qnointerval", main={"queue_only": True})
    at = len(t.mainlog())
    send(t, "waits")
    time.sleep(2.5)
    tap.eq(len(maildir(t, "alice")), 0,
           "queue_only without -qTIME: still waiting 2.5 s later")
    t.stop()
    # the same spool, a daemon without queue_only: its start-up run
    t.main_opts["queue_only"] = False
    t._write_conf({}, True)
    t.start()
    tap.ok(t.wait_log(r"=> alice@%s R=users" % D, since=at, timeout=5)
           is not None, "a new daemon's start-up queue run delivers it")
    t.stop()

tap.done()
