"""ternlib - shared helpers for tern's end-to-end Python tests.

Every test-suite/py/test_*.py file is run by test-suite/run with
TERN_BIN_DIR (the build directory holding `tern`), TERN_TOP (the
repository root) and TERN_TEST_DNS ("127.0.0.1:PORT" of a dnsmasq serving
test-suite/zones/test.zone.conf) in the environment, and prints TAP.
Run alone, a file falls back to TERN_TOP/build and starts its own dnsmasq.

    from ternlib import Tern, TAP

    t = TAP()                       # "ok N - name" lines; a watchdog
    with Tern(main={"recipients_max": 3}) as d:   # a daemon on a free port
        s = d.smtp()                # smtplib.SMTP, already connected
        code, text = s.ehlo()
        t.ok(code == 250, "EHLO answered")
        c = d.raw()                 # raw socket: c.banner, c.cmd(), c.send()
        r = c.cmd("NOOP")           # Reply: r.code, r.text, r.lines, r.raw
        msgs = d.spool_messages()   # parsed spool files
        log = d.mainlog()
    t.done()                        # "1..N", exit status 1 on any failure

The configuration Tern writes (DIR is a fresh temporary directory):

    conf.d/main/00_test.lua   primary_hostname "mx.test.example",
                              local_domains @ : localhost : test.example,
                              relay_from_hosts EMPTY (the test client on
                              127.0.0.1 is an outside client unless a test
                              sets it), dns_servers TERN_TEST_DNS, spool and
                              logs under DIR, smtp_workers 2,
                              shutdown_timeout 3s, then the keys of main=
    conf.d/router/100_dnslookup.lua   remote domains by MX
    conf.d/router/200_aliases.lua     redirect, lsearch DIR/aliases
    conf.d/router/300_users.lua       local_user, lsearch DIR/virtual_users
    conf.d/transport/10_transports.lua  remote_smtp (smtp), local_maildir
    + files= {relative path: text}; "@DIR@" and "@DNS@" are replaced.

As root, tern runs as its tern_user (default "tern", the account `make
deps` creates) and delivers to virtual users as that user: DIR and what
Tern writes into it are given to that account (give_to_tern; tests that
create directories for deliveries later call it too).

Users: alice, bob, carol (virtual users, homes under DIR/home). Aliases:
postmaster, abuse -> alice; team -> alice, bob; broken -> :fail: text.
Values in main= are Python str/int/bool/list/tuple (converted to Lua) or
Lua("raw lua expression").
"""
import atexit
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.environ.get("TERN_TOP") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("TERN_BIN_DIR") or os.path.join(TOP, "build")
TERN = os.path.join(BIN_DIR, "tern")
HOSTNAME = "mx.test.example"
LOCAL_DOMAIN = "test.example"
USERS = ("alice", "bob", "carol")
IO_TIMEOUT = 10.0               # every socket operation, seconds

_instances = []                 # live Tern objects, for the watchdog
_scratch = []                   # scratch_dir()s, removed by cleanup_all()
_dns_proc = None


# ---------------------------------------------------------------- DNS

