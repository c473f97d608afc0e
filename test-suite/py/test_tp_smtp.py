#!/usr/bin/env python3
"""test_tp_smtp - the smtp transport's deliver_remote, driven by
build/test/test_tp_smtp (drive mode) against a tern daemon (plain,
STARTTLS, certificate verification, AUTH PLAIN) and a scripted Python
SMTP server (pipelining, host fail-over, per-recipient 4xx/5xx, max_rcpt,
connection reuse and limits, timeouts, 8BITMIME and SIZE refusal,
garbage replies, TLS fall-back to clear text)."""
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, BIN_DIR, message  # noqa: E402
from ternlib_extra import make_certs, crypt_hash  # noqa: E402

DRIVER = os.path.join(BIN_DIR, "test", "test_tp_smtp")
t = TAP(timeout=85)
WORK = tempfile.mkdtemp(prefix="ternpy-tpsmtp-")
os.chmod(WORK, 0o755)           # a root tern's workers (tern_user) read here


# ------------------------------------------------------------ scripted peer

class Lines:
    """a line reader whose buffer can be inspected"""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def readline(self, limit):
        while b"\n" not in self.buf and len(self.buf) < limit:
            d = self.s.recv(65536)
            if not d:
                break
            self.buf += d
        n = self.buf.find(b"\n") + 1 or len(self.buf)
        n = min(n, limit)
        line, self.buf = self.buf[:n], self.buf[n:]
        return line


