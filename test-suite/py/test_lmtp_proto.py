#!/usr/bin/env python3
"""test_lmtp_proto - the lmtp transport against a scripted fake LMTP
server on a unix socket: what it sends (LHLO, MAIL parameters, RCPT,
DATA, dot-stuffing, CRLF.CRLF, QUIT; several transactions for batch_max;
waiting for each reply without PIPELINING) and how it maps replies to
per-recipient results: 2xx OK, 5xx FAIL, 4xx DEFER (rcpt_4NN, data_4NN,
mail_4NN, greeting_4NN), and hostile or broken servers (silence, a
closed connection, an endless line, an endless multi-line reply, garbage)
defer every recipient with a bounded wait. Driven by
build/test-bin/tp_drive.
"""
import atexit
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, BIN_DIR  # noqa: E402

TP_DRIVE = os.path.join(BIN_DIR, "test-bin", "tp_drive")
DIR = tempfile.mkdtemp(prefix="tern-lmtp-proto-")
atexit.register(shutil.rmtree, DIR, True)
SOCK = os.path.join(DIR, "lmtp.sock")
MESSAGE = (b"From: a@client.example\nSubject: proto\n\nbody\n.dotted\n"
           b"..double\nno newline at the end")

t = TAP(timeout=120)


class Fake:
    """One connection of a scripted LMTP server; see the module doc."""

    def __init__(self, caps=("PIPELINING", "8BITMIME"), greeting=b"220 fake",
                 mail=b"250 2.1.0 ok", rcpt=(b"250 2.1.5 ok",),
                 data=b"354 go", after=(), drop_after_data=False,
                 handler=None):
        self.caps, self.greeting, self.mail = caps, greeting, mail
        self.rcpt, self.data, self.after = list(rcpt), data, list(after)
        self.drop_after_data = drop_after_data
        self.handler = handler
        self.force_data = False         # 354 even with no recipient
        self.lines, self.payloads = [], []
        if os.path.exists(SOCK):
            os.unlink(SOCK)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(SOCK)
        self.srv.listen(5)
        self.srv.settimeout(20)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        conn.settimeout(20)
        self.conn = conn
        self.f = conn.makefile("rwb")
        try:
            (self.handler or Fake._script)(self)
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.f.close()
            except OSError:
                pass
            conn.close()
            self.srv.close()

    def send(self, *lines):
        for ln in lines:
            self.f.write(ln + b"\r\n")
        self.f.flush()

    def readline(self):
        ln = self.f.readline()
        if not ln:
            raise ValueError("closed")
        self.lines.append(ln)
        return ln

    def _data(self):
        buf = b""
        while True:
            ln = self.f.readline()
            if not ln:
                raise ValueError("closed")
            if ln == b".\r\n":
                self.payloads.append(buf)
                return
            buf += ln

    def _script(self):
        self.send(self.greeting)
        accepted = 0
        while True:
            verb = self.readline()[:4].upper()
            if verb == b"LHLO":
                self.send(*([b"250-fake"] + [b"250-" + c.encode()
                                             for c in self.caps[:-1]]
                            + [b"250 " + (self.caps[-1].encode()
                                          if self.caps else b"x")]))
            elif verb == b"MAIL":
                accepted = 0
                self.send(self.mail)
            elif verb == b"RCPT":
                r = self.rcpt.pop(0) if len(self.rcpt) > 1 else self.rcpt[0]
                accepted += r.startswith(b"2")
                self.send(r)
            elif verb == b"DATA":
                if accepted == 0 and not self.force_data:
                    self.send(b"554 5.5.1 no valid recipients")
                    continue
                self.send(self.data)
                if not self.data.startswith(b"3"):
                    continue
                self._data()
                if self.drop_after_data:
                    return
                for _ in range(accepted):
                    self.send(self.after.pop(0) if self.after
                              else b"250 2.0.0 saved")
            elif verb == b"RSET":
                self.send(b"250 ok")
            elif verb == b"QUIT":
                self.send(b"221 bye")
                return
            else:
                self.send(b"500 what")

    def commands(self):
        return [ln.rstrip(b"\r\n").decode("utf-8", "replace")
                for ln in self.lines]

    def wait(self):
        self.thread.join(25)


