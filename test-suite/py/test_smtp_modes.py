#!/usr/bin/env python3
"""test_smtp_modes - the other ways in: -bs (SMTP on stdin/stdout, local
submission), -bh IP (a fake session with the ACL trace that queues
nothing), and the sendmail interface (recipients as arguments, -t, -i,
-f, exit codes 64/65/77, the not_smtp ACL)."""
import os
import pwd
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, HOSTNAME  # noqa: E402

t = TAP()
USER = pwd.getpwuid(os.getuid()).pw_name


def replies(out):
    """[(code, text)] of the final lines of each reply in out"""
    return [(int(m.group(1)), m.group(2)) for m in
            re.finditer(r"^(\d{3}) (.*?)\r?$", out, re.M)]


d = Tern(start=False, name="modes")

# ---- -bs
session = (b"EHLO local.example\r\n"
           b"MAIL FROM:<submitter@client.example>\r\n"
           b"RCPT TO:<alice@test.example>\r\n"
           b"RCPT TO:<someone@a-only.test>\r\n"
           b"DATA\r\n"
           b"Subject: via -bs\r\nMessage-ID: <bs.1@client.example>\r\n\r\n"
           b"..stuffed\r\nbody\r\n.\r\n"
           b"QUIT\r\n")
p = d.run("-bs", input=session)
out = p.stdout.decode("utf-8", "replace")
codes = [c for c, _ in replies(out)]
t.eq(p.returncode, 0, "-bs exits 0")
t.eq(codes, [220, 250, 250, 250, 250, 354, 250, 221],
     "-bs: 220, EHLO, MAIL, RCPT local, RCPT remote (local submission may "
     "relay), 354, 250, 221")
t.ok(out.startswith("220 %s" % HOSTNAME) and "\r\n" in out,
     "-bs: replies on stdout with CRLF", out[:200])
msgs = d.spool_messages()
m = msgs[-1] if msgs else None
t.ok(m is not None and m.sender == "submitter@client.example"
     and m.rcpts == ["alice@test.example", "someone@a-only.test"]
     and m.env.get("protocol") == "local-esmtp"
     and m.env.get("client-ip") == "",
     "-bs: spooled with protocol local-esmtp and no client address",
     repr(m and m.env))
t.ok(m is not None and m.data.endswith(b"\r\n\r\n.stuffed\r\nbody\r\n"),
     "-bs: dot-unstuffing as over the network", repr(m and m.data[-60:]))
t.ok(m is not None and re.match(rb"Received: [^;]*\bby %s with "
                                rb"local-esmtp\b" % HOSTNAME.encode(),
                                m.data) is not None,
     "-bs: Received: ... by %s with local-esmtp" % HOSTNAME,
     repr(m and m.data[:200]))
t.ok(re.search(r"^\S+ \S+ %s <= submitter@client\.example .*P=local-esmtp "
               r"S=%d id=<bs\.1@client\.example>$"
               % (re.escape(m.id) if m else "X", len(m.data) if m else 0),
               d.mainlog(), re.M) is not None,
     "-bs: mainlog arrival line with P=local-esmtp", d.mainlog()[-600:])

# -bs with HELO: P=local-smtp
p = d.run("-bs", input=b"HELO local.example\r\nMAIL FROM:<s@client.example>"
          b"\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: helo\r\n\r\n"
          b"x\r\n.\r\nQUIT\r\n")
t.ok(re.search(r"<= s@client\.example .*P=local-smtp ", d.mainlog())
     is not None, "-bs after HELO: P=local-smtp", d.mainlog()[-400:])

# ---- -bh
n_before = len(d.spool_messages())
log_before = d.mainlog()
p = d.run("-bh", "192.0.2.1", input=(
    b"EHLO outside.example\r\n"
    b"MAIL FROM:<x@client.example>\r\n"
    b"RCPT TO:<user@a-only.test>\r\n"
    b"RCPT TO:<alice@test.example>\r\n"
    b"DATA\r\nSubject: bh\r\n\r\nfake\r\n.\r\n"
    b"QUIT\r\n"))
