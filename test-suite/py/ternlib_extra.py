"""ternlib_extra - helpers for tern's end-to-end Python tests (TLS, AUTH,
ACL, daemon and crash tests).

Self-contained (written before test-suite/py/ternlib.py existed; it does
not import it, so the two can evolve independently). It gives

  Tap            TAP output ("ok N - name"), guard() to turn an exception
                 into a failed check, done() prints "1..N" and exits 1 on
                 any failure.
  Tern           a tern daemon on 127.0.0.1 with its own temp conf.d,
                 spool and logs: start(), stop(), sighup(), pids, smtp()
                 (smtplib), raw() (a raw-socket SMTP client), log readers,
                 spool readers, run() for one-shot modes (-bs, -bh, -bV).
  Raw            a small raw SMTP client (send bytes, read replies, TLS).
  parse_spool    the spool file format (core/spool/spool_format.c), validating.
  make_certs     a test CA and server certificate made with openssl.
  crypt_hash     $6$ and $y$ hashes (libcrypt through ctypes, openssl).
  lua            Python values as Lua source; LuaCode for verbatim code.

Environment (set by test-suite/run): TERN_BIN_DIR (build dir with tern),
TERN_TOP (repository), TERN_TEST_DNS ("127.0.0.1:PORT" of dnsmasq serving
test-suite/zones). Without TERN_TEST_DNS a private dnsmasq is started.
TERN_KEEP=1 keeps the temp directories.
"""
import atexit
import contextlib
import ctypes
import ctypes.util
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import smtplib

TOP = os.environ.get("TERN_TOP") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("TERN_BIN_DIR") or os.path.join(TOP, "build")
TERN = os.path.join(BIN_DIR, "tern")
MSGID_RE = re.compile(r"^[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}$")
KEEP = os.environ.get("TERN_KEEP") == "1"


# ---------------------------------------------------------------- TAP ----

class Tap:
    """Minimal TAP producer."""

    def __init__(self, timeout=85):
        self.n = 0
        self.failed = 0
        self.failures = []
        # a watchdog: the runner wants every file done in < 90 s
        signal.signal(signal.SIGALRM, self._timeout)
        signal.alarm(timeout)

    def _timeout(self, *_):
        self.ok(False, "watchdog: the test file ran out of time")
        self.done()

    def ok(self, cond, name, diag=""):
        self.n += 1
        cond = bool(cond)
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name),
              flush=True)
        if not cond:
            self.failed += 1
            self.failures.append(name)
            if diag:
                self.comment(diag)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def like(self, text, pattern, name, flags=0):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        m = re.search(pattern, text or "", flags)
        return self.ok(m is not None, name,
                       "pattern: %r\ntext: %s" % (pattern, (text or "")[-1500:]))

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why), flush=True)

    def comment(self, text):
        for line in str(text).rstrip("\n").split("\n"):
            print("# " + line, flush=True)

    @contextlib.contextmanager
    def guard(self, name):
        """An exception inside is one failed check named name."""
        try:
            yield
        except Exception:               # noqa: BLE001 - report, go on
            self.ok(False, name + ": exception",
                    traceback.format_exc()[-2500:])

    def done(self):
        print("1..%d" % self.n, flush=True)
        if self.failed:
            self.comment("%d of %d checks failed" % (self.failed, self.n))
        sys.stdout.flush()
        signal.alarm(0)
        try:
            atexit._run_exitfuncs()     # stop daemons, remove temp dirs
        finally:
            os._exit(1 if self.failed else 0)


# ---------------------------------------------------------------- DNS ----

_dns_proc = None


