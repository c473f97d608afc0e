#!/usr/bin/env python3
"""test_crash_spool - the durability contract under kill -9 (DESIGN §3).

20 concurrent clients send messages with unique bodies to a tern daemon
(2 workers). Each client records every message's bytes and what became of
it: acknowledged (250 with id=...), in flight (the final "." was sent, no
reply came), or not finished. Once about 2000 messages are acknowledged
(bounded: at most 4000 messages or 30 s), the master and all workers are
killed with SIGKILL (the master is stopped first so it cannot respawn a
worker, and is killed last so no worker gets its parent-death SIGTERM).
Then tern is restarted on the same spool and the spool is read:

  - every acknowledged message is there under the id of its 250 reply,
    byte-identical: tern's Received: header, then exactly the bytes the
    client sent (after dot-unstuffing), with the right sender and recipients;
  - no spool file is corrupt (each parses: "tern-spool 1" ... "END"),
    nothing was moved to spool/corrupt, no temp file is left or counted;
  - every message in the spool was acknowledged or in flight at the kill;
  - the restarted daemon accepts mail.
"""
import os
import random
import re
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib_extra import (Tap, Tern, MSGID_RE, parse_spool,  # noqa: E402
                           children_of, pid_alive, stuff, wait_for)

tap = Tap()
CLIENTS = 20
TARGET_ACKED = 2000
MAX_MESSAGES = 4000
MAX_SECONDS = 30

t = Tern("crash", workers=2, main={"smtp_accept_max": 200})
t.start()

lock = threading.Lock()
stop = threading.Event()
state = {"started": 0, "acked": 0}
records = {}            # token -> dict(body, sender, rcpts, state, id, reply)
errors = []


def make_body(token, rnd):
    """A unique message: CRLF lines, some starting with '.', random size."""
    lines = [b"From: client@client.example.org",
             b"To: alice@example.com",
             b"Subject: crash test " + token.encode(),
             b"X-Test-Token: " + token.encode(),
             b""]
    for i in range(rnd.randint(1, 60)):
        kind = rnd.random()
        if kind < 0.1:
            line = b"." + os.urandom(rnd.randint(0, 20)).hex().encode()
        elif kind < 0.15:
            line = b"."
        elif kind < 0.2:
            line = b""
        else:
            line = os.urandom(rnd.randint(1, 180)).hex().encode()[:rnd.randint(1, 300)]
        lines.append(line)
    lines.append(b"end of " + token.encode())
    return b"\r\n".join(lines) + b"\r\n"


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", t.port), timeout=15)
        self.buf = b""

    def reply(self):
        while True:
            i = self.buf.find(b"\r\n")
            while i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                if len(line) >= 4 and line[3:4] == b"-":
                    i = self.buf.find(b"\r\n")
                    continue
                return int(line[:3]), line[4:].decode("utf-8", "replace")
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d

    def cmd(self, line):
        self.s.sendall(line + b"\r\n")
        return self.reply()


def client(n):
    rnd = random.Random(n * 7919 + 1)
    seq = 0
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = Conn()
                if conn.reply()[0] != 220 or conn.cmd(b"EHLO c%d.example" % n)[0] != 250:
                    raise EOFError("bad greeting")
            with lock:
                if stop.is_set() or state["started"] >= MAX_MESSAGES:
                    break
                state["started"] += 1
            seq += 1
            token = "c%02d-%05d-%08x" % (n, seq, rnd.getrandbits(32))
            body = make_body(token, rnd)
            sender = "s%d@client.example.org" % n
            rcpts = ["alice@example.com"] + (["bob@example.com"]
                                             if rnd.random() < 0.3 else [])
            rec = {"body": body, "sender": sender, "rcpts": rcpts,
                   "state": "unfinished", "id": None, "reply": None}
            with lock:
                records[token] = rec
            if conn.cmd(b"MAIL FROM:<%s>" % sender.encode())[0] != 250:
                raise EOFError("MAIL refused")
            for r in rcpts:
                if conn.cmd(b"RCPT TO:<%s>" % r.encode())[0] != 250:
                    raise EOFError("RCPT refused")
            if conn.cmd(b"DATA")[0] != 354:
                raise EOFError("DATA refused")
            data = stuff(body) + b".\r\n"
            cut = rnd.randint(0, len(data) - 3)
            conn.s.sendall(data[:cut])
            rec["state"] = "in flight"      # the final "." goes out now
            conn.s.sendall(data[cut:])
            code, text = conn.reply()
            rec["reply"] = (code, text)
            if code == 250:
                m = re.search(r"id=(\S+)", text)
                rec["id"] = m.group(1) if m else None
                rec["state"] = "acked"
                with lock:
                    state["acked"] += 1
            else:
                rec["state"] = "refused"
        except (OSError, EOFError, ValueError) as e:
            if not stop.is_set():
                with lock:
                    errors.append("client %d: %r" % (n, e))
            try:
                if conn:
                    conn.s.close()
            except OSError:
                pass
            conn = None
            if stop.is_set():
                break
            time.sleep(0.05)
    if conn is not None:
        try:
            conn.s.close()
        except OSError:
            pass