out = p.stdout.decode("utf-8", "replace")
err = p.stderr.decode("utf-8", "replace")
rs = replies(out)
t.eq(p.returncode, 0, "-bh exits 0")
t.ok([c for c, _ in rs] == [220, 250, 250, 550, 250, 354, 250, 221],
     "-bh 192.0.2.1: the session runs: relay refused (550), local "
     "accepted", out)
t.ok(any(c == 550 and txt.startswith("5.7.1") and "relay" in txt
         for c, txt in rs), "-bh: 550 5.7.1 relay not permitted", out)
t.ok("[192.0.2.1]" in out, "-bh: the EHLO reply names the fake client "
     "address", out[:300])
t.ok(re.search(r"^>>> ", err, re.M) is not None
     and re.search(r"^>>> .*rcpt.*deny.*relay not permitted", err, re.M)
     is not None and re.search(r"^>>> .*rcpt.*accept", err, re.M)
     is not None, "-bh: stderr shows the ACL decisions as \">>> \" lines",
     err)
t.ok(re.search(r"not queued|-bh", [txt for c, txt in rs if c == 250][-1]
               if rs else "") is not None,
     "-bh: the 250 after DATA says the message was not queued", out)
t.eq(len(d.spool_messages()), n_before, "-bh: nothing spooled")
t.ok(not re.search(r"<= x@client\.example", d.mainlog()),
     "-bh: no arrival line in the mainlog")
p = d.run("-bh", input=b"QUIT\r\n")
t.eq(p.returncode, 64, "-bh without an address: exit 64")

# -dsmtp traces every session state change made by smtpin_set_state();
# the line's wording is an interface (STYLE.md 6)
STATE_RE = r"(?m)^  smtp: \[192\.0\.2\.1\]:\d+ state (\w+) -> (\w+)$"
t.eq(re.findall(STATE_RE, err), [], "-bh without -d: no state trace")
p = d.run("-dsmtp", "-bh", "192.0.2.1", input=(
    b"EHLO outside.example\r\nMAIL FROM:<x@client.example>\r\n"
    b"RCPT TO:<alice@test.example>\r\nDATA\r\nSubject: trace\r\n\r\nx\r\n"
    b".\r\nQUIT\r\n"))
err = p.stderr.decode("utf-8", "replace")
want = [("START", "CMD"), ("CMD", "DATA"), ("DATA", "CMD"),
        ("CMD", "CLOSING")]
t.ok(p.returncode == 0 and re.findall(STATE_RE, err) == want,
     "-dsmtp -bh: \"smtp: [ip]:port state OLD -> NEW\" for each change",
     "want: %r\n%s" % (want, err))

# ---- sendmail interface: recipients as arguments
msg = b"Subject: from sendmail\nTo: alice@test.example\n\nline 1\nline 2\n"
n_before = len(d.spool_messages())
p = d.run("-f", "s@client.example", "alice@test.example", input=msg)
t.eq(p.returncode, 0, "tern -f s@client.example alice@test.example < msg: "
     "exit 0")
new = d.spool_messages()[n_before:]
m = new[0] if len(new) == 1 else None
t.ok(m is not None and m.sender == "s@client.example"
     and m.rcpts == ["alice@test.example"], "sendmail: spooled with the -f "
     "sender and the argument recipient", repr(new))
