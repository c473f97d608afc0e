#!/usr/bin/env python3
"""test_deliver_local - local delivery end to end through the daemon's
scheduler: SMTP in, Maildir / mbox / pipe out, the log lines an Exim
administrator reads (=> -> ** == Completed), the journal keeping a
deferred recipient, and a bounce for a pipe that fails, delivered to the
sender's own Maildir and read back field by field.
"""
import email
import email.policy
import glob
import os
import re
import time

from ternlib import TAP, Tern, message, LOCAL_DOMAIN, delivery_status

D = LOCAL_DOMAIN
tap = TAP(timeout=120)

ROUTERS = """\
router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "lsearch;@DIR@/aliases",
  allow_fail = true,
  qualify_preserve_domain = true,
  pipe_transport = "address_pipe",
  file_transport = "address_file",
}
router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/virtual_users",
  transport = "local_maildir",
}
router "system" {
  driver = "local_user",
  domains = "+local_domains",
  local_parts = "nobody",
  transport = "system_maildir",
}
"""
TRANSPORTS = """\
transport "local_maildir" {
  driver = "maildir",
  directory = "$home/Maildir",
  return_path_add = true,
  envelope_to_add = true,
  delivery_date_add = true,
}
transport "system_maildir" {
  driver = "maildir",
  directory = "@DIR@/system/${local_part}",
}
transport "address_pipe" { driver = "pipe", return_output = true }
transport "address_file" { driver = "mbox" }
"""
RETRY = 'retry { "*", "*", "F,1h,1m" }\n'
PIPE_SH = """\
#!/bin/sh
# $1: exit status; the message and environment go to DIR/pipe.$1
cat > @DIR@/pipe.$1
env | sort > @DIR@/pipe.$1.env
echo run >> @DIR@/pipe.$1.runs
[ "$1" = 1 ] && echo "mailbox rejected by script"
exit $1
"""
ALIASES = """\
team: alice, bob
pipe0: |/bin/sh @DIR@/pipe.sh 0
pipe75: |/bin/sh @DIR@/pipe.sh 75
pipe1: |/bin/sh @DIR@/pipe.sh 1
box: @DIR@/mbox/box
"""


def maildir(t, user):
    return sorted(glob.glob(os.path.join(t.dir, "home", user, "Maildir",
                                         "new", "*")))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def send(t, sender, rcpts, subject, body="hello\n"):
    s = t.smtp()
    s.sendmail(sender, rcpts, message(subject=subject, sender=sender,
                                      to=", ".join(rcpts), body=body))
    s.quit()


def id_of(t, subject, since=0):
    """the queue id of the message whose arrival follows offset since"""
    m = t.wait_log(r"^\S+ \S+ (\S+) <= ", since=since)
    return m.group(1) if m else None


t = Tern(name="deliver-local", main={"queue_only": False}, routers=False,
         start=False,
         files={"router/10_routers.lua": ROUTERS,
                "transport/10_transports.lua": TRANSPORTS,
                "retry/00_test.lua": RETRY})
t.write("aliases", ALIASES)
t.write("pipe.sh", PIPE_SH)
os.makedirs(os.path.join(t.dir, "mbox"))
os.makedirs(os.path.join(t.dir, "system"))
os.chmod(os.path.join(t.dir, "system"), 0o1777)
t.start()

# ---- two local recipients, one delivery attempt
with tap.guard("maildir"):
    at = len(t.mainlog())
    send(t, "carol@" + D, ["alice@" + D, "bob@" + D], "two users")
    done = t.wait_log(r"Completed$", since=at, timeout=10)
    tap.ok(done is not None, "a message to two local users is Completed",
           t.mainlog()[at:])
    log = t.mainlog()[at:]
    tap.like(log, r"=> (alice|bob)@%s R=users T=local_maildir" % D,
             "first recipient logged with =>, R= and T=")
    tap.like(log, r"-> (alice|bob)@%s R=users T=local_maildir" % D,
             "the second with ->")
    tap.ok(len(re.findall(r"[=-]> alice@", log)) == 1
           and len(re.findall(r"[=-]> bob@", log)) == 1,
           "each recipient once", log)
    a, b = maildir(t, "alice"), maildir(t, "bob")
    tap.eq((len(a), len(b)), (1, 1), "one file in each new/")
    text = read(a[0]).decode()
    tap.ok(text.startswith("Return-path: <carol@%s>\n" % D),
           "Return-path: first, with the envelope sender", text[:200])
    tap.like(text, r"(?m)^Delivered-To: alice@%s$" % D, "Delivered-To:")
    tap.like(text, r"(?m)^Envelope-to: alice@%s$" % D, "Envelope-to:")
    tap.like(text, r"(?m)^Delivery-date: ", "Delivery-date:")
    tap.like(text, r"(?m)^Subject: two users$", "the message's own headers")
    tap.ok("\r" not in text, "LF line ends in the Maildir file")
    tap.ok(text.endswith("\n\nhello\n"), "the body after one empty line",
           repr(text[-40:]))
    tap.eq(t.spool_messages(), [], "the spool is empty afterwards")

