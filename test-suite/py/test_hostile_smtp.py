#!/usr/bin/env python3
"""test_hostile_smtp - the SMTP server under hostile clients and scripts
(issue 9, points 6, 8, 9 and 12):

 6. reply codes from ACLs are checked: a deny/drop code must be 5xx, a
    defer 4xx (accept/discard 2xx): a constant is a configuration error
    (FILE:LINE, exit 78 from -bV), a computed one gives 451 and a
    panic-log line; internal error text (Lua errors, file paths of
    lookups) never reaches the client.
 8. a client that sends part of a line and closes (or half-closes) ends
    its session at once and frees its connection slot.
 9. out of file descriptors, the workers stop accepting for a moment
    instead of spinning, log it once, and recover when the flood ends.
12. SMTP state: a refused HELO/EHLO is no greeting; BDAT refused for want
    of EHLO still consumes its chunk; a non-ASCII address without SMTPUTF8
    gets 553 5.6.7 at MAIL and at RCPT; a flood of refused RCPTs writes a
    bounded number of log lines (smtp_reject_log_limit)."""
import os
import re
import resource
import socket
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, Closed, RawClient, message  # noqa: E402

t = TAP(timeout=150)


def connect(d, timeout=5):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    return s


def read_until_closed(s, timeout):
    """bytes the server sends until it closes; None if it stays open"""
    got = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return got
        if not chunk:
            return got
        got += chunk
    return None


def banner_of(s, timeout=5):
    """the first line the server sends (b"" on EOF, reset or timeout)"""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


# ---------------------------------------------------------------- point 6
DATA_ACL = """
local answers = {
  code250 = { "deny", { code = 250, message = "looks accepted" } },
  code999 = { "deny", { code = 999, message = "weird" } },
  code42 = { "deny", { code = 42 } },
  code250x = { "deny", { code = "250x" } },
  defer550 = { "defer", { code = 550, message = "later" } },
  drop421 = { "drop", { code = 421, message = "bye" } },
  accept550 = { "accept", { code = 550 } },
  badprefix = { "deny", { message = "250 2.0.0 queued" } },
  badstatus = { "deny", { message = "550 4.7.1 mixed" } },
  good554 = { "deny", { code = 554, message = "no thanks" } },
  prefix = { "deny", { message = "551 5.1.6 moved away" } },
}
local verbs = { deny = deny, defer = defer, drop = drop, accept = accept }
acl "data" (function(s)
  local subj = s.data:match("Subject: ([%w%-]+)")
  local a = answers[subj]
  if a then return verbs[a[1]](a[2]) end
  if subj == "unknownverb" then return { _verb = "frobnicate" } end
  if subj == "luaerror" then error("secret-fn-error") end
  return accept()
end)
"""

RCPT_ACL = """
acl "rcpt" {
  accept { local_parts = "condfail",
           condition = function(s) error("secret-cond-error") end },
  deny   { local_parts = "msgfail",
           message = function() error("secret-msg-error") end },
  deny   { local_parts = "computed",
           message = function() return "250 2.1.5 fine" end },
  deny   { local_parts = "computed-ok",
           message = function() return "550 5.1.1 no such user here" end },
  require { verify = "recipient" },
  accept { },
}
"""


def data_reply(d, subject):
    """send one message with this subject; DATA's final reply"""
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<s@client.example>")
    c.cmd("RCPT TO:<alice@test.example>")
    c.cmd("DATA")
    c.send(message(subject=subject) + ".\r\n")
    r = c.try_reply()
    c.close()
    return r


def clean(r):
    """a reply that shows no internal detail (paths, Lua errors)"""
    return r is not None and not re.search(r"secret|\.lua|conf\.d|/tmp|"
                                           r"ternpy|aliases|lsearch",
                                           r.text)


