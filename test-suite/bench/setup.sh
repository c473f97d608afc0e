#!/bin/bash
# setup.sh - prepare the machine for `make bench` (routing part).
#
#   * Exim 4.96 from Debian: the .debs of exim4-daemon-light and exim4-base are
#     fetched with `apt-get download` and unpacked with `dpkg -x` into
#     test-suite/bench/state/exim-root (gitignored). Exim is NEVER apt-installed:
#     it must not become the system MTA. The bench runs it with -C <config>.
#   * Run-time libraries the unpacked exim4 links against (checked with ldd),
#     plus the tools the bench uses: util-linux (unshare, mount), time
#     (/usr/bin/time -f %M), python3.
#   * The Debian-exim user and group (EXIM_USER compiled into Debian's build).
#
# Run as root on Debian 12. Idempotent: a second run does no network access
# unless something is missing. Usage: bash test-suite/bench/setup.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${BENCH_STATE:-$HERE/state}
EXIM_ROOT=$STATE/exim-root
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
