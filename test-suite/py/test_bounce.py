#!/usr/bin/env python3
"""test_bounce - bounces and delay warnings built by queue/bounce.c, read
back with Python's email package (policy=email.policy.default) as a mail
client would: multipart/report; report-type=delivery-status with three
parts, no parser defects, every header field, every delivery-status field
of a three-recipient bounce (remote host + reply, local failure,
non-ASCII address), the original returned byte for byte in
message/rfc822 (and as a parsed message), text/rfc822-headers above
return_size_limit, the delay warning, CR/LF injection, a unique boundary
absent from the original, CRLF line ends and lines <= 998.

The reports come from build/test-bin/bounce_print (test-suite/unit/
bounce_print.c), which reads the original on stdin."""
import email
import email.policy
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import BIN_DIR, TAP  # noqa: E402

t = TAP()
PRINT = os.path.join(BIN_DIR, "test-bin", "bounce_print")
NOW = 1700000000
ARRIVAL = 1699990000
NEW_ID = "1tNewI-000000000Ab-0000"
ORIG_ID = "1tOrig-000000000Xy-0000"

ORIG = (b"Received: from client.example ([192.0.2.1])\r\n"
        b"\tby mx.test.example with esmtp id " + ORIG_ID.encode() + b"\r\n"
        b"From: Sender <sender@client.example>\r\n"
        b"To: bob@remote.example, team@test.example\r\n"
        b"Subject: quarterly report\r\n"
        b"Message-ID: <orig.1@client.example>\r\n"
        b"Date: Mon, 13 Nov 2023 10:00:00 +0000\r\n"
        b"\r\n"
        b"Hello,\r\n"
        b"--=_tern_" + NEW_ID.encode() + b"\r\n"
        b"the report is attached.\r\n")
HEADERS = ORIG[:ORIG.index(b"\r\n\r\n") + 2]

R_REMOTE = ("bob@remote.example", "",
            "SMTP error from remote mail server after RCPT TO:"
            "<bob@remote.example>:", "mx.remote.example", "550",
            "550 5.1.1 <bob@remote.example>: User unknown")
R_LOCAL = ("alice@test.example", "team@test.example",
           "Permission denied: /home/alice/Maildir", "", "", "")
R_UTF8 = ("j\u00fcrgen@t\u00e9st.example", "", "Unrouteable address", "", "",
          "")


def build(rcpts, data=ORIG, warning=None, limit=None, to=None):
    """run bounce_print; (report bytes, 8bit flag)"""
    args = [PRINT, "-n", str(NOW), "-a", str(ARRIVAL), "-i", NEW_ID,
            "-o", ORIG_ID]
    if warning:
        args += ["-w", warning]
    if limit is not None:
        args += ["-l", str(limit)]
    if to is not None:
        args += ["-t", to]
    for r in rcpts:
        args += ["-r", "\t".join(r)]
    p = subprocess.run(args, input=data, capture_output=True, timeout=20,
                       env=dict(os.environ, TZ="UTC"))
    if p.returncode != 0:
        t.diag("bounce_print exit %d: %r" % (p.returncode, p.stderr))
    return p.stdout, b"8bit 1" in p.stderr


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def boundary_of(msg):
    return msg.get_param("boundary").encode()


def raw_part(raw, msg, k):
    """the bytes of part k (0-based) of raw, after its header section"""
    d = b"\r\n--" + boundary_of(msg)
    pieces = raw.split(d)
    body = pieces[k + 1]
    return body[body.index(b"\r\n\r\n") + 4:]


def check_wire(raw, what):
    lines = raw.split(b"\r\n")
    t.ok(b"\n" not in raw.replace(b"\r\n", b"") and
         b"\r" not in raw.replace(b"\r\n", b""),
         "%s: only CRLF line ends" % what)
    t.ok(max(len(x) for x in lines) <= 998, "%s: no line over 998" % what)


def no_defects(msg, what, skip=()):
    bad = list(msg.defects)
    for part in msg.walk():
        bad += part.defects
        for name, value in part.items():
            if name not in skip:
                bad += getattr(value, "defects", ())
    t.eq(bad, [], "%s: no parser defects" % what)


def check_headers(msg, subject):
    frm = msg["From"].addresses
    t.eq([(a.display_name, a.addr_spec) for a in frm],
         [("Mail Delivery System", "Mailer-Daemon@mx.test.example")], "From")
    t.eq([a.addr_spec for a in msg["To"].addresses],
         ["sender@client.example"], "To")
    t.eq(str(msg["Subject"]), subject, "Subject")
    t.eq(str(msg["References"]), "<orig.1@client.example>", "References")
    t.eq(str(msg["In-Reply-To"]), "<orig.1@client.example>", "In-Reply-To")
    t.eq(str(msg["Auto-Submitted"]), "auto-replied", "Auto-Submitted")
    t.eq(str(msg["Message-ID"]), "<E%s@mx.test.example>" % NEW_ID,
         "Message-ID")
    t.eq(msg["Date"].datetime.timestamp(), NOW, "Date")
    t.eq(str(msg["MIME-Version"]), "1.0", "MIME-Version")
    t.eq((msg.get_content_type(), msg.get_param("report-type")),
         ("multipart/report", "delivery-status"), "Content-Type")


