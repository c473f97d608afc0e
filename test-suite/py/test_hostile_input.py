#!/usr/bin/env python3
"""test_hostile_input - hostile input from clients, senders and the command
line (issue 9, points 10, 11 and 13).

10. Duplicate recipients are delivered once per final address per message
    (SMTP and the sendmail interface, through aliases, local parts and
    domains in any case), the others logged as Exim does and journalled
    so the message completes.
11. Untrusted text never reaches a log raw: control characters, DEL, C1
    controls, bidi controls, invalid UTF-8, CR and LF in a Message-ID, a
    sender, a HELO name or an AUTH name are escaped in the mainlog and
    the rejectlog, so no line can be forged and no terminal escape runs.
13. -bh and -bs finish with stdin a regular file or /dev/null (epoll
    refuses those); a sendmail recipient that starts with "-" is a usage
    error and nothing is queued; a usage error of any option is fatal.
"""
import base64
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, Lua, message  # noqa: E402

t = TAP(timeout=55)


def codes(out):
    """the codes of the last line of each reply in out (bytes)"""
    return [int(c) for c in re.findall(rb"(?m)^(\d{3}) ", out)]


def run_stdin_file(d, args, path, timeout=3):
    """tern args with stdin the file at path; (rc, stdout, stderr, secs);
    rc None if it did not finish within timeout seconds"""
    t0 = time.monotonic()
    with open(path, "rb") as f:
        p = subprocess.Popen(d.cmd(*args), stdin=f, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=d.dir)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return None, out, err, time.monotonic() - t0
    return p.returncode, out, err, time.monotonic() - t0


# ======================================================================
# 10. duplicate recipients are delivered once
# ======================================================================
ROUTERS10 = """\
router "slow" {
  driver = "lua",
  route = function(addr)
    if addr.local_part:lower() == "slow" then
      return accept { transport = "counter" }
    end
    return pass()
  end,
}
router "archive" {
  driver = "lua",
  local_parts = "bob",
  unseen = true,
  route = function(addr) return accept { transport = "archive" } end,
}
router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "lsearch;@DIR@/aliases",
  qualify_preserve_domain = true,
  pipe_transport = "counter",
}
router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/virtual_users",
  transport = "local_maildir",
}
"""
TRANSPORTS10 = """\
transport "local_maildir" { driver = "maildir", directory = "$home/Maildir" }
transport "counter" { driver = "pipe", command = "/bin/sh @DIR@/count.sh" }
transport "archive" { driver = "maildir", directory = "@DIR@/archive" }
"""
# "slow" defers at its first run, delivers after; every run and every
# copy is counted (state in a folder any delivery user may write)
COUNT_SH = """\
S=@DIR@/state
cat > /dev/null
echo run >> $S/runs.$LOCAL_PART
if [ ! -f $S/ok.$LOCAL_PART ] && [ "$LOCAL_PART" = slow ]; then
  touch $S/ok.$LOCAL_PART
  exit 75
fi
echo copy >> $S/copies.$LOCAL_PART
exit 0
"""
d = Tern(name="dup", routers=False, main={"queue_only": False}, files={
    "router/100_routers.lua": ROUTERS10,
    "transport/10_transports.lua": TRANSPORTS10,
    "retry/10_retry.lua": 'retry { "*", "*", "F,1h,1m" }\n'})
d.write("count.sh", COUNT_SH)
os.makedirs(os.path.join(d.dir, "state"))
os.chmod(os.path.join(d.dir, "state"), 0o1777)
os.makedirs(os.path.join(d.dir, "archive"))
os.chmod(os.path.join(d.dir, "archive"), 0o1777)
d.write("aliases", "postmaster: alice\nabuse: alice\nteam: alice, bob\n"
        "d1: slow\nd2: SLOW@test.example\nc1: carol\nc2: Carol\n"
        "p1: |/bin/sh @DIR@/count.sh\np2: |/bin/sh @DIR@/count.sh\n"
        "pp: |/bin/sh @DIR@/count.sh, |/bin/sh @DIR@/count.sh\n")