with t.guard("codes: the daemon ran to its end"), \
     Tern(files={"acl/10_data.lua": DATA_ACL, "acl/20_rcpt.lua": RCPT_ACL},
          main={"smtp_vrfy_hosts": "127.0.0.1"}, name="hs-codes") as d:
    with t.guard("codes: data ACL function results: ran to its end"):
        for subj, why in (("code250", "code 250 is not a 5xx code"),
                          ("code999", "code 999 is not a 5xx code"),
                          ("code42", "code 42 is not a 5xx code"),
                          ("code250x", "the code is not a number"),
                          ("defer550", "code 550 is not a 4xx code"),
                          ("drop421", "code 421 is not a 5xx code"),
                          ("accept550", "code 550 is not a 2xx code"),
                          ("badprefix", "code 250 is not a 5xx code"),
                          ("badstatus", "status 4.7.1 is not a 5.x.x")):
            r = data_reply(d, subj)
            t.reply(r, 451, "4.3.0", "data ACL function: %s gives 451 "
                    "4.3.0, not what the script said" % subj,
                    "Temporary local problem")
            t.ok(d.wait_log(r"data ACL \(\S+/acl/10_data\.lua:\d+\): .*%s"
                            % re.escape(why), "panic", timeout=3)
                 is not None, "paniclog: %s, with the ACL's file:line"
                 % why, d.paniclog()[-600:])
        t.eq(d.spool_messages(), [], "none of those messages was kept")
        r = data_reply(d, "good554")
        t.reply(r, 554, "5.7.1", "deny { code = 554 }: 554 5.7.1 and the "
                "text", "no thanks")
        r = data_reply(d, "prefix")
        t.reply(r, 551, "5.1.6", "deny { message = \"551 5.1.6 moved "
                "away\" }: Exim's leading code is used",
                r"^5\.1\.6 moved away$")
        r = data_reply(d, "unknownverb")
        t.reply(r, 451, "4.3.0", "an ACL function returning an unknown "
                "verb: 451 4.3.0")
        t.ok(d.wait_log(r"unknown verb \"frobnicate\"", "panic")
             is not None, "paniclog: the unknown verb", d.paniclog()[-600:])
        r = data_reply(d, "luaerror")
        t.ok(r is not None and r.code == 451 and clean(r), "an ACL function "
             "that raises an error: 451 without the error text", repr(r))
        t.ok(d.wait_log(r"secret-fn-error", "reject") is not None,
             "the error text is in the reject log", d.rejectlog()[-600:])

    with t.guard("codes: statements and internal errors: ran to its end"):
        c = d.raw()
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<s@client.example>")
        r = c.cmd("RCPT TO:<computed@test.example>")
        t.reply(r, 451, "4.3.0", "a message function returning \"250 "
                "2.1.5 fine\" for a deny: 451 4.3.0")
        t.ok(d.wait_log(r"rcpt ACL \(\S+/acl/20_rcpt\.lua:\d+\): code 250 "
                        r"is not a 5xx code", "panic") is not None,
             "paniclog: the computed code and the statement's file:line",
             d.paniclog()[-600:])
        r = c.cmd("RCPT TO:<computed-ok@test.example>")
        t.reply(r, 550, "5.1.1", "a computed \"550 5.1.1 ...\": used",
                r"^5\.1\.1 no such user here$")
        r = c.cmd("RCPT TO:<condfail@test.example>")
        t.ok(r.code == 451 and r.status_ok("4.3.0") and clean(r),
             "a condition function that raises an error: 451 4.3.0, no "
             "error text or path on the wire", repr(r))
        t.ok(d.wait_log(r"secret-cond-error", "reject") is not None,
             "the condition's error is in the reject log",
             d.rejectlog()[-600:])
        r = c.cmd("RCPT TO:<msgfail@test.example>")
        t.ok(r.code == 451 and clean(r), "a message function that raises "
             "an error: a plain 451, as for any script error", repr(r))
        t.ok(d.wait_log(r"secret-msg-error", "reject") is not None,
             "rejectlog: the message function's error",
             d.rejectlog()[-600:])
        c.close()

