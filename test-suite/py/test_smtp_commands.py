#!/usr/bin/env python3
"""test_smtp_commands - every SMTP command and reply of tern's server
(RFC 5321 with SIZE, 8BITMIME, PIPELINING, CHUNKING, SMTPUTF8,
ENHANCEDSTATUSCODES), driven by smtplib and, for the malformed cases, by a
raw socket; the spooled message (Received: field, byte-identical content)
and the mainlog arrival line."""
import os
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import (TAP, Tern, HOSTNAME, message,  # noqa: E402
                     fail2ban_matched)

t = TAP()
SIZE_LIMIT = 100000
# every reply seen after the greeting, except EHLO/HELO and 354: each must
# carry an enhanced status code (RFC 2034 section 3)
checked = []


def want(r, code, status, name, text=None):
    checked.append((name, r))
    return t.reply(r, code, status, name, text)


def session(d, helo="client.example"):
    c = d.raw()
    r = c.cmd("EHLO " + helo)
    if r.code != 250:
        t.diag("EHLO failed: %r" % r)
    return c


# RFC 5321 4.4 Time-stamp-line, as tern writes it for an SMTP client
RECEIVED_RE = re.compile(
    r"^Received: from (?P<helo>[A-Za-z0-9.-]+|\[[0-9.:A-Fa-fIPv]+\])"
    r"(?:\r\n[ \t]+| )\((?:[A-Za-z0-9.-]+ )?\[(?P<ip>[0-9.]+)\]\)"
    r"(?:\r\n[ \t]+| )by (?P<by>[A-Za-z0-9.-]+)"
    r"(?:(?:\r\n[ \t]+| )\([^()]*\))*"
    r"(?:\r\n[ \t]+| )with (?P<with>[A-Za-z0-9-]+)"
    r"(?:(?:\r\n[ \t]+| )\([^()]*\))*"
    r"(?:\r\n[ \t]+| )id (?P<id>[A-Za-z0-9-]+)"
    r"(?:(?:\r\n[ \t]+| )for <?(?P<for>[^\s;>]+)>?)?"
    r"(?:\r\n[ \t]+| )?;(?:\r\n[ \t]+| )"
    r"(?P<date>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [ 0-9]?\d "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d [+-]\d{4})\r\n")


def split_received(data):
    """(the Received: field, the rest) of spooled bytes"""
    m = re.match(rb"Received: .*?\r\n(?![ \t])", data, re.S)
    if m is None:
        return b"", data
    return data[:m.end()], data[m.end():]


