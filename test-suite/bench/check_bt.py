#!/usr/bin/env python3
"""check_bt.py - compare `-bt` output (Exim's or tern's) with the expected routing.

Parses the Exim-shaped address-test output (DESIGN.md section 5):
    [> ]final@addr                      ("> " is Exim's stdin prompt)
        <-- parent                      (zero or more, nearest first)
      router = R, transport = T
      host NAME [IP] MX=N               (remote only, one per host)
    ADDR is undeliverable: REASON / ADDR cannot be resolved at this time: ...
into one record per final address,
    final|parent1,parent2|router|transport|host1;host2
(whitespace inside host lines collapsed), the form gen_routing.py writes
into expect-*.txt, and compares the two as multisets.

Usage: check_bt.py LABEL EXPECTED OUTPUT [--count PATTERN N]...
Prints one line "LABEL: N records, ..." and exits 0 when they agree; on a
mismatch prints counts and a few examples of each kind of difference and
exits 1. Each --count checks that PATTERN (a plain substring) occurs on
exactly N lines of OUTPUT (e.g. "router = users" 100000).
"""
import argparse
import collections
import re
import sys

ROUTER_RE = re.compile(r"^\s+router = ([^,]+), transport = (\S+)\s*$")
FAIL_RE = re.compile(r"^(\S+) (is undeliverable|cannot be resolved at this time|failed to verify)(:.*)?$")


def flush(cur, out):
    if cur is not None:
        out.append("%s|%s|%s|%s|%s" % (cur["addr"], ",".join(cur["parents"]),
                                       cur["router"], cur["transport"], ";".join(cur["hosts"])))


def parse(lines):
    """Records (list of strings) and problem lines (failures, junk)."""
    recs, problems, cur = [], [], None
    for raw in lines:
        line = raw.rstrip("\n")
        while line.startswith("> "):
            line = line[2:]
        if line.strip() in ("", ">"):
            continue
        if not line[0].isspace():
            flush(cur, recs)
            cur = None
            if FAIL_RE.match(line) or " " in line.strip():
                problems.append(line)
                continue
            cur = {"addr": line.strip(), "parents": [], "router": "", "transport": "", "hosts": []}
            continue
        if cur is None:
            problems.append(line)
            continue
        s = line.strip()
        m = ROUTER_RE.match(line)
        if s.startswith("<-- "):
            cur["parents"].append(s[4:].strip())
        elif m:
            cur["router"], cur["transport"] = m.group(1).strip(), m.group(2)
        elif s.startswith("host "):
            cur["hosts"].append(" ".join(s[5:].split()))
        else:
            problems.append(line)
    flush(cur, recs)
    return recs, problems


def main():
    ap = argparse.ArgumentParser(description="check -bt output against the expected routing")
    ap.add_argument("label")
    ap.add_argument("expected")
    ap.add_argument("output")
    ap.add_argument("--count", nargs=2, action="append", default=[], metavar=("PATTERN", "N"))
    args = ap.parse_args()
    with open(args.expected) as f:
        want = collections.Counter(l.rstrip("\n") for l in f if l.strip())
    with open(args.output, errors="replace") as f:
        lines = f.readlines()
    recs, problems = parse(lines)
    got = collections.Counter(recs)
    missing, extra = want - got, got - want
    ok = not missing and not extra and not problems
    counts = []
    for pat, n in args.count:
        c = sum(1 for l in lines if pat in l)
        counts.append('%d lines with "%s"' % (c, pat))
        if c != int(n):
            ok = False
            counts[-1] += " (expected %s)" % n
    print("%s: %d records, %d expected; %s%s" % (
        args.label, sum(got.values()), sum(want.values()), ", ".join(counts),
        "" if ok else "  ** MISMATCH **"))
    if ok:
        return 0
    for title, what in (("missing (expected, not in output)", missing),
                        ("unexpected (in output, not expected)", extra)):
        if what:
            print("  %d %s, e.g.:" % (sum(what.values()), title))
            for r in list(what.elements())[:5]:
                print("    " + r)
    if problems:
        print("  %d unparsed/failure lines, e.g.:" % len(problems))
        for l in problems[:5]:
            print("    " + l)
    return 1


if __name__ == "__main__":
    sys.exit(main())