with t.guard("codes: lookup failures: ran to its end"), \
     Tern(files={"acl/20_rcpt.lua": 'acl "rcpt" { require { verify = '
                 '"recipient" }, accept {} }\n'},
          main={"smtp_vrfy_hosts": "127.0.0.1"}, start=False,
          name="hs-lookup") as d:
    # a lookup that fails (the alias file is missing): verify defers
    os.rename(os.path.join(d.dir, "aliases"),
              os.path.join(d.dir, "aliases.away"))
    d.start()
    if True:
        c = d.raw()
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<s@client.example>")
        r = c.cmd("RCPT TO:<alice@test.example>")
        t.ok(r.code == 451 and clean(r), "verify = recipient when a lookup "
             "file is missing: 451 without the file's path", repr(r))
        t.ok(d.wait_log(re.escape(d.dir) + r"/aliases", "reject")
             is not None, "the reject log names the file",
             d.rejectlog()[-600:])
        r = c.cmd("VRFY alice@test.example")
        t.ok(r.code == 451 and clean(r), "VRFY when a lookup file is "
             "missing: 451 without the file's path", repr(r))
        t.ok(d.wait_log(r"VRFY <alice@test\.example> deferred: .*" +
                        re.escape(d.dir) + r"/aliases") is not None,
             "the main log has the reason", d.mainlog()[-600:])
        c.close()

with t.guard("codes at load time: ran to its end"):
    for name, acl, want in (
            ("deny-250", 'acl "data" { deny { code = 250 } }',
             r"code 250 is not a 5xx code"),
            ("defer-550", 'acl "rcpt" {\n  defer { code = 550 },\n}',
             r"code 550 is not a 4xx code"),
            ("drop-421", 'acl "rcpt" { drop { code = 421 } }',
             r"code 421 is not a 5xx code"),
            ("require-999", 'acl "rcpt" { require { code = 999 } }',
             r"code 999 is not a 5xx code"),
            ("warn-code", 'acl "rcpt" { warn { code = 550 }, accept {} }',
             r"code makes no sense with warn"),
            ("message-250", 'acl "rcpt" { deny { message = "250 looks '
             'accepted" } }', r"code 250 is not a 5xx code"),
            ("message-status", 'acl "rcpt" { deny { message = "550 2.0.0 '
             'x" } }', r"status 2\.0\.0 is not a 5\.x\.x status")):
        d = Tern(start=False, name="hs-load",
                 files={"acl/30_bad.lua": "-- line 1\n" + acl + "\n"})
        r = d.run("-bV")
        err = r.stderr.decode("utf-8", "replace")
        t.ok(r.returncode == 78 and re.search(r"acl/30_bad\.lua:2: .*%s"
                                              % want, err),
             "-bV: %s is a configuration error with FILE:LINE, exit 78"
             % name, "exit %d: %s" % (r.returncode, err[-400:]))
        d.cleanup()
    d = Tern(start=False, name="hs-load", files={
        "acl/30_ok.lua": 'acl "rcpt" { deny { code = 554, message = '
                         '"550 5.7.1 no" }, defer { code = 452 }, '
                         'accept { code = 250 } }\n'})
    r = d.run("-bV")
    t.eq(r.returncode, 0, "-bV: fitting codes load (deny 554, defer 452, "
         "accept 250, a 550 message prefix)")
    d.cleanup()

with t.guard("codes: a constant code: ran to its end"), \
     Tern(files={"acl/20_rcpt.lua": 'acl "rcpt" {\n'
                 '  deny { local_parts = "const", code = 554, '
                 'message = "go away" },\n'
                 '  deny { local_parts = "prefixed", '
                 'message = "553 5.1.3 bad address" },\n'
                 '  accept { } }\n'}, name="hs-const") as d:
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<s@client.example>")
    r = c.cmd("RCPT TO:<const@test.example>")
    t.reply(r, 554, "5.7.1", "deny { code = 554, message = \"go away\" }: "
            "554 5.7.1 go away", r"^5\.7\.1 go away$")
    r = c.cmd("RCPT TO:<prefixed@test.example>")
    t.reply(r, 553, "5.1.3", "deny { message = \"553 5.1.3 bad address\" "
            "}: 553 5.1.3 bad address (Exim's leading code)",
            r"^5\.1\.3 bad address$")
    c.close()