def _free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dns_server():
    """"127.0.0.1:PORT" of the test DNS server (started here if needed)."""
    global _dns_proc
    if os.environ.get("TERN_TEST_DNS"):
        return os.environ["TERN_TEST_DNS"]
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    conf = os.path.join(TOP, "test-suite/zones/test.zone.conf")
    for _ in range(5):
        port = _free_port(socket.SOCK_DGRAM)
        p = subprocess.Popen(
            [exe, "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--conf-file=" + conf, "--port=%d" % port,
             "--listen-address=127.0.0.1", "--bind-interfaces",
             "--pid-file=", "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        if p.poll() is None:
            _dns_proc = p
            os.environ["TERN_TEST_DNS"] = "127.0.0.1:%d" % port
            return os.environ["TERN_TEST_DNS"]
    return "127.0.0.1:53"


def _stop_dns():
    global _dns_proc
    if _dns_proc is not None and _dns_proc.poll() is None:
        _dns_proc.terminate()
        try:
            _dns_proc.wait(5)
        except subprocess.TimeoutExpired:
            _dns_proc.kill()
    _dns_proc = None


# ---------------------------------------------------------------- account

def tern_account():
    """(uid, gid) of the account a tern started as root runs as (tern_user,
    by default "tern"), or None when not root or there is no such account"""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("tern")
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def give_to_tern(*paths):
    """As root: give each path, and what is under it, to the tern account
    where root owns it (never following links), so the daemon and the local
    deliveries it runs as that account can write there. No-op otherwise."""
    acct = tern_account()
    if acct is None:
        return
    for top in paths:
        for root, dirs, files in os.walk(top):
            for p in [root] + [os.path.join(root, n) for n in dirs + files]:
                try:
                    if os.lstat(p).st_uid == 0:
                        os.chown(p, acct[0], acct[1], follow_symlinks=False)
                except OSError:
                    pass


# ---------------------------------------------------------------- TAP

class TAP:
    """TAP output: ok(cond, name[, diag]), done(). A watchdog alarm ends the
    file (with a "not ok" line, daemons killed) after `timeout` seconds."""

    def __init__(self, timeout=55):
        self.n = 0
        self.failed = 0
        self.failures = []
        if timeout:
            signal.signal(signal.SIGALRM, self._timeout)
            signal.alarm(timeout)

    def _timeout(self, *_):
        self.ok(False, "the test file finished in time (watchdog)")
        cleanup_all()
        print("1..%d" % self.n, flush=True)
        os._exit(1)

    def ok(self, cond, name, diag=None):
        self.n += 1
        cond = bool(cond)
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n,
                              name.replace("\n", " ")), flush=True)
        if not cond:
            self.failed += 1
            self.failures.append(name)
            if diag is not None:
                for line in str(diag).rstrip("\n").split("\n")[:40]:
                    print("#   " + line, flush=True)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def match(self, pattern, text, name, flags=0):
        """ok if regex pattern is found in text (str or bytes)"""
        if isinstance(text, bytes) and isinstance(pattern, str):
            pattern = pattern.encode()
        m = re.search(pattern, text, flags)
        self.ok(m is not None, name, "pattern: %r\nin: %r" % (
            pattern, text[-1500:] if text is not None else None))
        return m

    def reply(self, r, code, status, name, text=None):
        """ok if Reply r has code (int or tuple of ints) and enhanced status
        (str prefix like "5.7.1", or None for "any X.Y.Z matching the code
        class") in every line; text: a regex its text must contain"""
        codes = code if isinstance(code, tuple) else (code,)
        good = r is not None and r.code in codes
        if good:
            st = r.status_ok(status)
            good = st
        if good and text is not None:
            good = re.search(text, r.text, re.I) is not None
        return self.ok(good, name, "got: %r\nwant: %s %s%s" % (
            r.raw if r is not None else None, code, status or "x.y.z",
            (" /%s/" % text) if text else ""))

    def like(self, text, pattern, name):
        """match() with the arguments in Test::More's order"""
        return self.match(pattern, text, name)

    def guard(self, name):
        """a context manager: an exception inside becomes one failed check
        named name (with the traceback as diagnostics); the file goes on"""
        tap = self

        class _Guard:
            def __enter__(self):
                return self

            def __exit__(self, et, ev, tb):
                if et is None:
                    return False
                if issubclass(et, (KeyboardInterrupt, SystemExit)):
                    return False
                import traceback
                tap.ok(False, "%s (raised %s)" % (name, et.__name__),
                       "".join(traceback.format_exception(et, ev, tb))[-2000:])
                return True
        return _Guard()

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why), flush=True)

    def diag(self, text):
        for line in str(text).split("\n"):
            print("# " + line, flush=True)

    def done(self):
        signal.alarm(0)
        cleanup_all()
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def skip_all(reason):
    print("1..0 # SKIP %s" % reason, flush=True)
    sys.exit(0)


# ---------------------------------------------------------------- Lua

class Lua(str):
    """A raw Lua expression for main= values."""


def lua_str(s):
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\%03d" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def lua_value(v):
    if isinstance(v, Lua):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return lua_str(v)
    if isinstance(v, (list, tuple)):
        return "{ " + ", ".join(lua_value(x) for x in v) + " }"
    if isinstance(v, dict):
        return "{ " + ", ".join("[%s] = %s" % (lua_str(str(k)), lua_value(x))
                                for k, x in v.items()) + " }"
    raise TypeError("no Lua form for %r" % (v,))