if m is not None:
    t.ok(m.env.get("protocol") == "local" and m.env.get("local-user") == USER,
         "sendmail: protocol local, local-user %s" % USER, repr(m.env))
    hdr = m.headers()
    mid = m.header("Message-ID")
    t.ok(len(mid) == 1 and mid[0] == "<E%s@%s>" % (m.id, HOSTNAME),
         "sendmail: Message-ID: <E<id>@%s> added (DESIGN 10)" % HOSTNAME,
         repr(mid))
    t.ok(len(m.header("Date")) == 1 and re.match(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4} "
        r"\d\d:\d\d:\d\d [+-]\d{4}$", m.header("Date")[0]) is not None,
        "sendmail: an RFC 5322 Date: added", hdr)
    t.ok(len(m.header("From")) == 1 and "s@client.example"
         in m.header("From")[0], "sendmail: From: added from the sender",
         hdr)
    rcv = m.header("Received")
    t.ok(len(rcv) == 1 and re.match(
        r"from %s by %s with local\b.*;\s*\w{3}, " % (re.escape(USER),
                                                     re.escape(HOSTNAME)),
        rcv[0]) is not None,
        "sendmail: Received: from %s by %s with local ... ; date"
        % (USER, HOSTNAME), repr(rcv))
    t.ok(m.data.endswith(b"\r\n\r\nline 1\r\nline 2\r\n")
         and b"\n" not in m.data.replace(b"\r\n", b""),
         "sendmail: LF line ends become CRLF", repr(m.data[-80:]))
    t.ok(re.search(r"^\S+ \S+ %s <= s@client\.example U=%s P=local S=%d"
                   % (re.escape(m.id), re.escape(USER), len(m.data)),
                   d.mainlog(), re.M) is not None,
         "sendmail: mainlog ID <= s@client.example U=%s P=local S=N" % USER,
         d.mainlog()[-600:])
    t.ok(re.search(r"^\S+ \S+ %s <= .* id=<E%s@%s>$"
                   % (re.escape(m.id), re.escape(m.id), re.escape(HOSTNAME)),
                   d.mainlog(), re.M) is not None,
         "sendmail: the arrival line ends in id=<message-id> as every "
         "arrival does (DESIGN 10)", d.mainlog()[-600:])

# headers already present are not added twice
msg2 = (b"From: Me <me@client.example>\nDate: Mon, 1 Jan 2024 00:00:00 "
        b"+0000\nMessage-ID: <have.1@client.example>\nSubject: full\n\nx\n")
n_before = len(d.spool_messages())
p = d.run("-f", "me@client.example", "bob@test.example", input=msg2)
new = d.spool_messages()[n_before:]
t.ok(p.returncode == 0 and len(new) == 1
     and new[0].header("Message-ID") == ["<have.1@client.example>"]
     and len(new[0].header("Date")) == 1
     and new[0].header("From") == ["Me <me@client.example>"],
     "sendmail: existing Message-ID/Date/From are kept, not duplicated",
     repr(new and new[0].headers()))

# a sender without -f: the caller, qualified
n_before = len(d.spool_messages())
p = d.run("bob", input=b"Subject: bare\n\nx\n")
new = d.spool_messages()[n_before:]
t.ok(p.returncode == 0 and len(new) == 1
     and new[0].sender == "%s@%s" % (USER, HOSTNAME)
     and new[0].rcpts == ["bob@%s" % HOSTNAME],
     "sendmail without -f: sender %s@%s, bare recipient qualified"
     % (USER, HOSTNAME), repr(new))

# ---- -t
msg = (b"From: s@client.example\nTo: alice@test.example\n"
       b"Cc: Bob <bob@test.example>, \"Carol, C.\" <carol@test.example>\n"
       b"Bcc: postmaster@test.example\nSubject: -t\n\nbody\n")
n_before = len(d.spool_messages())
p = d.run("-t", "-f", "s@client.example", input=msg)
new = d.spool_messages()[n_before:]
m = new[0] if len(new) == 1 else None
t.eq(p.returncode, 0, "-t: exit 0")
t.ok(m is not None and sorted(m.rcpts) == sorted([
    "alice@test.example", "bob@test.example", "carol@test.example",
    "postmaster@test.example"]), "-t: recipients from To:, Cc: and Bcc:",
    repr(m and m.rcpts))
t.ok(m is not None and not m.header("Bcc")
     and b"postmaster@test.example" not in m.data,
     "-t: Bcc: removed from the spooled message",
     repr(m and m.headers()))
t.ok(m is not None and m.header("Cc") and m.header("To"),
     "-t: To: and Cc: kept", repr(m and m.headers()))

# ---- -i and a lone dot
msg = b"Subject: dots\n\nbefore\n.\nafter\n"
n_before = len(d.spool_messages())
p = d.run("-f", "s@client.example", "alice@test.example", input=msg)
new = d.spool_messages()[n_before:]
t.ok(p.returncode == 0 and len(new) == 1
     and new[0].data.endswith(b"\r\nbefore\r\n")
     and b"after" not in new[0].data,
     "without -i, a line with a single dot ends the message",
     repr(new and new[0].data[-60:]))