# ---------------------------------------------------------------- point 8
with t.guard("half-closed: the session ran to its end"), \
     Tern(main={"smtp_accept_max": 10, "smtp_receive_timeout": "5m"},
          name="hs-half") as d:
    N = 60          # six times smtp_accept_max
    banners, closed_fast = [], 0
    for i in range(N):
        s = connect(d)
        b = banner_of(s)
        banners.append(b[:3])
        try:
            s.sendall(b"MAIL FROM:<half%d@client.exa" % i)
        except OSError:
            pass
        if i % 2 == 0:
            try:
                s.shutdown(socket.SHUT_WR)  # half-close, wait for the end
            except OSError:
                pass
            rest = read_until_closed(s, 3)
            closed_fast += rest is not None
        s.close()
    t.eq(banners.count(b"220"), N, "%d clients that each send half a "
         "command and close get a 220 greeting, with smtp_accept_max 10"
         % N)
    t.eq(closed_fast, N // 2, "a client that half-closes after half a "
         "command sees the server close at once (not after "
         "smtp_receive_timeout)")
    c = d.raw()
    if t.eq(c.banner.code, 220, "after the flood a new client is served"):
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<ok@client.example>")
        c.cmd("RCPT TO:<alice@test.example>")
        c.cmd("DATA")
        c.send(message(subject="after half-closed") + ".\r\n")
        t.reply(c.try_reply(), 250, "2.0.0", "and can send mail")
        c.cmd("QUIT")
    c.close()
    lost_re = r"lost: unexpected disconnection while reading SMTP command"
    end = time.monotonic() + 5
    while len(re.findall(lost_re, d.mainlog())) < N \
            and time.monotonic() < end:
        time.sleep(0.1)
    t.eq(len(re.findall(lost_re, d.mainlog())), N, "mainlog: one 'lost: "
         "unexpected disconnection while reading SMTP command' line per "
         "cut-short session")

# These clients pipeline commands that must be synchronised (EHLO, NOOP,
# HELO): the synchronization checks (test_smtp_sync.py) are off here, so
# what is tested is the server's handling of the input itself.
with t.guard("half-closed, pipelined and DATA: the session ran to its end"), \
     Tern(name="hs-half2", main={"smtp_enforce_sync": False}) as d:
    # pipelined complete commands, then half a line and a half-close: the
    # complete ones are answered, then the server closes
    s = connect(d)
    banner_of(s)
    s.sendall(b"EHLO client.example\r\nNOOP\r\nRSET\r\nNOOP XX")
    s.shutdown(socket.SHUT_WR)
    rest = read_until_closed(s, 3)
    s.close()
    t.ok(rest is not None and re.search(rb"(?m)^250 ", rest)
         and len(re.findall(rb"(?m)^250 ", rest)) == 3,
         "complete commands before the unfinished one are answered (3 "
         "final 250s), then the connection is closed", repr(rest))

    # the message data cut short: no message, "lost" logged
    s = connect(d)
    banner_of(s)
    s.sendall(b"EHLO client.example\r\nMAIL FROM:<cut@client.example>\r\n"
              b"RCPT TO:<alice@test.example>\r\nDATA\r\n")
    time.sleep(0.3)
    s.sendall(b"Subject: cut\r\n\r\nhalf a li")
    s.shutdown(socket.SHUT_WR)
    rest = read_until_closed(s, 3)
    s.close()
    t.ok(rest is not None and b"354" in rest, "DATA cut short and "
         "half-closed: the server closes at once", repr(rest))
    t.ok(d.wait_log(r"lost: unexpected disconnection while reading message "
                    r"data") is not None, "mainlog: 'lost: unexpected "
         "disconnection while reading message data'", d.mainlog()[-800:])
    t.eq(d.spool_messages(), [], "the cut-short message is not spooled")


# ---------------------------------------------------------------- point 9
class LowFdTern(Tern):
    """a daemon started with `ulimit -n 256` (soft and hard), or only the
    soft limit lowered (ulimit_flag "-Sn")"""
    ulimit_flag = "-n"

    def cmd(self, *args):
        argv = super().cmd(*args)
        if "-bdf" in args:
            return ["/bin/sh", "-c", 'ulimit %s 256 && exec "$@"'
                    % self.ulimit_flag, "sh"] + argv
        return argv


class SoftFdTern(LowFdTern):
    ulimit_flag = "-Sn"


def max_open_files(pid):
    """the soft RLIMIT_NOFILE of a process, from /proc/PID/limits"""
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