# ---------------------------------------------------------------- replies

class Reply:
    """One SMTP reply: code (int), lines (texts after "CODE-"/"CODE "),
    text (lines joined with "\\n"), raw (bytes as received)."""

    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.text = "\n".join(lines)
        self.raw = raw

    def status_ok(self, status=None):
        """every line carries an enhanced status code (RFC 2034) whose class
        matches the reply code's first digit; status: a required prefix"""
        for ln in self.lines:
            m = re.match(r"([245])\.(\d{1,3})\.(\d{1,3})(?: |$)", ln)
            if m is None or int(m.group(1)) != self.code // 100:
                return False
            if status is not None and not ln.startswith(status):
                return False
        return bool(self.lines)

    def __repr__(self):
        return "Reply(%r)" % self.raw


class Closed(Exception):
    """the server closed the connection"""


class RawClient:
    """A plain socket to the daemon. send() writes bytes (str is encoded as
    latin-1) in one write; reply() reads one complete reply; cmd() sends
    a line plus CRLF and reads its reply. Every read has a timeout."""

    def __init__(self, host, port, timeout=IO_TIMEOUT, banner=True,
                 source=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.banner = self.reply() if banner else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            raise Closed()
        self.buf += chunk

    def reply(self, timeout=None):
        """the next reply; raises Closed at EOF, socket.timeout on a stall"""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        lines, raw = [], b""
        while True:
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("no complete reply; have %r"
                                         % (raw + self.buf))
                self._fill(left)
            line, self.buf = self.buf.split(b"\n", 1)
            raw += line + b"\n"
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            m = re.match(r"(\d{3})([ -]?)(.*)$", text)
            if m is None:
                return Reply(0, [text], raw)
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(int(m.group(1)), lines, raw)

    def try_reply(self, timeout=None):
        """a reply, or None on timeout or EOF"""
        try:
            return self.reply(timeout)
        except (Closed, socket.timeout, OSError):
            return None

    def replies(self, n, timeout=None):
        return [self.reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply(timeout)

    def pending(self, wait=0.5):
        """bytes that arrive within `wait` seconds (b"" if none)"""
        got = b""
        end = time.monotonic() + wait
        try:
            while time.monotonic() < end:
                self._fill(max(0.01, end - time.monotonic()))
        except (socket.timeout, Closed, OSError):
            pass
        got, self.buf = self.buf, b""
        return got

    def is_closed(self, timeout=3.0):
        """True when the server closes within timeout (data before EOF is
        kept in buf for reply())"""
        if self.eof:
            return True
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                self._fill(max(0.01, end - time.monotonic()))
        except Closed:
            return True
        except (socket.timeout, OSError):
            return False
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- spool

def unescape(v):
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), v)