def dsn_blocks(part):
    """the field blocks of a message/delivery-status part, as dicts"""
    return [dict(b.items()) for b in part.get_payload()]


def test_bounce():
    raw, is8 = build([R_REMOTE, R_LOCAL, R_UTF8])
    msg = parse(raw)
    check_wire(raw, "bounce")
    no_defects(msg, "bounce")
    check_headers(msg, "Mail delivery failed: returning message to sender")
    parts = list(msg.iter_parts())
    t.eq([p.get_content_type() for p in parts],
         ["text/plain", "message/delivery-status", "message/rfc822"],
         "bounce: three parts of the right types")
    if len(parts) != 3:
        return
    t.eq(parts[0].get_content_charset(), "utf-8", "part 1: utf-8 (address)")
    text = parts[0].get_content().replace("\r\n", "\n")
    t.ok(text.startswith(
        "This message was created automatically by mail delivery software."
        "\n\nA message that you sent could not be delivered to one or more "
        "of its\nrecipients. This is a permanent error. The following "
        "address(es) failed:\n\n  bob@remote.example\n"), "part 1: Exim text",
        text)
    for line in ("  alice@test.example\n    (generated from team@test.example)"
                 "\n    Permission denied: /home/alice/Maildir\n",
                 "  j\u00fcrgen@t\u00e9st.example\n    Unrouteable address\n",
                 "    550 5.1.1 <bob@remote.example>: User unknown\n",
                 "------ This is a copy of the message, including all the "
                 "headers. ------\n"):
        t.ok(line in text, "part 1 has %r" % line, text)
    check_dsn(parts[1])
    check_returned(raw, msg, parts[2])
    t.ok(is8, "bounce_is_8bit: 8-bit (UTF-8 address)")


def check_dsn(part):
    b = dsn_blocks(part)
    t.eq(len(b), 4, "dsn: per-message block and three recipient blocks")
    if len(b) != 4:
        return
    t.eq(b[0], {"Reporting-MTA": "dns; mx.test.example",
                "X-tern-Queue-ID": ORIG_ID,
                "Arrival-Date": "Tue, 14 Nov 2023 19:26:40 +0000"},
         "dsn: per-message fields")
    last = "Tue, 14 Nov 2023 22:13:20 +0000"
    t.eq(b[1], {"Final-Recipient": "rfc822; bob@remote.example",
                "Action": "failed", "Status": "5.1.1",
                "Remote-MTA": "dns; mx.remote.example",
                "Diagnostic-Code":
                    "smtp; 550 5.1.1 <bob@remote.example>: User unknown",
                "Last-Attempt-Date": last}, "dsn: remote failure fields")
    t.eq(b[2], {"Original-Recipient": "rfc822; team@test.example",
                "Final-Recipient": "rfc822; alice@test.example",
                "Action": "failed", "Status": "5.0.0",
                "X-tern-Diagnostic":
                    "X-str; Permission denied: /home/alice/Maildir",
                "Last-Attempt-Date": last}, "dsn: local failure fields")
    t.eq(b[3], {"Final-Recipient": "utf-8; j\\x{FC}rgen@t\\x{E9}st.example",
                "Action": "failed", "Status": "5.0.0",
                "X-tern-Diagnostic": "X-str; Unrouteable address",
                "Last-Attempt-Date": last}, "dsn: non-ASCII address fields")


def check_returned(raw, msg, part):
    t.eq(raw_part(raw, msg, 2), ORIG, "part 3: the original byte for byte")
    inner = part.get_payload(0)
    orig = parse(ORIG)
    t.eq([(k, str(v)) for k, v in inner.items()],
         [(k, str(v)) for k, v in orig.items()],
         "part 3: the original's header fields (parsed)")
    t.eq(inner.get_content().replace("\r\n", "\n"),
         orig.get_content().replace("\r\n", "\n"),
         "part 3: the original's body (parsed)")
    t.ok(boundary_of(msg) not in ORIG, "boundary not in the original")


def test_big():
    data = HEADERS + b"\r\n" + b"".join(
        b"body line %04d SECRET-BODY-TEXT\r\n" % i for i in range(2000))
    raw, is8 = build([R_REMOTE], data=data, limit=10000)
    msg = parse(raw)
    check_wire(raw, "big bounce")
    no_defects(msg, "big bounce")
    parts = list(msg.iter_parts())
    t.eq([p.get_content_type() for p in parts],
         ["text/plain", "message/delivery-status", "text/rfc822-headers"],
         "big bounce: part 3 is text/rfc822-headers")
    t.eq(raw_part(raw, msg, 2), HEADERS, "big bounce: part 3 = header section")
    t.ok(b"SECRET-BODY-TEXT" not in raw, "big bounce: no body text")
    text = parts[0].get_content().replace("\r\n", "\n")
    t.ok("------ This is a copy of the message's headers. ------\n"
         "------ The body of the message is %d characters long; it is not\n"
         "------ included here.\n" % (len(data) - len(HEADERS) - 2) in text,
         "big bounce: part 1 gives the body length", text)
    t.ok(not is8, "big bounce: 7-bit")


