#!/usr/bin/env python3
"""test_conf_print - -bP as an administrator reads it (issue 12, point 9):

  1. -bP config names, for every main option a file sets (and every
     option a router or transport definition sets), the line of its key, in files written to trip a naive reader: comments and strings
     holding "name =" and braces, long strings and long comments over
     several lines, nested tables over several lines, ["name"] = keys,
     two main{} calls in one file, a one-line main{}; a table built
     elsewhere (main(t)) keeps the line of the call; a load error names
     the key's line;
  2. sizes as Exim prints them (50M, 1536K, 2G, plain bytes), times
     (30m, 1h30m), modes in octal (0640, also from the Lua number 0640),
     a bad mode refused at load time; a Maildir delivery with mode = 0640
     writes a file with mode 0640;
  3. -bP -n: only the options a file sets to something else than their
     default, each with file:line (an option set to its default value is
     not shown); -bP -n OPTION prints the value alone.

Every expected line number is found in the text the test wrote; every
default comes from tern -bP on an empty configuration.
"""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import TAP, TERN, Tern, message, LOCAL_DOMAIN  # noqa: E402

tap = TAP(timeout=50)
top = tempfile.mkdtemp(prefix="ternpy-confprint-")

# A file whose keys sit on known lines; "@name" marks the line a key is
# written on (the marker is removed before the file is written).
TRICKY = """\
-- main { primary_hostname = "in a comment" }
local t = { message_size_limit = "1K" }   -- a table that is not main's
main {
  --[[ a long comment with { braces } and
       qualify_domain = "not here" ]]
  primary_hostname = "mail.example.com", --@primary_hostname
  relay_to_domains = { "a.example", --@relay_to_domains
                       "b.example" },
  smtp_banner_unused_comment = nil, -- x = { } 
  message_size_limit = [[20M]], --@message_size_limit
  ["header_size_limit"] = "1536K", --@header_size_limit
  qualify_domain = "example.com"; --@qualify_domain
  dns_timeout --@dns_timeout
    = "90m",
  recipients_max = 50, --@recipients_max
}
main { smtp_receive_timeout = "30m" } --@smtp_receive_timeout
main { bounce_return_size_limit = "2G",  --@bounce_return_size_limit
       smtp_data_timeout = [==[ --@smtp_data_timeout
10m]==] }
"""
BUILT = """\
local opts = {}
opts.queue_run_max = 7
main(opts) --@queue_run_max
"""


def write_conf(root, files):
    """files: {"main/00_a.lua": text}; returns {key: (file, line)} from
    the markers"""
    where = {}
    for rel, text in files.items():
        lines = []
        for n, line in enumerate(text.split("\n"), 1):
            m = re.search(r" *--@(\w+)$", line)
            if m:
                where[m.group(1)] = (rel, n)
                line = line[:m.start()]
            lines.append(line)
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write("\n".join(lines))
    return where


def tern(conf, *args):
    return subprocess.run([TERN, "-C", conf] + list(args),
                          capture_output=True, timeout=20, cwd=top)


def out(r):
    return r.stdout.decode("utf-8", "replace")


def origins(text):
    """{option: (file, line)} from -bP config's comments"""
    got = {}
    for m in re.finditer(r"(?m)^(\w+) = .*    # (\S+):(\d+)$", text):
        got[m.group(1)] = (m.group(2), int(m.group(3)))
    return got


def values(text):
    """{option: printed value} from -bP output"""
    got = {}
    for line in text.split("\n"):
        m = re.match(r"^(\w+) =(?: (.*?))?(?:    # \S+)?$", line)
        if m:
            got[m.group(1)] = m.group(2) or ""
        elif re.match(r"^(no_)?\w+$", line):
            got[line[3:] if line.startswith("no_") else line] = line
    return got


# the (computed) defaults: an empty configuration
empty = os.path.join(top, "empty")
os.makedirs(os.path.join(empty, "main"))
defaults = values(out(tern(empty, "-bP")))

