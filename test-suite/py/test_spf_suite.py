"""test_spf_suite - the RFC 7208 conformance suite (openspf.org, release
2014.04) run through tern's SPF evaluator.

../shared/conformance/spf/rfc7208-tests.yml is read unedited: each
section's zone is served by a ZoneServer (test-suite/lib/zone_dns.py,
TIMEOUT names never answer), each case runs `tern_spf -s ZONE -t 700 -r 1
IP MAILFROM HELO` (tools/tern_spf.c, the same evaluator as the ACL spf
condition), several at a time. A case passes when the result is one of the
listed ones and, when the case names an explanation other than the
implementation's DEFAULT, the explanation is that text. Prints
"spf-suite: N/M" and every failing case with the reason; cases where
tern's answer differs on purpose are listed in DELIBERATE with the reason
(the README's "SPF conformance" paragraph) and must give that answer.
"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, TOP, BIN_DIR, skip_all  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "test-suite", "lib"))
from zone_dns import ZoneServer  # noqa: E402

try:
    import yaml
except ImportError:                 # pyenv without it: Debian's python3
    if sys.executable != "/usr/bin/python3" and os.path.exists(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    skip_all("python3-yaml is not installed (make deps)")

SUITE = os.path.join(TOP, "..", "shared", "conformance", "spf",
                     "rfc7208-tests.yml")

# case -> (tern's result, tern's explanation or None, why); the README's
# "SPF conformance" paragraph says the same
_MX_WHY = ("tern's resolver refuses an MX answer whose host names hold bytes "
           "other than letters, digits, '.', '-' and '_' (DNS answers are "
           "hostile: core/net/dns.h); a failed MX lookup is a temperror")
DELIBERATE = {
    "mx-colon-domain": ("temperror", None, _MX_WHY),
    "mx-colon-domain-ip4mapped": ("temperror", None, _MX_WHY),
    "v-macro-ip6": ("fail", "cafe:babe::1 is queried as " + ".".join(
        "100000000000000000000000ebabefac") + ".ip6.arpa",
        "%{i} of an IPv6 address is written in lower-case nibbles, as in "
        "RFC 7208 7.4's example; the suite expects upper case"),
}


def run_case(zone_addr, case):
    args = [os.path.join(BIN_DIR, "tern_spf"), "-s", zone_addr, "-t", "700",
            "-r", "1", "-R", "mx.test.example", case["host"],
            case.get("mailfrom", ""), case.get("helo", "")]
    try:
        p = subprocess.run(args, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return None, None, "tern_spf did not finish in 20 s"
    out = p.stdout.decode("utf-8", "replace").splitlines()
    if p.returncode != 0 or not out:
        return None, None, "exit %d: %s" % (
            p.returncode, p.stderr.decode("utf-8", "replace")[-300:])
    expl = [x[13:] for x in out if x.startswith("explanation: ")]
    return out[0], expl[0] if expl else None, "\n".join(out)


def judge(name, case, got, expl):
    want = case["result"]
    want = want if isinstance(want, list) else [want]
    if name in DELIBERATE:
        res, exp, why = DELIBERATE[name]
        return (got == res and (exp is None or expl == exp),
                "deliberate: want %s %r (%s)" % (res, exp, why))
    if got not in want:
        return False, "result %s, want %s" % (got, "/".join(want))
    e = case.get("explanation")
    if e is not None and e != "DEFAULT" and got == "fail" and expl != e:
        return False, "explanation %r, want %r" % (expl, e)
    return True, ""


def main():
    if not os.path.exists(SUITE):
        skip_all("no conformance suite at " + SUITE)
    t = TAP(timeout=58)
    with open(SUITE, "rb") as fh:
        sections = list(yaml.safe_load_all(fh))
    passed = total = 0
    failing = []
    for sec in sections:
        z = ZoneServer(sec.get("zonedata"))
        addr = z.start()
        cases = sorted(sec["tests"].items())
        with ThreadPoolExecutor(max_workers=16) as pool:
            runs = list(pool.map(lambda c: run_case(addr, c[1]), cases))
        z.stop()
        for (name, case), (got, expl, out) in zip(cases, runs):
            good, why = judge(name, case, got, expl)
            total += 1
            passed += good and name not in DELIBERATE
            if not good:
                failing.append("%s: %s" % (name, why or out))
            t.ok(good, "%s / %s: %s" % (sec["description"], name, got),
                 "%s\n%s\n%s" % (case.get("description", "") or "", why, out))
    line = "spf-suite: %d/%d (other %d: tern's deliberate answers, %s)" % (
        passed, total, len(DELIBERATE), ", ".join(sorted(DELIBERATE)))
    t.diag(line)
    print(line, file=sys.stderr)
    for f in failing:
        t.diag("failing: " + f)
    t.done()


main()