class SpoolMessage:
    """A parsed spool file: id, env (dict of envelope fields, str; numbers
    stay strings), rcpts (list), vars (dict), data (bytes), path."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            blob = f.read()
        pos = 0
        self.env, self.rcpts, self.vars = {}, [], {}
        first = True
        while True:
            nl = blob.index(b"\n", pos)
            line = blob[pos:nl].decode("utf-8", "surrogateescape")
            pos = nl + 1
            if first:
                if not line.startswith("tern-spool "):
                    raise ValueError("%s: not a spool file" % path)
                self.version = line.split(" ", 1)[1]
                first = False
                continue
            key, _, val = line.partition(" ")
            if key == "data":
                n = int(val)
                self.data = blob[pos:pos + n]
                if blob[pos + n:] != b"\nEND\n":
                    raise ValueError("%s: no END after %d data bytes"
                                     % (path, n))
                break
            if key == "rcpt":
                self.rcpts.append(unescape(val))
            elif key == "var":
                name, _, value = val.partition(" ")
                self.vars[unescape(name)] = unescape(value)
            else:
                self.env[key] = unescape(val)
        self.id = self.env.get("id", os.path.basename(path))
        self.sender = self.env.get("sender")

    def headers(self):
        """the header section as text (unfolded lines kept)"""
        return self.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")

    def header(self, name):
        """values of header `name` (unfolded), in order"""
        out = []
        for m in re.finditer(r"(?im)^%s:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)"
                             % re.escape(name), self.headers()):
            out.append(re.sub(r"\r\n([ \t])", r"\1", m.group(1)).strip())
        return out

    def __repr__(self):
        return "SpoolMessage(%s, %r -> %r, %d bytes)" % (
            self.id, self.sender, self.rcpts, len(self.data))


MSGID_RE = re.compile(r"^[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}$")


def read_spool(spool_dir):
    """every committed message under spool_dir/input/*/, oldest first"""
    msgs = []
    for sub in sorted(os.listdir(os.path.join(spool_dir, "input"))
                      if os.path.isdir(os.path.join(spool_dir, "input"))
                      else []):
        d = os.path.join(spool_dir, "input", sub)
        if not os.path.isdir(d):
            continue
        for fn in os.listdir(d):
            if MSGID_RE.match(fn):
                msgs.append(SpoolMessage(os.path.join(d, fn)))
    msgs.sort(key=lambda m: (int(m.env.get("received", "0")),
                             int(m.env.get("received-usec", "0"))))
    return msgs


# ---------------------------------------------------------------- daemon

class LoopbackServer:
    """A TCP server on 127.0.0.1 (a free port in .port) for tests that
    need a peer: each connection goes to on_connect(conn), which by
    default runs session(conn) on a thread of its own. close() stops
    accepting."""

    def __init__(self, backlog=16):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.on_connect(c)

    def on_connect(self, conn):
        threading.Thread(target=self.session, args=(conn,),
                         daemon=True).start()

    def session(self, conn):
        conn.close()

    def close(self):
        self.sock.close()


def fail2ban_matched(logfile, filt="/etc/fail2ban/filter.d/exim.conf"):
    """the lines of logfile that Debian's fail2ban filter matches
    (fail2ban-regex --print-all-matched), or None when fail2ban-regex or
    the filter is missing (make deps installs them)"""
    f2b = shutil.which("fail2ban-regex")
    if f2b is None or not os.path.exists(filt):
        return None
    p = subprocess.run([f2b, "--print-all-matched", logfile, filt],
                       capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0 or "Matched line(s):" not in out:
        return []
    sect = out.split("Matched line(s):", 1)[1].split("\n`-", 1)[0]
    return [ln.strip() for ln in sect.splitlines() if ln.strip()]


def scratch_dir(prefix):
    """a fresh temporary directory (TMPDIR) for a test's own files, e.g.
    certificates and keys: removed with the daemons at the end, also when
    the watchdog ends the file; TERN_KEEP keeps it"""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)      # a root tern's processes (tern_user) read here
    _scratch.append(d)
    return d


def cleanup_all():
    for t in list(_instances):
        try:
            t.cleanup()
        except Exception:       # noqa: BLE001 - best effort at exit
            pass
    _stop_dns()
    while _scratch:
        d = _scratch.pop()
        if os.environ.get("TERN_KEEP"):
            print("# kept %s" % d, flush=True)
        else:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(cleanup_all)    # also when a test file dies with an exception


class Tern:
    """A tern configuration in a temporary directory and, unless
    start=False, a daemon on a free 127.0.0.1 port (see the module doc).

    main:   extra main options {name: value}
    files:  extra configuration files {"acl/30_rcpt.lua": "lua text"}
    routers: False to leave out the default routers and transports
    probe:  after start, check the banner with one connection (set False
            when a test counts connections, e.g. rate limits)
    """

    def __init__(self, main=None, files=None, routers=True, start=True,
                 probe=True, name="tern"):
        self.dir = tempfile.mkdtemp(prefix="ternpy-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "conf.d")
        self.spool = os.path.join(self.dir, "spool")
        self.logdir = os.path.join(self.dir, "log")
        self.dns = dns_server()
        self.port = None
        self.proc = None
        self.clients = []
        self.main_opts = dict(main or {})
        self.daemon_args = []       # more daemon flags, e.g. ["-q2s"]
        _instances.append(self)
        self._write_conf(files or {}, routers)
        give_to_tern(self.dir)
        if start:
            self.start(probe=probe)

    # -- configuration
    def _subst(self, text):
        return text.replace("@DIR@", self.dir).replace("@DNS@", self.dns)

    def write(self, rel, text):
        """write a file under the configuration root's parent (DIR);
        "conf.d/..." paths are configuration files"""
        p = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            f.write(self._subst(text))
        return p

    def _write_conf(self, files, routers):
        for sub in ("main", "acl", "router", "transport", "retry",
                    "rewrite", "auth"):
            os.makedirs(os.path.join(self.conf, sub), exist_ok=True)
        main = {
            "primary_hostname": HOSTNAME,
            "local_domains": ["@", "localhost", LOCAL_DOMAIN],
            "relay_to_domains": [],
            "relay_from_hosts": [],
            "dns_servers": self.dns,
            "spool_directory": Lua('tern_test_dir .. "/spool"'),
            "log_file_path": Lua('tern_test_dir .. "/log/%slog"'),
            "local_interfaces": ["127.0.0.1"],
            "smtp_workers": 2,
            "shutdown_timeout": "3s",
            # reception tests look at the spool: delivery tests set False
            "queue_only": True,
        }
        main.update(self.main_opts)
        body = "\n".join("  %s = %s," % (k, lua_value(v))
                         for k, v in main.items())
        self.write("conf.d/main/00_test.lua",
                   "-- written by ternlib.py\n"
                   "tern_test_dir = %s\nmain {\n%s\n}\n"
                   % (lua_str(self.dir), body))
        os.makedirs(os.path.join(self.dir, "home"), exist_ok=True)
        self.write("virtual_users", "".join(
            "%s: @DIR@/home/%s\n" % (u, u) for u in USERS))
        for u in USERS:
            os.makedirs(os.path.join(self.dir, "home", u), exist_ok=True)
        self.write("aliases", "postmaster: alice\nabuse: alice\n"
                   "team: alice, bob\nbroken: :fail: this alias is broken\n")
        if routers:
            self.write("conf.d/router/100_dnslookup.lua", """\
router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  ignore_target_hosts = { "0.0.0.0", "127.0.0.0/8" },
  no_more = true,
}
""")
            self.write("conf.d/router/200_aliases.lua", """\
router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "lsearch;@DIR@/aliases",
  allow_fail = true,
  allow_defer = true,
  qualify_preserve_domain = true,
}
""")
            self.write("conf.d/router/300_users.lua", """\
router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/virtual_users",
  local_part_suffix = "+*",
  local_part_suffix_optional = true,
  transport = "local_maildir",
}
""")
            self.write("conf.d/transport/10_transports.lua", """\
transport "remote_smtp" { driver = "smtp" }
transport "local_maildir" { driver = "maildir", directory = "$home/Maildir" }
""")
        for rel, text in files.items():
            self.write(rel if rel.startswith("conf.d/") else
                       os.path.join("conf.d", rel), text)

    # -- processes
    def cmd(self, *args):
        """argv for a tern command with this configuration"""
        return [TERN, "-C", self.conf] + [str(a) for a in args]

    def run(self, *args, input=b"", timeout=20, env=None):
        """run `tern -C DIR args...`; CompletedProcess with bytes output"""
        if isinstance(input, str):
            input = input.encode("utf-8")
        e = dict(os.environ, **(env or {}))
        return subprocess.run(self.cmd(*args), input=input,
                              capture_output=True, timeout=timeout,
                              cwd=self.dir, env=e)

    def start(self, probe=True, timeout=10):
        give_to_tern(self.dir)
        log_at = len(self.mainlog())
        for attempt in range(3):
            self.port = _free_port()
            self.stderr_path = os.path.join(self.dir, "daemon.stderr")
            err = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen(
                self.cmd("-bdf", "-oX", self.port, *self.daemon_args),
                stdin=subprocess.DEVNULL,
                stdout=err, stderr=err, cwd=self.dir)
            err.close()
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    break
                if "tern daemon started" in self.mainlog()[log_at:]:
                    break
                time.sleep(0.05)
            if self.proc.poll() is None and "tern daemon started" \
                    in self.mainlog()[log_at:]:
                break
            if "in use" not in self.daemon_stderr() or attempt == 2:
                why = "%s\n%s" % (self.daemon_stderr(), self.mainlog()[-2000:])
                self.stop()
                raise RuntimeError("tern daemon did not start:\n" + why)
        if probe:
            try:
                c = RawClient("127.0.0.1", self.port)
            except (Closed, OSError) as e:
                time.sleep(0.5)
                why = self.daemon_stderr()[-3000:]
                self.stop()
                raise RuntimeError("tern daemon did not answer (%r):\n%s"
                                   % (e, why))
            ok = c.banner.code == 220
            try:
                c.cmd("QUIT")
            except (Closed, OSError):
                pass
            c.close()
            if not ok:
                self.stop()
                raise RuntimeError("tern daemon banner: %r" % c.banner)
            time.sleep(0.1)     # let the worker account the probe's close
        return self

    def daemon_stderr(self):
        try:
            with open(self.stderr_path, encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def pids(self):
        """the master's pid and its children's (the workers)"""
        if self.proc is None:
            return []
        out = [self.proc.pid]
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid,
                                                     self.proc.pid)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
        return out

    def signal(self, sig, workers_too=False):
        """send sig to the master (and, if asked, to each worker)"""
        for i, pid in enumerate(self.pids()):
            if i == 0 or workers_too:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

    def stop(self):
        """SIGTERM, wait up to 10 s, then SIGKILL; returns the exit status"""
        for c in self.clients:
            c.close()
        self.clients = []
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            kids = self.pids()[1:]
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            for pid in kids:    # workers die with the master; be sure
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        rc = self.proc.returncode
        self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        if self in _instances:
            _instances.remove(self)
        if os.environ.get("TERN_KEEP"):
            print("# kept %s" % self.dir, flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- clients
    def smtp(self, helo=None, timeout=IO_TIMEOUT, **kw):
        """smtplib.SMTP connected to the daemon (the banner is read);
        EHLO/HELO use local_hostname "client.example" """
        s = smtplib.SMTP("127.0.0.1", self.port,
                         local_hostname=helo or "client.example",
                         timeout=timeout, **kw)
        self.clients.append(_SmtpCloser(s))
        return s

    def raw(self, banner=True, timeout=IO_TIMEOUT, source=None):
        """RawClient connected to the daemon; .banner holds the greeting;
        source: the client's address (any 127.x.y.z works on loopback)"""
        c = RawClient("127.0.0.1", self.port, timeout=timeout, banner=banner,
                      source=source)
        self.clients.append(c)
        return c

    # -- logs and spool
    def _log(self, which):
        try:
            with open(os.path.join(self.logdir, which + "log"),
                      encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def mainlog(self):
        return self._log("main")

    def rejectlog(self):
        return self._log("reject")

    def paniclog(self):
        return self._log("panic")

    def wait_log(self, pattern, which="main", timeout=5.0, since=0):
        """the first match of regex pattern in a log (after offset since),
        waiting up to timeout seconds; None if it never appears"""
        end = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self._log(which)[since:], re.M)
            if m is not None or time.monotonic() >= end:
                return m
            time.sleep(0.05)

    def spool_messages(self):
        return read_spool(self.spool)


class _SmtpCloser:
    def __init__(self, s):
        self.s = s

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---------------------------------------------------------------- misc

def crlf(text):
    """text with every line end made CRLF"""
    return re.sub(r"\r?\n", "\r\n", text)


def message(subject="test", body="hello\n", sender="sender@client.example",
            to="alice@" + LOCAL_DOMAIN, msgid=None, extra=""):
    """a small RFC 5322 message (CRLF line ends, str)"""
    msgid = msgid or "<%d.%d@client.example>" % (os.getpid(),
                                                  time.monotonic_ns())
    return crlf("From: %s\nTo: %s\nSubject: %s\nMessage-ID: %s\n"
                "Date: Mon, 1 Jan 2024 00:00:00 +0000\n%s\n%s"
                % (sender, to, subject, msgid, extra, body))


def delivery_status(msg):
    """the message/delivery-status fields of msg (an email.message parsed
    with email.policy.default, or that part itself) as text, one
    "Name: value" line each, unfolded and with blanks collapsed: Python
    re-folds long fields when it prints a part (where depends on, e.g.,
    the length of TMPDIR in a pipe's path), so match this, not
    as_string(). "" when there is no such part."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        return "\n".join("%s: %s" % (k, " ".join(str(v).split()))
                         for block in part.get_payload()
                         for k, v in block.items())
    return ""