# ---- 1. the line of each key ------------------------------------------------
with tap.guard("key lines"):
    conf = os.path.join(top, "conf")
    where = write_conf(conf, {"main/00_tricky.lua": TRICKY,
                              "main/50_built.lua": BUILT})
    r = tern(conf, "-bP", "config")
    tap.ok(r.returncode == 0, "-bP config loads the tricky files", r)
    got = origins(out(r))
    for key, (rel, line) in sorted(where.items()):
        tap.eq(got.get(key), (os.path.join(conf, rel), line),
               "%s: the line of its key (%s:%d)" % (key, rel, line))
    tap.ok("smtp_banner_unused_comment" not in got, "a nil field sets "
           "nothing")

with tap.guard("load error names the key's line"):
    bad = os.path.join(top, "bad")
    where = write_conf(bad, {"main/00_bad.lua":
                             "main {\n  primary_hostname = \"x\",\n"
                             "  dns_timeout = \"soon\", --@dns_timeout\n}\n"})
    r = tern(bad, "-bV")
    rel, line = where["dns_timeout"]
    tap.ok(r.returncode == 78 and "%s:%d: main: option \"dns_timeout\""
           % (os.path.join(bad, rel), line) in r.stderr.decode(),
           "a bad value: exit 78, the key's file:line", r)

ROUTER = """\
-- router "fake" { driver = "redirect" }
router "remote" { --@router_remote
  driver = "dnslookup", --@driver
  domains = { "! +local_domains", --@domains
              "! localhost" },
  -- transport = "commented_out",
  transport = "remote_smtp", --@transport
  ["ignore_target_hosts"] = "127.0.0.0/8", --@ignore_target_hosts
}
transport "remote_smtp" { driver = "smtp", --@t_driver
  port = 2525 } --@t_port
"""

with tap.guard("router and transport key lines"):
    rconf = os.path.join(top, "rconf")
    where = write_conf(rconf, {"main/00.lua": "", "router/10.lua": ROUTER})
    text = out(tern(rconf, "-bP", "config"))
    block = text[text.index("router remote:"):]
    block = block[:block.index("\n# transports")]
    path = os.path.join(rconf, "router/10.lua")
    tap.ok(block.startswith("router remote:    # %s:%d\n"
                            % (path, where["router_remote"][1])),
           "the router's own line", block[:200])
    for key in ("driver", "domains", "transport", "ignore_target_hosts"):
        tap.ok(re.search(r"(?m)^  %s = .*    # %s:%d$"
                         % (key, re.escape(path), where[key][1]), block),
               "router option %s: the line of its key" % key, block)
    tap.ok(re.search(r"(?m)^  senders =$", block), "an option the router "
           "does not set has no comment", block)
    tblock = text[text.index("transport remote_smtp:"):]
    for key, mark in (("driver", "t_driver"), ("port", "t_port")):
        tap.ok(re.search(r"(?m)^  %s = .*    # %s:%d$"
                         % (key, re.escape(path), where[mark][1]), tblock),
               "transport option %s: the line of its key" % key, tblock)
    r = out(tern(rconf, "-bP", "router", "remote"))
    tap.ok("    # " not in r.split("\n", 1)[1], "-bP router NAME stays "
           "without comments after the header", r)

# ---- 2. how values print ----------------------------------------------------
with tap.guard("sizes, times, modes"):
    v = values(out(tern(conf, "-bP")))
    tap.eq(v["message_size_limit"], "20M", "a size written 20M prints 20M")
    tap.eq(v["header_size_limit"], "1536K", "1536K (not a whole M) prints "
           "1536K")
    tap.eq(v["bounce_return_size_limit"], "2G", "2G prints 2G")
    tap.eq(v["smtp_receive_timeout"], "30m", "a time written 30m prints 30m")
    tap.eq(v["dns_timeout"], "1h30m", "90m prints as Exim writes it: 1h30m")
    tap.eq(v["smtp_data_timeout"], "10m", "a long-string time: 10m")
    sizes = os.path.join(top, "sizes")
    write_conf(sizes, {"main/00.lua": "main { message_size_limit = 1000 }\n"})
    tap.eq(values(out(tern(sizes, "-bP")))["message_size_limit"], "1000",
           "1000 bytes (no whole K) prints 1000")

