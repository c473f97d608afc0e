#!/usr/bin/env python3
"""test_deliver_dovecot - mail accepted by the tern daemon reaches a real
Dovecot, and is read back over IMAP (imaplib) and POP3 (poplib):

  - alice and bob: the daemon's scheduler delivers into Maildirs in
    Dovecot's mail location (maildir transport, run as the `mail` user
    when the test runs as root, since Dovecot refuses uid 0);
  - carol: delivered over LMTP to Dovecot's unix socket (lmtp transport),
    and an unknown LMTP user is bounced (Dovecot's 550) while the known
    one is delivered.
Skipped when Dovecot is not installed (tools/deps.sh installs it).
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, message, LOCAL_DOMAIN  # noqa: E402
import dovecot  # noqa: E402

D = LOCAL_DOMAIN
tap = TAP(timeout=120)
if not dovecot.available():
    tap.skip("dovecot delivery", "dovecot not installed")
    tap.done()

dc = dovecot.Dovecot(users={"alice": "a-secret", "bob": "b-secret",
                            "carol": "c-secret"}).start()
user_opt = '  user = "mail",\n' if os.getuid() == 0 else ""
ROUTERS = """\
router "to_lmtp" {
  driver = "lua",
  domains = "+local_domains",
  local_parts = "carol : ghost",
  route = function(addr) return accept { transport = "dovecot_lmtp" } end,
}
router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/virtual_users",
  transport = "dovecot_maildir",
}
"""
TRANSPORTS = """\
transport "dovecot_maildir" {
  driver = "maildir",
  directory = "%s/${local_part}/Maildir",
%s  return_path_add = true,
}
transport "dovecot_lmtp" {
  driver = "lmtp",
  socket = "%s",
}
""" % (os.path.join(dc.dir, "mail"), user_opt, dc.lmtp_socket)

t = Tern(name="deliver-dovecot", main={"queue_only": False}, routers=False,
         files={"router/10_routers.lua": ROUTERS,
                "transport/10_transports.lua": TRANSPORTS})


def imap_bodies(user):
    m = dc.imap(user)
    m.select("INBOX")
    typ, data = m.search(None, "ALL")
    out = []
    for num in data[0].split():
        typ, got = m.fetch(num, "(RFC822)")
        out.append(got[0][1])
    m.logout()
    return out


def pop_bodies(user):
    p = dc.pop3(user)
    n = len(p.list()[1])
    out = [b"\r\n".join(p.retr(i + 1)[1]) for i in range(n)]
    p.quit()
    return out


with tap.guard("maildir to dovecot"):
    at = len(t.mainlog())
    s = t.smtp()
    s.sendmail("sender@" + D, ["alice@" + D, "bob@" + D],
               message(subject="maildir for dovecot", body="line one\n"
                       ".dotted line\n"))
    s.quit()
    tap.ok(t.wait_log(r"Completed$", since=at, timeout=15) is not None,
           "delivered and Completed", t.mainlog()[at:])
    for user in ("alice", "bob"):
        got = imap_bodies(user)
        tap.eq(len(got), 1, "%s: one message over IMAP" % user)
        text = got[0].decode() if got else ""
        tap.like(text, r"(?m)^Subject: maildir for dovecot\r?$",
                 "%s: IMAP shows the subject" % user)
        tap.like(text, r"(?m)^Return-path: <sender@%s>\r?$" % D,
                 "%s: IMAP shows the Return-path tern added" % user)
        tap.like(text, r"(?m)^\.dotted line\r?$",
                 "%s: the body line starting with a dot is intact" % user)
    pops = pop_bodies("bob")
    tap.eq(len(pops), 1, "bob: one message over POP3")
    tap.like(pops[0].decode() if pops else "",
             r"(?m)^Subject: maildir for dovecot\r?$",
             "bob: POP3 RETR returns the message")

with tap.guard("lmtp to dovecot"):
    at = len(t.mainlog())
    s = t.smtp()
    s.sendmail("sender@" + D, ["carol@" + D, "ghost@" + D],
               message(subject="over lmtp", body="via lmtp\n"))
    s.quit()
    tap.ok(t.wait_log(r"Completed$", since=at, timeout=15) is not None,
           "LMTP delivery attempt completed", t.mainlog()[at:])
    log = t.mainlog()[at:]
    tap.like(log, r"[=-]> carol@%s R=to_lmtp T=dovecot_lmtp C=\"250 " % D,
             "carol delivered over LMTP with Dovecot's reply (C=)")
    tap.like(log, r"\*\* ghost@%s R=to_lmtp T=dovecot_lmtp: LMTP error "
             r"after RCPT TO:<ghost@%s>: 550" % (D, D),
             "the unknown user fails with Dovecot's 550 (**)")
    got = imap_bodies("carol")
    tap.eq(len(got), 1, "carol: the LMTP copy is in her IMAP INBOX")
    tap.like(got[0].decode() if got else "", r"(?m)^via lmtp\r?$",
             "carol: with its body")

t.stop()
dc.stop()
tap.done()
