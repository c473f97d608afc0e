#!/usr/bin/env python3
"""test_deliver_remote - remote delivery end to end, with real peers:

  1. tern -> a second tern found through the MX record of self-mx.test
     (served by the test dnsmasq), H= and C= in the => line;
  2. the shipped smart-host drop-in (conf.d/examples/150_smarthost.lua)
     relaying through STARTTLS (certificate verified against a test CA)
     and AUTH to a second tern configured as the smart host;
  3. a scripted peer that answers 451 twice, then accepts: == twice, then
     => on the retry schedule of the retry rules;
  4. 550 for one of three recipients: the other two delivered, one
     bounce for the refused one, delivered to the local sender;
  5. an unreachable host: deferrals until the final retry time of short
     test rules, then ** "retry timeout exceeded" and a bounce;
  6. tern -q over queued remote mail, with one connection for several
     messages (the scripted peer counts connections).
"""
import email
import email.policy
import glob
import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import (TAP, Tern, message, LOCAL_DOMAIN, TOP, Lua,  # noqa: E402
                    LoopbackServer, delivery_status, scratch_dir)
from ternlib_extra import make_certs, crypt_hash  # noqa: E402

D = LOCAL_DOMAIN
tap = TAP(timeout=170)


class Peer(LoopbackServer):
    """A scripted SMTP server on 127.0.0.1: reply(cmd, state) decides each
    reply; it records connections, transactions and recipients."""

    def __init__(self, rcpt_reply=None, mail_reply=None):
        self.rcpt_reply = rcpt_reply or (lambda rcpt: "250 ok")
        self.mail_reply = mail_reply or (lambda n: "250 ok")
        self.connections = 0
        self.mails = 0
        self.accepted = []          # (rcpts, data) per message accepted
        super().__init__()

    def on_connect(self, c):
        self.connections += 1
        super().on_connect(c)

    def session(self, c):
        f = c.makefile("rb")
        c.sendall(b"220 peer ESMTP\r\n")
        rcpts, ok, mail_ok = [], [], False
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode("latin-1").strip()
                up = cmd.upper()
                if up.startswith("EHLO"):
                    c.sendall(b"250-peer\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif up.startswith("MAIL"):
                    self.mails += 1
                    r = self.mail_reply(self.mails)
                    rcpts, ok = [], []
                    mail_ok = r.startswith("250")
                    c.sendall(r.encode() + b"\r\n")
                elif up.startswith("RCPT") and not mail_ok:
                    c.sendall(b"503 5.5.1 MAIL first\r\n")
                elif up.startswith("RCPT"):
                    addr = re.search(r"<(.*)>", cmd).group(1)
                    r = self.rcpt_reply(addr)
                    if r.startswith("250"):
                        ok.append(addr)
                    c.sendall(r.encode() + b"\r\n")
                elif up == "DATA":
                    if not ok:
                        c.sendall(b"554 no valid recipients\r\n")
                        continue
                    c.sendall(b"354 go\r\n")
                    data = b""
                    while True:
                        ln = f.readline()
                        if ln in (b".\r\n", b""):
                            break
                        data += ln
                    self.accepted.append((ok, data))
                    mail_ok, ok = False, []
                    c.sendall(b"250 2.0.0 queued as P%d\r\n"
                              % len(self.accepted))
                elif up == "RSET" or up == "NOOP":
                    c.sendall(b"250 ok\r\n")
                elif up == "QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"500 what\r\n")
        except OSError:
            return
        finally:
            c.close()


def manual(port, retry="F,1h,2s", extra_main=None, name="sender",
           tp_extra=""):
    """a sending tern: every remote domain to 127.0.0.1 port, queue_only
    off, short retry rules; local users keep their Maildirs (bounces)"""
    main = {"queue_only": False, "delay_warning": "0s",
            "relay_from_hosts": ["127.0.0.1"]}
    main.update(extra_main or {})
    files = {
        "router/050_remote.lua": """\
router "peer" {
  driver = "manualroute",
  domains = "! +local_domains",
  route_list = "* 127.0.0.1",
  self = "send",
  transport = "to_peer",
}
""",
        "transport/50_peer.lua":
            'transport "to_peer" { driver = "smtp", port = %d,'
            ' connect_timeout = "3s", command_timeout = "5s"%s }\n'
            % (port, tp_extra),
        "retry/00_test.lua": 'retry { "*", "*", "%s" }\n' % retry,
    }
    return Tern(name=name, main=main, files=files)


def maildir(t, user):
    return sorted(glob.glob(os.path.join(t.dir, "home", user, "Maildir",
                                         "new", "*")))


def send(t, sender, rcpts, subject):
    s = t.smtp()
    s.sendmail(sender, rcpts, message(subject=subject, sender=sender,
                                      to=", ".join(rcpts)))
    s.quit()


def read_bounce(t, user):
    files = maildir(t, user)
    if not files:
        return None
    with open(files[-1], "rb") as f:
        return email.message_from_bytes(f.read(), policy=email.policy.default)


# ---- 1. MX lookup to a second tern ----------------------------------------
with tap.guard("mx"):
    # the peer verifies recipients (its built-in policy): alice is a user
    peer = Tern(name="mx-peer", main={"local_domains": ["self-mx.test"]})
    a = Tern(name="mx-sender", main={"queue_only": False,
                                     "relay_from_hosts": ["127.0.0.1"]},
             files={
        "router/100_dnslookup.lua": """\
router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  self = "send",
  no_more = true,
}
""",
        "transport/20_port.lua":
            'transport "remote_smtp" { override = true, driver = "smtp",'
            ' port = %d }\n' % peer.port})
    at = len(a.mainlog())
    send(a, "alice@" + D, ["alice@self-mx.test"], "by mx")
    m = a.wait_log(r'=> alice@self-mx\.test R=dnslookup T=remote_smtp '
                   r'H=mx\.self-mx\.test \[127\.0\.0\.1\]:%d '
                   r'C="250 2\.0\.0 OK id=(\S+)"' % peer.port, since=at,
                   timeout=15)
    tap.ok(m is not None, "delivered to the MX host with H= and C=",
           a.mainlog()[at:])
    tap.ok(a.wait_log(r"Completed$", since=at) is not None, "Completed")
    got = peer.spool_messages()
    tap.eq([g.rcpts for g in got], [["alice@self-mx.test"]],
           "the peer spooled it for alice@self-mx.test")
    tap.eq(got[0].id if got else None, m.group(1) if m else None,
           "under the id its 250 reply gave")
    a.stop()
    peer.stop()

# ---- 2. the smart-host drop-in: STARTTLS + verified cert + AUTH ------------
with tap.guard("smarthost"):
    certs = make_certs(scratch_dir("ternpy-certs-"),
                       names=("smarthost.test",))
    sh = Tern(name="smarthost", start=False, main={
        "tls_certificate": certs["cert"], "tls_privatekey": certs["key"],
        "auth_passwords": "lsearch;@DIR@/passwd",
        "auth_advertise_hosts": "*"}, files={"acl/30_rcpt.lua": """\
acl "rcpt" {
  accept { authenticated = "*" },
  deny   { message = "relay not permitted" },
}
"""})
    sh.write("passwd", "relayuser: %s\n" % crypt_hash("relay-secret"))
    sh.start()
    with open(os.path.join(TOP, "conf.d", "examples",
                           "150_smarthost.lua")) as f:
        dropin = f.read()
    dropin = dropin.replace("relay.example.net::587",
                            "smarthost.test::%d" % sh.port)
    dropin = dropin.replace("port = 587", "port = %d" % sh.port)
    # the test's additions: the smart host is on 127.0.0.1 (self = send)
    # and its certificate comes from the test CA
    dropin = dropin.replace('transport = "smarthost_tls",',
                            'transport = "smarthost_tls",\n  self = "send",')
    dropin = dropin.replace('hosts_require_tls = "*",',
                            'hosts_require_tls = "*",\n'
                            '  tls_verify_certificates = "%s",' % certs["ca"])
    a = Tern(name="sh-sender", start=False,
             main={"queue_only": False, "relay_from_hosts": ["127.0.0.1"]},
             files={"router/150_smarthost.lua": dropin,
                    "main/01_etc.lua":
                        "tern_etc = tern_test_dir .. \"/etc\"\n"})
    a.write("etc/smarthost_credentials",
            "smarthost.test: relayuser:relay-secret\n")
    # the drop-in must load after main/01_etc.lua defines tern_etc
    a.start()
    at = len(a.mainlog())
    send(a, "alice@" + D, ["someone@elsewhere.example"], "via smarthost")
    m = a.wait_log(r'=> someone@elsewhere\.example R=smarthost '
                   r'T=smarthost_tls H=smarthost\.test \[127\.0\.0\.1\]:%d '
                   r'X=\S+ C="250 ' % sh.port, since=at, timeout=15)
    tap.ok(m is not None, "relayed through the smart host with TLS (X=)",
           a.mainlog()[at:])
    got = sh.spool_messages()
    tap.eq(len(got), 1, "the smart host accepted it")
    tap.like(sh.mainlog(), r"<= alice@%s .*P=esmtpsa X=\S+ "
             r"A=\w+:relayuser " % D,
             "the smart host saw TLS and AUTH as relayuser")
    a.stop()
    sh.stop()

# ---- 3. 451 twice, then accepted: retries on schedule ----------------------
with tap.guard("retry"):
    p = Peer(mail_reply=lambda n: "451 4.3.0 try later" if n <= 2
             else "250 ok")
    a = manual(p.port, retry="F,1h,2s", name="retry")
    at = len(a.mainlog())
    t0 = time.monotonic()
    send(a, "alice@" + D, ["x@far.example"], "flaky")
    ok = a.wait_log(r"=> x@far\.example R=peer T=to_peer "
                    r"H=127\.0\.0\.1 \[127\.0\.0\.1\]:%d" % p.port, since=at,
                    timeout=25)
    took = time.monotonic() - t0
    log = a.mainlog()[at:]
    defers = re.findall(r"== x@far\.example R=peer T=to_peer defer "
                        r"\(-45\) .*451 4\.3\.0 try later", log)
    tap.ok(len(defers) == 2, "two deferrals (==) with the 451 reply", log)
    tap.ok(ok is not None, "then delivered (=>)", log)
    tap.ok(took >= 3.5, "the retries waited for the 2 s retry interval "
           "(%.1f s)" % took)
    tap.ok(log.index("==") < log.index("=>") if ok else False,
           "== lines come before =>")
    tap.eq(len(p.accepted), 1, "the peer received it once")
    a.stop()
    p.close()

# ---- 4. 550 for one of three recipients: partial bounce --------------------
with tap.guard("partial"):
    p = Peer(rcpt_reply=lambda r: "550 5.1.1 <%s>: no such user" % r
             if r.startswith("bad") else "250 ok")
    a = manual(p.port, name="partial")
    at = len(a.mainlog())
    send(a, "alice@" + D, ["good1@far.example", "bad@far.example",
                           "good2@far.example"], "partial")
    a.wait_log(r"Completed$", since=at, timeout=15)
    log = a.mainlog()[at:]
    tap.like(log, r"\*\* bad@far\.example R=peer T=to_peer H=127\.0\.0\.1 "
             r"\[127\.0\.0\.1\]:\d+: SMTP error from remote mail server "
             r"after RCPT TO:<bad@far\.example>: 550 5\.1\.1",
             "the refused recipient fails (**) with the remote reply")
    tap.eq(sorted(p.accepted[0][0]) if p.accepted else None,
           ["good1@far.example", "good2@far.example"],
           "the two others were delivered in one transaction")
    tap.ok(a.wait_log(r"=> alice@%s R=users" % D, since=at, timeout=10)
           is not None, "a bounce went to the sender's mailbox")
    b = read_bounce(a, "alice")
    ds = delivery_status(b) if b else ""
    tap.like(ds, r"Final-Recipient: rfc822; ?bad@far\.example",
             "the bounce names the refused recipient")
    tap.like(ds, r"Status: 5\.1\.1", "with the remote status 5.1.1")
    tap.like(ds, r"Diagnostic-Code: smtp; ?550 5\.1\.1",
             "and the remote reply as Diagnostic-Code")
    tap.ok("good1" not in ds and "good2" not in ds,
           "delivered recipients are not in the bounce")
    a.stop()
    p.close()

# ---- 5. unreachable: deferrals, then a bounce after the final time ---------
with tap.guard("unreachable"):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()                       # nothing listens there: refused
    a = manual(dead, retry="F,3s,1s", name="unreach")
    at = len(a.mainlog())
    send(a, "alice@" + D, ["y@far.example"], "unreachable")
    first = a.wait_log(r"== y@far\.example R=peer T=to_peer defer \(111\)",
                       since=at, timeout=10)
    tap.ok(first is not None, "connection refused: deferred (==)",
           a.mainlog()[at:])
    fail = a.wait_log(r"\*\* y@far\.example R=peer T=to_peer .*retry "
                      r"timeout exceeded", since=at, timeout=20)
    tap.ok(fail is not None, "after the final retry time: ** retry timeout "
           "exceeded", a.mainlog()[at:])
    tap.ok(a.wait_log(r"=> alice@%s R=users" % D, since=at, timeout=10)
           is not None, "the sender gets a bounce")
    b = read_bounce(a, "alice")
    tap.like(b.as_string() if b else "", r"y@far\.example",
             "naming the recipient")
    # "=> alice" is logged before the bounce's spool file is removed
    left = a.spool_messages()
    for _ in range(50):
        if not left:
            break
        time.sleep(0.1)
        left = a.spool_messages()
    tap.eq(left, [], "nothing left in the spool")
    a.stop()

# ---- 6. tern -q: queued messages go out over one connection ----------------
with tap.guard("queue run"):
    p = Peer()
    a = manual(p.port, extra_main={"queue_only": True}, name="qrun",
               tp_extra=", connection_max_per_host = 1")
    for i in range(3):
        send(a, "alice@" + D, ["q%d@far.example" % i], "queued %d" % i)
    q = a.run("-bp").stdout.decode()
    tap.ok(len(re.findall(r"(?m)^\s*\d+[mhd] ", q)) == 3,
           "-bp lists the three queued messages", q)
    tap.eq(a.run("-bpc").stdout.decode().strip(), "3", "-bpc counts 3")
    r = a.run("-q")
    tap.ok(r.returncode == 0, "tern -q exits 0", r.stderr.decode())
    tap.eq(len(p.accepted), 3, "the peer received the three")
    tap.eq(p.connections, 1, "over one connection (connection_max_per_host "
           "= 1: the others wait for it and reuse it)")
    tap.eq(a.run("-bpc").stdout.decode().strip(), "0", "the queue is empty")
    a.stop()
    p.close()

tap.done()