n_before = len(d.spool_messages())
p = d.run("-i", "-f", "s@client.example", "alice@test.example", input=msg)
new = d.spool_messages()[n_before:]
t.ok(p.returncode == 0 and len(new) == 1
     and new[0].data.endswith(b"\r\nbefore\r\n.\r\nafter\r\n"),
     "with -i, the lone dot is message text",
     repr(new and new[0].data[-60:]))
n_before = len(d.spool_messages())
p = d.run("-oi", "-f", "s@client.example", "alice@test.example", input=msg)
new = d.spool_messages()[n_before:]
t.ok(p.returncode == 0 and len(new) == 1
     and new[0].data.endswith(b".\r\nafter\r\n"), "-oi works like -i",
     repr(new and new[0].data[-60:]))

# ---- exit codes
n_before = len(d.spool_messages())
p = d.run("-t", "-f", "s@client.example", input=b"Subject: nobody\n\nx\n")
t.eq(p.returncode, 64, "-t with no recipient header: exit 64 (EX_USAGE)")
t.ok(b"no recipients" in p.stderr, "-t with no recipients says so",
     p.stderr)
p = d.run(input=b"Subject: x\n\nx\n")
t.eq(p.returncode, 64, "no recipients and no -t: exit 64")
p = d.run("-f", "s@client.example", "bad address@@test.example",
          input=b"Subject: x\n\nx\n")
t.eq(p.returncode, 65, "a malformed recipient: exit 65 (EX_DATAERR)")
t.ok(b"bad recipient address" in p.stderr, "the bad address is reported",
     p.stderr)
p = d.run("-f", "s@client.example", "alice@test.example",
          input=b"Subject: x\n\nnul\x00here\n")
t.eq(p.returncode, 65, "a NUL in the message: exit 65")
p = d.run("-t", input=b"To: <broken@@x>\n\nx\n")
t.eq(p.returncode, 65, "-t with a malformed To: address: exit 65")
t.eq(len(d.spool_messages()), n_before, "none of the refused submissions "
     "was spooled")
d.cleanup()

# ---- the not_smtp ACL
d = Tern(start=False, files={"acl/40_not_smtp.lua":
                             'acl "not_smtp" { deny { message = "no" } }\n'},
         name="modes-acl")
p = d.run("-f", "s@client.example", "alice@test.example",
          input=b"Subject: refused\n\nx\n")
t.eq(p.returncode, 77, "not_smtp ACL deny: exit 77 (EX_NOPERM)")
t.ok(b"no" in p.stderr and b"refused" in p.stderr,
     "not_smtp ACL deny: the message is on stderr", p.stderr)
t.eq(d.spool_messages(), [], "not_smtp ACL deny: nothing spooled")
t.ok(re.search(r"F=<s@client\.example> rejected by the not_smtp ACL: no",
               d.rejectlog()) is not None,
     "not_smtp ACL deny: a rejectlog line", d.rejectlog())
# -bs is SMTP, not "not SMTP": the ACL does not apply there
p = d.run("-bs", input=b"EHLO l.example\r\nMAIL FROM:<s@client.example>\r\n"
          b"RCPT TO:<alice@test.example>\r\nDATA\r\nSubject: bs\r\n\r\nx\r\n"
          b".\r\nQUIT\r\n")
t.ok(len(d.spool_messages()) == 1, "-bs is not subject to the not_smtp "
     "ACL", p.stdout)
t.ok(d.paniclog() == "", "paniclog is empty", d.paniclog())
d.cleanup()

d = Tern(start=False, files={"acl/40_not_smtp.lua":
                             'acl "not_smtp" { defer { message = "later" } '
                             '}\n'}, name="modes-defer")
p = d.run("-f", "s@client.example", "alice@test.example",
          input=b"Subject: deferred\n\nx\n")
t.eq(p.returncode, 75, "not_smtp ACL defer: exit 75 (EX_TEMPFAIL)")
t.eq(d.spool_messages(), [], "not_smtp ACL defer: nothing spooled")
d.cleanup()

t.done()