d.signal(1)                     # reread nothing cached: aliases are lsearch
time.sleep(0.3)


def copies(user):
    path = ("archive", "new") if user == "archive" \
        else ("home", user, "Maildir", "new")
    try:
        return len(os.listdir(os.path.join(d.dir, *path)))
    except OSError:
        return 0


def count(what, lp):
    try:
        with open(os.path.join(d.dir, "state", "%s.%s" % (what, lp))) as f:
            return len(f.read().split())
    except OSError:
        return 0


def lines_for(msgid, log):
    return [ln.split(" ", 3)[3] for ln in log.splitlines()
            if len(ln.split(" ", 3)) == 4 and ln.split(" ", 3)[2] == msgid]


def smtp_send(rcpts, subject):
    """one SMTP transaction; the message id and the daemon's log lines"""
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<s@client.example>")
    bad = [r for r in rcpts if c.cmd("RCPT TO:<%s>" % r).code != 250]
    c.cmd("DATA")
    c.send((message(subject=subject) + ".\r\n").encode())
    r = c.reply()
    c.cmd("QUIT")
    m = re.search(r"id=(\S+)", r.text)
    mid = m.group(1) if m else "?"
    done = d.wait_log(r"^\S+ \S+ %s Completed$" % re.escape(mid), timeout=10)
    return mid, bad, done is not None


with t.guard("100 identical RCPT"):
    mid, bad, done = smtp_send(["bob@test.example"] * 100, "100 rcpts")
    ls = lines_for(mid, d.mainlog())
    t.ok(not bad and done, "SMTP: 100 identical RCPT TO accepted, the "
         "message Completed", "%r %s" % (bad, ls))
    t.eq(copies("bob"), 1, "SMTP: 100 identical RCPT TO: bob gets one copy")
    t.eq(copies("archive"), 1, "the copy an unseen router lets go on is "
         "not a duplicate: one in the archive too")
    dl = [x for x in ls if x.startswith(("=>", "->"))]
    t.ok(sorted(x[3:] for x in dl) == [
        "bob@test.example R=archive T=archive",
        "bob@test.example R=users T=local_maildir"]
        and [x[:2] for x in dl] == ["=>", "->"],
        "SMTP: one delivery line per router, nothing for the duplicates "
        "(Exim)", dl)
with t.guard("alice five ways"):
    mid, bad, done = smtp_send(
        ["alice@test.example", "Alice@TEST.EXAMPLE", "ALICE@test.example",
         "postmaster@test.example", "abuse@test.example"], "alice 5 ways")
    ls = lines_for(mid, d.mainlog())
    t.ok(not bad and done, "SMTP: alice, Alice@TEST.EXAMPLE, ALICE, "
         "postmaster, abuse (both aliases of alice) Completed", ls)
    t.eq(copies("alice"), 1, "SMTP: alice gets one copy, not 5")
    t.eq([x for x in ls if x.startswith(("=>", "->"))],
         ["=> alice@test.example R=users T=local_maildir"],
         "SMTP: alice's one delivery line is the first recipient's")
with t.guard("sendmail"):
    log0 = len(d.mainlog())
    p = d.run("-odi", "-f", "s@client.example", "carol@test.example",
              "Carol@TEST.EXAMPLE", "c1@test.example", "c2@test.example",
              "carol@test.example",
              input=b"Subject: sendmail dups\n\nbody\n")
    t.ok(p.returncode == 0 and copies("carol") == 1,
         "sendmail -odi carol Carol@TEST.EXAMPLE c1 c2 (aliases of carol, "
         "Carol) carol@test.example: one copy", "rc=%d copies=%d\n%s" % (
             p.returncode, copies("carol"), d.mainlog()[log0:]))
    t.match(r"(?m) Completed$", d.mainlog()[log0:],
            "sendmail: the message Completed")