with t.guard("fds, soft limit: ran to its end"), \
     SoftFdTern(main={"smtp_accept_max": 1000}, name="hs-softfd") as d:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 1000 + 64 if hard == resource.RLIM_INFINITY else min(1064, hard)
    got = [max_open_files(p) for p in d.pids()[1:]]
    t.ok(got and all(g == want for g in got), "a soft limit of 256 is "
         "raised to smtp_accept_max + 64 = %d (up to the hard limit) in "
         "the workers" % want, repr(got))
    t.ok(want < 1064 or "needs about" not in d.mainlog(), "and then no "
         "warning is logged", d.mainlog()[-600:])

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < 2000 and (hard == resource.RLIM_INFINITY or hard >= 2000):
    resource.setrlimit(resource.RLIMIT_NOFILE, (2000, hard))
if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 1200:
    t.skip("out of descriptors", "this test needs 1200 descriptors")
else:
    with t.guard("fds: the session ran to its end"), \
         LowFdTern(main={"smtp_accept_max": 5000}, name="hs-fds") as d:
        t.ok(d.wait_log(r"warning: smtp_accept_max = 5000 needs about "
                        r"\d+ file descriptors per worker, but the limit "
                        r"is 256") is not None, "start: the daemon warns "
             "that the descriptor limit is below what smtp_accept_max "
             "needs", d.mainlog()[-800:])
        flood = []
        for i in range(800):
            try:
                flood.append(socket.create_connection(("127.0.0.1", d.port),
                                                      timeout=5))
            except OSError:
                break
        time.sleep(1.0)
        workers = d.pids()[1:]
        c0 = cpu_seconds(workers)
        time.sleep(2.0)
        used = cpu_seconds(workers) - c0
        t.ok(used < 0.6, "800 clients with 256 descriptors: the daemon's "
             "children used %.2f s of CPU in 2 s (not spinning)" % used)
        lines = re.findall(r"cannot accept connections: (Too many open "
                           r"files|too few file descriptors left)",
                           d.mainlog())
        t.ok(1 <= len(lines) <= 2, "mainlog: running out of descriptors "
             "is logged once per worker (%d lines)" % len(lines),
             d.mainlog()[-1500:])
        c = RawClient.__new__(RawClient)     # an accepted flood session
        c.sock, c.timeout, c.buf, c.eof = flood[0], 5, b"", False
        with t.guard("a session accepted before the flood sends mail"):
            t.eq(c.reply().code, 220, "a session accepted during the "
                 "flood has its banner")
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<during@client.example>")
            c.cmd("RCPT TO:<alice@test.example>")
            c.cmd("DATA")
            c.send(message(subject="during the fd flood") + ".\r\n")
            t.reply(c.try_reply(), 250, "2.0.0", "and can still send mail "
                    "(descriptors are kept for its spool file)")
        served = sum(1 for s in flood[1:50] if banner_of(s)[:3] == b"220")
        t.ok(served == 49, "the other sessions already accepted are "
             "served (%d of the next 49 got 220)" % served)
        for s in flood:
            s.close()
        flood = []
        end = time.monotonic() + 10
        got = None
        while time.monotonic() < end and got is None:
            try:
                c = d.raw(timeout=3)
                got = c.banner
            except (Closed, OSError):
                time.sleep(0.2)
        t.ok(got is not None and got.code == 220, "after the flood a new "
             "client gets a banner", repr(got))
        if got is not None and got.code == 220:
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<fd@client.example>")
            c.cmd("RCPT TO:<alice@test.example>")
            c.cmd("DATA")
            c.send(message(subject="after the fd flood") + ".\r\n")
            t.reply(c.try_reply(), 250, "2.0.0", "and can send mail")
        lines = re.findall(r"cannot accept connections", d.mainlog())
        t.ok(len(lines) <= 2, "still at most one line per worker about it",
             d.mainlog()[-800:])

# ---------------------------------------------------------------- point 12
def replies(c, n, timeout=5):
    return [c.try_reply(timeout) for _ in range(n)]


def codes(rs):
    return [r.code if r is not None else None for r in rs]


HELO_ACL = """
acl "helo" (function(s)
  if s.helo == "evil.example" then
    return deny { message = "go away evil" }
  end
  return accept()
end)
"""