def write_conf():
    os.mkdir(os.path.join(DIR, "transport"))
    with open(os.path.join(DIR, "transport", "10.lua"), "w") as f:
        f.write('main { primary_hostname = "mx.test.example" }\n'
                'transport "fake" { driver = "lmtp", socket = "%s",\n'
                '  timeout = "2s" }\n'
                'transport "fake2" { driver = "lmtp", socket = "%s",\n'
                '  timeout = "2s", batch_max = 2 }\n' % (SOCK, SOCK))


def drive(rcpts, transport="fake", flags=()):
    """(results {addr: (status, code, errtype, msg)}, seconds taken)"""
    start = time.time()
    p = subprocess.run([TP_DRIVE] + list(flags)
                       + [DIR, transport, "s@client.example"] + rcpts,
                       input=MESSAGE, capture_output=True, timeout=60)
    took = time.time() - start
    out = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(" ", 4)
        if len(parts) == 5:
            out[parts[0]] = (parts[1], int(parts[2]), parts[3], parts[4])
    if p.returncode != 0 or len(out) != len(rcpts):
        t.diag("tp_drive exit %d: %s" % (p.returncode, p.stderr.decode(
            "utf-8", "replace")))
    return out, took


def st(res, a):
    return res.get(a, ("MISSING", 0, "-", ""))


def test_wire():
    fk = Fake(caps=("8BITMIME",), rcpt=(b"250 ok", b"451 4.3.0 busy"))
    res, _ = drive(["a@x.test", "b@x.test"], flags=["-8"])
    fk.wait()
    t.eq(fk.commands(), ["LHLO mx.test.example",
                         "MAIL FROM:<s@client.example> BODY=8BITMIME",
                         "RCPT TO:<a@x.test>", "RCPT TO:<b@x.test>", "DATA",
                         "QUIT"], "commands, BODY=8BITMIME when offered")
    t.eq(fk.payloads, [b"From: a@client.example\r\nSubject: proto\r\n\r\n"
                       b"body\r\n..dotted\r\n...double\r\n"
                       b"no newline at the end\r\n"],
         "message dot-stuffed with CRLF, a last line completed")
    t.eq(st(res, "a@x.test")[:3], ("OK", 250, "-"), "accepted: OK")
    b = st(res, "b@x.test")
    t.ok(b[:3] == ("DEFER", 451, "rcpt_451") and b[3] ==
         "LMTP error after RCPT TO:<b@x.test>: 451 4.3.0 busy",
         "RCPT 451: DEFER rcpt_451 with the reply", b)


def lockstep_handler(fk):
    """no PIPELINING offered: reads byte by byte and notes a client that
    sends the next command before the reply to the last one"""
    def line():
        buf = b""
        while not buf.endswith(b"\n"):
            c = fk.conn.recv(1)
            if not c:
                raise ValueError("closed")
            buf += c
        fk.lines.append(buf)
        return buf

    fk.ahead = False
    fk.send(b"220 strict")
    while True:
        verb = line()[:4].upper()
        if select.select([fk.conn], [], [], 0.2)[0]:
            fk.ahead = True
        r = fk.rcpt.pop(0) if verb == b"RCPT" and fk.rcpt else b"250 ok"
        if verb == b"LHLO":
            fk.send(b"250-strict", b"250 8BITMIME")
        elif verb == b"DATA":
            fk.send(b"354 go")
            fk.f = fk.conn.makefile("rwb")
            fk._data()
            fk.send(b"250 2.0.0 one")
        elif verb == b"QUIT":
            fk.send(b"221 bye")
            return
        else:
            fk.send(r)