with t.guard("pipes"):
    mid, bad, done = smtp_send(["pp@test.example", "pp@test.example"],
                               "pipes once")
    t.ok(done and count("runs", "pp") == 1, "a pipe named twice by one "
         "alias (and the alias twice) runs once", count("runs", "pp"))
    mid, bad, done = smtp_send(["p1@test.example", "p2@test.example"],
                               "pipes twice")
    t.ok(done and count("runs", "p1") == 1 and count("runs", "p2") == 1,
         "one pipe from two aliases runs for each (Exim: different "
         "parents)", "%d %d" % (count("runs", "p1"), count("runs", "p2")))
d.stop()

# a duplicate follows its first copy: deferred, it stays; delivered, it is
# journalled done and never delivered again
with t.guard("deferred duplicates"):
    a0 = copies("alice")
    p = d.run("-odq", "-f", "s@client.example", "slow@test.example",
              "d1@test.example", "alice@test.example", "d2@test.example",
              "SLOW@test.example", "postmaster@test.example",
              input=b"Subject: slow\n\nbody\n")
    mid = d.spool_messages()[-1].id if p.returncode == 0 else "?"
    p = d.run("-droute", "-M", mid)
    err = p.stderr.decode("utf-8", "replace")
    t.ok(count("runs", "slow") == 1 and count("copies", "slow") == 0
         and copies("alice") == a0 + 1,
         "first attempt: slow runs once and defers; alice gets one copy",
         "runs=%d copies=%d alice=%d" % (count("runs", "slow"),
                                         count("copies", "slow"),
                                         copies("alice") - a0))
    t.ok(len(re.findall(r"is a duplicate address: discarded", err)) == 4,
         "-d route traces the 4 duplicates as Exim does (\"... is a "
         "duplicate address: discarded\")", err[-1500:])
    q = d.run("-bp").stdout.decode()
    t.ok(re.search(r"(?m)^        D postmaster@test\.example$", q)
         and re.search(r"(?m)^          d1@test\.example$", q)
         and re.search(r"(?m)^          d2@test\.example$", q),
         "-bp: alice's duplicate (postmaster) is done; slow's (d1, d2) "
         "wait with it", q)
    p = d.run("-M", mid)
    log = d.mainlog()
    t.ok(count("runs", "slow") == 2 and count("copies", "slow") == 1
         and copies("alice") == a0 + 1
         and re.search(r"(?m)^\S+ \S+ %s Completed$" % re.escape(mid), log),
         "second attempt: slow delivered once, alice not again, Completed",
         "runs=%d copies=%d alice=%d\n%s" % (
             count("runs", "slow"), count("copies", "slow"),
             copies("alice") - a0, "\n".join(lines_for(mid, log))))
d.cleanup()


# ======================================================================
# 11. logs cannot be forged or turned into terminal escapes
# ======================================================================
STAMP = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
# code points that must never reach a log raw (esc.h): C1, bidi controls,
# line/paragraph separators
UNSAFE = re.compile("[\u0080-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e"
                    "\u2060-\u206f\ufeff]")


def raw_log(d, which):
    try:
        with open(os.path.join(d.logdir, which + "log"), "rb") as f:
            return f.read()
    except OSError:
        return b""


def clean_bytes(blob):
    """why blob (log bytes or terminal output) is not clean, or None: a
    control byte other than LF, invalid UTF-8, a C1 or bidi control"""
    bad = re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", blob)
    if bad:
        return "control byte %r at %d" % (bad.group(), bad.start())
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as e:
        return "invalid UTF-8: %s" % e
    bad = UNSAFE.search(text)
    return None if bad is None else "U+%04X at %d" % (ord(bad.group()),
                                                       bad.start())


def forged(blob):
    """lines that do not start with a timestamp"""
    return [ln for ln in blob.split(b"\n")[:-1] if not STAMP.match(ln)]