with Tern(files={"acl/10_helo.lua": HELO_ACL}, name="hs-state",
          main={"smtp_enforce_sync": False}) as d:
    with t.guard("state, refused greeting: ran to its end"):
        c = d.raw()
        r = c.cmd("EHLO evil.example")
        t.reply(r, 550, "5.7.1", "EHLO refused by the helo ACL: 550",
                "go away")
        r = c.cmd("MAIL FROM:<x@client.example>")
        t.reply(r, 503, "5.5.1", "after a refused EHLO, MAIL gets 503 (no "
                "greeting counts)")
        t.eq(c.cmd("EHLO client.example").code, 250, "an accepted EHLO "
             "then counts")
        t.eq(c.cmd("MAIL FROM:<x@client.example>").code, 250,
             "and MAIL gets 250")
        r = c.cmd("HELO evil.example")
        t.reply(r, 550, "5.7.1", "a second greeting refused: 550")
        rs = [c.cmd("RCPT TO:<alice@test.example>"),
              c.cmd("MAIL FROM:<x@client.example>")]
        t.eq(codes(rs), [503, 503], "a refused greeting leaves no greeting "
             "and no transaction behind: RCPT and MAIL get 503")
        c.close()
        c = d.raw()
        c.send("HELO evil.example\r\nMAIL FROM:<x@client.example>\r\n"
               "RCPT TO:<alice@test.example>\r\nDATA\r\n")
        t.eq(codes(replies(c, 4)), [550, 503, 503, 503], "pipelined after "
             "a refused HELO: MAIL, RCPT and DATA all get 503")
        c.close()
        t.ok(d.wait_log(r"rejected EHLO or HELO evil\.example: go away evil",
                        "reject") is not None, "rejectlog: 'rejected EHLO "
             "or HELO evil.example: go away evil'", d.rejectlog()[-800:])

    with t.guard("state, BDAT before EHLO: ran to its end"):
        # 503, and the chunk is read and dropped, never run as commands
        c = d.raw()
        c.send("BDAT 6\r\nQUIT\r\nNOOP\r\n")
        rs = replies(c, 2)
        t.ok(codes(rs) == [503, 250] and rs[0].status_ok("5.5.1"),
             "BDAT before EHLO: 503 5.5.1, its chunk ('QUIT') is skipped, "
             "the NOOP after it gets 250", repr(rs))
        t.eq(c.pending(0.3), b"", "and nothing else is answered")
        c.send("BDAT 0 LAST\r\nNOOP\r\n")
        t.eq(codes(replies(c, 2)), [503, 250], "BDAT 0 before EHLO: 503 "
             "at once")
        c.close()
        c = d.raw()
        c.send("BDAT 6\r\nQUIT\r\n" * 5)
        t.eq(codes(replies(c, 4)), [503, 503, 503, 421], "BDATs before "
             "EHLO count as protocol errors: the 4th gets 421 "
             "(smtp_max_synprot_errors 3)")
        t.ok(c.is_closed(3), "and the connection is closed")
        c.close()

    with t.guard("state, BDAT after HELO: ran to its end"):
        # the same, and the HELO transaction survives for DATA
        c = d.raw()
        c.cmd("HELO client.example")
        c.cmd("MAIL FROM:<helo@client.example>")
        c.cmd("RCPT TO:<alice@test.example>")
        chunk = "RSET\r\nMAIL FROM:<smuggled@client.example>\r\n"
        c.send("BDAT %d LAST\r\n%sNOOP\r\n" % (len(chunk), chunk))
        rs = replies(c, 2)
        t.ok(codes(rs) == [503, 250], "BDAT after HELO: 503 after its "
             "chunk, then NOOP; the commands inside the chunk are not run",
             repr(rs))
        t.eq(c.pending(0.3), b"", "no reply for the chunk's lines")
        r = c.cmd("DATA")
        t.eq(r.code, 354, "the HELO transaction is still open: DATA gets "
             "354")
        c.send(message(subject="after BDAT refused") + ".\r\n")
        t.reply(c.try_reply(), 250, "2.0.0", "and the message is accepted")
        c.cmd("QUIT")
        c.close()
        m = d.spool_messages()
        t.ok(len(m) == 1 and m[0].sender == "helo@client.example",
             "spool: one message, from the sender given before BDAT (not "
             "the smuggled one)", repr(m))

    with t.guard("state, SMTPUTF8: ran to its end"):
        # non-ASCII addresses without SMTPUTF8: 553 5.6.7, MAIL and RCPT
        U = "j\u00f6ran@b\u00fccher.example"
        for greet in ("HELO", "EHLO"):
            c = d.raw()
            c.cmd(greet + " client.example")
            r = c.cmd(("MAIL FROM:<%s>" % U).encode("utf-8"))
            t.reply(r, 553, "5.6.7", "%s session, MAIL with a UTF-8 address "
                    "and no SMTPUTF8: 553 5.6.7" % greet)
            t.eq(c.cmd("MAIL FROM:<x@client.example>").code, 250,
                 "%s session: an ASCII MAIL then gets 250" % greet)
            r = c.cmd("RCPT TO:<j\u00f6ran@test.example>".encode("utf-8"))
            t.reply(r, 553, "5.6.7", "%s session, RCPT with a UTF-8 "
                    "address: 553 5.6.7 too" % greet)
            c.close()
        c = d.raw()
        c.cmd("HELO client.example")
        r = c.cmd(("MAIL FROM:<%s> SMTPUTF8" % U).encode("utf-8"))
        t.reply(r, 555, "5.5.4", "SMTPUTF8 after HELO: 555 5.5.4 (a "
                "parameter needs EHLO)")
        c.close()

