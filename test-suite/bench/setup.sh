#!/bin/bash
# setup.sh - prepare the machine for `make bench` (routing and SMTP parts).
#
#   * Exim 4.96 from Debian: the .debs of exim4-daemon-light and exim4-base are
#     fetched with `apt-get download` and unpacked with `dpkg -x` into
#     test-suite/bench/state/exim-root (gitignored). Exim is NEVER apt-installed:
#     it must not become the system MTA. The bench runs it with -C <config>.
#   * Run-time libraries the unpacked exim4 links against (checked with ldd),
#     plus the tools the bench uses: util-linux (unshare, mount), time
#     (/usr/bin/time -f %M), python3.
#   * The Debian-exim user and group (EXIM_USER compiled into Debian's build).
#   * SMTP part (when BENCH_PARTS names smtp or deliver): Postfix 3.7 from Debian,
#     apt-installed for smtp-source and for the private instance the bench
#     runs. A policy-rc.d that forbids starting services is put in place for
#     the install when none exists, so no system Postfix starts on port 25;
#     one that is running anyway is stopped (postfix stop). Also strace (the
#     fsync check), and the mtabench user the peers' delivery settings name.
#
# Run as root on Debian 12. Idempotent: a second run does no network access
# unless something is missing. Usage: bash test-suite/bench/setup.sh
# Environment: BENCH_PARTS ["routing smtp deliver"]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${BENCH_STATE:-$HERE/state}
EXIM_ROOT=$STATE/exim-root
BENCH_PARTS=${BENCH_PARTS:-"routing smtp deliver"}
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }
mkdir -p "$STATE"

apt_updated=0
apt_update_once() {
  [ "$apt_updated" = 1 ] && return 0
  timeout 300 apt-get update -qq
  apt_updated=1
}

# Tools: install only what is missing (dpkg -s is a local query).
need_pkgs=()
for p in util-linux mount time python3 libidn12; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "setup: apt-get install ${need_pkgs[*]}"
  apt_update_once
  timeout 600 apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# SMTP part: Postfix (smtp-source, and the peer itself) and strace.
smtp_part=0
case " $BENCH_PARTS " in *" smtp "*|*" deliver "*) smtp_part=1;; esac
if [ "$smtp_part" = 1 ]; then
  need_pkgs=()
  for p in postfix strace; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
  done
  if [ "${#need_pkgs[@]}" -gt 0 ]; then
    echo "setup: apt-get install ${need_pkgs[*]}"
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    echo "postfix postfix/mailname string bench.local" | debconf-set-selections
    # The maintainer scripts must not start a system Postfix: a policy-rc.d
    # that answers 101 forbids it; put one in only for the install.
    tmp_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d; tmp_policy=1
    fi
    apt_update_once
    rc=0
    timeout 600 apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null || rc=$?
    [ "$tmp_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || { echo "setup: apt-get install ${need_pkgs[*]} failed" >&2; exit 1; }
  fi
  # The bench runs private instances on 127.0.0.1:2530 only: a system
  # Postfix (e.g. on port 25) is stopped.
  if postfix status >/dev/null 2>&1; then
    echo "setup: stopping the system postfix instance"; postfix stop || true
  fi
  getent group mtabench >/dev/null || groupadd --system mtabench
  getent passwd mtabench >/dev/null \
    || useradd --system -g mtabench -d /nonexistent -s /usr/sbin/nologin mtabench
  for t in smtp-source postfix strace; do
    command -v "$t" >/dev/null || { echo "setup: $t missing" >&2; exit 1; }
  done
fi

# Exim: download and unpack, never install.
if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ] || [ ! -x "$EXIM_ROOT/usr/sbin/exim_dbmbuild" ]; then
  echo "setup: unpacking exim4-daemon-light + exim4-base into $EXIM_ROOT"
  rm -rf "$STATE/debs" "$EXIM_ROOT"
  mkdir -p "$STATE/debs" "$EXIM_ROOT"
  if ! ( cd "$STATE/debs" && timeout 300 apt-get download -q -o APT::Sandbox::User=root exim4-daemon-light exim4-base >/dev/null ); then
    apt_update_once
    ( cd "$STATE/debs" && timeout 300 apt-get download -q -o APT::Sandbox::User=root exim4-daemon-light exim4-base >/dev/null )
  fi
  for d in "$STATE"/debs/*.deb; do dpkg -x "$d" "$EXIM_ROOT"; done
fi

# Run-time libraries of the unpacked binaries: for each one ldd cannot find,
# install the package Debian names after the soname (libidn.so.12 -> libidn12).
for bin in "$EXIM_ROOT/usr/sbin/exim4" "$EXIM_ROOT/usr/sbin/exim_dbmbuild"; do
  missing=$(ldd "$bin" | awk '/not found/ {print $1}')
  [ -z "$missing" ] && continue
  pkgs=()
  for so in $missing; do
    # libfoo.so.12 -> libfoo12 ; libfoo-1.2.so.3 -> libfoo-1.2-3
    base=${so%%.so*}; ver=${so##*.so.}; ver=${ver%%.*}
    case $base in *[0-9]) pkgs+=("$base-$ver");; *) pkgs+=("$base$ver");; esac
  done
  echo "setup: $bin needs ${missing//$'\n'/ } -> apt-get install ${pkgs[*]}"
  apt_update_once
  timeout 600 apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
  if ldd "$bin" | grep -q 'not found'; then
    ldd "$bin" | grep 'not found' >&2
    echo "setup: $bin still has unresolved libraries" >&2; exit 1
  fi
done

# Debian's build has EXIM_USER=Debian-exim compiled in: it must exist.
getent group Debian-exim >/dev/null || groupadd --system Debian-exim
getent passwd Debian-exim >/dev/null \
  || useradd --system -g Debian-exim -d /var/spool/exim4 -s /usr/sbin/nologin Debian-exim

for t in unshare mount python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "setup: $t missing" >&2; exit 1; }
done
echo "setup: $("$EXIM_ROOT/usr/sbin/exim4" -C /dev/null -bV 2>/dev/null | head -1)"
if [ "$smtp_part" = 1 ]; then echo "setup: Postfix $(postconf -h mail_version), $(command -v smtp-source)"; fi