threads = [threading.Thread(target=client, args=(i,), daemon=True)
           for i in range(CLIENTS)]
t0 = time.time()
for th in threads:
    th.start()
while True:
    with lock:
        acked, started = state["acked"], state["started"]
    if acked >= TARGET_ACKED or started >= MAX_MESSAGES \
            or time.time() - t0 > MAX_SECONDS:
        break
    time.sleep(0.01)

# kill -9: stop the master (no respawn, no parent-death SIGTERM to the
# workers), kill every worker, then the master
master = t.pid
workers = children_of(master)
os.kill(master, signal.SIGSTOP)
workers = sorted(set(workers) | set(children_of(master)))
for w in workers:
    os.kill(w, signal.SIGKILL)
os.kill(master, signal.SIGKILL)
kill_time = time.time() - t0
stop.set()
t.proc.wait(10)
for th in threads:
    th.join(20)
gone = wait_for(lambda: not pid_alive(master)
               and not any(pid_alive(w) for w in workers), 5)
tap.ok(gone, "master and %d workers killed with SIGKILL" % len(workers),
       "alive: %r" % [p for p in [master] + workers if pid_alive(p)])

by_state = {}
for rec in records.values():
    by_state[rec["state"]] = by_state.get(rec["state"], 0) + 1
acked = {tok: r for tok, r in records.items() if r["state"] == "acked"}
inflight = {tok: r for tok, r in records.items() if r["state"] == "in flight"}
tap.comment("killed after %.2f s: %d messages started, states %r"
            % (kill_time, len(records), by_state))
if errors:
    tap.comment("client errors before the kill: %d, first: %s"
                % (len(errors), errors[0]))
tap.ok(len(acked) >= 1000, "a real load was acknowledged before the kill "
       "(>= 1000 messages)", "acknowledged %d" % len(acked))
tap.ok(by_state.get("refused", 0) == 0, "no message was refused under load",
       repr([r["reply"] for r in records.values()
             if r["state"] == "refused"][:5]))

# what the kill left behind, before the restart tidies it
left = [os.path.basename(p) for p in t.spool_files()]
tmp_before = [f for f in left if f.startswith(".tmp.")]
tap.comment("files under spool/input after the kill: %d (%d temp files)"
            % (len(left), len(tmp_before)))

# restart on the same spool, once the killed processes are really gone:
# init reaps the orphaned workers a moment later, and until then their
# zombies still "exist" for kill(pid, 0), so their temp files would
# rightly be kept by the start-up tidy
def reaped():
    return not any(os.path.exists("/proc/%d" % p) for p in [master] + workers)


wait_for(reaped, 10)
tap.comment("killed processes reaped: %s" % reaped())
with tap.guard("restart"):
    t.start()
    tap.ok(t.running(), "tern restarts on the spool left by the kill")

files = t.spool_files()
names = [os.path.basename(p) for p in files]
ids = [n for n in names if MSGID_RE.match(n)]
others = [n for n in names if not MSGID_RE.match(n)]
tap.ok(not [n for n in others if n.startswith(".tmp.")],
       "no temp file is left in the spool after the restart",
       repr([n for n in others if n.startswith(".tmp.")][:10]))
tap.ok(not [n for n in others if not n.endswith(".J")],
       "nothing but message files (and journals) under spool/input",
       repr(others[:10]))