# ---- an alias: the envelope recipient in <> on each line
with tap.guard("alias"):
    at = len(t.mainlog())
    send(t, "carol@" + D, ["team@" + D], "to the team")
    tap.ok(t.wait_log(r"Completed$", since=at, timeout=10) is not None,
           "alias delivery completed")
    log = t.mainlog()[at:]
    tap.like(log, r"[=-]> alice@%s <team@%s> R=users" % (D, D),
             "alias member logged with <team@...>")
    tap.like(log, r"[=-]> bob@%s <team@%s> R=users" % (D, D),
             "the other member too")

# ---- mbox through a "/path" alias
with tap.guard("mbox"):
    at = len(t.mainlog())
    send(t, "carol@" + D, ["box@" + D], "for the mbox",
         body="From the start\nline\n")
    tap.ok(t.wait_log(r"Completed$", since=at, timeout=10) is not None,
           "mbox delivery completed")
    mb = read(os.path.join(t.dir, "mbox", "box")).decode()
    tap.like(mb, r"\AFrom carol@%s \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n"
             % D, "From_ line with sender and date")
    tap.like(mb, r"(?m)^>From the start$", "body From quoted as >From")
    tap.like(t.mainlog()[at:], r"=> %s/mbox/box <box@%s> R=aliases "
             r"T=address_file" % (re.escape(t.dir), D),
             "file delivery logged with the path and the alias")

# ---- pipes: 0 delivers, 75 defers (message kept), 1 fails and bounces
with tap.guard("pipe 0"):
    at = len(t.mainlog())
    send(t, "carol@" + D, ["pipe0@" + D], "pipe ok")
    tap.ok(t.wait_log(r"Completed$", since=at, timeout=10) is not None,
           "pipe exit 0 completed")
    tap.like(read(os.path.join(t.dir, "pipe.0")).decode(),
             r"(?m)^Subject: pipe ok$", "the command read the message")
    env = read(os.path.join(t.dir, "pipe.0.env")).decode()
    tap.like(env, r"(?m)^LOCAL_PART=pipe0$", "LOCAL_PART in its environment")
    tap.like(env, r"(?m)^SENDER=carol@%s$" % D, "SENDER in its environment")
    tap.ok("TERN_" not in env, "tern's own environment is not passed")

with tap.guard("pipe 75"):
    at = len(t.mainlog())
    send(t, "carol@" + D, ["pipe75@" + D, "alice@" + D], "pipe defer")
    m = t.wait_log(r"== \|/bin/sh \S+ 75 <pipe75@%s> R=aliases "
                   r"T=address_pipe defer \(-1\): Child process of "
                   r"address_pipe transport returned 75" % D, since=at,
                   timeout=10)
    tap.ok(m is not None, "exit 75 is a deferral (==) with the reason",
           t.mainlog()[at:])
    time.sleep(0.5)
    log = t.mainlog()[at:]
    tap.ok("Completed" not in log, "the message is not completed")
    msgs = t.spool_messages()
    tap.eq(len(msgs), 1, "it stays in the spool")
    q = t.run("-bp").stdout.decode()
    tap.like(q, r"(?m)^        D alice@%s$" % D,
             "-bp marks the delivered recipient D")
    tap.like(q, r"(?m)^          pipe75@%s$" % D,
             "-bp lists the deferred one as pending")

