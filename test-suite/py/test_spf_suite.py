"""test_spf_suite - the RFC 7208 conformance suite (openspf.org, release
2014.04) run through tern's SPF evaluator.

../shared/conformance/spf/rfc7208-tests.yml is read unedited: each
section's zone is served by a ZoneServer (test-suite/lib/zone_dns.py,
TIMEOUT names never answer) and its cases are evaluated together by one
`tern_spf -b -s ZONE -t 700 -r 1` (tools/tern_spf.c, the same evaluator
as the ACL spf condition, every case at once on one event loop), all
sections at once. A case passes when the result is one of the
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


def run_section(zone_addr, cases):
    """[(result, explanation, output)] for cases, one tern_spf -b run"""
    args = [os.path.join(BIN_DIR, "tern_spf"), "-b", "-s", zone_addr, "-t",
            "700", "-r", "1", "-R", "mx.test.example"]
    lines = "".join("%s\t%s\t%s\n" % (c["host"], c.get("mailfrom", ""),
                                      c.get("helo", "")) for c in cases)
    try:
        p = subprocess.run(args, input=lines.encode("utf-8"),
                           capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return [(None, None, "tern_spf -b did not finish in 30 s")] * len(
            cases)
    out = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        n, _, text = line.partition(" ")
        out.setdefault(int(n), []).append(text)
    res = []
    for i in range(1, len(cases) + 1):
        got = out.get(i)
        if p.returncode != 0 or not got:
            res.append((None, None, "exit %d: %s" % (
                p.returncode, p.stderr.decode("utf-8", "replace")[-300:])))
            continue
        expl = [x[13:] for x in got if x.startswith("explanation: ")]
        res.append((got[0], expl[0] if expl else None, "\n".join(got)))
    return res


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
    servers = [ZoneServer(sec.get("zonedata")) for sec in sections]
    jobs, todo = [], []
    for sec, z in zip(sections, servers):
        cases = sorted(sec["tests"].items())
        todo.append((z.start(), [c for _, c in cases]))
        jobs += [(sec["description"], name, case, None)
                 for name, case in cases]
    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        runs = [r for sec_runs in pool.map(lambda j: run_section(*j), todo)
                for r in sec_runs]
    for z in servers:
        z.stop()
    for (desc, name, case, _), (got, expl, out) in zip(jobs, runs):
        good, why = judge(name, case, got, expl)
        total += 1
        passed += good and name not in DELIBERATE
        if not good:
            failing.append("%s: %s" % (name, why or out))
        t.ok(good, "%s / %s: %s" % (desc, name, got),
             "%s\n%s\n%s" % (case.get("description", "") or "", why, out))
    line = "spf-suite: %d/%d (other %d: tern's deliberate answers, %s)" % (
        passed, total, len(DELIBERATE), ", ".join(sorted(DELIBERATE)))
    t.diag(line)
    print(line, file=sys.stderr)
    for f in failing:
        t.diag("failing: " + f)
    t.done()


main()
