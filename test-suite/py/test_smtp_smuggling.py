#!/usr/bin/env python3
"""test_smtp_smuggling - SMTP smuggling and malformed DATA: only CRLF "."
CRLF ends the data. Each variant of a false end of data ("\\n.\\n",
"\\r.\\n", "\\n.\\r\\n", "\\r\\n.\\r", "\\r\\n.\\n", NUL) is embedded in a
message and followed by a smuggled MAIL/RCPT/DATA; the data must not end
early, the message is rejected with 5xx after the real terminator, nothing
smuggled is accepted and the session stays usable. Also: lines over 998
octets, header section over header_size_limit, message over
message_size_limit."""
import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern  # noqa: E402

t = TAP()
HEADER_LIMIT = 4096
SIZE_LIMIT = 60000

SMUGGLED = (b"MAIL FROM:<smuggled@evil.example>\r\n"
            b"RCPT TO:<bob@test.example>\r\n"
            b"DATA\r\n"
            b"From: smuggled@evil.example\r\nSubject: smuggled\r\n\r\n"
            b"this message was smuggled\r\n")

VARIANTS = [
    ("\\n.\\n", b"\n.\n"),
    ("\\r.\\n", b"\r.\n"),
    ("\\n.\\r\\n", b"\n.\r\n"),
    ("\\r\\n.\\r", b"\r\n.\r"),
    ("\\r\\n.\\n", b"\r\n.\n"),
    ("\\r.\\r\\n", b"\r.\r\n"),
    ("\\r\\n\\x00.\\r\\n (NUL before the dot)", b"\r\n\x00.\r\n"),
    ("\\r\\n.\\x00\\r\\n (NUL after the dot)", b"\r\n.\x00\r\n"),
    ("NUL in a line", b"\r\nnul\x00byte\r\n"),
]

HEAD = (b"From: victim@client.example\r\nTo: alice@test.example\r\n"
        b"Subject: smuggling test\r\n\r\nfirst line")


def open_data(d, c=None):
    """a session with MAIL, RCPT and DATA done; the client"""
    c = c or d.raw()
    if c.cmd("EHLO client.example").code != 250:
        return c
    r1 = c.cmd("MAIL FROM:<victim@client.example>")
    r2 = c.cmd("RCPT TO:<alice@test.example>")
    r3 = c.cmd("DATA")
    if (r1.code, r2.code, r3.code) != (250, 250, 354):
        t.diag("transaction did not open: %r %r %r" % (r1, r2, r3))
    return c


def spooled(d):
    return d.spool_messages()