with tap.guard("pipe 1 bounce"):
    at = len(t.mainlog())
    send(t, "carol@" + D, ["pipe1@" + D], "pipe fails")
    m = t.wait_log(r"\*\* \|/bin/sh \S+ 1 <pipe1@%s> R=aliases "
                   r"T=address_pipe: Child process of address_pipe "
                   r"transport returned 1" % D, since=at, timeout=10)
    tap.ok(m is not None, "exit 1 is a failure (**)", t.mainlog()[at:])
    bounce = t.wait_log(r"^\S+ \S+ (\S+) <= <> R=(\S+) ", since=at,
                        timeout=10)
    tap.ok(bounce is not None, "a bounce is spooled with R=original id")
    tap.ok(t.wait_log(r"=> carol@%s R=users" % D, since=at, timeout=10)
           is not None, "the bounce is delivered to the sender")
    files = [f for f in maildir(t, "carol")]
    tap.eq(len(files), 1, "one bounce in the sender's Maildir")
    msg = email.message_from_bytes(read(files[0]),
                                   policy=email.policy.default)
    tap.eq(msg["Return-path"], "<>", "bounce Return-path is <>")
    tap.eq(msg.get_content_type(), "multipart/report",
           "bounce is multipart/report")
    tap.eq(msg.get_param("report-type"), "delivery-status",
           "report-type=delivery-status")
    parts = list(msg.iter_parts())
    tap.eq([p.get_content_type() for p in parts],
           ["text/plain", "message/delivery-status", "message/rfc822"],
           "three parts: text, delivery-status, the message")
    tap.like(re.sub(r"\s+", " ", parts[0].get_content()),
             r"output: mailbox rejected by script",
             "the pipe's output is in the bounce text")
    ds = delivery_status(parts[1])
    tap.like(ds, r"(?m)^Final-Recipient: rfc822; ?\|/bin/sh \S+/pipe\.sh 1$",
             "Final-Recipient")
    tap.like(ds, r"Action: failed", "Action: failed")
    tap.like(ds, r"Status: 5\.\d\.\d", "Status: 5.x.x")
    tap.like(parts[2].as_string(), r"Subject: pipe fails",
             "the original message is attached")
    tap.eq(msg["Auto-Submitted"], "auto-replied", "Auto-Submitted")

# ---- a retry never repeats a delivery the journal recorded (pipes too)
with tap.guard("no repeat"):
    for f in ("pipe.0.runs", "pipe.75.runs"):
        if os.path.exists(os.path.join(t.dir, f)):
            os.unlink(os.path.join(t.dir, f))
    at = len(t.mainlog())
    send(t, "carol@" + D, ["pipe0@" + D, "pipe75@" + D], "pipe pair")
    t.wait_log(r"== \|/bin/sh \S+ 75", since=at, timeout=10)
    time.sleep(0.3)
    r = t.run("-qf")
    tap.ok(r.returncode == 0, "tern -qf ran", r.stderr.decode())

    def runs(n):
        try:
            return len(read(os.path.join(t.dir, "pipe.%s.runs" % n)).split())
        except OSError:
            return 0
    tap.ok(runs("75") >= 2, "the deferred pipe ran again at the forced "
           "retry (%d runs)" % runs("75"))
    tap.eq(runs("0"), 1, "the delivered pipe did not run again")

# ---- a system account: as root, the delivery runs as that user
with tap.guard("system user"):
    import pwd
    at = len(t.mainlog())
    send(t, "carol@" + D, ["nobody@" + D], "to a system account")
    tap.ok(t.wait_log(r"Completed$", since=at, timeout=10) is not None,
           "delivery to a system account completed", t.mainlog()[at:])
    files = glob.glob(os.path.join(t.dir, "system", "nobody", "new", "*"))
    tap.eq(len(files), 1, "one file in its Maildir")
    if os.getuid() == 0:
        want = pwd.getpwnam("nobody").pw_uid
        tap.eq(os.stat(files[0]).st_uid if files else None, want,
               "written by the account's uid (the child switched to it)")
        tap.eq(os.stat(os.path.dirname(os.path.dirname(files[0]))).st_uid
               if files else None, want, "the Maildir it created too")
    else:
        tap.skip("uid switch", "not root")

tap.eq(t.paniclog(), "", "nothing in the panic log")
t.stop()
tap.done()
