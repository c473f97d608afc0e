#!/usr/bin/env python3
"""test_smtp_limits - every connection and session limit is configurable,
refuses with the right code and writes a log line: smtp_accept_max,
smtp_accept_max_per_host, smtp_accept_max_per_minute_per_host,
recipients_max (452 4.5.3, default 100), message_size_limit (552 5.3.4),
smtp_receive_timeout and smtp_data_timeout (421 4.4.2),
smtp_max_unknown_commands and smtp_max_synprot_errors (421, dropped)."""
import os
import re
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, crlf  # noqa: E402

t = TAP()


def refused_421(c, name, why=None):
    """c was refused at connect: a 421 4.x.x greeting, then close"""
    b = c.banner
    ok = b is not None and b.code == 421 and b.status_ok("4.")
    if ok and why:
        ok = re.search(why, b.text, re.I) is not None
    t.ok(ok, name, repr(b))
    t.ok(c.is_closed(3), name + ": connection closed")


def accepted(c):
    return c.banner is not None and c.banner.code == 220


# ---- smtp_accept_max (total) and smtp_accept_max_per_host
with t.guard("lim-conn: the session ran to its end"), \
     Tern(main={"smtp_accept_max": 4, "smtp_accept_max_per_host": 2},
          name="lim-conn") as d:
    a1 = d.raw(source="127.0.0.1")
    a2 = d.raw(source="127.0.0.1")
    t.ok(accepted(a1) and accepted(a2), "per_host 2: two connections from "
         "127.0.0.1 get 220", repr((a1.banner, a2.banner)))
    a3 = d.raw(source="127.0.0.1")
    refused_421(a3, "smtp_accept_max_per_host 2: the 3rd connection from "
                "127.0.0.1 gets 421", "host")
    b1 = d.raw(source="127.0.0.2")
    b2 = d.raw(source="127.0.0.2")
    t.ok(accepted(b1) and accepted(b2), "per_host counts per address: two "
         "from 127.0.0.2 get 220 (4 open in all)", repr((b1.banner,
                                                         b2.banner)))
    c1 = d.raw(source="127.0.0.3")
    refused_421(c1, "smtp_accept_max 4: a 5th connection (from a new "
                "host, 127.0.0.3) gets 421", "too many")
    t.ok(d.wait_log(r"Connection from \[127\.0\.0\.1\] refused: Too many "
                    r"connections from your host", "reject") is not None,
         "rejectlog: the per-host refusal with the address",
         d.rejectlog()[-800:])
    t.ok(d.wait_log(r"Connection from \[127\.0\.0\.3\] refused: Too many "
                    r"concurrent SMTP connections", "reject") is not None,
         "rejectlog: the total refusal with the address",
         d.rejectlog()[-800:])
    t.ok(re.search(r"refused: Too many concurrent", d.mainlog())
         is not None, "mainlog has the refusal too", d.mainlog()[-800:])
    # the sessions still work, and a slot frees when one ends
    t.eq(a1.cmd("NOOP").code, 250, "the admitted sessions still work")
    a1.cmd("QUIT")
    a1.close()
    time.sleep(0.3)
    a4 = d.raw(source="127.0.0.1")
    t.ok(accepted(a4), "after one session ends, 127.0.0.1 gets a slot "
         "again", repr(a4.banner))
    b1.cmd("QUIT")
    b1.close()
    time.sleep(0.3)
    c2 = d.raw(source="127.0.0.3")
    t.ok(accepted(c2), "after another ends, a new host gets in again",
         repr(c2.banner))
    # a session that simply disconnects frees its slot too
    for c in (a2, b2):
        c.close()
    time.sleep(0.3)
    e1 = d.raw(source="127.0.0.2")
    e2 = d.raw(source="127.0.0.2")
    t.ok(accepted(e1) and accepted(e2), "slots of dropped connections are "
         "given back", repr((e1.banner, e2.banner)))

# ---- smtp_accept_max_per_minute_per_host (connection rate)
with t.guard("lim-rate: the session ran to its end"), \
     Tern(main={"smtp_accept_max_per_minute_per_host": 3}, probe=False,
          name="lim-rate") as d:
    got = []
    for i in range(3):
        c = d.raw()
        got.append(c.banner.code)
        c.cmd("QUIT")
        c.close()
    t.eq(got, [220, 220, 220], "rate 3/minute: three connections in a row "
         "get 220")
    c = d.raw()
    refused_421(c, "rate 3/minute: the 4th connection within the minute "
                "gets 421", "rate")
    c = d.raw(source="127.0.0.5")
    t.ok(accepted(c), "the rate limit is per host: 127.0.0.5 still gets "
         "220", repr(c.banner))
    c.close()
    t.ok(d.wait_log(r"Connection from \[127\.0\.0\.1\] refused: Connection "
                    r"rate limit", "reject") is not None,
         "rejectlog: the rate refusal", d.rejectlog()[-800:])

