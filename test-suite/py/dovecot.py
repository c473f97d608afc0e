"""dovecot - a private Dovecot for tests: IMAP, POP3 and LMTP on loopback.

    from dovecot import Dovecot, available

    if not available(): ...                  # skip: dovecot not installed
    with Dovecot(users={"alice": "secret"}) as dc:
        dc.lmtp_socket                       # unix socket path (mode 0666)
        dc.lmtp_port, dc.imap_port, dc.pop3_port   # 127.0.0.1 only
        m = dc.imap("alice")                 # imaplib.IMAP4, logged in
        p = dc.pop3("alice")                 # poplib.POP3, logged in
        dc.maildir("alice")                  # .../mail/alice/Maildir
        dc.put_maildir("alice", b"...")      # a message written by hand
        dc.log()                             # Dovecot's log

Dovecot runs in the foreground as our child (`dovecot -F -c CONF`) with a
generated configuration in a fresh directory under /tmp: base_dir, state
and log there, listeners on free 127.0.0.1 ports, mail_location
maildir:DIR/mail/%n/Maildir, users in a passwd-file with {PLAIN}
passwords. Mail files belong to the `mail` user when we are root (Dovecot
refuses uid 0 for mail), to ourselves otherwise. Written for Dovecot 2.3
(Debian 12); 2.4 (Debian 13) gets its own configuration syntax.
"""
import atexit
import imaplib
import os
import poplib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

START_TIMEOUT = 15.0


def executable():
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)


def available():
    """True if a dovecot binary with the lmtp, imap and pop3 services is
    installed (dovecot-core, -imapd, -pop3d, -lmtpd)."""
    exe = executable()
    if exe is None:
        return False
    libexec = "/usr/lib/dovecot"
    return all(os.path.exists(os.path.join(libexec, s))
               for s in ("imap", "pop3", "lmtp"))


def version():
    """(major, minor) of the installed dovecot, e.g. (2, 3)."""
    out = subprocess.run([executable(), "--version"], capture_output=True,
                         text=True, timeout=10).stdout
    m = re.match(r"(\d+)\.(\d+)", out.strip())
    return (int(m.group(1)), int(m.group(2))) if m else (2, 3)


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


CONF_23 = """\
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = tern-test-{pid}
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
mail_location = maildir:{dir}/mail/%n/Maildir
first_valid_uid = 1
first_valid_gid = 1
{owner}
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {dir}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {dir}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
"""

# Dovecot 2.4 renamed most of the above (not exercised on Debian 12).
CONF_24 = """\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = tern-test-{pid}
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain login
auth_username_format = %{{user | username | lower}}
mail_driver = maildir
mail_path = {dir}/mail/%{{user | username}}/Maildir
mail_home = {dir}/mail/%{{user | username}}
first_valid_uid = 1
first_valid_gid = 1
{owner}
passdb passwd-file {{
  passwd_file_path = {dir}/users
}}
userdb passwd-file {{
  passwd_file_path = {dir}/users
}}
service imap-login {{
  inet_listener imap {{
    listen = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    listen = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    listen = 127.0.0.1
    port = {lmtp}
  }}
}}
"""


class Dovecot:
    """A Dovecot instance of our own; see the module docstring."""

    def __init__(self, users=None):
        self.users = dict(users or {"alice": "secret", "bob": "secret"})
        self.dir = None
        self.proc = None
        self.imap_port = self.pop3_port = self.lmtp_port = None
        self.lmtp_socket = None
        if os.getuid() == 0:
            pw = pwd.getpwnam("mail")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        else:
            self.uid, self.gid = os.getuid(), os.getgid()

    # ------------------------------------------------------------ setup

    def _owner_settings(self):
        if os.getuid() == 0:
            return ""
        me = pwd.getpwuid(os.getuid()).pw_name
        return ("default_login_user = %s\ndefault_internal_user = %s\n"
                "default_internal_group = %s\n" % (me, me, me))

    def _write_config(self):
        ports = dict(imap=_free_port(), pop3=_free_port(), lmtp=_free_port())
        self.imap_port, self.pop3_port = ports["imap"], ports["pop3"]
        self.lmtp_port = ports["lmtp"]
        tmpl = CONF_24 if version() >= (2, 4) else CONF_23
        text = tmpl.format(dir=self.dir, pid=os.getpid(),
                           owner=self._owner_settings(), **ports)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(text)
        with open(os.path.join(self.dir, "users"), "w") as f:
            for u, pw in self.users.items():
                f.write("%s:{PLAIN}%s:%d:%d::%s/mail/%s::\n"
                        % (u, pw, self.uid, self.gid, self.dir, u))
        os.chmod(os.path.join(self.dir, "users"), 0o644)

    def _make_dirs(self):
        self.dir = tempfile.mkdtemp(prefix="tern-dovecot-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        mail = os.path.join(self.dir, "mail")
        os.mkdir(mail, 0o755)
        os.chown(mail, self.uid, self.gid)
        self.lmtp_socket = os.path.join(self.dir, "run", "lmtp")

    def _ready(self):
        if not os.path.exists(self.lmtp_socket):
            return False
        for port in (self.imap_port, self.pop3_port):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
            except OSError:
                return False
        return True

    def start(self):
        """Start Dovecot and wait until it listens; RuntimeError if not."""
        atexit.register(self.stop)
        self._make_dirs()
        self._write_config()
        self.proc = subprocess.Popen(
            [executable(), "-F", "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr"), "w"))
        end = time.time() + START_TIMEOUT
        while time.time() < end:
            if self.proc.poll() is not None:
                break
            if self._ready():
                return self
            time.sleep(0.1)
        self.stop(keep=True)
        raise RuntimeError("dovecot did not start:\n" + self.log()[-3000:])

    def stop(self, keep=False):
        """Stop Dovecot and remove its directory (keep=True: leave it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if not keep and self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    cleanup = stop              # ternlib's watchdog calls cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ------------------------------------------------------------ use

    def log(self):
        """Dovecot's log and stderr, as text."""
        out = ""
        for name in ("stderr", "dovecot.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
            except (OSError, TypeError):
                pass
        return out

    def maildir(self, user):
        return os.path.join(self.dir, "mail", user, "Maildir")

    def put_maildir(self, user, data, name=None):
        """Write data (bytes, any line ends) into user's Maildir/new the
        way a maildir delivery would (tmp, then rename), owned by the mail
        uid; returns the file's path."""
        md = self.maildir(user)
        for d in (os.path.dirname(md), md, md + "/tmp", md + "/new",
                  md + "/cur"):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
                os.chown(d, self.uid, self.gid)
        name = name or "%d.P%dQ%d.tern-test" % (time.time(), os.getpid(),
                                                len(os.listdir(md + "/new")))
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, os.path.join(md, "new", name))
        return os.path.join(md, "new", name)

    def imap(self, user):
        """An imaplib.IMAP4 connection, logged in as user."""
        m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        m.login(user, self.users[user])
        return m

    def pop3(self, user):
        """A poplib.POP3 connection, logged in as user."""
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=10)
        p.user(user)
        p.pass_(self.users[user])
        return p