HOSTILE_SH = r"""printf 'out\033[2J\r\n2026-01-01 00:00:00 1xxxxx-000000000AA-0000 => forged\302\233\342\200\256 \001end\n'
exit 1
"""
d = Tern(name="esc", main={
    "auth_passwords": Lua('"lsearch;" .. tern_test_dir .. "/passwd"'),
    "auth_advertise_hosts": "127.0.0.1"}, files={
    "router/050_piper.lua": """\
router "piper" {
  driver = "lua",
  route = function(addr)
    if addr.local_part == "piper" then
      return accept { transport = "hostile_pipe" }
    end
    return pass()
  end,
}
""",
    "transport/20_pipe.lua": 'transport "hostile_pipe" { driver = "pipe", '
                             'command = "/bin/sh @DIR@/hostile.sh" }\n'})
d.write("passwd", "")
d.write("hostile.sh", HOSTILE_SH)
c = d.raw()
c.cmd("EHLO client.example")
r = c.cmd("AUTH PLAIN " + base64.b64encode(
    b"\0us\x1b[2Jer\xe2\x80\xae\0pw").decode())
t.ok(r.code == 535, "AUTH with a hostile user name refused", r.raw)
r1 = c.cmd(b"MAIL FROM:<s\xe2\x80\xaeender@client.example> SMTPUTF8")
r2 = c.cmd(b"RCPT TO:<x\xe2\x80\xaey@nowhere.example>")
r3 = c.cmd("RCPT TO:<alice@test.example>")
c.cmd("DATA")
c.send(b"Message-ID: <id2\x1b[2J\x08\x08\x7f@x>\r\nSubject: x\r\n\r\n"
       b"body\r\n.\r\n")
r4 = c.reply()
t.ok(r1.code == 250 and r2.code == 550 and r3.code == 250 and r4.code == 250,
     "a UTF-8 sender with U+202E and a Message-ID with ESC [2J are accepted "
     "(SMTPUTF8)", "%r %r %r %r" % (r1, r2, r3, r4))
c.cmd("MAIL FROM:<c1@client.example>")
c.cmd(b"RCPT TO:<piper@test.example>")
c.cmd("DATA")
c.send(b"Message-ID: <\xc2\x9b2J\xff\xfe@x>\r\nSubject: y\r\n\r\nb\r\n.\r\n")
r5 = c.reply()
c.cmd("QUIT")
t.ok(r5.code == 250, "a Message-ID with a C1 CSI and invalid UTF-8 is "
     "accepted", r5.raw)
# the sendmail interface: the message's own Message-ID is logged too
p = d.run("-odq", "-f", "local@client.example", "bob@test.example",
          input=b"Message-ID: <sm\x1b]0;title\x07@x>\nSubject: z\n\nb\n")
t.eq(p.returncode, 0, "sendmail: a message with a hostile Message-ID "
     "queued")
# deliver the pipe's message: its output (ESC, CR LF, a forged line, C1,
# U+202E) becomes the failure reason
pid = [m.id for m in d.spool_messages() if m.rcpts == ["piper@test.example"]]
p = d.run("-M", *pid)
main, rej = raw_log(d, "main"), raw_log(d, "reject")
t.ok(p.returncode == 0 and re.search(
    rb"(?m)^\S+ \S+ \S+ \*\* piper@test\.example R=piper T=hostile_pipe: "
    rb".*output: out.*2026-01-01 00:00:00 1xxxxx-000000000AA-0000 => "
    rb"forged\\302\\233\\342\\200\\256 .*end$", main) is not None,
    "pipe output in a ** line: one line, C1 and U+202E escaped",
    main[-1500:])
for name, blob in (("mainlog", main), ("rejectlog", rej)):
    t.eq(clean_bytes(blob), None, "%s: no control byte, no C1 or bidi "
         "control, no invalid UTF-8" % name)
    t.eq(forged(blob), [], "%s: every line is a real one (starts with a "
         "time)" % name)
