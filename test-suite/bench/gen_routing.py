#!/usr/bin/env python3
"""gen_routing.py - deterministic data for the routing part of `make bench`.

Writes into OUTDIR (all seeded, so every run routes the same addresses):

  aliases.lsearch  N_ALIASES lines "aliasNNNNNN: userMMMMMM@local.bench";
                   the targets are a permutation of the users, so no two
                   aliases share a target
  users.lsearch    N_USERS lines "userNNNNNN: HOME_BASE/userNNNNNN"
                   (virtual user table: local part -> home directory)
  addrs-a.txt      mix (a): N_LOCAL addresses of local.bench, one per line,
                   half aliases, half direct users; every final address is
                   distinct, so no router sees a cross-address duplicate
  addrs-b.txt      mix (b): N_DOMAINS domains d0001.bench ... times
                   PER_DOMAIN local parts, shuffled
  expect-a.txt     the routing result each address must give, one record
  expect-b.txt     per final address (format: see check_bt.py), sorted

Python 3 standard library only. Usage: gen_routing.py OUTDIR [options]
"""
import argparse
import os
import random

LOCAL_DOMAIN = "local.bench"


def user(n):
    return "user%06d" % n


def alias(n):
    return "alias%06d" % n


def mx_ip(ip_prefix, dom_no):
    """Must agree with dns_responder.py."""
    return "%s.%d" % (ip_prefix, dom_no % 250 + 1)


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines))
        f.write("\n")


def gen_local(rng, out, n_users, n_aliases, n_local, home_base):
    """Alias map, user table and mix (a)."""
    if n_aliases > n_users or n_local > 2 * min(n_users, n_aliases):
        raise SystemExit("gen_routing: need n_aliases <= n_users and n_local <= 2*n_aliases")
    target = list(range(1, n_users + 1))
    rng.shuffle(target)                          # alias k -> user target[k-1]
    write_lines(os.path.join(out, "aliases.lsearch"),
                ["%s: %s@%s" % (alias(k), user(target[k - 1]), LOCAL_DOMAIN)
                 for k in range(1, n_aliases + 1)])
    write_lines(os.path.join(out, "users.lsearch"),
                ["%s: %s/%s" % (user(u), home_base, user(u)) for u in range(1, n_users + 1)])

    n_via_alias = n_local // 2
    picked_aliases = rng.sample(range(1, n_aliases + 1), n_via_alias)
    reached = {target[k - 1] for k in picked_aliases}
    free_users = [u for u in range(1, n_users + 1) if u not in reached]
    picked_users = rng.sample(free_users, n_local - n_via_alias)

    addrs, expect = [], []
    for k in picked_aliases:
        a = "%s@%s" % (alias(k), LOCAL_DOMAIN)
        addrs.append(a)
        expect.append("%s@%s|%s|users|local_maildir|" % (user(target[k - 1]), LOCAL_DOMAIN, a))
    for u in picked_users:
        a = "%s@%s" % (user(u), LOCAL_DOMAIN)
        addrs.append(a)
        expect.append("%s||users|local_maildir|" % a)
    rng.shuffle(addrs)
    write_lines(os.path.join(out, "addrs-a.txt"), addrs)
    write_lines(os.path.join(out, "expect-a.txt"), sorted(expect))


def gen_remote(rng, out, n_domains, per_domain, ip_prefix):
    """Mix (b): remote addresses, PER_DOMAIN per domain, shuffled."""
    addrs, expect = [], []
    for d in range(1, n_domains + 1):
        dom = "d%04d.bench" % d
        for j in range(1, per_domain + 1):
            a = "rcpt%02d@%s" % (j, dom)
            addrs.append(a)
            expect.append("%s||dnslookup|remote_smtp|mx.%s [%s] MX=10" % (a, dom, mx_ip(ip_prefix, d)))
    rng.shuffle(addrs)
    write_lines(os.path.join(out, "addrs-b.txt"), addrs)
    write_lines(os.path.join(out, "expect-b.txt"), sorted(expect))


def main():
    ap = argparse.ArgumentParser(description="routing bench data")
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--aliases", type=int, default=100000)
    ap.add_argument("--local", type=int, default=100000, help="addresses in mix (a)")
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--per-domain", type=int, default=10)
    ap.add_argument("--home-base", default="/nonexistent/bench-home")
    ap.add_argument("--ip-prefix", default="198.51.100", help="as dns_responder.py's")
    args = ap.parse_args()
    if args.domains > 9999:
        raise SystemExit("gen_routing: at most 9999 domains (dNNNN.bench)")
    os.makedirs(args.outdir, exist_ok=True)
    rng = random.Random(args.seed)
    gen_local(rng, args.outdir, args.users, args.aliases, args.local, args.home_base)
    gen_remote(rng, args.outdir, args.domains, args.per_domain, args.ip_prefix)


if __name__ == "__main__":
    main()