def test_no_pipelining():
    fk = Fake(handler=lockstep_handler,
              rcpt=(b"550 5.1.1 no such user", b"250 ok"))
    res, _ = drive(["u@x.test", "v@x.test"], flags=["-8"])
    fk.wait()
    t.eq(fk.commands(), ["LHLO mx.test.example",
                         "MAIL FROM:<s@client.example> BODY=8BITMIME",
                         "RCPT TO:<u@x.test>", "RCPT TO:<v@x.test>", "DATA",
                         "QUIT"], "without PIPELINING: the same commands")
    t.ok(not fk.ahead, "without PIPELINING: each reply awaited")
    t.eq((st(res, "u@x.test")[:3], st(res, "v@x.test")[:3]),
         (("FAIL", 550, "-"), ("OK", 250, "-")),
         "without PIPELINING: RCPT 550 FAIL, the other OK")
    fk = Fake(handler=lockstep_handler, rcpt=(b"550 5.1.1 no",))
    res, _ = drive(["u@x.test"])
    fk.wait()
    t.eq(fk.commands(), ["LHLO mx.test.example",
                         "MAIL FROM:<s@client.example>",
                         "RCPT TO:<u@x.test>", "RSET", "QUIT"],
         "without PIPELINING: no DATA once every RCPT was refused")


def test_pipelined_refused_all():
    fk = Fake(rcpt=(b"550 5.1.1 no",))
    res, _ = drive(["u@x.test", "v@x.test"])
    fk.wait()
    t.eq(fk.commands(), ["LHLO mx.test.example",
                         "MAIL FROM:<s@client.example>", "RCPT TO:<u@x.test>",
                         "RCPT TO:<v@x.test>", "DATA", "RSET", "QUIT"],
         "pipelined: DATA refused after no recipient, RSET, no BODY= "
         "without -8")
    t.ok(all(st(res, a)[0] == "FAIL" for a in ("u@x.test", "v@x.test")),
         "every recipient refused: all FAIL", res)


def test_data_without_rcpt():
    fk = Fake(rcpt=(b"250 ok", b"550 5.1.1 no"), handler=force_data)
    res, _ = drive(["a@x.test", "u@x.test", "v@x.test"], transport="fake2")
    fk.wait()
    t.ok(st(res, "a@x.test")[0] == "OK" and st(res, "u@x.test")[0] == "FAIL"
         and st(res, "v@x.test")[:3] == ("FAIL", 550, "-"),
         "a server that says 354 with no recipient: results kept", res)
    t.ok(fk.commands()[-1:] == ["DATA"],
         "... and the connection is dropped, not fed more commands",
         fk.commands())


def force_data(fk):
    fk.force_data = True
    fk._script()


def test_after_data():
    fk = Fake(after=(b"250 2.0.0 saved one", b"552 5.2.2 over quota",
                     b"452 4.2.2 try later"))
    res, _ = drive(["a@x.test", "b@x.test", "c@x.test"])
    fk.wait()
    t.eq(st(res, "a@x.test")[:2] + (st(res, "a@x.test")[3],),
         ("OK", 250, "250 2.0.0 saved one"),
         "after data 250: OK with the reply")
    t.eq(st(res, "b@x.test")[:3] + (st(res, "b@x.test")[3],),
         ("FAIL", 552, "-",
          "LMTP error after end of data: 552 5.2.2 over quota"),
         "after data 552: FAIL for that recipient only")
    t.eq(st(res, "c@x.test")[:3], ("DEFER", 452, "data_452"),
         "after data 452: DEFER data_452")


def test_batches():
    fk = Fake(rcpt=(b"250 ok",))
    res, _ = drive(["a@x.test", "b@x.test", "c@x.test"], transport="fake2")
    fk.wait()
    cmds = fk.commands()
    t.ok(cmds.count("MAIL FROM:<s@client.example>") == 2
         and cmds.count("DATA") == 2 and len(fk.payloads) == 2
         and cmds[-1] == "QUIT",
         "batch_max 2, 3 recipients: two transactions on one connection",
         cmds)
    t.ok(all(st(res, a)[0] == "OK" for a in ("a@x.test", "b@x.test",
                                              "c@x.test")),
         "batch_max 2: all OK", res)


