"""test_acl_spf - the spf ACL condition through real sessions.

A ZoneServer (test-suite/lib/zone_dns.py) serves the SPF zone below and is
tern's only DNS server. `tern -bh IP` sessions from several client
addresses (IPv4 and IPv6 documentation addresses) reach the SMTP replies
an Exim administrator's ACL gives: fail is refused with the domain's exp=
explanation ($spf_smtp_comment), temperror deferred, permerror refused,
softfail/neutral/none/pass accepted; the null sender is checked as
postmaster@HELO; several recipients cost one evaluation; sessions that close while
the evaluation waits leave the worker alive; a message over a
real connection gets the Received-SPF header ($spf_received) in the
spool; "!pass" negates one item, as in Exim; spf_guess uses the
spf_guess record for domains without one; an unknown result word or a
broken spf_guess record is refused at load time.
"""
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, Tern, TOP  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "test-suite", "lib"))
from zone_dns import ZoneServer  # noqa: E402

ZONE = {
    "pass.example": [{"TXT": "v=spf1 ip4:192.0.2.10 ip4:127.0.0.1 -all"}],
    "fail.example": [{"TXT": "v=spf1 ip4:192.0.2.10 -all "
                      "exp=why.fail.example"}],
    "why.fail.example": [{"TXT": "%{i} is not one of %{d}'s designated "
                          "mail servers."}],
    "soft.example": [{"TXT": "v=spf1 ip6:2001:db8::/32 ~all"}],
    "neutral.example": [{"TXT": "v=spf1 ?all"}],
    "none.example": [{"A": "192.0.2.10"}],
    "perm.example": [{"TXT": "v=spf1 ip4:192.0.2.300 -all"}],
    "temp.example": ["TIMEOUT"],
    "helo.example": [{"TXT": "v=spf1 a -all"}, {"A": "192.0.2.10"}],
    "v6.example": [{"TXT": "v=spf1 ip6:2001:db8::/64 -all"}],
}

ACL = r'''
acl "rcpt" {
  deny   { local_parts = "^notpass$", spf = "!pass",
           message = "not pass: $spf_result" },
  deny   { spf = "fail",
           message = "SPF check failed: $spf_smtp_comment" },
  defer  { spf = "temperror", message = "temporary SPF error" },
  deny   { spf = "permerror", message = "broken SPF record: $spf_result" },
  warn   { spf = "pass : softfail : neutral : none",
           add_header = "$spf_received",
           log_message = "spf $spf_result: $spf_header_comment" },
  deny   { local_parts = "^guess$", spf_guess = "pass : neutral",
           message = "guessed=$spf_result_guessed $spf_result; $spf_received" },
  accept { domains = "+local_domains" },
}
'''

t = TAP()
z = ZoneServer(ZONE)
z.start()
d = Tern(name="aclspf", main={"dns_servers": z.address,
                              "dns_timeout": "1s", "dns_retry": 1},
         files={"acl/10_spf.lua": ACL})


def session(ip, sender, helo="client.example", rcpts=("alice@test.example",)):
    lines = ["EHLO " + helo, "MAIL FROM:<%s>" % sender]
    lines += ["RCPT TO:<%s>" % r for r in rcpts] + ["QUIT", ""]
    t0 = time.monotonic()
    p = d.run("-bh", ip, input="\r\n".join(lines))
    out = p.stdout.decode("utf-8", "replace")
    session.err = p.stderr.decode("utf-8", "replace")
    # the replies to the RCPTs: after 220, EHLO (multi-line) and MAIL
    replies = re.findall(r"(?m)^(\d{3}) (.*)$", out)
    return replies[3:3 + len(rcpts)], out, time.monotonic() - t0


def check(ip, sender, code, text, name, helo="client.example",
          rcpt="alice@test.example"):
    rs, out, _ = session(ip, sender, helo, rcpts=(rcpt,))
    ok = len(rs) == 1 and rs[0][0] == str(code) and text in rs[0][1]
    t.ok(ok, name, "want %d ...%s...\n%s" % (code, text, out))


check("192.0.2.99", "joe@fail.example", 550,
      "SPF check failed: 192.0.2.99 is not one of fail.example's "
      "designated mail servers.",
      "fail: 550 with the domain's exp= explanation ($spf_smtp_comment)")