with tap.guard("modes"):
    modes = os.path.join(top, "modes")
    write_conf(modes, {
        "main/00.lua": "",
        "transport/10.lua": 'transport "a" { driver = "maildir", directory '
                            '= "/tmp/x", mode = "0640", directory_mode = '
                            '0750 }\ntransport "b" { driver = "mbox", file '
                            '= "/tmp/y" }\n'})
    r = tern(modes, "-bP", "transport", "a")
    tap.ok(re.search(r"(?m)^  mode = 0640$", out(r)), "maildir mode = "
           "\"0640\" prints 0640", out(r))
    tap.ok(re.search(r"(?m)^  directory_mode = 0750$", out(r)),
           "the Lua number 0750 is read as octal: 0750", out(r))
    tap.ok(re.search(r"(?m)^  mode = 0600$", out(tern(modes, "-bP",
                                                       "transport", "b"))),
           "mbox's default mode prints 0600")
    badm = os.path.join(top, "badmode")
    write_conf(badm, {"transport/10.lua": 'transport "a" { driver = '
                      '"maildir", directory = "/tmp/x", mode = "0999" }\n'})
    r = tern(badm, "-bV")
    tap.ok(r.returncode == 78 and "octal" in r.stderr.decode(),
           "mode = \"0999\": refused at load time", r)

with tap.guard("a Maildir file gets mode 0640"):
    t = Tern(name="confmode", start=False, main={"queue_only": False},
             files={"transport/20_mode.lua":
                    'transport "local_maildir" { override = true, driver = '
                    '"maildir", directory = "$home/Maildir", mode = 0640 }\n'})
    r = t.run("-odi", "-f", "carol@" + LOCAL_DOMAIN, "alice@" + LOCAL_DOMAIN,
              input=message())
    new = os.path.join(t.dir, "home", "alice", "Maildir", "new")
    files = os.listdir(new) if os.path.isdir(new) else []
    tap.ok(len(files) == 1, "delivered into alice's Maildir", r)
    if files:
        m = stat.S_IMODE(os.stat(os.path.join(new, files[0])).st_mode)
        tap.eq(oct(m), oct(0o640), "the file has mode 0640")
    t.cleanup()

# ---- 3. -bP -n ----------------------------------------------------------------
with tap.guard("-bP -n"):
    chg = os.path.join(top, "changed")
    where = write_conf(chg, {"main/00.lua": """\
main {
  recipients_max = 20, --@recipients_max
  smtp_accept_max = %s,
  message_size_limit = "10M", --@message_size_limit
  tern_user = "%s",
}
""" % (defaults["smtp_accept_max"], defaults["tern_user"]),
        "main/10.lua": 'main { queue_only = true } --@queue_only\n'})
    r = tern(chg, "-bP", "-n")
    tap.ok(r.returncode == 0, "-bP -n exits 0", r)
    full = values(out(tern(chg, "-bP")))
    want = "".join("%s    # %s:%d\n" % (
        ("%s = %s" % (k, full[k])) if k != "queue_only" else full[k],
        os.path.join(chg, where[k][0]), where[k][1])
        for k in ("recipients_max", "message_size_limit", "queue_only"))
    tap.eq(out(r), want, "-bP -n: the three changed options, in table "
           "order, each with its file:line; the two set to their default "
           "and the computed ones (primary_hostname...) left out")
    tap.ok(full["smtp_accept_max"] == defaults["smtp_accept_max"],
           "(smtp_accept_max really is at its default)")
    r = tern(chg, "-bP", "-n", "message_size_limit", "queue_only")
    tap.eq(out(r), "10M\nqueue_only\n", "-bP -n OPTION: the value alone")
    tap.eq(out(tern(chg, "-bP", "message_size_limit")),
           "message_size_limit = 10M\n", "-bP OPTION is unchanged: name = "
           "value")

shutil.rmtree(top, ignore_errors=True)
tap.done()
