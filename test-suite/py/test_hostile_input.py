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
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, HOSTNAME  # noqa: E402

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