corrupt_dir = os.path.join(t.spool, "corrupt")
corrupt = os.listdir(corrupt_dir) if os.path.isdir(corrupt_dir) else []
tap.ok(not corrupt, "nothing was moved to spool/corrupt", repr(corrupt[:10]))

parsed, bad = {}, []
for p in files:
    n = os.path.basename(p)
    if not MSGID_RE.match(n):
        continue
    try:
        with open(p, "rb") as f:
            rec = parse_spool(f.read())
        if rec["id"] != n:
            raise ValueError("id record %r" % rec["id"])
        parsed[n] = rec
    except (OSError, ValueError) as e:
        bad.append((n, str(e)))
tap.ok(not bad, "every spool file parses (tern-spool 1 ... END)",
       "%d bad, first %r" % (len(bad), bad[:3]))

RECEIVED = re.compile(rb"\AReceived: [^\r\n]*\r\n(?:\t[^\r\n]*\r\n)*\Z")


def matches(spool_rec, rec):
    data = spool_rec["data"]
    body = rec["body"]
    if not data.endswith(body):
        return "data does not end with the bytes sent"
    if not RECEIVED.match(data[:len(data) - len(body)]):
        return "something other than one Received: header before the body"
    if spool_rec["sender"] != rec["sender"]:
        return "sender %r" % spool_rec["sender"]
    if spool_rec["rcpts"] != rec["rcpts"]:
        return "recipients %r" % spool_rec["rcpts"]
    return None


missing, wrong = [], []
for tok, rec in acked.items():
    sp = parsed.get(rec["id"])
    if sp is None:
        missing.append((tok, rec["id"]))
        continue
    why = matches(sp, rec)
    if why:
        wrong.append((tok, rec["id"], why))
tap.ok(not missing, "every acknowledged message is in the spool under the "
       "id of its 250 reply", "%d missing, first %r" % (len(missing),
                                                       missing[:5]))
tap.ok(not wrong, "every acknowledged message is byte-identical (Received: "
       "+ the bytes sent, sender, recipients)",
       "%d differ, first %r" % (len(wrong), wrong[:5]))

token_re = re.compile(rb"(?m)^X-Test-Token: (\S+)\r$")
acked_ids = {r["id"] for r in acked.values()}
unexpected, inflight_found, inflight_bad = [], 0, []
for mid, sp in parsed.items():
    if mid in acked_ids:
        continue
    m = token_re.search(sp["data"])
    tok = m.group(1).decode() if m else None
    rec = records.get(tok)
    if rec is None or rec["state"] != "in flight":
        unexpected.append((mid, tok, rec["state"] if rec else None))
        continue
    inflight_found += 1
    why = matches(sp, rec)
    if why:
        inflight_bad.append((mid, tok, why))
tap.ok(not unexpected, "every message in the spool was acknowledged or in "
       "flight at the kill (no other)",
       "%d others, first %r" % (len(unexpected), unexpected[:5]))
tap.ok(not inflight_bad, "the in-flight messages that made it to the spool "
       "are intact", repr(inflight_bad[:5]))
tap.ok(len(parsed) == len(acked) + inflight_found,
       "spool count = acknowledged + in flight found",
       "%d != %d + %d" % (len(parsed), len(acked), inflight_found))
tap.comment("acknowledged %d, in spool %d, in flight %d (of which in the "
            "spool %d), unfinished at the kill %d, temp files before the "
            "restart %d" % (len(acked), len(parsed), len(inflight),
                            inflight_found, by_state.get("unfinished", 0),
                            len(tmp_before)))

with tap.guard("after restart"):
    c = t.raw()
    c.cmd("EHLO client.example.org")
    c.cmd("MAIL FROM:<after@client.example.org>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(b"Subject: after the crash\r\n\r\nstill works\r\n.\r\n")
    code, text = c.reply()
    c.close()
    tap.ok(code == 250, "the restarted daemon accepts mail",
           "got %d %s" % (code, text))
    tap.ok(not re.search(r"corrupt", t.paniclog()),
           "no corrupt spool file reported in the paniclog",
           t.paniclog()[-1000:])
t.stop()
tap.done()