def test_dns():
    """'127.0.0.1:PORT' of a DNS server with test-suite/zones (or None)."""
    global _dns_proc
    if os.environ.get("TERN_TEST_DNS"):
        return os.environ["TERN_TEST_DNS"]
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(exe):
        return None
    for _ in range(5):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        p = subprocess.Popen(
            [exe, "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--conf-file=" + os.path.join(TOP, "test-suite/zones/test.zone.conf"),
             "--port=%d" % port, "--listen-address=127.0.0.1",
             "--bind-interfaces", "--pid-file=", "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        if p.poll() is None:
            _dns_proc = p
            atexit.register(_stop_dns)
            os.environ["TERN_TEST_DNS"] = "127.0.0.1:%d" % port
            return os.environ["TERN_TEST_DNS"]
    return None


def _stop_dns():
    if _dns_proc is not None and _dns_proc.poll() is None:
        _dns_proc.terminate()
        try:
            _dns_proc.wait(5)
        except subprocess.TimeoutExpired:
            _dns_proc.kill()


# ---------------------------------------------------------------- Lua ----

class LuaCode(str):
    """Verbatim Lua source inside a value given to lua()."""


def lua_str(s):
    out = ['"']
    for ch in s.encode("utf-8"):
        c = chr(ch)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif 0x20 <= ch < 0x7f:
            out.append(c)
        else:
            out.append("\\%03d" % ch)
    out.append('"')
    return "".join(out)


def lua(v):
    """A Python value (str, int, bool, list, dict, LuaCode) as Lua source."""
    if isinstance(v, LuaCode):
        return str(v)
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return lua_str(v)
    if isinstance(v, (list, tuple)):
        return "{ " + ", ".join(lua(x) for x in v) + " }"
    if isinstance(v, dict):
        return "{\n" + "".join("  %s = %s,\n" % (k, lua(x))
                               for k, x in v.items()) + "}"
    raise TypeError("no Lua form for %r" % (v,))


# ------------------------------------------------------------ helpers ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= end:
            return v
        time.sleep(step)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except (OSError, ValueError):
        return False


def children_of(pid):
    """Pids whose parent is pid (scan of /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            rest = st[st.rindex(")") + 2:].split()
            if int(rest[1]) == pid and rest[0] != "Z":
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(out)


# --------------------------------------------------------------- spool ----

def _unesc(b):
    return re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), b)


def parse_spool(raw):
    """Parse a spool file (bytes); ValueError when it is not well formed.
    Returns {"id", key: str..., "rcpts": [...], "vars": {...},
    "data": bytes}."""
    if not raw.startswith(b"tern-spool 1\n"):
        raise ValueError("bad magic")
    pos = len(b"tern-spool 1\n")
    rec = {"rcpts": [], "vars": {}}
    nr = nv = None
    while True:
        nl = raw.find(b"\n", pos)
        if nl < 0:
            raise ValueError("record without newline at %d" % pos)
        line = raw[pos:nl]
        pos = nl + 1
        key, _, val = line.partition(b" ")
        key = key.decode("ascii", "replace")
        if key == "data":
            if not re.fullmatch(rb"[0-9]{20}", val):
                raise ValueError("bad data length %r" % val)
            n = int(val)
            if len(raw) < pos + n + 5:
                raise ValueError("truncated data: %d of %d bytes"
                                 % (len(raw) - pos, n))
            rec["data"] = raw[pos:pos + n]
            if raw[pos + n:] != b"\nEND\n":
                raise ValueError("no END record / trailing bytes")
            break
        if key == "rcpts":
            nr = int(val)
        elif key == "rcpt":
            rec["rcpts"].append(_unesc(val).decode("utf-8", "replace"))
        elif key == "vars":
            nv = int(val)
        elif key == "var":
            name, _, value = val.partition(b" ")
            rec["vars"][_unesc(name).decode()] = _unesc(value).decode(
                "utf-8", "replace")
        else:
            rec[key] = _unesc(val).decode("utf-8", "replace")
    if nr is None or nr != len(rec["rcpts"]):
        raise ValueError("rcpt count mismatch")
    if nv is None or nv != len(rec["vars"]):
        raise ValueError("var count mismatch")
    if "id" not in rec or not MSGID_RE.match(rec["id"]):
        raise ValueError("missing or bad id")
    return rec


# ----------------------------------------------------------------- TLS ----

def give_to_tern(top):
    """As root, tern runs as the account "tern" (tern_user's default; `make
    deps` creates it): give it what root owns under top (the pid file,
    Maildirs and pipe outputs are written there as that user). Links are
    not followed. No-op when not root or without the account."""
    try:
        pw = pwd.getpwnam("tern") if os.geteuid() == 0 else None
    except KeyError:
        pw = None
    if pw is None:
        return
    for root, dirs, files in os.walk(top):
        for p in [root] + [os.path.join(root, n) for n in dirs + files]:
            try:
                if os.lstat(p).st_uid == 0:
                    os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
            except OSError:
                pass


def make_certs(d, names=("localhost", "mail.example.com"), ips=("127.0.0.1",)):
    """Make a CA and a server certificate signed by it in d (openssl).
    Returns dict ca, cert, key (paths). d is made traversable and, as root,
    given to the tern account: the SMTP workers read the key after the
    daemon has become tern_user."""
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr = os.path.join(d, "server.key"), os.path.join(d, "server.csr")
    cert, ext = os.path.join(d, "server.pem"), os.path.join(d, "ext.cnf")

    def run(*a):
        subprocess.run(["openssl"] + list(a), check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
        "-out", ca, "-days", "30", "-subj", "/CN=tern test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=%s" % names[0])
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % ",".join(
            ["DNS:" + n for n in names] + ["IP:" + i for i in ips]))
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", cert, "-days", "30", "-extfile", ext)
    give_to_tern(d)
    return {"ca": ca, "cert": cert, "key": key}


def client_ctx(ca=None, min_version=None, max_version=None):
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


# --------------------------------------------------------------- crypt ----

def crypt_hash(password, method="6"):
    """A crypt(3) hash: method "6" (SHA-512) or "y" (yescrypt)."""
    lib = ctypes.util.find_library("crypt")
    if lib:
        try:
            c = ctypes.CDLL(lib)
            c.crypt_gensalt.restype = ctypes.c_char_p
            c.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                        ctypes.c_char_p, ctypes.c_int]
            c.crypt.restype = ctypes.c_char_p
            c.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
            salt = c.crypt_gensalt(("$%s$" % method).encode(), 0, None, 0)
            if salt:
                h = c.crypt(password.encode(), salt)
                if h and h.startswith(("$%s$" % method).encode()):
                    return h.decode()
        except (OSError, AttributeError):
            pass
    if method == "6":
        return subprocess.run(["openssl", "passwd", "-6", password],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    if shutil.which("mkpasswd"):
        return subprocess.run(["mkpasswd", "-m", "yescrypt", password],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    raise RuntimeError("no way to make a $%s$ hash" % method)


# ----------------------------------------------------------------- Raw ----

class Raw:
    """A raw SMTP client: bytes out, replies in."""

    def __init__(self, port, host="127.0.0.1", timeout=10, tls_ctx=None,
                 server_hostname="localhost", source=None):
        # source: the client's own address (127.0.0.2 ... on loopback)
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        if tls_ctx is not None:
            self.sock = tls_ctx.wrap_socket(self.sock,
                                            server_hostname=server_hostname)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; partial %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """(code, text) of one reply; text joins continuation lines by \\n."""
        lines = []
        while True:
            ln = self._line()
            lines.append(ln[4:])
            if len(ln) < 4 or ln[3] != "-":
                return int(ln[:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self, ctx, server_hostname="localhost"):
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.buf = b""

    def closed_by_peer(self, timeout=5):
        """True when the server closes (EOF/reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(4096)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        except OSError:
            return True
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def skip_extra_greeting(c, wait=0.4):
    """Drop a duplicated 220 greeting (seen on tls_on_connect ports; the
    duplicate itself is checked in test_tls_starttls.py)."""
    c.sock.settimeout(wait)
    try:
        c.buf += c.sock.recv(4096)
    except (OSError, ssl.SSLError):
        pass
    c.sock.settimeout(c.timeout)
    if c.buf.startswith(b"220 "):
        c.reply()


def send_message(c, sender, rcpts, body, helo="client.example.org"):
    """Full transaction on a Raw client that has read the banner.
    Returns the list of (code, text) replies (EHLO, MAIL, RCPT..., DATA,
    final)."""
    out = [c.cmd("EHLO " + helo), c.cmd("MAIL FROM:<%s>" % sender)]
    for r in rcpts:
        out.append(c.cmd("RCPT TO:<%s>" % r))
    out.append(c.cmd("DATA"))
    if out[-1][0] == 354:
        if isinstance(body, str):
            body = body.encode()
        c.send(body + b".\r\n")
        out.append(c.reply())
    return out


def stuff(body):
    """Dot-stuff a CRLF message body (bytes)."""
    lines = body.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


# ---------------------------------------------------------------- Tern ----

DEFAULT_USERS = ("alice", "bob", "postmaster")


class Tern:
    """A tern daemon with its own conf.d, spool and logs under a temp dir.

    main: dict of extra main options (override the defaults below);
    files: {"acl/30_rcpt.lua": "lua text", ...} written into conf.d;
    routers: True for the default routers (dnslookup for remote domains,
    local_user from DIR/users for the local domains) and transports."""

    def __init__(self, name="t", main=None, files=None, routers=True,
                 workers=1, port=None, ports=None):
        self.dir = tempfile.mkdtemp(prefix="tern-%s-" % name)
        os.chmod(self.dir, 0o755)
        if not KEEP:
            atexit.register(shutil.rmtree, self.dir, True)
        atexit.register(self.kill)
        self.conf = os.path.join(self.dir, "conf.d")
        self.spool = os.path.join(self.dir, "spool")
        self.logdir = os.path.join(self.dir, "log")
        self.pidfile = os.path.join(self.dir, "tern.pid")
        self.port = port or free_port()
        self.ports = ports or [self.port]
        self.proc = None
        self.out = None
        self.dns = test_dns()
        os.makedirs(self.logdir)
        with open(os.path.join(self.dir, "users"), "w") as f:
            for u in DEFAULT_USERS:
                f.write("%s: %s/home/%s\n" % (u, self.dir, u))
        opts = {
            "primary_hostname": "mail.example.com",
            "local_domains": ["@", "localhost", "example.com"],
            "relay_from_hosts": [],
            "spool_directory": self.spool,
            "log_file_path": self.logdir + "/%slog",
            "pid_file_path": self.pidfile,
            "local_interfaces": ["127.0.0.1"],
            "smtp_workers": workers,
            "dns_timeout": "2s",
            "dns_retry": 1,
            "shutdown_timeout": "10s",
            # reception tests look at the spool: delivery tests set False
            "queue_only": True,
        }
        if self.dns:
            opts["dns_servers"] = self.dns
        opts.update(main or {})
        self.main = opts
        self.write("main/00_main.lua", "main " + lua(opts) + "\n")
        if routers:
            self.write("router/100_dnslookup.lua", """
router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  ignore_target_hosts = { "0.0.0.0", "127.0.0.0/8" },
  no_more = true,
}
""")
            self.write("router/300_users.lua", """
router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;%s/users",
  transport = "local_maildir",
}
""" % self.dir)
            self.write("transport/10_transports.lua", """
transport "remote_smtp" { driver = "smtp" }
transport "local_maildir" { driver = "maildir", directory = "$home/Maildir" }
""")
        for k, v in (files or {}).items():
            self.write(k, v)

    # -- configuration
    def write(self, rel, text):
        p = os.path.join(self.conf, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def remove(self, rel):
        os.unlink(os.path.join(self.conf, rel))

    def path(self, *rel):
        return os.path.join(self.dir, *rel)

    # -- the daemon
    def start(self, wait=True, args=(), timeout=10):
        """Start tern -bdf; with wait, until the started line is logged
        (sockets bound, pid file written). Returns self."""
        give_to_tern(self.dir)
        self.out = open(os.path.join(self.dir, "daemon.out"), "ab")
        cmd = [TERN, "-C", self.conf, "-bdf", "-oX",
               ",".join(str(p) for p in self.ports)] + list(args)
        self.started_at = len(self.mainlog())
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.out,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        if wait:
            ok = wait_for(lambda: self.proc.poll() is not None or (
                "tern daemon started" in self.mainlog()[self.started_at:]
                and os.path.exists(self.pidfile)), timeout)
            if self.proc.poll() is not None or not ok:
                raise RuntimeError("tern did not start (exit %r): %s" % (
                    self.proc.poll(), self.daemon_output()[-2000:]))
            wait_for(lambda: len(self.worker_pids()) >= 1, timeout)
        return self

    def daemon_output(self):
        try:
            with open(os.path.join(self.dir, "daemon.out"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def worker_pids(self):
        return children_of(self.pid) if self.pid and pid_alive(self.pid) else []

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def sighup(self):
        os.kill(self.pid, signal.SIGHUP)

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit status (None if killed)."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        """kill -9 the master and its workers (only processes we started)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pids = self.worker_pids()
        for p in pids + [self.proc.pid]:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    # -- clients
    def smtp(self, port=None, timeout=10, **kw):
        return smtplib.SMTP("127.0.0.1", port or self.port, timeout=timeout,
                            local_hostname=kw.pop("local_hostname",
                                                  "client.example.org"),
                            **kw)

    def raw(self, port=None, timeout=10, banner=True, **kw):
        c = Raw(port or self.port, timeout=timeout, **kw)
        if banner:
            c.banner = c.reply()
        return c

    def run(self, args, input=b"", timeout=30, env=None):
        """tern -C conf.d ARGS (one-shot modes); env adds to ours (which
        carries make sanitize's ASAN_OPTIONS), it does not replace it."""
        if isinstance(input, str):
            input = input.encode()
        return subprocess.run([TERN, "-C", self.conf] + list(args),
                              input=input, capture_output=True,
                              timeout=timeout,
                              env=dict(os.environ, **env) if env else None)

    # -- logs
    def log(self, which):
        try:
            with open(os.path.join(self.logdir, which + "log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def mainlog(self):
        return self.log("main")

    def rejectlog(self):
        return self.log("reject")

    def paniclog(self):
        return self.log("panic")

    def wait_log(self, which, pattern, timeout=5, start=0):
        """The first match of pattern in the log (from offset start)."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log(which)[start:]), timeout)

    # -- spool
    def spool_files(self):
        """Every file under spool/input (any name)."""
        out = []
        base = os.path.join(self.spool, "input")
        for root, _, files in os.walk(base):
            for f in files:
                out.append(os.path.join(root, f))
        return sorted(out)

    def spool_ids(self):
        return sorted(os.path.basename(p) for p in self.spool_files()
                      if MSGID_RE.match(os.path.basename(p)))

    def spool_path(self, mid):
        return os.path.join(self.spool, "input", mid[-1], mid)

    def read_spool(self, mid):
        with open(self.spool_path(mid), "rb") as f:
            return parse_spool(f.read())

    def spool_messages(self):
        return {m: self.read_spool(m) for m in self.spool_ids()}


def reply_id(text):
    """The message id from a "250 2.0.0 OK id=ID" reply text."""
    m = re.search(r"id=(\S+)", text or "")
    return m.group(1) if m else None
