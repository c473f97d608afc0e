#!/usr/bin/env python3
"""test_acl_greylist - the greylist ACL condition over real SMTP sessions
with a 2-second delay: a triplet's first sight and an early retry get
450 4.7.1 with the time to wait, a retry after the delay 250, another
recipient of the same client is greylisted on its own, a statement's own
message with $greylist_result and $greylist_wait, whitelisted hosts
and senders pass at once, a client network is auto-whitelisted after N
passes, tern_dumpdb greylist lists the entries, IPv6 clients (-bh) are
keyed by their /64, a damaged database file is moved aside while mail
still flows, a damaged record is replaced, and a database locked by
another process neither stalls other sessions nor greylists: the step
defers (451 4.3.0) within tens of milliseconds and says so in the log.
Bad values are refused at load time; -bP prints the main options."""
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, BIN_DIR, LOCAL_DOMAIN  # noqa: E402

tap = TAP()
DELAY = 2
DUMPDB = os.path.join(BIN_DIR, "tern_dumpdb")
FIXDB = os.path.join(BIN_DIR, "tern_fixdb")
GREY_TOOL = os.path.join(BIN_DIR, "test-bin", "grey_tool")

ACL = r'''
acl "rcpt" {
  accept { hosts = "127.0.0.9" },
  accept { senders = "*@friend.example" },
  defer  { local_parts = "^custom$", greylist = "delay=%ds/retry_window=1h",
           message = "451 4.7.1 Greylisted ($greylist_result), retry in "
                     .. "$greylist_wait" },
  defer  { greylist = "delay=%ds/retry_window=1h" },
  accept { domains = "+local_domains" },
  deny   { message = "relay not permitted" },
}
''' % (DELAY, DELAY)


def addr(user):
    return "%s@%s" % (user, LOCAL_DOMAIN)


def rcpt(t, to, sender="s@client.example", source=None):
    """one session: EHLO, MAIL, RCPT; the RCPT reply and its time"""
    c = t.raw(source=source)
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<%s>" % sender)
    start = time.monotonic()
    r = c.cmd("RCPT TO:<%s>" % to)
    took = time.monotonic() - start
    c.cmd("QUIT")
    c.close()
    return r, took