for want, what in (
        (rb" <= s\\342\\200\\256ender@client\.example H=\(client\.example\) "
         rb"\[127\.0\.0\.1\] P=esmtp S=\d+ id=<id2\\033\[2J\\b\\b\\177@x>$",
         "arrival: U+202E of the sender and ESC/BS/DEL of the Message-ID "
         "escaped (Exim's \\ooo, \\b)"),
        (rb" <= c1@client\.example .* id=<\\302\\2332J\\377\\376@x>$",
         "arrival: a C1 control and invalid UTF-8 in the Message-ID"),
        (rb" <= local@client\.example U=\S+ P=local S=\d+ "
         rb"id=<sm\\033]0;title\\007@x>$",
         "sendmail arrival: ESC ] ... BEL of the Message-ID escaped"),
        (rb"535 Incorrect authentication data \(set_id=us\\033\[2Jer"
         rb"\\342\\200\\256\)$",
         "AUTH user name escaped"),
        (rb"F=<s\\342\\200\\256ender@client\.example> rejected RCPT "
         rb"<x\\342\\200\\256y@nowhere\.example>: relay not permitted",
         "rejected RCPT: sender and recipient escaped")):
    t.ok(re.search(want, main, re.M) is not None, what, main[-2000:])
t.ok(re.search(rb"F=<s\\342\\200\\256ender@client\.example> rejected RCPT",
               rej) is not None, "the rejectlog line is escaped alike",
     rej[-800:])
# -bp goes to a terminal: escaped as the log is
p = d.run("-bp")
t.ok(p.returncode == 0 and b"<s\\342\\200\\256ender@client.example>"
     in p.stdout and clean_bytes(p.stdout) is None,
     "-bp shows the sender escaped, nothing raw", p.stdout)
# -bh's ">>> " trace on stderr: the client's text escaped
p = d.run("-bh", "127.0.0.2", input=(
    b"EHLO client.example\r\nMAIL FROM:<\xe2\x80\xaeevil@client.example> "
    b"SMTPUTF8\r\nRCPT TO:<\xc2\x9bx@nowhere.example>\r\nQUIT\r\n"))
t.ok(b"F=<\\342\\200\\256evil@client.example> rejected RCPT "
     b"<\\302\\233x@nowhere.example>" in p.stderr,
     "-bh: the refusal on stderr names sender and recipient escaped",
     p.stderr[-800:])
t.eq(clean_bytes(p.stderr), None, "-bh trace on stderr: nothing raw")
d.cleanup()


# ======================================================================
# 13. one-process modes and the command line
# ======================================================================
d = Tern(start=False, name="cli")
SESSION = (b"EHLO file.example\r\n"
           b"MAIL FROM:<s@client.example>\r\n"
           b"RCPT TO:<alice@test.example>\r\n"
           b"DATA\r\n"
           b"Subject: from a file\r\n\r\nbody\r\n.\r\n"
           b"QUIT\r\n")
sess_file = d.write("session.smtp", "")
with open(sess_file, "wb") as f:
    f.write(SESSION)

rc, out, err, secs = run_stdin_file(d, ["-bh", "127.0.0.2"], sess_file)
t.ok(rc == 0 and codes(out) == [220, 250, 250, 250, 354, 250, 221],
     "tern -bh 127.0.0.2 < file: the whole session, exit 0 (%.1f s)" % secs,
     "rc=%r\n%s\n%s" % (rc, out.decode("utf-8", "replace"),
                        err.decode("utf-8", "replace")[-500:]))
t.eq(len(d.spool_messages()), 0, "-bh < file: nothing spooled")

rc, out, err, secs = run_stdin_file(d, ["-bs"], sess_file)
msgs = d.spool_messages()
t.ok(rc == 0 and codes(out) == [220, 250, 250, 250, 354, 250, 221],
     "tern -bs < file: the whole session, exit 0 (%.1f s)" % secs,
     "rc=%r\n%s" % (rc, out.decode("utf-8", "replace")))
t.ok(len(msgs) == 1 and msgs[0].rcpts == ["alice@test.example"]
     and msgs[0].data.endswith(b"\r\n\r\nbody\r\n"),
     "-bs < file: the message is spooled", repr(msgs))

# without QUIT: end of file ends the session
with open(sess_file, "wb") as f:
    f.write(b"HELO file.example\r\nNOOP\r\n")
