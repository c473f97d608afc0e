#!/usr/bin/env python3
"""test_default_conf_dovecot - the shipped configuration, as `make run`
uses it, delivers mail that Dovecot serves.

A copy of the repository's conf.d/, etc/ and var/virtual_users is laid
out in a temporary directory exactly as in the tree (the configuration
finds ../var and ../etc beside itself). The daemon runs on it, with only
the port overridden (-oX). A message to postmaster@localhost goes through
the shipped aliases (postmaster -> admin) to admin's Maildir under
var/mail/admin, which a private Dovecot (test-suite/py/dovecot.py) then
serves: the message is read back over IMAP (imaplib) and POP3 (poplib).
As `make run` (tools/run.sh) does, var/mail is given to the tern account
when the test runs as root (tern delivers to virtual users as tern_user).
The Maildir is handed to Dovecot's mail user afterwards, as an
administrator sets ownership for a separate IMAP server.
Skipped when Dovecot is not installed (tools/deps.sh installs it).
"""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, TERN, TOP, _free_port, give_to_tern  # noqa: E402
import dovecot  # noqa: E402

tap = TAP(timeout=90)
if not dovecot.available():
    tap.skip("default configuration to Dovecot", "dovecot not installed")
    tap.done()

base = tempfile.mkdtemp(prefix="ternpy-default-")
os.chmod(base, 0o755)
shutil.copytree(os.path.join(TOP, "conf.d"), os.path.join(base, "conf.d"))
shutil.copytree(os.path.join(TOP, "etc"), os.path.join(base, "etc"))
os.makedirs(os.path.join(base, "var", "mail"))
give_to_tern(os.path.join(base, "var", "mail"))     # as tools/run.sh
shutil.copy(os.path.join(TOP, "var", "virtual_users"),
            os.path.join(base, "var", "virtual_users"))
port = _free_port()
daemon = subprocess.Popen([TERN, "-C", os.path.join(base, "conf.d"), "-bdf",
                           "-oX", str(port)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
mainlog = os.path.join(base, "var", "log", "mainlog")


def log():
    try:
        with open(mainlog, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait(pattern, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if re.search(pattern, log(), re.M):
            return True
        time.sleep(0.05)
    return False


dc = None
try:
    tap.ok(wait(r"tern daemon started"), "the shipped configuration starts",
           log())
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example",
                     timeout=10)
    s.sendmail("someone@localhost", ["postmaster@localhost"],
               "From: someone@localhost\r\nTo: postmaster@localhost\r\n"
               "Subject: default config to dovecot\r\n\r\nhello admin\r\n")
    s.quit()
    tap.ok(wait(r"=> admin@localhost <postmaster@localhost> "
                r"R=virtual_users T=local_maildir"),
           "postmaster@localhost is delivered to admin's Maildir", log())
    tap.ok(wait(r"Completed$"), "and the message is Completed")
    md = os.path.join(base, "var", "mail", "admin")
    tap.eq(len(os.listdir(os.path.join(md, "new"))), 1,
           "one file in var/mail/admin/new")
    dc = dovecot.Dovecot(users={"admin": "admin-secret"}).start()
    os.makedirs(os.path.join(dc.dir, "mail", "admin"), exist_ok=True)
    for root, dirs, files in os.walk(md):
        for n in [root] + [os.path.join(root, f) for f in files]:
            os.chown(n, dc.uid, dc.gid)
    os.chown(os.path.dirname(md), dc.uid, dc.gid)     # var/mail
    os.chown(os.path.join(dc.dir, "mail", "admin"), dc.uid, dc.gid)
    os.symlink(md, dc.maildir("admin"))
    m = dc.imap("admin")
    m.select("INBOX")
    typ, data = m.search(None, "ALL")
    nums = data[0].split()
    tap.eq(len(nums), 1, "Dovecot serves it over IMAP")
    got = m.fetch(nums[0], "(RFC822)")[1][0][1].decode() if nums else ""
    m.logout()
    tap.like(got, r"(?m)^Subject: default config to dovecot\r?$",
             "IMAP: the subject")
    tap.like(got, r"(?m)^Return-path: <someone@localhost>\r?$",
             "IMAP: the Return-path the shipped transport adds")
    tap.like(got, r"(?m)^hello admin\r?$", "IMAP: the body")
    p = dc.pop3("admin")
    lines = p.retr(1)[1] if len(p.list()[1]) == 1 else []
    p.quit()
    tap.ok(b"Subject: default config to dovecot" in lines,
           "and over POP3 (RETR)")
finally:
    if daemon.poll() is None:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
    if dc is not None:
        dc.stop()
    if not os.environ.get("TERN_KEEP"):
        shutil.rmtree(base, ignore_errors=True)
tap.done()