with t.guard("smug: the session ran to its end"), \
     Tern(main={"header_size_limit": HEADER_LIMIT,
                "message_size_limit": SIZE_LIMIT}, name="smug") as d:
    for name, v in VARIANTS:
        c = open_data(d)
        before = len(spooled(d))
        # the false terminator + smuggled commands + the real terminator,
        # all in one write
        c.send(HEAD + v + SMUGGLED + b"\r\n.\r\n")
        r = c.try_reply(5)
        extra = c.pending(0.5)
        ok_reject = (r is not None and 500 <= r.code < 600
                     and r.status_ok("5.") and extra == b"")
        t.ok(ok_reject, "%s: one reply, a 5xx rejection after the real "
             "terminator" % name, repr((r, extra)))
        t.ok(r is not None and r.code != 250 and b"354" not in extra,
             "%s: the data did not end early (no 250 for the first part, no "
             "354 for a smuggled DATA)" % name, repr((r, extra)))
        after = spooled(d)
        t.ok(len(after) == before, "%s: nothing spooled (no first or "
             "smuggled message)" % name, repr(after[before:]))
        r = c.try_reply(0.1) if extra else None
        r = c.cmd("NOOP") if r is None else r
        t.ok(r is not None and r.code == 250, "%s: session usable after the "
             "rejection (NOOP 250)" % name, repr(r))
        # a clean message in the same session is accepted, once
        r1 = c.cmd("MAIL FROM:<victim@client.example>")
        r2 = c.cmd("RCPT TO:<alice@test.example>")
        r3 = c.cmd("DATA")
        c.send(b"Subject: clean\r\n\r\nclean body\r\n.\r\n")
        r4 = c.try_reply(5)
        t.ok([x.code if x else None for x in (r1, r2, r3, r4)]
             == [250, 250, 354, 250], "%s: the next, clean transaction is "
             "accepted" % name, repr((r1, r2, r3, r4)))
        after = spooled(d)
        t.ok(len(after) == before + 1
             and after[-1].sender == "victim@client.example"
             and b"smuggled" not in after[-1].data,
             "%s: exactly one message spooled, from the real sender, "
             "without smuggled content" % name,
             repr([(m.sender, m.rcpts) for m in after[before:]]))
        c.close()

    t.ok(re.search(r"rejected after DATA: Bare LF", d.rejectlog())
         is not None and re.search(r"rejected after DATA: Bare CR",
                                   d.rejectlog()) is not None
         and re.search(r"rejected after DATA: NUL", d.rejectlog())
         is not None, "rejectlog: the bare LF, bare CR and NUL rejections "
         "with their reason", d.rejectlog()[-1500:])
    t.ok(not any(m.sender == "smuggled@evil.example" for m in spooled(d)),
         "no smuggled sender anywhere in the spool")
    t.ok(not re.search(r"<= smuggled@evil\.example", d.mainlog()),
         "mainlog: no arrival from the smuggled sender")

    # ---- the false terminator split over several writes
    c = open_data(d)
    before = len(spooled(d))
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for piece in (HEAD + b"\n", b".", b"\n", SMUGGLED[:20], SMUGGLED[20:],
                  b"\r\n.", b"\r\n"):
        c.send(piece)
        time.sleep(0.05)
    r = c.try_reply(5)
    extra = c.pending(0.5)
    t.ok(r is not None and r.code == 550 and extra == b""
         and len(spooled(d)) == before,
         "\\n.\\n split over several writes: 550 after the real end, "
         "nothing spooled", repr((r, extra)))
    c.close()

    # ---- the real terminator split: "\r\n." then "\r\n" later
    c = open_data(d)
    before = len(spooled(d))
    c.send(b"Subject: split\r\n\r\nbody\r\n.")
    time.sleep(0.2)
    early = c.pending(0.3)
    c.send(b"\r\n")
    r = c.try_reply(5)
    t.ok(early == b"" and r is not None and r.code == 250
         and len(spooled(d)) == before + 1,
         "a real terminator split after the dot ends the data only when "
         "its CRLF arrives", repr((early, r)))
    c.close()

    # ---- line length: 998 octets pass, 999 do not
    c = open_data(d)
    before = len(spooled(d))
    c.send(b"Subject: long\r\n\r\n" + b"a" * 998 + b"\r\nend\r\n.\r\n")
    r = c.try_reply(5)
    t.reply(r, 250, "2.0.0", "a 998-octet line (RFC 5321 4.5.3.1.6) is "
            "accepted")
    t.ok(len(spooled(d)) == before + 1 and spooled(d)[-1].data.endswith(
        b"a" * 998 + b"\r\nend\r\n"), "the 998-octet line is spooled whole")
    c.close()

    c = open_data(d)
    before = len(spooled(d))
    c.send(b"Subject: long\r\n\r\n" + b"a" * 999 + b"\r\nend\r\n.\r\n")
    r = c.try_reply(5)
    t.ok(r is not None and r.code in (550, 554, 500) and r.status_ok("5."),
         "a 999-octet line is refused with 5xx after the terminator",
         repr(r))
    t.eq(len(spooled(d)), before, "the message with a 999-octet line is "
         "not spooled")
    t.eq(c.cmd("NOOP").code, 250, "session usable after the long line")
    c.close()

    # a long line that hides a false terminator: the rest of it is data
    c = open_data(d)
    before = len(spooled(d))
    c.send(b"Subject: long2\r\n\r\n" + b"b" * 2000 + b"\n.\r\n" + SMUGGLED
           + b"\r\n.\r\n")
    r = c.try_reply(5)
    extra = c.pending(0.5)
    t.ok(r is not None and 500 <= r.code < 600 and extra == b""
         and len(spooled(d)) == before, "a 2000-octet line followed by "
         "\\n.\\r\\n and smuggled commands: one 5xx, nothing spooled",
         repr((r, extra)))
    c.close()

    # ---- header section over header_size_limit
    c = open_data(d)
    before = len(spooled(d))
    hdrs = b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"h" * 60)
                    for i in range(HEADER_LIMIT // 70 + 10))
    c.send(b"Subject: big header\r\n" + hdrs + b"\r\nbody\r\n.\r\n")
    r = c.try_reply(5)
    t.reply(r, 552, "5.3.4", "header section over header_size_limit (%d): "
            "552 5.3.4" % HEADER_LIMIT)
    t.eq(len(spooled(d)), before, "the big-header message is not spooled")
    t.eq(c.cmd("NOOP").code, 250, "session usable after the header refusal")
    c.close()
    t.ok(d.wait_log(r"rejected after DATA: Message header section too large",
                    "reject") is not None,
         "rejectlog: header section too large", d.rejectlog()[-800:])

    # the same bytes in the body are fine
    c = open_data(d)
    before = len(spooled(d))
    c.send(b"Subject: big body\r\n\r\n" + hdrs + b".\r\n")
    r = c.try_reply(5)
    t.reply(r, 250, "2.0.0", "the same %d octets in the body: accepted"
            % len(hdrs))
    c.close()

    # ---- message over message_size_limit
    c = open_data(d)
    before = len(spooled(d))
    line = b"x" * 78 + b"\r\n"
    c.send(b"Subject: too big\r\n\r\n" + line * (SIZE_LIMIT // 80 + 50)
           + b".\r\n")
    r = c.try_reply(10)
    t.reply(r, 552, "5.3.4", "message over message_size_limit (%d): 552 "
            "5.3.4" % SIZE_LIMIT)
    t.eq(len(spooled(d)), before, "the oversize message is not spooled")
    t.eq(c.cmd("NOOP").code, 250, "session usable after the size refusal")
    c.close()

    # one just under the limit passes
    c = open_data(d)
    before = len(spooled(d))
    n = (SIZE_LIMIT - 200) // 80
    c.send(b"Subject: fits\r\n\r\n" + line * n + b".\r\n")
    r = c.try_reply(10)
    t.reply(r, 250, "2.0.0", "message just under message_size_limit: 250")
    c.close()

    # ---- the same smuggling through BDAT: a BDAT chunk holding a false
    # end of data and commands is data, whatever it contains; with bare LF
    # it is refused as a whole
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<victim@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    before = len(spooled(d))
    chunk = HEAD + b"\n.\n" + SMUGGLED
    c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    r = c.try_reply(5)
    extra = c.pending(0.5)
    t.ok(r is not None and 500 <= r.code < 600 and extra == b""
         and len(spooled(d)) == before, "BDAT LAST chunk with \\n.\\n and "
         "smuggled commands: one 5xx, nothing spooled", repr((r, extra)))
    t.eq(c.cmd("NOOP").code, 250, "session usable after the BDAT refusal")
    c.close()
    t.ok(d.paniclog() == "", "paniclog is empty", d.paniclog())

t.done()