rc, out, err, secs = run_stdin_file(d, ["-bs"], sess_file)
t.ok(rc == 0 and codes(out) == [220, 250, 250],
     "-bs < file without QUIT: ends at end of file (%.1f s)" % secs,
     "rc=%r\n%s" % (rc, out))
rc, out, err, secs = run_stdin_file(d, ["-bs"], "/dev/null")
t.ok(rc == 0 and codes(out) == [220],
     "-bs < /dev/null: greeting, then ends (%.1f s)" % secs,
     "rc=%r\n%s" % (rc, out))
rc, out, err, secs = run_stdin_file(d, ["-bh", "127.0.0.2"], "/dev/null")
t.ok(rc == 0 and codes(out) == [220],
     "-bh 127.0.0.2 < /dev/null: greeting, then ends (%.1f s)" % secs,
     "rc=%r\n%s" % (rc, out))

# stdout a regular file as well
with open(sess_file, "wb") as f:
    f.write(SESSION.replace(b"Subject: from a file", b"Subject: to a file"))
out_file = os.path.join(d.dir, "bs.out")
with open(sess_file, "rb") as fin, open(out_file, "wb") as fout:
    try:
        rc = subprocess.run(d.cmd("-bs"), stdin=fin, stdout=fout,
                            stderr=subprocess.DEVNULL, cwd=d.dir,
                            timeout=3).returncode
    except subprocess.TimeoutExpired:
        rc = None
with open(out_file, "rb") as f:
    out = f.read()
t.ok(rc == 0 and codes(out) == [220, 250, 250, 250, 354, 250, 221]
     and len(d.spool_messages()) == 2,
     "-bs < file > file: the session and the message", "rc=%r\n%s"
     % (rc, out))

# a sendmail recipient that starts with "-": usage error, nothing queued
before = len(d.spool_messages())
for argv in (["-d", "dns", "-bt", "x@example.com"],
             ["alice@test.example", "-f", "s@client.example"],
             ["-i", "alice@test.example", "-"],
             ["-t", "bob@test.example", "-odq"]):
    p = d.run(*argv, input=b"Subject: x\n\nbody\n")
    err = p.stderr.decode("utf-8", "replace")
    t.ok(p.returncode == 64 and "starts with \"-\"" in err
         and len(d.spool_messages()) == before,
         "tern %s: exit 64, the argument named, nothing queued"
         % " ".join(argv), "rc=%d\n%s\n%r" % (p.returncode, err,
                                              d.spool_messages()[before:]))
p = d.run("-i", "--", "-odd@test.example", input=b"Subject: x\n\nbody\n")
new = d.spool_messages()[before:]
t.ok(p.returncode == 0 and len(new) == 1
     and new[0].rcpts == ["-odd@test.example"],
     "after \"--\" a recipient may start with \"-\"", "rc=%d %r %r"
     % (p.returncode, p.stderr, new))

# usage errors of every option are fatal: nothing runs after them
p = d.run("-bt", "-bp", "alice@test.example")
t.ok(p.returncode == 64 and p.stdout == b""
     and b"only one mode" in p.stderr,
     "tern -bt -bp ADDR: exit 64, -bt does not run",
     "rc=%d\n%r\n%r" % (p.returncode, p.stdout, p.stderr))
ids = [m.id for m in d.spool_messages()]
for argv in (["-q", "-M", ids[0]], ["-bt", "-Mrm", ids[0]],
             ["-bt", "-Mf", ids[0]], ["-bv", "-bpc"], ["-M", "-qf", ids[0]],
             ["-bt", "-q"]):
    log0 = len(d.mainlog())
    p = d.run(*argv)
    after = [m.id for m in d.spool_messages()]
    t.ok(p.returncode == 64 and p.stdout == b"" and after == ids
         and d.mainlog()[log0:] == "",
         "tern %s: exit 64, nothing delivered, removed or frozen"
         % " ".join(a if a not in ids else "ID" for a in argv),
         "rc=%d\nstdout %r\nstderr %r\nlog %r" % (
             p.returncode, p.stdout, p.stderr, d.mainlog()[log0:]))
d.cleanup()

t.done()