def dumpdb(t, conf=False):
    where = ["-C", t.conf] if conf else [t.spool]
    p = subprocess.run([DUMPDB] + where + ["greylist"], capture_output=True,
                       text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def greylisted(r, to, name):
    tap.reply(r, 450, "4.7.1", name,
              r"^4\.7\.1 <%s>: Recipient address rejected: Please try "
              r"again in [12] seconds?$" % re.escape(to))


t = Tern(files={"acl/10_grey.lua": ACL}, name="grey",
         main={"greylist_auto_whitelist": 2})
with tap.guard("first sight and early retry"):
    r, _ = rcpt(t, addr("alice"))
    t0 = time.monotonic()           # the server saw it before this
    greylisted(r, addr("alice"), "first sight of a triplet: 450 4.7.1 with "
               "the time to retry")
    tap.ok(t.wait_log(r"H=\[127\.0\.0\.1\] F=<s@client\.example> RCPT "
                      r"<alice@test\.example>: greylist: new triplet from "
                      r"127\.0\.0\.0/24, deferred for 2s"),
           "the decision is logged: new triplet, client network /24",
           t.mainlog()[-2000:])
    r, _ = rcpt(t, addr("alice"))
    greylisted(r, addr("alice"), "a retry before the delay is still "
               "greylisted")
    tap.ok(t.wait_log(r"RCPT <alice@test\.example>: greylist: early retry "
                      r"from 127\.0\.0\.0/24"),
           "the early retry is logged", t.mainlog()[-2000:])
    r, _ = rcpt(t, addr("bob"))
    greylisted(r, addr("bob"), "another recipient of the same client is a "
               "new triplet: greylisted")
    r, _ = rcpt(t, addr("custom"))
    tap.reply(r, 451, "4.7.1", "the statement's own message replaces the "
              "default and may use $greylist_result and $greylist_wait",
              r"^4\.7\.1 Greylisted \(new\), retry in 2 seconds$")

with tap.guard("whitelists"):
    r, _ = rcpt(t, addr("carol"), source="127.0.0.9")
    tap.reply(r, 250, None, "a client in the statement's hosts whitelist "
              "passes at once")
    r, _ = rcpt(t, addr("carol"), sender="x@friend.example")
    tap.reply(r, 250, None, "a sender in the senders whitelist passes at "
              "once")

with tap.guard("retry after the delay"):
    time.sleep(max(0, DELAY + 0.2 - (time.monotonic() - t0)))
    # postgrey's sender normalisation: case and +extension do not count
    r, _ = rcpt(t, addr("alice"), sender="S+list@Client.Example")
    t1 = time.monotonic()           # the first pass, counted for the client
    tap.reply(r, 250, None, "a retry after the delay passes (the sender "
              "normalised: case and +extension ignored)")
    tap.ok(t.wait_log(r"RCPT <alice@test\.example>: greylist: passed after "
                      r"[23]s"),
           "the pass is logged with the time waited", t.mainlog()[-2000:])
    r, _ = rcpt(t, addr("alice"))
    tap.reply(r, 250, None, "a passed triplet passes again at once")
    tap.ok(t.wait_log(r"RCPT <alice@test\.example>: greylist: known "
                      r"triplet passed \(1 pass\)"),
           "the known triplet's pass is logged (counted once per delay)",
           t.mainlog()[-2000:])
    rc, out = dumpdb(t)
    tap.ok(rc == 0 and re.search(
        r"^T 127\.0\.0\.0/24 s@client\.example alice@test\.example  passed\n"
        r"  first seen: \S+ \S+  last seen: \S+ \S+  passes: 1$", out, re.M)
        and re.search(r"^T 127\.0\.0\.0/24 s@client\.example "
                      r"bob@test\.example  greylisted\n.*passes: 0$", out,
                      re.M)
        and re.search(r"^C 127\.0\.0\.0/24  counting\n.*passes: 1$", out,
                      re.M),
        "tern_dumpdb greylist lists triplets and the client's count with "
        "their state, times and passes", out)

with tap.guard("auto-whitelist"):
    # passes count once per delay: wait for the second one to count
    time.sleep(max(0, DELAY + 0.2 - (time.monotonic() - t1)))
    r, _ = rcpt(t, addr("alice"))
    tap.reply(r, 250, None, "the triplet passes once more")
    tap.ok(t.wait_log(r"greylist: known triplet passed \(2 passes\); client "
                      r"127\.0\.0\.0/24 auto-whitelisted after 2 passes"),
           "the second counted pass auto-whitelists the client network",
           t.mainlog()[-2000:])
    r, _ = rcpt(t, addr("carol"), sender="new@other.example",
                source="127.0.0.77")
    tap.reply(r, 250, None, "a new triplet from the whitelisted network "
              "passes at once")
    tap.ok(t.wait_log(r"H=\[127\.0\.0\.77\] .*greylist: client "
                      r"127\.0\.0\.0/24 auto-whitelisted"),
           "the whitelisted pass is logged", t.mainlog()[-2000:])
    r, _ = rcpt(t, addr("carol"), source="127.1.0.1")
    greylisted(r, addr("carol"), "a client in another /24 is still "
               "greylisted")
    rc, out = dumpdb(t, conf=True)
    tap.ok(re.search(r"^C 127\.0\.0\.0/24  whitelisted\n.*passes: 2$", out,
                     re.M), "tern_dumpdb -C shows the network whitelisted "
           "(greylist_auto_whitelist = 2 from the configuration)", out)
    rc, out = dumpdb(t)
    tap.ok(re.search(r"^C 127\.0\.0\.0/24  counting\n.*passes: 2$", out,
                     re.M), "tern_dumpdb SPOOL judges by the default (5 "
           "passes): counting", out)

with tap.guard("IPv6 clients by /64 (-bh)"):
    def bh(ip, to):
        p = t.run("-bh", ip, input=(
            "EHLO v6.example\r\nMAIL FROM:<v6@client.example>\r\n"
            "RCPT TO:<%s>\r\nQUIT\r\n" % to).encode(), timeout=20)
        return (p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))
    out, err = bh("2001:db8:1:2::5", addr("alice"))
    tap.ok(re.search(r"^450[ -]4\.7\.1 <alice@test\.example>: Recipient "
                     r"address rejected", out, re.M),
           "-bh 2001:db8:1:2::5: greylisted", out)
    tap.ok(re.search(r">>> greylist: new triplet from 2001:db8:1:2::/64",
                     err), "an IPv6 client is keyed by its /64", err)
    out, err = bh("2001:db8:1:2:ffff::1", addr("alice"))
    tap.ok(re.search(r">>> greylist: early retry from 2001:db8:1:2::/64",
                     err), "another address of the same /64 is the same "
           "triplet", err)
    out, err = bh("2001:db8:1:3::5", addr("alice"))
    tap.ok(re.search(r">>> greylist: new triplet from 2001:db8:1:3::/64",
                     err), "an address of another /64 is a new triplet",
           err)
    out, err = bh("::ffff:192.0.2.77", addr("alice"))
    tap.ok(re.search(r">>> greylist: new triplet from 192\.0\.2\.0/24",
                     err), "an IPv4-mapped IPv6 client is keyed as IPv4",
           err)

with tap.guard("damaged record"):
    key = "T 127.1.0.0/24 s@client.example carol@test.example"
    p = subprocess.run([GREY_TOOL, t.spool, "put", key, "1 99 x 7"],
                       capture_output=True, text=True, timeout=10)
    tap.ok(p.returncode == 0, "a damaged record is planted", p.stderr)
    r, _ = rcpt(t, addr("carol"), source="127.1.0.1")
    greylisted(r, addr("carol"), "a damaged record reads as absent: the "
               "triplet is new again")
    p = subprocess.run([GREY_TOOL, t.spool, "get", key],
                       capture_output=True, text=True, timeout=10)
    tap.ok(re.match(r"1 \d+ \d+ 0$", p.stdout),
           "the damaged record was overwritten with a sound one", p.stdout)

