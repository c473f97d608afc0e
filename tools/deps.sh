#!/bin/sh
# tools/deps.sh - install what tern needs to build and test (make deps).
#
# As root: apt-get installs whatever of the list is missing. As another
# user: prints the exact command to run. With --check: only reports.
# Libraries: Lua 5.4, OpenSSL 3, c-ares, GDBM (the -dev packages), found
# with pkg-config. Tests: dnsmasq-base (the binary, no system service),
# python3, python3-yaml (test_spf_suite reads the RFC 7208 suite's YAML),
# swaks, clang for the libFuzzer targets, openssl (the command,
# for test certificates), whois (for mkpasswd: test_sasl checks our
# password hashes against it), Dovecot (imapd, pop3d, lmtpd: the tests run a
# private instance; the install runs under a policy-rc.d that forbids
# starting services, and the unit is disabled afterwards, so nothing
# listens on ports 143/110/24), fail2ban (test_smtp_sync runs its exim
# filter with fail2ban-regex over tern's log; its service is disabled the
# same way: nothing is banned on the machine).
# Account: tern started as root runs as tern_user, by default the system
# account "tern"; it is created here (adduser --system --group
# --no-create-home) when missing, so `make run` and the tests find it.
# Creating it on servers at install time is the installer's business.
set -u

PKGS="build-essential pkg-config liblua5.4-dev libssl-dev libc-ares-dev \
libgdbm-dev libcrypt-dev dnsmasq-base python3 python3-yaml swaks clang \
openssl whois dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd \
adduser fail2ban"
TERN_ACCOUNT=tern

# the tern system account, when missing (as root; adduser is in PKGS)
make_account() {
    getent passwd "$TERN_ACCOUNT" >/dev/null && return 0
    # only a tern started as root uses it: nothing to do for other users
    [ "$(id -u)" = 0 ] || return 0
    echo "creating the system account $TERN_ACCOUNT"
    adduser --system --group --no-create-home --quiet "$TERN_ACCOUNT" \
        || { echo "adduser $TERN_ACCOUNT failed" >&2; return 1; }
}

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done

if [ "${1:-}" = "--check" ]; then
    rc=0
    [ -z "$missing" ] || { echo "missing packages:$missing"; rc=1; }
    getent passwd "$TERN_ACCOUNT" >/dev/null \
        || { echo "missing system account: $TERN_ACCOUNT"; rc=1; }
    exit $rc
fi
if [ -z "$missing" ]; then
    make_account
    exit
fi
if [ "$(id -u)" != 0 ]; then
    echo "tern needs these Debian packages:$missing" >&2
    echo "run as root:  apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Packages that ship a service (dovecot) must not start it: the tests run
# private instances on loopback. A temporary policy-rc.d forbids starting
# anything during the install; the units are disabled afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" \
        && own_policy=yes
fi
rc=0
if ! apt-get install -y -q $missing >/dev/null 2>&1; then
    apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null \
        || rc=$?
fi
[ -n "$own_policy" ] && rm -f "$policy"
# a service the packages brought must not run: tests start private ones
disable_service() {
    if [ -d /run/systemd/system ]; then
        systemctl disable --now "$1" >/dev/null 2>&1 || true
    else
        update-rc.d "$1" disable >/dev/null 2>&1 || true
    fi
    service "$1" stop >/dev/null 2>&1 || true
}
for svc in dovecot fail2ban; do
    case "$missing" in *"$svc"*) disable_service "$svc";; esac
done
if [ "$rc" != 0 ]; then
    echo "apt-get install failed ($rc):$missing" >&2
    exit "$rc"
fi
make_account