# ---- recipients_max and message_size_limit
with t.guard("lim-msg: the session ran to its end"), \
     Tern(main={"recipients_max": 3, "message_size_limit": "10K"},
          name="lim-msg") as d:
    c = d.raw()
    r = c.cmd("EHLO client.example")
    t.ok("SIZE 10240" in r.text, "EHLO advertises SIZE 10240 for "
         "message_size_limit 10K", repr(r))
    c.cmd("MAIL FROM:<x@client.example>")
    rs = [c.cmd("RCPT TO:<alice@test.example>"),
          c.cmd("RCPT TO:<bob@test.example>"),
          c.cmd("RCPT TO:<carol@test.example>"),
          c.cmd("RCPT TO:<postmaster@test.example>"),
          c.cmd("RCPT TO:<abuse@test.example>")]
    t.ok([r.code for r in rs[:3]] == [250, 250, 250], "recipients_max 3: "
         "three recipients accepted", repr(rs))
    t.reply(rs[3], 452, "4.5.3", "recipients_max 3: the 4th RCPT gets 452 "
            "4.5.3 (RFC 5321 4.5.3.1.10)")
    t.reply(rs[4], 452, "4.5.3", "recipients_max 3: and so does the 5th")
    c.cmd("DATA")
    c.send(crlf("Subject: three\n\nthree recipients\n.\n"))
    r = c.try_reply()
    t.reply(r, 250, "2.0.0", "the message goes to the first three")
    m = d.spool_messages()
    t.ok(len(m) == 1 and m[0].rcpts == ["alice@test.example",
                                        "bob@test.example",
                                        "carol@test.example"],
         "spool: exactly the three accepted recipients", repr(m))
    t.ok(d.wait_log(r"too many recipients", "reject") is not None,
         "rejectlog: a line for the recipients over recipients_max",
         d.rejectlog()[-800:])
    # a new transaction counts afresh
    c.cmd("MAIL FROM:<x@client.example>")
    rs = [c.cmd("RCPT TO:<alice@test.example>") for _ in range(3)]
    t.ok(all(r.code == 250 for r in rs), "the next transaction may have "
         "three recipients again", repr(rs))
    c.cmd("RSET")

    # message_size_limit: SIZE= and the data itself
    r = c.cmd("MAIL FROM:<x@client.example> SIZE=10241")
    t.reply(r, 552, "5.3.4", "MAIL SIZE=10241 over message_size_limit: 552 "
            "5.3.4")
    t.ok(d.wait_log(r"too big|size", "reject") is not None,
         "rejectlog: the SIZE= refusal", d.rejectlog()[-800:])
    c.cmd("MAIL FROM:<x@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.cmd("DATA")
    c.send(b"Subject: big\r\n\r\n" + (b"y" * 98 + b"\r\n") * 120 + b".\r\n")
    r = c.try_reply()
    t.reply(r, 552, "5.3.4", "12 KB of DATA over a 10K limit: 552 5.3.4 "
            "after the terminator")
    t.ok(d.wait_log(r"rejected after DATA: Message size exceeds", "reject")
         is not None, "rejectlog: the oversize message",
         d.rejectlog()[-800:])
    c.cmd("MAIL FROM:<x@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    chunk = b"z" * 6000
    c.send(b"BDAT 6000\r\n" + chunk)
    r1 = c.try_reply()
    c.send(b"BDAT 6000 LAST\r\n" + chunk)
    r2 = c.try_reply()
    t.ok(r1 is not None and r1.code == 250, "BDAT: the first 6000 octets "
         "fit", repr(r1))
    t.reply(r2, 552, "5.3.4", "BDAT: 12000 octets in all: 552 5.3.4")
    t.eq(len(d.spool_messages()), 1, "no oversize message spooled")
    t.eq(c.cmd("NOOP").code, 250, "the session goes on after the size "
         "refusals")
    c.close()

# ---- the default recipients_max is 100
with t.guard("lim-default: the session ran to its end"), \
     Tern(name="lim-default") as d:
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    c.send("".join("RCPT TO:<alice+%d@test.example>\r\n" % i
                   for i in range(101)))
    rs = [c.try_reply() for _ in range(101)]
    codes = [r.code if r else None for r in rs]
    t.ok(codes[:100] == [250] * 100, "default recipients_max: 100 "
         "recipients accepted", repr(codes))
    t.reply(rs[100], 452, "4.5.3", "default recipients_max: the 101st gets "
            "452 4.5.3")
    c.close()

# ---- timeouts and error counts
with t.guard("lim-time: the session ran to its end"), \
     Tern(main={"smtp_receive_timeout": "2s", "smtp_data_timeout": "2s",
                "smtp_max_unknown_commands": 2,
                "smtp_max_synprot_errors": 2}, name="lim-time") as d:
    # command timeout
    c = d.raw()
    c.cmd("EHLO client.example")
    t0 = time.monotonic()
    r = c.try_reply(8)
    took = time.monotonic() - t0
    t.reply(r, 421, "4.4.2", "smtp_receive_timeout 2s: an idle session gets "
            "421 4.4.2")
    t.ok(1.5 <= took <= 5, "the command timeout fires after about 2 s "
         "(%.1f s)" % took)
    t.ok(c.is_closed(3), "connection closed after the command timeout")
    t.ok(d.wait_log(r"SMTP command timeout on connection from "
                    r"\[127\.0\.0\.1\]") is not None,
         "mainlog: SMTP command timeout line", d.mainlog()[-800:])
    # a slow but active client is not cut off: each command restarts it
    c = d.raw()
    ok = True
    for _ in range(3):
        time.sleep(1.2)
        r = c.cmd("NOOP")
        ok = ok and r.code == 250
    t.ok(ok, "commands every 1.2 s keep the session alive (3.6 s in all)")
    t0 = time.monotonic()
    r = c.try_reply(8)
    took = time.monotonic() - t0
    t.ok(r is not None and r.code == 421 and 1.5 <= took <= 5,
         "then idle, it times out about 2 s after its last command "
         "(%.1f s)" % took, repr(r))
    c.close()
    # the timeout runs from the greeting on, before any command
    c = d.raw(banner=True)
    r = c.try_reply(8)
    t.ok(r is not None and r.code == 421 and c.is_closed(3),
         "a client that never speaks after the banner is dropped with 421",
         repr(r))

    # data timeout
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.cmd("DATA")
    c.send(b"Subject: slow\r\n\r\npartial")
    t0 = time.monotonic()
    r = c.try_reply(8)
    took = time.monotonic() - t0
    t.reply(r, 421, "4.4.2", "smtp_data_timeout 2s: stalled DATA gets 421 "
            "4.4.2")
    t.ok(r is not None and "data" in r.text.lower(), "the 421 says it was "
         "the data timeout", repr(r))
    t.ok(1.5 <= took <= 5, "the data timeout fires after about 2 s (%.1f s)"
         % took)
    t.ok(c.is_closed(3), "connection closed after the data timeout")
    t.ok(d.wait_log(r"SMTP data timeout on connection from "
                    r"\[127\.0\.0\.1\]") is not None,
         "mainlog: SMTP data timeout line", d.mainlog()[-800:])
    t.eq(d.spool_messages(), [], "nothing spooled from the stalled DATA")
    # a BDAT chunk that never completes times out too
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.send(b"BDAT 100 LAST\r\nonly a few")
    r = c.try_reply(8)
    t.reply(r, 421, "4.4.2", "a stalled BDAT chunk gets 421 4.4.2")

    # smtp_max_unknown_commands 2
    c = d.raw()
    c.cmd("EHLO client.example")
    rs = [c.cmd("BOGUS1"), c.cmd("BOGUS2")]
    t.ok([r.code for r in rs] == [500, 500], "2 unknown commands: 500 each",
         repr(rs))
    c.send("BOGUS3\r\n")
    got = [x for x in (c.try_reply(3), c.try_reply(1)) if x is not None]
    t.ok(any(x.code == 421 and x.status_ok("4.") for x in got),
         "smtp_max_unknown_commands 2: the 3rd unknown command gets 421",
         repr(got))
    t.ok(c.is_closed(3), "and the connection is dropped")
    t.ok(d.wait_log(r"dropped: too many unrecognized commands", "reject")
         is not None, "rejectlog: dropped: too many unrecognized commands",
         d.rejectlog()[-800:])

    # smtp_max_synprot_errors 2
    c = d.raw()
    c.cmd("EHLO client.example")
    rs = [c.cmd("RCPT TO:<alice@test.example>"), c.cmd("MAIL FROM:nobrackets")]
    t.ok([r.code for r in rs] == [503, 501], "2 protocol/syntax errors: 503, "
         "501", repr(rs))
    c.send("DATA\r\n")
    got = [x for x in (c.try_reply(3), c.try_reply(1)) if x is not None]
    t.ok(any(x.code == 421 and x.status_ok("4.") for x in got),
         "smtp_max_synprot_errors 2: the 3rd error gets 421", repr(got))
    t.ok(c.is_closed(3), "and the connection is dropped")
    t.ok(d.wait_log(r"dropped: too many syntax or protocol errors",
                    "reject") is not None,
         "rejectlog: dropped: too many syntax or protocol errors",
         d.rejectlog()[-800:])
    # limits of 0 mean "no limit": checked through a fresh daemon below
    time.sleep(0.5)             # a worker that died is reaped and logged
    t.ok(d.paniclog() == "", "paniclog is empty (no worker died)",
         d.paniclog())

with t.guard("lim-zero: the session ran to its end"), \
     Tern(main={"smtp_max_unknown_commands": 0,
                "smtp_max_synprot_errors": 0}, name="lim-zero") as d:
    c = d.raw()
    c.cmd("EHLO client.example")
    rs = [c.cmd("BOGUS%d" % i) for i in range(8)]
    rs += [c.cmd("MAIL FROM:bad") for i in range(8)]
    t.ok([r.code for r in rs] == [500] * 8 + [501] * 8
         and c.cmd("NOOP").code == 250,
         "smtp_max_unknown_commands = 0 and smtp_max_synprot_errors = 0: "
         "no drop after 8 of each", repr(rs[-3:]))

t.done()