def test_refusals():
    fk = Fake(mail=b"550 5.7.1 sender refused")
    res, _ = drive(["a@x.test", "b@x.test"])
    fk.wait()
    a = st(res, "a@x.test")
    t.ok(a[0] == "FAIL" and st(res, "b@x.test")[0] == "FAIL"
         and a[3].startswith("LMTP error after MAIL FROM:<s@client.example>"
                             ": 550 5.7.1"),
         "MAIL 550: every recipient FAIL", res)
    fk = Fake(mail=b"451 4.3.0 later")
    res, _ = drive(["a@x.test"])
    fk.wait()
    t.eq(st(res, "a@x.test")[:3], ("DEFER", 451, "mail_451"),
         "MAIL 451: DEFER mail_451")
    fk = Fake(data=b"554 5.6.0 no data today")
    res, _ = drive(["a@x.test"])
    fk.wait()
    t.ok(st(res, "a@x.test")[0] == "FAIL" and "after DATA: 554"
         in st(res, "a@x.test")[3], "DATA 554: FAIL after DATA", res)
    fk = Fake(greeting=b"421 4.3.2 shutting down")
    res, _ = drive(["a@x.test", "b@x.test"])
    fk.wait()
    t.ok(all(st(res, a)[:3] == ("DEFER", 421, "greeting_421")
             for a in ("a@x.test", "b@x.test")),
         "greeting 421: every recipient DEFER greeting_421", res)
    fk = Fake(greeting=b"554 5.3.2 no service")
    res, _ = drive(["a@x.test"])
    fk.wait()
    t.eq(st(res, "a@x.test")[:3], ("DEFER", 554, "greeting_554"),
         "greeting 554: DEFER too (a broken local server bounces nothing)")


def drain(fk, limit=8):
    """wait (at most limit seconds) until the client hangs up"""
    fk.conn.settimeout(limit)
    try:
        while fk.conn.recv(4096):
            pass
    except OSError:
        pass


def silent(fk):
    drain(fk)


def endless_line(fk):
    fk.f.write(b"220 " + b"x" * 200000)
    fk.f.flush()
    drain(fk)


def endless_multiline(fk):
    fk.send(b"220 hi")
    fk.readline()
    try:
        fk.send(*[b"250-cap%d" % i for i in range(5000)])
    except OSError:
        pass
    drain(fk)


def garbage(fk):
    fk.send(b"hello there")
    drain(fk)


def mixed_codes(fk):
    fk.send(b"220-hi", b"421 bye")
    drain(fk)


def drop_after_data_handler(fk):
    fk.drop_after_data = True
    fk._script()


def test_hostile():
    cases = [
        (silent, "timeout", "a silent server: DEFER timeout within ~2s"),
        (endless_line, "protocol", "an endless reply line: DEFER protocol"),
        (endless_multiline, "protocol",
         "a reply of 5000 lines: DEFER protocol"),
        (garbage, "protocol", "a reply without a code: DEFER protocol"),
        (mixed_codes, "protocol",
         "a multi-line reply with two codes: DEFER protocol"),
        (drop_after_data_handler, "lost_connection",
         "connection closed after the data: DEFER lost_connection"),
    ]
    for handler, errtype, name in cases:
        fk = Fake(handler=handler)
        res, took = drive(["a@x.test", "b@x.test"])
        ok = all(st(res, a)[0] == "DEFER" and st(res, a)[2] == errtype
                 for a in ("a@x.test", "b@x.test")) and took < 5
        t.ok(ok, name, "%r in %.1fs" % (res, took))
        fk.wait()
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    res, took = drive(["a@x.test"])
    t.eq(st(res, "a@x.test")[:3], ("DEFER", 0, "refused"),
         "no server on the socket: DEFER refused")


def main():
    if not os.path.exists(TP_DRIVE):
        t.ok(False, "%s is built" % TP_DRIVE)
        t.done()
    write_conf()
    for fn in (test_wire, test_no_pipelining, test_pipelined_refused_all,
               test_data_without_rcpt, test_after_data, test_batches,
               test_refusals, test_hostile):
        with t.guard(fn.__name__):
            fn()
    t.done()


main()