with t.guard("cmd: the session ran to its end"), \
     Tern(main={"message_size_limit": SIZE_LIMIT}, name="cmd") as d:
    # ---- greeting, EHLO, HELO
    c = d.raw()
    t.ok(c.banner.code == 220 and c.banner.text.startswith(HOSTNAME)
         and "ESMTP" in c.banner.text, "greeting is 220 %s ... ESMTP"
         % HOSTNAME, repr(c.banner))
    r = c.cmd("EHLO client.example")
    t.ok(r.code == 250 and r.lines[0].startswith(HOSTNAME)
         and "client.example" in r.lines[0] and "[127.0.0.1]" in r.lines[0],
         "EHLO: 250 with our name, the client's HELO name and [127.0.0.1]",
         repr(r))
    kw = [ln.upper() for ln in r.lines[1:]]
    for k in ("SIZE %d" % SIZE_LIMIT, "8BITMIME", "PIPELINING", "CHUNKING",
              "SMTPUTF8", "ENHANCEDSTATUSCODES", "HELP"):
        t.ok(k in kw, "EHLO advertises %s" % k, repr(r))
    t.ok(not any(k.startswith("STARTTLS") for k in kw),
         "no STARTTLS without a TLS configuration", repr(r))
    t.ok(not any(k.startswith("AUTH") for k in kw),
         "no AUTH without TLS or an authenticator", repr(r))
    t.ok(r.raw.count(b"\r\n") == len(r.lines)
         and all(ln.startswith(b"250-") for ln in r.raw.split(b"\r\n")[:-2])
         and r.raw.split(b"\r\n")[-2].startswith(b"250 "),
         "EHLO reply is 250- continuation lines and one final 250 line",
         repr(r))

    s = d.smtp()
    code, text = s.helo("helo.example")
    t.ok(code == 250 and HOSTNAME.encode() in text
         and b"helo.example" in text and b"\n" not in text,
         "HELO: one-line 250 with our name", repr((code, text)))
    s.quit()

    c = d.raw()
    want(c.cmd("EHLO"), 501, "5.5.4", "EHLO without argument: 501 5.5.4")
    want(c.cmd("EHLO bad..name"), 501, "5.5.4",
         "EHLO bad..name (empty label): 501 5.5.4")
    want(c.cmd("EHLO two words"), 501, "5.5.4", "EHLO with two words: 501")
    c.close()
    c = d.raw()
    want(c.cmd("HELO under_score!.example"), 501, "5.5.4",
         "HELO with invalid characters: 501")
    r = c.cmd("EHLO [127.0.0.1]")
    t.ok(r.code == 250, "EHLO with an address literal: 250", repr(r))
    c.close()

    # ---- MAIL (at most 3 errors a session: smtp_max_synprot_errors)
    c = d.raw()
    want(c.cmd("MAIL FROM:<a@client.example>"), 503, "5.5.1",
         "MAIL before EHLO: 503 5.5.1")
    c.cmd("EHLO client.example")
    want(c.cmd("MAIL FROM:<a@client.example> SIZE=%d" % (SIZE_LIMIT + 1)),
         552, "5.3.4", "MAIL SIZE= over message_size_limit: 552 5.3.4")
    want(c.cmd("MAIL FROM:<a@client.example> SIZE=%d" % SIZE_LIMIT),
         250, "2.1.0", "MAIL SIZE= equal to the limit: 250 2.1.0")
    want(c.cmd("MAIL FROM:<b@client.example>"), 503, "5.5.1",
         "nested MAIL: 503 5.5.1")
    want(c.cmd("RSET"), 250, "2.0.0", "RSET: 250 2.0.0")
    want(c.cmd("RCPT TO:<alice@test.example>"), 503, "5.5.1",
         "RCPT after RSET (no MAIL): 503 5.5.1")
    c.close()

    c = session(d)
    want(c.cmd("MAIL FROM:<a@client.example> BODY=8BITMIME"), 250, "2.1.0",
         "MAIL BODY=8BITMIME: 250")
    c.cmd("RSET")
    want(c.cmd("MAIL FROM:<a@client.example> BODY=7BIT"), 250, "2.1.0",
         "MAIL BODY=7BIT: 250")
    c.cmd("RSET")
    want(c.cmd("MAIL FROM:<a@client.example> BODY=9BIT"), 501, "5.5.4",
         "MAIL BODY=9BIT: 501 5.5.4")
    want(c.cmd("MAIL FROM:<a@client.example> AUTH=<>"), 250, "2.1.0",
         "MAIL AUTH=<> accepted (RFC 4954 5)")
    c.cmd("RSET")
    want(c.cmd("MAIL FROM:<a@client.example> AUTH=someone+40client.example"),
         250, "2.1.0", "MAIL AUTH=xtext accepted from an unauthenticated "
         "client")
    c.cmd("RSET")
    want(c.cmd("MAIL FROM:<a@client.example> FOO=BAR"), 555, "5.5.4",
         "MAIL with an unknown parameter: 555 5.5.4")
    want(c.cmd("MAIL FROM:<a@client.example> SIZE=abc"), 501, "5.5.4",
         "MAIL SIZE=abc: 501 5.5.4")
    c.close()

    c = session(d)
    want(c.cmd("MAIL FROM:a@client.example"), 501, "5.5.4",
         "MAIL without angle brackets: 501 5.5.4")
    want(c.cmd("MAIL FROM:<no-domain@>"), 501, None,
         "MAIL with an empty domain: 501")
    r = c.cmd("MAIL FROM:<j\u00f6ran@client.example>".encode("utf-8"))
    checked.append(("MAIL UTF-8 without SMTPUTF8", r))
    t.ok(r.code in (500, 501, 553, 550) and r.status_ok(),
         "MAIL with a UTF-8 address but no SMTPUTF8: 5xx with a status code",
         repr(r))
    c.close()

    c = session(d)
    want(c.cmd("MAIL FROM:<>"), 250, "2.1.0", "MAIL FROM:<> (null sender)")
    want(c.cmd("RCPT TO:<postmaster>"), 250, "2.1.5",
         "RCPT TO:<postmaster> without domain is accepted (RFC 5321 4.5.1)")
    want(c.cmd("RCPT TO:<alice@test.example> NOTIFY=NEVER"), 555, "5.5.4",
         "RCPT with an unsupported parameter: 555 5.5.4")
    want(c.cmd("RCPT TO:<>"), 501, None, "RCPT TO:<>: 501")
    want(c.cmd("RCPT TO:<alice@test.example>"), 250, "2.1.5",
         "RCPT to a local domain: 250 2.1.5")
    want(c.cmd("RCPT TO:<alice@%s>" % HOSTNAME), 250, "2.1.5",
         "RCPT to the primary host name (\"@\"): 250 2.1.5")
    want(c.cmd("RCPT to: <bob@TEST.EXAMPLE>"), 250, "2.1.5",
         "RCPT with a lower-case verb, a space and an upper-case domain: 250")
    want(c.cmd("RSET"), 250, "2.0.0", "RSET in a transaction: 250 2.0.0")
    c.close()

    c = session(d)
    c.cmd("MAIL FROM:<a@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.cmd("RSET")
    want(c.cmd("DATA"), (503, 554), "5.5.1", "DATA after RSET: 503/554 5.5.1")
    want(c.cmd("MAIL FROM:<a@client.example>"), 250, "2.1.0", "MAIL again")
    r = c.cmd("DATA")
    checked.append(("DATA without RCPT", r))
    t.ok(r.code in (503, 554) and r.status_ok(),
         "DATA without an accepted RCPT: 554 or 503 with a status code",
         repr(r))
    r = c.cmd("NOOP")
    t.ok(r.code == 250, "session in step after the refused DATA", repr(r))
    c.close()

    # ---- SMTPUTF8
    before = len(d.spool_messages())
    s = d.smtp()
    s.ehlo()
    code, _ = s.mail("j\u00f6ran@b\u00fccher.example", ["SMTPUTF8"])
    t.ok(code == 250, "MAIL with a UTF-8 address and SMTPUTF8: 250")
    code, _ = s.rcpt("alice@test.example")
    body = "Subject: utf8\r\n\r\ngr\u00fc\u00dfe\r\n".encode("utf-8")
    code, resp = s.data(body)
    t.ok(code == 250, "UTF-8 message accepted", repr(resp))
    s.quit()
    msgs = d.spool_messages()
    m = msgs[-1] if len(msgs) > before else None
    t.ok(m is not None and m.sender == "j\u00f6ran@b\u00fccher.example"
         and m.env.get("smtputf8") == "1",
         "spool: the UTF-8 sender and smtputf8 1",
         repr(m and (m.sender, m.env)))

    # ---- a message with dot-stuffing, 8-bit body, through a raw session
    before = {m.id for m in d.spool_messages()}
    c = session(d)
    want(c.cmd("MAIL FROM:<sender@client.example> BODY=8BITMIME"), 250,
         "2.1.0", "MAIL for the dot-stuffing message")
    want(c.cmd("RCPT TO:<alice@test.example>"), 250, "2.1.5", "RCPT alice")
    r = c.cmd("DATA")
    t.ok(r.code == 354, "DATA: 354", repr(r))
    original = (b"From: sender@client.example\r\nTo: alice@test.example\r\n"
                b"Subject: dots\r\nMessage-ID: <dots.1@client.example>\r\n"
                b"\r\n.\r\n..x\r\n.hidden dot\r\nmiddle . dot\r\n"
                b"caf\xc3\xa9 8bit\r\n \r\nend\r\n")
    wire = (b"From: sender@client.example\r\nTo: alice@test.example\r\n"
            b"Subject: dots\r\nMessage-ID: <dots.1@client.example>\r\n"
            b"\r\n..\r\n...x\r\n.hidden dot\r\nmiddle . dot\r\n"
            b"caf\xc3\xa9 8bit\r\n \r\nend\r\n.\r\n")
    # ".hidden dot" is sent unstuffed on purpose: RFC 5321 4.5.2 says the
    # first dot is deleted, so it arrives as "hidden dot"
    original = original.replace(b"\r\n.hidden dot", b"\r\nhidden dot")
    c.send(wire)
    r = c.reply()
    m250 = re.match(r"2\.0\.0 OK id=(\S+)", r.text)
    want(r, 250, "2.0.0", "message accepted: 250 2.0.0 OK id=...")
    new = [m for m in d.spool_messages() if m.id not in before]
    m = new[0] if len(new) == 1 else None
    t.ok(m is not None, "exactly one new spool file", repr(new))
    if m is not None:
        rcv, rest = split_received(m.data)
        t.eq(rest, original, "spool: message bytes identical after "
             "dot-unstuffing (\"..\" arrives as \".\")")
        t.ok(m250 is not None and m250.group(1) == m.id,
             "the id in the 250 reply is the spool file's id",
             repr((r, m.id)))
        rm = RECEIVED_RE.match(rcv.decode("latin-1"))
        t.ok(rm is not None, "Received: field in RFC 5321 4.4 form",
             rcv.decode("latin-1"))
        if rm:
            t.ok(rm.group("helo") == "client.example"
                 and rm.group("ip") == "127.0.0.1"
                 and rm.group("by") == HOSTNAME
                 and rm.group("with").upper() == "ESMTP"
                 and rm.group("id") == m.id
                 and rm.group("for") == "alice@test.example",
                 "Received: from client.example ([127.0.0.1]) by %s with "
                 "ESMTP id ID for alice@test.example" % HOSTNAME,
                 rcv.decode("latin-1"))
        t.ok(m.env.get("body-type") == "8BITMIME" and m.sender ==
             "sender@client.example" and m.rcpts == ["alice@test.example"]
             and m.env.get("protocol") == "esmtp"
             and m.env.get("helo") == "client.example"
             and m.env.get("client-ip") == "127.0.0.1",
             "spool envelope: sender, rcpt, 8BITMIME, esmtp, helo, ip",
             repr(m.env))
        logm = d.wait_log(r"^\S+ \S+ %s <= .*$" % re.escape(m.id))
        line = logm.group(0) if logm else ""
        t.ok(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d %s <= "
                      r"sender@client\.example H=\(client\.example\) "
                      r"\[127\.0\.0\.1\] P=esmtp S=%d "
                      r"id=<dots\.1@client\.example>$"
                      % (re.escape(m.id), len(m.data)), line) is not None,
             "mainlog: ID <= sender H=(helo) [127.0.0.1] P=esmtp S=N "
             "id=<msgid>", line or d.mainlog()[-1500:])

    # ---- empty message
    want(c.cmd("MAIL FROM:<sender@client.example>"), 250, "2.1.0",
         "MAIL for an empty message")
    c.cmd("RCPT TO:<alice@test.example>")
    r = c.cmd("DATA")
    t.ok(r.code == 354, "DATA: 354 for the empty message", repr(r))
    want(c.cmd("."), 250, "2.0.0", "an empty message is accepted")
    m = d.spool_messages()[-1]
    t.ok(split_received(m.data)[1] == b"",
         "spool: the empty message holds only the Received: field",
         repr(m.data[-200:]))

    # ---- HELO session: the protocol is smtp
    c.close()
    c = d.raw()
    r = c.cmd("HELO old.example")
    t.ok(r.code == 250, "HELO for a plain SMTP transaction", repr(r))
    c.cmd("MAIL FROM:<old@client.example>")
    c.cmd("RCPT TO:<bob@test.example>")
    c.cmd("DATA")
    r = c.cmd("Subject: old\r\n\r\nold style\r\n.")
    want(r, 250, "2.0.0", "message over HELO accepted")
    t.ok(d.wait_log(r"<= old@client\.example H=\(old\.example\) "
                    r"\[127\.0\.0\.1\] P=smtp S=\d+") is not None,
         "mainlog: P=smtp after HELO", d.mainlog()[-800:])
    want(c.cmd("MAIL FROM:<old@client.example> SIZE=100"), 555, "5.5.4",
         "MAIL parameters after HELO (no EHLO): 555 5.5.4")
    c.close()

    # ---- BDAT
    before = {m.id for m in d.spool_messages()}
    c = session(d)
    c.cmd("MAIL FROM:<chunks@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    part1 = b"Subject: chunked\r\nMessage-ID: <chunk.1@client.example>\r\n"
    part2 = b"\r\n.\r\n..not unstuffed in BDAT\r\n"
    part3 = b"last part\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    want(c.reply(), 250, "2.0.0", "BDAT chunk 1: 250")
    c.send(b"BDAT %d\r\n" % len(part2) + part2)
    want(c.reply(), 250, "2.0.0", "BDAT chunk 2 (holding \".\" lines): 250")
    c.send(b"BDAT %d LAST\r\n" % len(part3) + part3)
    want(c.reply(), 250, "2.0.0", "BDAT LAST: 250 2.0.0")
    new = [m for m in d.spool_messages() if m.id not in before]
    t.ok(len(new) == 1 and split_received(new[0].data)[1]
         == part1 + part2 + part3,
         "spool: BDAT chunks joined byte for byte, no dot-unstuffing",
         repr(new and new[0].data))
    want(c.cmd("NOOP"), 250, "2.0.0", "session goes on after BDAT LAST")

    # BDAT 0 LAST ends a chunked message
    c.cmd("MAIL FROM:<chunks@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.send(b"BDAT 15\r\nSubject: zero\r\n")
    want(c.reply(), 250, "2.0.0", "BDAT 15: 250")
    c.send(b"BDAT 0 LAST\r\n")
    want(c.reply(), 250, "2.0.0", "BDAT 0 LAST completes the message: 250")
    m = d.spool_messages()[-1]
    t.eq(split_received(m.data)[1], b"Subject: zero\r\n",
         "spool: the message ended by BDAT 0 LAST")

    # BDAT without MAIL: the chunk is read (and dropped), then 503; the
    # chunk looks like a command and must not be executed
    chunk = b"NOOP\r\n"
    c.send(b"BDAT %d\r\n" % len(chunk) + chunk + b"RSET\r\n")
    r1 = c.try_reply(5)
    r2 = c.try_reply(5)
    extra = c.pending(0.5)
    want(r1, 503, "5.5.1", "BDAT without MAIL: 503 5.5.1 after the chunk")
    t.ok(r2 is not None and r2.code == 250 and "Reset" in r2.text
         and extra == b"", "BDAT without MAIL: chunk bytes not run as a "
         "command; the next reply is RSET's", repr((r2, extra)))
    want(c.cmd("BDAT 0 LAST"), 503, "5.5.1", "BDAT 0 LAST without MAIL: 503")
    want(c.cmd("BDAT x"), 501, "5.5.4", "BDAT with a bad size: 501 5.5.4")
    want(c.cmd("NOOP"), 250, "2.0.0", "session in step after the BDAT errors")

    # DATA after BDAT in the same transaction
    c.cmd("MAIL FROM:<chunks@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.send(b"BDAT 4\r\nabcd")
    c.reply()
    want(c.cmd("DATA"), 503, "5.5.1", "DATA after BDAT: 503 5.5.1")
    want(c.cmd("RSET"), 250, "2.0.0", "RSET clears the chunked transaction")
    c.close()

    # ---- NOOP, VRFY, EXPN, HELP, unknown commands, QUIT
    c = session(d)
    want(c.cmd("NOOP"), 250, "2.0.0", "NOOP: 250 2.0.0")
    want(c.cmd("NOOP with an argument"), 250, "2.0.0",
         "NOOP with an argument: 250")
    want(c.cmd("VRFY alice"), 252, "2.", "VRFY: 252 (no address "
         "verification, RFC 5321 3.5.3)")
    want(c.cmd("VRFY"), 501, "5.5.4", "VRFY without argument: 501 5.5.4")
    want(c.cmd("EXPN team"), 502, "5.", "EXPN: 502 with a 5.x.x status")
    r = c.cmd("HELP")
    want(r, 214, "2.0.0", "HELP: 214 2.0.0")
    t.ok(all(v in r.text for v in ("EHLO", "MAIL", "RCPT", "DATA", "BDAT")),
         "HELP lists the commands", repr(r))
    want(c.cmd("FOOBAR"), 500, "5.5.2", "unknown command: 500 5.5.2")
    want(c.cmd(""), 500, "5.5.2", "empty line: 500 5.5.2")
    want(c.cmd("NOOP"), 250, "2.0.0", "session in step after errors")
    r = c.cmd("QUIT")
    want(r, 221, "2.0.0", "QUIT: 221 2.0.0")
    t.ok(c.is_closed(3), "connection closed after QUIT")

    # ---- extensions that are not offered
    c = session(d)
    r = c.cmd("STARTTLS")
    checked.append(("STARTTLS not offered", r))
    t.ok(500 <= r.code < 600 and r.status_ok(), "STARTTLS without a TLS "
         "configuration: 5xx with a status code", repr(r))
    t.ok(not c.is_closed(0.3) and c.cmd("NOOP").code == 250,
         "the session stays in plain text and usable after the refused "
         "STARTTLS")
    r = c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
    checked.append(("AUTH not offered", r))
    t.ok(500 <= r.code < 600 and r.status_ok(), "AUTH when not advertised: "
         "5xx with a status code", repr(r))
    c.close()

    # ---- command line length
    c = session(d)
    line = "NOOP " + "a" * (512 - 2 - 5)
    want(c.cmd(line), 250, "2.0.0", "a 512-octet command line (RFC 5321 "
         "4.5.3.1.4 maximum) is accepted")
    want(c.cmd("NOOP " + "a" * 600), 500, "5.5.2",
         "a 607-octet command line: 500 5.5.2 line too long")
    want(c.cmd("NOOP"), 250, "2.0.0", "session in step after the long line")
    # a line longer than the input buffer (8192 octets of junk, then
    # "HELP"): one 500, and no part of it may be run as a command
    c.send("X" * 8192 + "HELP\r\nNOOP\r\n")
    r1 = c.try_reply(5)
    r2 = c.try_reply(5)
    extra = c.pending(0.5)
    want(r1, 500, "5.5.2", "an 8196-octet line: 500 5.5.2")
    t.ok(r2 is not None and r2.code == 250 and extra == b"",
         "an 8196-octet line gets exactly one reply; its tail (\"HELP\") is "
         "not run as a command", repr((r2, extra)))
    c.close()

    # ---- too many unknown commands / syntax errors (default 3 each)
    c = session(d)
    rs = [c.cmd("XYZZY%d" % i) for i in range(3)]
    t.ok(all(r.code == 500 and r.status_ok("5.5.2") for r in rs),
         "3 unknown commands: 500 5.5.2 each", repr(rs))
    c.send("XYZZY4\r\n")
    got = [c.try_reply(5), c.try_reply(1)]
    got = [r for r in got if r is not None]
    t.ok(any(r.code == 421 and r.status_ok("4.") for r in got)
         and all(r.code in (500, 421) for r in got),
         "4th unknown command (smtp_max_unknown_commands 3): 421",
         repr(got))
    t.ok(c.is_closed(3), "connection closed after too many unknown commands")
    for r in got:
        checked.append(("too many unknown", r))
    t.ok(d.wait_log(r"\[127\.0\.0\.1\]:\d+ dropped: too many unrecognized "
                    r"commands", "reject") is not None,
         "rejectlog: dropped: too many unrecognized commands",
         d.rejectlog()[-800:])

    c = session(d)
    rs = [c.cmd("MAIL FROM:broken") for i in range(3)]
    t.ok(all(r.code == 501 for r in rs), "3 syntax errors: 501 each",
         repr(rs))
    c.send("MAIL FROM:broken\r\n")
    got = [c.try_reply(5), c.try_reply(1)]
    got = [r for r in got if r is not None]
    t.ok(any(r.code == 421 and r.status_ok("4.") for r in got),
         "4th syntax error (smtp_max_synprot_errors 3): 421", repr(got))
    t.ok(c.is_closed(3), "connection closed after too many syntax errors")
    for r in got:
        checked.append(("too many syntax errors", r))
    t.ok(d.wait_log(r"dropped: too many syntax or protocol errors",
                    "reject") is not None,
         "rejectlog: dropped: too many syntax or protocol errors",
         d.rejectlog()[-800:])
    drop = [ln for ln in d.mainlog().splitlines()
            if "dropped: too many syntax or protocol errors" in ln]
    t.ok(len(drop) == 1 and re.search(
        r"SMTP call from \[127\.0\.0\.1\]:\d+ dropped: too many "
        r"syntax or protocol errors \(last command was \"MAIL FROM:broken\"\)$",
        drop[0]) is not None,
         "mainlog: Exim's 'SMTP call from [ip]:port dropped: ... "
         "(last command was \"...\")'", "\n".join(drop))
    matched = fail2ban_matched(os.path.join(d.logdir, "mainlog"))
    t.ok(matched is not None and len(drop) == 1
         and any(drop[0].split(" ", 2)[2] in m for m in matched),
         "fail2ban's exim filter (fail2ban-regex) matches the dropped line",
         repr(matched)[-1200:])

    # protocol errors count as well (RCPT before MAIL, DATA before RCPT)
    c = session(d)
    for i in range(3):
        c.cmd("RCPT TO:<alice@test.example>")
    c.send("DATA\r\n")
    got = [c.try_reply(5), c.try_reply(1)]
    got = [r for r in got if r is not None]
    t.ok(any(r.code == 421 for r in got) and c.is_closed(3),
         "protocol errors (out-of-sequence commands) count towards "
         "smtp_max_synprot_errors", repr(got))

    # ---- every reply above carries an enhanced status code (RFC 2034)
    bad = [(n, r) for n, r in checked
           if r is not None and not r.status_ok()]
    t.ok(not bad, "every reply (except greeting, EHLO/HELO, 354) has an "
         "RFC 2034 enhanced status code of the reply's class (%d replies)"
         % len(checked), "\n".join("%s: %r" % b for b in bad))

    # one smtplib transaction end to end
    s = d.smtp()
    refused = s.sendmail("lib@client.example", ["alice@test.example",
                                                "bob@test.example"],
                         message(subject="smtplib"))
    t.ok(refused == {}, "smtplib.sendmail to two local users", repr(refused))
    s.quit()
    t.ok(d.paniclog() == "", "paniclog is empty", d.paniclog())

t.done()