class Fake:
    """A scripted SMTP server on 127.0.0.1. Replies come from attributes;
    rcpt(addr) gives the RCPT reply. Records connections, the peak of
    simultaneous ones, transactions (mail, rcpts, data) and whether RCPT
    arrived before the MAIL reply was sent (pipelining)."""

    def __init__(self, **kw):
        self.greet = "220 fake.example ESMTP"
        self.ext = ["PIPELINING", "8BITMIME", "SIZE 10000000"]
        self.ehlo = None            # a reply instead of 250 + ext
        self.mail = "250 2.1.0 OK"
        self.rcpt = lambda a: "250 2.1.5 OK"
        self.data = "354 go ahead"
        self.final = "250 2.0.0 OK id=fake%d"
        self.hold = 0.0             # seconds before the final reply
        self.silent_on = None       # a verb never answered
        self.starttls = None        # reply to STARTTLS (then garbage)
        self.mail_on_reuse = None   # reply to a 2nd MAIL on a connection
        self.close_after_txn = False
        self.__dict__.update(kw)
        self.conns = self.active = self.peak = 0
        self.txns, self.pipelined, self.lock = [], [], threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                self.active += 1
                self.peak = max(self.peak, self.active)
            threading.Thread(target=self._serve, args=(s,),
                             daemon=True).start()

    def _serve(self, s):
        try:
            self._session(s, Lines(s))
        except (OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.active -= 1
            s.close()

    def _session(self, s, f):
        def say(line):
            s.sendall((line + "\r\n").encode())
        say(self.greet)
        txn, nmail = None, 0
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb == self.silent_on:
                time.sleep(30)
                return
            if verb == "EHLO":
                say(self.ehlo or "\r\n".join(
                    ["250-fake.example"] + ["250-" + e for e in self.ext[:-1]]
                    + ["250 " + self.ext[-1]] if self.ext else
                    ["250 fake.example"]))
            elif verb == "HELO":
                say("250 fake.example")
            elif verb == "STARTTLS" and self.starttls:
                say(self.starttls)
                s.sendall(b"this is not TLS\r\n")
                return
            elif verb == "MAIL":
                nmail += 1
                if nmail > 1 and self.mail_on_reuse:
                    say(self.mail_on_reuse)
                    return
                txn = {"mail": cmd, "rcpts": [], "data": b""}
                time.sleep(0.2)
                r, _, _ = select.select([s], [], [], 0)
                self.pipelined.append(bool(r) or len(f.buf) > 0)
                say(self.mail)
            elif verb == "RCPT":
                addr = cmd.split("<", 1)[1].split(">", 1)[0]
                rep = self.rcpt(addr)
                if rep.startswith("2") and txn is not None:
                    txn["rcpts"].append(addr)
                say(rep)
            elif verb == "DATA":
                if not txn or not txn["rcpts"]:
                    say("503 5.5.1 no valid recipients")
                    continue
                say(self.data)
                if not self.data.startswith("354"):
                    continue
                while True:
                    ln = f.readline(100000)
                    if not ln or ln == b".\r\n":
                        break
                    txn["data"] += ln
                with self.lock:
                    self.txns.append(txn)
                    n = len(self.txns)
                time.sleep(self.hold)
                say(self.final % n if "%d" in self.final else self.final)
                if self.close_after_txn:
                    return
                txn = None
            elif verb == "RSET":
                txn = None
                say("250 2.0.0 reset")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("500 5.5.2 what?")

    def close(self):
        self.sock.close()


# ------------------------------------------------------------ the driver

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def client_conf(certs, creds):
    d = os.path.join(WORK, "client")
    write(d + "/main/00.lua", 'main { primary_hostname = "client.example" }\n')
    tr = {
        "plain": 'hosts_avoid_tls = "*"',
        "opp": '',
        "reqtls": 'hosts_require_tls = "*"',
        "verify": 'tls_verify_hosts = "*", tls_verify_certificates = "%s"'
                  % certs["ca"],
        "verify_sys": 'tls_verify_hosts = "*"',
        "auth": 'hosts_require_auth = "*", auth_credentials = "lsearch;%s"'
                % creds,
        "authbad": 'hosts_require_auth = "*", auth_credentials = '
                   '"lsearch;%s.bad"' % creds,
        "short": 'command_timeout = "1s", data_timeout = "2s", '
                 'connect_timeout = "1s"',
        "max2": 'max_rcpt = 2',
        "lim": 'connection_max_per_host = 2',
        "helo": 'helo_data = "helo.$domain"',
    }
    write(d + "/transport/10.lua", "".join(
        'transport "%s" { driver = "smtp"%s }\n'
        % (n, (", " + o) if o else "") for n, o in tr.items()))
    return d


MSG_PATH = write(os.path.join(WORK, "msg"), message(
    subject="tp smtp", body="line one\n.leading dot\n..two dots\nend\n",
    to="alice@test.example"))
BIG_PATH = write(os.path.join(WORK, "big"), message(
    subject="big", body="x" * 70 + "\n") + "y" * 300000 + "\r\n")


def drive(tp, hosts, rcpts, opts=(), msg=MSG_PATH,
          sender="sender@client.example"):
    """run one or more batches; returns (batches, info, raw output)"""
    if isinstance(hosts, int):
        hosts = "localhost=127.0.0.1:%d" % hosts
    p = subprocess.run([DRIVER, "drive", CONF, tp, msg, sender, hosts]
                       + list(opts) + list(rcpts), capture_output=True,
                       timeout=60, text=True)
    batches, info = [], {}
    for ln in p.stdout.splitlines():
        kind, _, rest = ln.partition(" ")
        if kind == "batch":
            batches.append({"rcpts": {}, "hostres": [], "tls": ""})
        elif kind == "rcpt":
            addr, st, code, host, tail = rest.split(" ", 4)
            et, _, msg_ = tail.partition("|")
            batches[-1]["rcpts"][addr] = (st, int(code), int(host), et, msg_)
        elif kind == "hostres":
            host, st, tail = rest.split(" ", 2)
            et, _, msg_ = tail.partition("|")
            batches[-1]["hostres"].append((int(host), st, et, msg_))
        elif kind == "tls":
            batches[-1]["tls"] = rest
        else:
            info[kind] = rest
    info["rc"] = p.returncode
    return batches, info, "%s%s(exit %d)" % (p.stdout, p.stderr, p.returncode)


def status(b):
    return {a: r[0] for a, r in b["rcpts"].items()}


def check_contract(name, info, n=1):
    t.ok(info.get("done_calls") == str(n) and info.get("done_inside") == "0"
         and info.get("open_after_flush") == "0",
         "%s: done once per batch, from the loop; flush closes all" % name,
         info)


# ------------------------------------------------------------ tern peer

certs = make_certs(os.path.join(WORK, "certs"))
creds = write(os.path.join(WORK, "creds"), "localhost: alice:secret\n")
write(creds + ".bad", "localhost: alice:wrong\n")
CONF = client_conf(certs, creds)

peer = Tern(main={"queue_only": True, "tls_certificate": certs["cert"],
                  "tls_privatekey": certs["key"],
                  "auth_advertise_hosts": "127.0.0.1"}, start=False,
            name="tpsmtp-peer")
peer.write("passwd", "alice: %s\n" % crypt_hash("secret", "6"))
peer.main_opts["auth_passwords"] = "lsearch;" + os.path.join(peer.dir,
                                                              "passwd")
peer._write_conf({}, True)
peer.start()


def spooled(n):
    end = time.time() + 5
    while time.time() < end:
        m = peer.spool_messages()
        if len(m) >= n:
            return m
        time.sleep(0.05)
    return peer.spool_messages()


with t.guard("plain delivery to tern"):
    bs, info, out = drive("plain", peer.port, ["alice@test.example",
                                               "bob@test.example"])
    b = bs[0]
    t.ok(status(b) == {"alice@test.example": "OK", "bob@test.example": "OK"},
         "plain: both recipients delivered", out)
    t.ok(b["rcpts"]["alice@test.example"][4].startswith("250 ")
         and b["rcpts"]["alice@test.example"][2] == 0,
         "plain: message is the bare 250 reply, host index 0", out)
    t.ok(b["hostres"] == [(0, "OK", "", "")] and b["tls"] == "",
         "plain: one host result, no TLS", out)
    m = spooled(1)
    t.ok(len(m) == 1 and sorted(m[0].rcpts) == ["alice@test.example",
                                                "bob@test.example"]
         and m[0].sender == "sender@client.example",
         "plain: the peer spooled one message for both", m)
    t.ok(m and b"\r\n.leading dot\r\n..two dots\r\nend\r\n" in m[0].data
         and m[0].env.get("helo") == "client.example",
         "plain: dot-stuffing undone by the peer; EHLO is primary_hostname",
         m and m[0].data[-80:])
    check_contract("plain", info)

with t.guard("STARTTLS to tern"):
    bs, info, out = drive("opp", peer.port, ["carol@test.example"])
    b = bs[0]
    t.ok(status(b) == {"carol@test.example": "OK"} and
         b["tls"].startswith("TLS"), "opportunistic STARTTLS: delivered "
         "with a cipher (%s)" % b["tls"], out)
    m = spooled(2)
    t.ok(len(m) == 2 and m[-1].env.get("tls-cipher"),
         "opportunistic STARTTLS: the peer saw TLS", m and m[-1].env)
    bs, info, out = drive("verify", peer.port, ["carol@test.example"])
    t.ok(status(bs[0]) == {"carol@test.example": "OK"} and bs[0]["tls"],
         "tls_verify_hosts with the test CA: verified and delivered", out)
    bs, info, out = drive("verify_sys", peer.port, ["carol@test.example"])
    r = bs[0]["rcpts"]["carol@test.example"]
    t.ok(r[0] == "DEFER" and r[3] == "tls_verify" and
         bs[0]["hostres"][0][1] == "DEFER",
         "tls_verify_hosts with system CAs: host deferred (%s)" % r[4], out)
    check_contract("verify failure", info)

with t.guard("AUTH to tern"):
    bs, info, out = drive("auth", peer.port, ["alice@test.example"],
                          opts=["-n", "1"])
    t.ok(bs and status(bs[0]) == {"alice@test.example": "OK"},
         "AUTH PLAIN over TLS: delivered", out)
    m = spooled(4)
    t.ok(m and m[-1].env.get("auth-id") == "alice",
         "AUTH: the peer recorded auth-id alice", m and m[-1].env)
    bs, info, out = drive("authbad", peer.port, ["alice@test.example"])
    r = bs[0]["rcpts"]["alice@test.example"]
    t.ok(r[0] == "DEFER" and r[3] == "auth_failed",
         "AUTH with a wrong password and hosts_require_auth: auth_failed "
         "(%s)" % r[4], out)

peer.stop()

# ------------------------------------------------------------ scripted


with t.guard("pipelining"):
    f = Fake()
    bs, info, out = drive("plain", f.port, ["a@x.example", "b@x.example"])
    t.ok(status(bs[0]) == {"a@x.example": "OK", "b@x.example": "OK"} and
         f.pipelined == [True], "PIPELINING: RCPTs sent before the MAIL "
         "reply (%r)" % f.pipelined, out)
    t.ok(len(f.txns) == 1 and "SIZE=" in f.txns[0]["mail"],
         "SIZE= on MAIL when offered", f.txns and f.txns[0]["mail"])
    f2 = Fake(ext=["8BITMIME"])
    bs, info, out = drive("plain", f2.port, ["a@x.example"])
    t.ok(status(bs[0]) == {"a@x.example": "OK"} and f2.pipelined == [False]
         and "SIZE=" not in f2.txns[0]["mail"],
         "no PIPELINING: one command at a time, no SIZE=", out)

with t.guard("fail-over"):
    f1 = Fake(mail="451 4.3.0 try later")
    f2 = Fake()
    hosts = "mx1=127.0.0.1:%d,mx2=127.0.0.1:%d" % (f1.port, f2.port)
    bs, info, out = drive("plain", hosts, ["a@x.example"])
    b = bs[0]
    t.ok(status(b) == {"a@x.example": "OK"} and
         b["rcpts"]["a@x.example"][2] == 1,
         "4xx to MAIL at host 1: delivered at host 2", out)
    t.ok([h[:3] for h in b["hostres"]] == [(0, "DEFER", "mail_451"),
                                            (1, "OK", "")],
         "hostres shows both hosts", b["hostres"])
    f3 = Fake(greet="421 4.3.2 busy")
    hosts = "mx1=127.0.0.1:%d,mx2=127.0.0.1:%d" % (f3.port, f1.port)
    bs, info, out = drive("plain", hosts, ["a@x.example"])
    r = bs[0]["rcpts"]["a@x.example"]
    t.ok(r[0] == "DEFER" and r[3] == "mail_451" and
         "after MAIL FROM" in r[4] and len(bs[0]["hostres"]) == 2,
         "every host failed: deferred with the last host's error", out)
    fall4 = Fake(rcpt=lambda a: "451 4.7.1 greylisted")
    hosts = "mx1=127.0.0.1:%d,mx2=127.0.0.1:%d" % (fall4.port, f2.port)
    bs, info, out = drive("plain", hosts, ["a@x.example", "b@x.example"])
    t.ok(status(bs[0]) == {"a@x.example": "OK", "b@x.example": "OK"} and
         bs[0]["hostres"][0][2] == "rcpt_451",
         "all RCPTs 4xx: next host", out)

with t.guard("per-recipient results"):
    f = Fake(rcpt=lambda a: {"bad@x.example": "550 5.1.1 <bad@x.example>: "
                             "unknown user",
                             "later@x.example": "451 4.2.0 later"}
             .get(a, "250 OK"))
    bs, info, out = drive("plain", f.port, ["a@x.example", "bad@x.example",
                                            "c@x.example", "later@x.example"])
    b = bs[0]
    t.ok(status(b) == {"a@x.example": "OK", "bad@x.example": "FAIL",
                       "c@x.example": "OK", "later@x.example": "DEFER"},
         "5xx and 4xx for single recipients", out)
    r = b["rcpts"]["bad@x.example"]
    t.ok(r[1] == 550 and r[4] == "SMTP error from remote mail server after "
         "RCPT TO:<bad@x.example>: 550 5.1.1 <bad@x.example>: unknown user",
         "RCPT 5xx: Exim's message and the code", r)
    t.ok(b["rcpts"]["later@x.example"][3] == "rcpt_451" and
         b["hostres"] == [(0, "OK", "", "")] and
         f.txns[0]["rcpts"] == ["a@x.example", "c@x.example"],
         "RCPT 4xx: rcpt_451, the host is fine", out)
    f = Fake(final="452 4.3.1 full")
    bs, info, out = drive("plain", f.port, ["a@x.example"])
    r = bs[0]["rcpts"]["a@x.example"]
    t.ok(r[0] == "DEFER" and r[3] == "data_452", "4xx after data: data_452",
         r)
    f = Fake(final="554 5.7.1 spam")
    bs, info, out = drive("plain", f.port, ["a@x.example", "b@x.example"])
    t.ok(status(bs[0]) == {"a@x.example": "FAIL", "b@x.example": "FAIL"} and
         "after end of data: 554" in bs[0]["rcpts"]["b@x.example"][4],
         "5xx after data: all fail", out)
    f = Fake(mail="550 5.7.1 sender refused")
    bs, info, out = drive("plain", f.port, ["a@x.example", "b@x.example"])
    t.ok(status(bs[0]) == {"a@x.example": "FAIL", "b@x.example": "FAIL"},
         "5xx to MAIL: all fail", out)

with t.guard("max_rcpt and reuse"):
    f = Fake()
    rc = ["r%d@x.example" % i for i in range(5)]
    bs, info, out = drive("max2", f.port, rc)
    t.ok(all(s == "OK" for s in status(bs[0]).values()) and
         [len(x["rcpts"]) for x in f.txns] == [2, 2, 1] and f.conns == 1,
         "max_rcpt 2, 5 recipients: 3 transactions on one connection",
         (out, f.txns, f.conns))
    f = Fake()
    bs, info, out = drive("plain", f.port, ["a@x.example"], opts=["-n", "2"])
    t.ok(len(bs) == 2 and all(status(b) == {"a@x.example": "OK"} for b in bs)
         and f.conns == 1 and len(f.txns) == 2 and info.get("open") == "1",
         "two batches, one connection (kept idle, then flushed)",
         (out, f.conns))
    check_contract("reuse", info, 2)
    f = Fake(mail_on_reuse="421 4.4.2 idle too long")
    bs, info, out = drive("plain", f.port, ["a@x.example"], opts=["-n", "2"])
    t.ok(len(bs) == 2 and status(bs[1]) == {"a@x.example": "OK"} and
         f.conns == 2 and bs[1]["hostres"] == [(0, "OK", "", "")],
         "a reused connection refused at MAIL: reconnected transparently",
         (out, f.conns))
    f = Fake(hold=0.5)
    bs, info, out = drive("lim", f.port, ["a@x.example"],
                          opts=["-n", "5", "-P"])
    t.ok(len(bs) == 5 and all(status(b) == {"a@x.example": "OK"}
                              for b in bs) and f.peak <= 2 and f.peak >= 1,
         "connection_max_per_host 2, 5 parallel batches: at most 2 "
         "connections (peak %d)" % f.peak, out)
    check_contract("limits", info, 5)

with t.guard("refusals and timeouts"):
    f = Fake(ext=["PIPELINING"])
    bs, info, out = drive("plain", f.port, ["a@x.example"], opts=["-8"])
    r = bs[0]["rcpts"]["a@x.example"]
    t.ok(r[0] == "FAIL" and "8BITMIME" in r[4] and not f.txns,
         "8BITMIME message, peer without 8BITMIME: fails, not sent", r)
    f = Fake()
    bs, info, out = drive("plain", f.port, ["a@x.example"], opts=["-8"])
    t.ok(f.txns and "BODY=8BITMIME" in f.txns[0]["mail"],
         "BODY=8BITMIME when offered", f.txns)
    f = Fake(ext=["SIZE 1000"])
    bs, info, out = drive("plain", f.port, ["a@x.example"], msg=BIG_PATH)
    r = bs[0]["rcpts"]["a@x.example"]
    t.ok(r[0] == "FAIL" and "too big" in r[4], "over the peer's SIZE: fails",
         r)
    f = Fake(ext=["PIPELINING", "SIZE 100000000"])
    bs, info, out = drive("plain", f.port, ["a@x.example"], msg=BIG_PATH)
    t.ok(status(bs[0]) == {"a@x.example": "OK"} and f.txns and
         len(f.txns[0]["data"]) > 300000, "a 300 KB message is streamed", out)
    f = Fake(silent_on="RCPT")
    bs, info, out = drive("short", f.port, ["a@x.example"])
    r = bs[0]["rcpts"]["a@x.example"]
    t.ok(r[0] == "DEFER" and r[3] == "timeout" and
         "SMTP timeout after RCPT TO:<a@x.example>" in r[4],
         "command_timeout: deferred 'timeout' (%s)" % r[4], out)
    f = Fake(ehlo="garbage without a code")
    bs, info, out = drive("plain", f.port, ["a@x.example"])
    r = bs[0]["rcpts"]["a@x.example"]
    t.ok(r[0] == "DEFER" and r[3] == "lost_connection",
         "garbage reply: lost_connection (%s)" % r[4], out)
    f = Fake(ehlo="250-" + "x" * 5000)
    bs, info, out = drive("plain", f.port, ["a@x.example"])
    t.ok(bs[0]["rcpts"]["a@x.example"][3] == "lost_connection",
         "an over-long reply line: lost_connection", out)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    bs, info, out = drive("plain", port, ["a@x.example"])
    t.ok(bs[0]["rcpts"]["a@x.example"][3] == "refused",
         "connection refused: 'refused'", out)

with t.guard("TLS and HELO against scripted peers"):
    f = Fake()
    bs, info, out = drive("reqtls", f.port, ["a@x.example"])
    r = bs[0]["rcpts"]["a@x.example"]
    t.ok(r[0] == "DEFER" and r[3] == "tls_required" and not f.txns,
         "hosts_require_tls, no STARTTLS offered: tls_required", r)
    f = Fake(ext=["STARTTLS", "PIPELINING"], starttls="220 go ahead")
    bs, info, out = drive("opp", f.port, ["a@x.example"])
    t.ok(status(bs[0]) == {"a@x.example": "OK"} and f.conns == 2,
         "opportunistic TLS handshake fails: retried in clear once", out)
    f = Fake(ehlo="502 5.5.1 no EHLO here")
    bs, info, out = drive("helo", f.port, ["a@x.example"])
    t.ok(status(bs[0]) == {"a@x.example": "OK"},
         "EHLO 5xx: HELO fallback", out)

t.done()