t.like(session.err, r"spf: fail for joe@fail\.example from 192\.0\.2\.99",
       "-bh shows the SPF result among the ACL decisions")
check("192.0.2.10", "joe@fail.example", 250, "",
      "the same domain from its listed address: accepted")
check("192.0.2.10", "joe@pass.example", 250, "", "pass: accepted")
check("2001:db8::5", "joe@soft.example", 250, "",
      "IPv6 client inside ip6:2001:db8::/32: pass, accepted")
check("2001:db8:1::5", "joe@v6.example", 550, "SPF check failed: Please "
      "see http://www.open-spf.org/Why",
      "IPv6 client outside ip6:/64, no exp=: 550 with the default comment")
check("192.0.2.99", "joe@soft.example", 250, "", "softfail: accepted")
check("192.0.2.99", "joe@neutral.example", 250, "", "neutral: accepted")
check("192.0.2.99", "joe@none.example", 250, "", "none: accepted")
check("192.0.2.99", "joe@perm.example", 550,
      "broken SPF record: permerror", "permerror: 550")
rs, out, took = session("192.0.2.99", "joe@temp.example")
t.ok(len(rs) == 1 and rs[0][0] == "451" and "temporary SPF error"
     in rs[0][1], "temperror (the domain's server never answers): 451", out)
t.ok(took < 8, "temperror costs about dns_timeout, not a retry cycle",
     "took %.1f s" % took)
check("192.0.2.99", "", 550, "SPF check failed",
      "null sender: postmaster@HELO is checked (helo.example fails)",
      helo="helo.example")
check("192.0.2.10", "", 250, "",
      "null sender from the HELO name's address: pass", helo="helo.example")

check("192.0.2.99", "joe@neutral.example", 550, "not pass: neutral",
      "spf = \"!pass\" (Exim's per-item negation): true for neutral",
      rcpt="notpass@test.example")
check("192.0.2.10", "joe@pass.example", 250, "",
      "spf = \"!pass\": false for pass", rcpt="notpass@test.example")
check("192.0.2.99", "joe@none.example", 550,
      "guessed=1 pass; X-SPF-Guess: pass (mx.test.example: domain of "
      "none.example designates 192.0.2.99 as permitted sender)",
      "spf_guess: a domain without a record gets spf_guess's a/24 (pass, "
      "$spf_result_guessed 1, an X-SPF-Guess line)", rcpt="guess@test.example")
check("192.0.2.99", "joe@neutral.example", 550, "guessed=0 neutral",
      "spf_guess: a domain with a record gets its own result",
      rcpt="guess@test.example")
check("198.51.100.7", "joe@none.example", 550, "guessed=1 neutral",
      "spf_guess from outside the /24: the guess's ?all (neutral)",
      rcpt="guess@test.example")

before = z.asked("neutral.example", "TXT")
rs, out, _ = session("192.0.2.99", "joe@neutral.example",
                     rcpts=("alice@test.example", "bob@test.example",
                            "carol@test.example"))
t.ok([c for c, _ in rs] == ["250"] * 3, "three recipients accepted", out)
t.eq(z.asked("neutral.example", "TXT") - before, 1,
     "three recipients: one SPF evaluation (one TXT query)")

# the stored result belongs to one message: after RSET a new sender is
# evaluated again
p = d.run("-bh", "192.0.2.99", input="\r\n".join([
    "EHLO client.example", "MAIL FROM:<joe@neutral.example>",
    "RCPT TO:<alice@test.example>", "RSET", "MAIL FROM:<joe@fail.example>",
    "RCPT TO:<alice@test.example>", "QUIT", ""]))
out = p.stdout.decode("utf-8", "replace")
codes = re.findall(r"(?m)^(\d{3}) ", out)
t.ok(codes[3:7] == ["250", "250", "250", "550"],
     "one session, two messages: neutral accepted, then after RSET the "
     "fail of the second sender refused", out)

# a real connection from 127.0.0.1: the header reaches the spool
s = d.smtp()
s.sendmail("joe@pass.example", ["alice@test.example"],
           b"Subject: spf\r\n\r\nbody\r\n")
s.quit()
msgs = [m for m in d.spool_messages() if "joe@pass.example"
        in m.headers() or m.header("Received-SPF")]