def test_warning():
    raw, _ = build([R_REMOTE, ("carol@test.example", "", "", "", "",
                               "552 5.2.2 mailbox full")],
                   warning="24 hours")
    msg = parse(raw)
    check_wire(raw, "warning")
    no_defects(msg, "warning")
    check_headers(msg, "Warning: message %s delayed 24 hours" % ORIG_ID)
    parts = list(msg.iter_parts())
    t.eq([p.get_content_type() for p in parts],
         ["text/plain", "message/delivery-status", "text/rfc822-headers"],
         "warning: three parts, headers only")
    if len(parts) != 3:
        return
    text = parts[0].get_content().replace("\r\n", "\n")
    for line in ("after more than 24 hours on the queue on mx.test.example.\n",
                 "The message identifier is:     %s\n" % ORIG_ID,
                 "The subject of the message is: quarterly report\n",
                 "The addresses to which the message has not yet been "
                 "delivered are:\n",
                 "  bob@remote.example\n    Delay reason: SMTP error",
                 "No action is required on your part."):
        t.ok(line in text, "warning text has %r" % line, text)
    b = dsn_blocks(parts[1])
    t.eq([(x.get("Action"), x.get("Status"), "Last-Attempt-Date" in x)
          for x in b[1:]], [("delayed", "4.1.1", False),
                            ("delayed", "4.2.2", False)],
         "warning dsn: Action delayed, Status 4.x.x, no Last-Attempt-Date")
    t.eq(raw_part(raw, msg, 2), HEADERS, "warning part 3: header section")


def test_injection():
    raw, _ = build([("bob@remote.example", "", "x\r\nBcc: victim@evil.example",
                     "mx\r\nBcc: h@evil.example", "550",
                     "550 5.1.1 no\r\nBcc: r@evil.example\r\n\r\nbody"),
                    ("carol@test.example", "", "y\nBcc: v5", "", "", "")],
                   to="s@c.example\r\nBcc: to@evil.example")
    msg = parse(raw)
    # the To: of a sender with CR/LF in it is not a valid address (the
    # CR/LF became a blank): checked below to hold one line
    no_defects(msg, "injection", skip=("To",))
    t.ok(b"\r\nTo: <s@c.example Bcc: to@evil.example>\r\n" in raw,
         "injection: the sender's CR/LF made no line in To:", raw[:400])
    t.eq(msg.get_all("Bcc"), None, "injection: no Bcc in the report header")
    parts = list(msg.iter_parts())
    b = dsn_blocks(parts[1]) if len(parts) == 3 else []
    t.eq(len(b), 3, "injection: still three DSN blocks")
    t.ok(all("Bcc" not in x for x in b), "injection: no Bcc in the DSN", b)
    t.eq(b[1].get("Diagnostic-Code") if b else None,
         "smtp; 550 5.1.1 no Bcc: r@evil.example body",
         "injection: the reply on one line")
    t.ok(not any(line.lower().startswith(b"bcc:")
                 for line in raw.split(b"\r\n")),
         "injection: no line starts with Bcc:")


def test_boundary():
    raw1, _ = build([R_REMOTE])
    raw2, _ = build([R_REMOTE])
    b1, b2 = boundary_of(parse(raw1)), boundary_of(parse(raw2))
    t.ok(b1 != b2, "boundaries differ between two reports (random part)")
    t.ok(b1.startswith(b"=_tern_" + NEW_ID.encode()) and len(b1) <= 70,
         "boundary: id first, <= 70 characters")
    t.eq(raw1.count(b"\r\n--" + b1 + b"\r\n"), 3, "three delimiters")
    t.ok(raw1.endswith(b"\r\n--" + b1 + b"--\r\n"), "close delimiter last")


def test_8bit():
    o8 = b"Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n"
    raw, is8 = build([R_REMOTE], data=o8)
    msg = parse(raw)
    no_defects(msg, "8-bit original")
    parts = list(msg.iter_parts())
    t.ok(is8, "8-bit original: bounce_is_8bit")
    t.eq(parts[2]["Content-Transfer-Encoding"], "8bit",
         "8-bit original: part 3 8bit")
    t.eq(raw_part(raw, msg, 2), o8, "8-bit original byte for byte")
    t.eq(parts[2].get_payload(0)["Subject"], "caf\u00e9",
         "8-bit original: its Subject read back")
    raw, is8 = build([R_REMOTE])
    t.ok(not is8, "ASCII bounce: not 8-bit")
    t.eq(parse(raw).get_payload(0).get_content_charset(), "us-ascii",
         "ASCII bounce: part 1 us-ascii")


if not os.access(PRINT, os.X_OK):
    t.ok(False, "%s built (make)" % PRINT)
else:
    test_bounce()
    test_big()
    test_warning()
    test_injection()
    test_boundary()
    test_8bit()
t.done()
