#!/usr/bin/env python3
"""test_dns_memo - a worker remembers DNS answers for their TTL
(dns_answer_cache): with the bench's responder (every answer after 50 ms,
TTL 300, negative answers with an SOA whose negative TTL is 300), five
messages whose rcpt ACL asks a DNS list and SPF cost one query of each
name, and the later checks do not wait for the network; with
dns_answer_cache = 0 every check asks again. The responder counts the
queries it answered."""
import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, TOP, scratch_dir  # noqa: E402

tap = TAP()
RESPONDER = os.path.join(TOP, "test-suite/bench/dns_responder.py")
DELAY_MS = 50
MESSAGES = 5

ACL = r'''
acl "rcpt" {
  deny   { dnslists = "bl.bench", message = "listed" },
  deny   { spf = "fail", message = "spf fail" },
  accept { spf = "pass", domains = "+local_domains" },
  deny   { message = "no SPF pass: $spf_result" },
}
'''


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def responder():
    d = scratch_dir("dnsmemo")
    stats = os.path.join(d, "stats")
    port = free_udp_port()
    p = subprocess.Popen([sys.executable, RESPONDER, "--listen",
                          "127.0.0.1:%d" % port, "--stats", stats,
                          "--delay-ms", str(DELAY_MS), "--txt",
                          "memo.test=v=spf1 ip4:127.0.0.0/8 -all"])
    for _ in range(100):
        if os.path.exists(stats):
            break
        time.sleep(0.05)
    return p, port, stats


def counts(p, stats):
    """the responder's query counts: {"queries": N, "A": N, "TXT": N}"""
    os.unlink(stats)
    p.send_signal(signal.SIGUSR1)
    for _ in range(100):
        if os.path.exists(stats):
            break
        time.sleep(0.05)
    with open(stats) as f:
        return dict((k, int(v)) for k, v in
                    (ln.strip().split("=", 1) for ln in f if "=" in ln))


def run(memo):
    p, port, stats = responder()
    t = Tern(main={"dns_servers": "127.0.0.1:%d" % port,
                   "smtp_workers": 1, "dns_answer_cache": memo},
             files={"acl/10_acl.lua": ACL}, name="dnsmemo")
    c = t.raw()
    c.cmd("EHLO client.example.org")
    codes, waits = [], []
    for i in range(MESSAGES):
        c.cmd("MAIL FROM:<s%d@memo.test>" % i)
        t0 = time.monotonic()
        r = c.cmd("RCPT TO:<alice@test.example>")
        waits.append(time.monotonic() - t0)
        codes.append(r.code)
        c.cmd("RSET")
    c.close()
    got = counts(p, stats)
    t.stop()
    p.terminate()
    p.wait(10)
    return codes, waits, got


codes, waits, got = run(4096)
tap.ok(codes == [250] * MESSAGES, "with the memo: every RCPT accepted "
       "(not listed, SPF pass)", repr(codes))
tap.ok(got.get("A") == 1 and got.get("TXT") == 1,
       "with the memo: one A query for the DNS list and one TXT query for "
       "SPF across %d messages" % MESSAGES, repr(got))
tap.ok(min(waits[1:]) < DELAY_MS / 1000.0,
       "with the memo: the later checks do not wait for the network",
       "waits %s" % ["%.3f" % w for w in waits])
codes, waits, got = run(0)
tap.ok(codes == [250] * MESSAGES, "without: every RCPT accepted",
       repr(codes))
tap.ok(got.get("A") == MESSAGES and got.get("TXT") == MESSAGES,
       "dns_answer_cache = 0: every message asks again", repr(got))
tap.done()