with tap.guard("a locked database"):
    hold = subprocess.Popen([GREY_TOOL, t.spool, "hold"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        tap.eq(hold.stdout.readline().strip(), "locked",
               "another process holds the database's lock")
        other = t.raw()
        start = time.monotonic()
        e = other.cmd("EHLO other.example")
        ehlo_took = time.monotonic() - start
        r, took = rcpt(t, addr("bob"), sender="locked@client.example",
                       source="127.2.0.1")
        e2 = other.cmd("NOOP")
        tap.ok(e.code == 250 and e2.code == 250 and ehlo_took < 0.5,
               "another session's EHLO answers at once (%.3fs)" % ehlo_took)
        tap.reply(r, 451, "4.3.0", "the greylist step defers while the "
                  "database is locked (not greylisted, nothing recorded)")
        tap.ok(took < 0.5, "and answers within the bounded lock wait "
               "(%.3fs)" % took)
        tap.ok(t.wait_log(r"RCPT <bob@test\.example>: greylist: database "
                          r"busy \(locked for more than 30ms\), deferred"),
               "the busy database is logged", t.mainlog()[-1500:])
        other.close()
    finally:
        hold.stdin.close()
        hold.wait(timeout=10)
    r, _ = rcpt(t, addr("bob"), sender="locked@client.example",
                source="127.2.0.1")
    greylisted(r, addr("bob"), "once the lock is released the triplet is "
               "greylisted as new")

with tap.guard("a damaged database file"):
    db = os.path.join(t.spool, "db", "greylist")
    with open(db, "r+b") as f:
        f.write(b"this is not a GDBM file at all" * 40)
    r, _ = rcpt(t, addr("alice"), sender="after@damage.example",
                source="127.2.0.1")
    greylisted(r, addr("alice"), "after the file is damaged, greylisting "
               "still answers (a new file)")
    aside = [n for n in os.listdir(os.path.join(t.spool, "db"))
             if n.startswith("greylist.corrupt-")]
    tap.ok(len(aside) == 1, "the damaged file was moved aside", aside)
    tap.ok(t.wait_log(r"greylist database .* was damaged .*moved to",
                      which="panic"), "and logged in the panic log",
           t.paniclog())
    c = t.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@friend.example>")
    c.cmd("RCPT TO:<%s>" % addr("alice"))
    c.cmd("DATA")
    r = c.cmd("Subject: after\r\n\r\nstill flowing\r\n.")
    tap.reply(r, 250, None, "mail still flows (a whitelisted message is "
              "accepted)")
    c.close()

with tap.guard("tern_fixdb greylist"):
    p = subprocess.run([FIXDB, t.spool, "greylist", "-x"],
                       capture_output=True, text=True, timeout=20)
    tap.ok(p.returncode == 0 and "0 records deleted" in p.stdout,
           "tern_fixdb greylist -x keeps live records", p.stdout + p.stderr)
    p = subprocess.run([FIXDB, t.spool, "greylist", "-d",
                        "T 127.2.0.0/24 after@damage.example "
                        "alice@test.example"],
                       capture_output=True, text=True, timeout=20)
    rc, out = dumpdb(t)
    tap.ok(p.returncode == 0 and "after@damage.example" not in out,
           "tern_fixdb greylist -d KEY removes one record",
           p.stdout + p.stderr + out)

with tap.guard("load-time checks and -bP"):
    p = t.run("-bP", "greylist_delay")
    tap.ok(p.returncode == 0 and re.search(rb"greylist_delay = 5m",
                                           p.stdout),
           "-bP prints greylist_delay (default 5m)", p.stdout + p.stderr)
    p = t.run("-bP", "greylist_netmask_v6")
    tap.ok(p.returncode == 0 and b"greylist_netmask_v6 = 64" in p.stdout,
           "-bP prints greylist_netmask_v6 (default 64)",
           p.stdout + p.stderr)
    for value, why in (('"delay=soon"', "must be a time"),
                       ('"delay=2h/retry_window=1h"', "must be longer"),
                       ('"netmask_v4=33"', "from 0 to 32"),
                       ('"colour=grey"', "unknown option"),
                       ('false', "makes no sense"),
                       ('function() return "yes" end', "not a function"),
                       ('"delay=$sender_address"', "constants")):
        bad = Tern(files={"acl/10_grey.lua": 'acl "rcpt" { defer { '
                          'greylist = %s } }\n' % value},
                   start=False, name="greybad")
        p = bad.run("-bV")
        tap.ok(p.returncode == 78 and why.encode() in p.stderr,
               "greylist = %s is refused at load time (exit 78: %s)"
               % (value, why), p.stderr)
    bad = Tern(files={"acl/10_grey.lua": 'acl "mail" { defer { '
                      'greylist = true } }\n'}, start=False, name="greybad")
    p = bad.run("-bV")
    tap.ok(p.returncode == 78 and b"greylist cannot be used in the mail ACL"
           in p.stderr, "greylist outside the rcpt ACL is refused",
           p.stderr)

tap.done()