# a flood of refused RCPTs: smtp_reject_log_limit lines, then one summary
with t.guard("reject log: the session ran to its end"), \
     Tern(main={"smtp_reject_log_limit": 5, "recipients_max": 2},
          name="hs-rejlog") as d:
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    got = []
    for batch in range(3):
        c.send("".join("RCPT TO:<u%d@elsewhere.example>\r\n"
                       % (batch * 100 + i) for i in range(100)))
        got += codes(replies(c, 100))
    t.eq(got.count(550), 300, "300 RCPTs to a domain we do not relay to: "
         "300 refusals")
    c.send("".join("RCPT TO:<alice@test.example>\r\n" for _ in range(20)))
    got = codes(replies(c, 20))
    t.eq(got.count(452), 18, "recipients_max 2: 18 RCPTs over it get 452")
    c.cmd("QUIT")
    c.close()
    time.sleep(0.5)
    rl = d.rejectlog()
    t.eq(len(re.findall(r"rejected RCPT <u\d+@elsewhere\.example>", rl)), 5,
         "smtp_reject_log_limit 5: five 'rejected RCPT' lines, not 300")
    t.ok(re.search(r"H=\(client\.example\) \[127\.0\.0\.1\]:\d+: 295 more "
                   r"rejections not logged \(smtp_reject_log_limit = 5\): "
                   r"RCPT rejected: relay not permitted", rl),
         "one summary line at the end: 295 more, and why", rl[-800:])
    t.eq(len(re.findall(r"too many recipients", rl)), 5 + 1, "the "
         "recipients_max refusals are bounded the same way (5 + summary)")
    t.ok(re.search(r": 13 more rejections not logged .*too many recipients",
                   rl), "with their own summary (13 more)", rl[-800:])
    t.eq(len(re.findall(r"rejected RCPT <u\d+@", d.mainlog())), 5,
         "the main log has the same five")

with t.guard("reject log default: the session ran to its end"), \
     Tern(name="hs-rejlog2") as d:
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<x@client.example>")
    n = 0
    for batch in range(20):
        c.send("".join("RCPT TO:<v%d@elsewhere.example>\r\n"
                       % (batch * 100 + i) for i in range(100)))
        n += codes(replies(c, 100)).count(550)
    c.cmd("QUIT")
    c.close()
    time.sleep(0.5)
    lines = d.rejectlog().count("\n") + d.mainlog().count("\n")
    t.eq(n, 2000, "2000 refused RCPTs in one session")
    t.ok(lines < 260, "default smtp_reject_log_limit (100): %d log lines in "
         "all, not 4000" % lines)

t.done()