hdr = msgs[-1].header("Received-SPF") if msgs else []
t.ok(len(hdr) == 1 and re.match(
    r"pass \(mx\.test\.example: domain of pass\.example designates "
    r"127\.0\.0\.1 as permitted sender\) client-ip=127\.0\.0\.1; "
    r"envelope-from=joe@pass\.example; helo=client\.example; "
    r"receiver=mx\.test\.example; identity=mailfrom; mechanism=ip4:127\.0\.0"
    r"\.1$", hdr[0] if hdr else ""),
    "the spooled message has Received-SPF: pass (...) client-ip=...; "
    "envelope-from=...; helo=...", hdr)
t.like(d.mainlog(), r"spf pass: mx\.test\.example: domain of pass\.example "
       r"designates 127\.0\.0\.1 as permitted sender",
       "log_message with $spf_header_comment in the main log")

# the session goes away while the evaluation waits for DNS: the evaluation
# is cancelled, its late answers touch nothing (the worker lives on)
for i in range(3):
    c = d.raw()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<joe@temp.example>")
    c.send(b"RCPT TO:<alice@test.example>\r\n")
    time.sleep(0.2)
    c.close()
time.sleep(1.5)                     # past dns_timeout: the answers are in
c = d.raw()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<joe@pass.example>")
r = c.cmd("RCPT TO:<alice@test.example>")
c.close()
t.ok(r.code == 250, "after sessions closed mid-evaluation, the next "
     "session is served", r.raw)
t.ok("SMTP worker" not in d.mainlog() and not d.paniclog().strip(),
     "no worker died and the panic log is empty",
     d.mainlog()[-800:] + d.paniclog()[-400:])

# spf_smtp_comment_template: a fail without exp= explained by the
# template, an SPF macro string (uppercase letters URL-escaped)
tpl = Tern(name="aclspftpl", start=False,
           main={"dns_servers": z.address, "dns_timeout": "1s",
                 "dns_retry": 1, "spf_smtp_comment_template":
                 "See%_http://why.example/?s=%{S}&ip=%{C}&r=%{r}"},
           files={"acl/10_spf.lua": ACL})
p = tpl.run("-bh", "2001:db8:1::5", input="\r\n".join([
    "EHLO client.example", "MAIL FROM:<j+o@v6.example>",
    "RCPT TO:<alice@test.example>", "QUIT", ""]))
out = p.stdout.decode("utf-8", "replace")
t.like(out, r"(?m)^550 .*SPF check failed: See http://why\.example/\?s="
       r"j%2Bo%40v6\.example&ip=2001%3Adb8%3A1%3A%3A5&r=mx\.test\.example"
       r"\r?$",
       "spf_smtp_comment_template explains a fail without exp=")
bad4 = Tern(name="aclspfbad4", start=False,
            main={"spf_smtp_comment_template": "50%off"},
            files={"acl/10_spf.lua": ACL})
p = bad4.run("-bV")
err = p.stderr.decode("utf-8", "replace")
t.ok(p.returncode == 78 and "spf_smtp_comment_template" in err,
     "a template that is no SPF macro string: refused at load time", err)

bad = Tern(name="aclspfbad", start=False,
           files={"acl/10_spf.lua": 'acl "rcpt" { deny { spf = "fail : '
                  'maybe" } }\n'})
p = bad.run("-bV")
err = p.stderr.decode("utf-8", "replace")
t.ok(p.returncode == 78 and 'spf: unknown result "maybe"' in err,
     "spf = \"fail : maybe\": refused at load time, exit 78", err)
bad3 = Tern(name="aclspfbad3", start=False,
            main={"spf_guess": "v=spf1 bogus:x"},
            files={"acl/10_spf.lua": 'acl "rcpt" { deny { spf_guess = '
                   '"fail" } }\n'})
p = bad3.run("-bV")
err = p.stderr.decode("utf-8", "replace")
t.ok(p.returncode == 78 and "main option spf_guess" in err,
     "spf_guess with a broken spf_guess record: refused at load time", err)
bad2 = Tern(name="aclspfbad2", start=False,
            files={"acl/10_spf.lua": 'acl "connect" { deny { spf = "fail" '
                   '} }\n'})
p = bad2.run("-bV")
err = p.stderr.decode("utf-8", "replace")
t.ok(p.returncode == 78 and "spf cannot be used in the connect ACL" in err,
     "spf in the connect ACL (no sender yet): refused at load time", err)
z.stop()
t.done()
