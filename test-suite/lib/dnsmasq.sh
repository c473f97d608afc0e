#!/bin/bash
# dnsmasq.sh - run the test zone (test-suite/zones/test.zone.conf) on
#              127.0.0.1 for the duration of a test run.
#
# USAGE:  bash test-suite/lib/dnsmasq.sh start DIR   prints the UDP/TCP port
#         bash test-suite/lib/dnsmasq.sh stop DIR
# DIR holds dnsmasq.pid and dnsmasq.log (every query is logged there).
# DNSMASQ_CONF overrides the zone file, DNSMASQ the binary.
#
# The port is chosen at random and dnsmasq itself is the test of "free": in
# daemon mode its parent exits non-zero when the bind fails, so we retry on
# another port instead of racing a probe against other test runs.
# As root dnsmasq drops to its default user (nobody) after opening the pid and
# log files; as a normal user it keeps the caller's uid. Servers listen on
# 127.0.0.1 only.
# ERRORS: non-zero exit and a message on stderr.
set -u

here=$(cd "$(dirname "$0")" && pwd)
conf=${DNSMASQ_CONF:-$here/../zones/test.zone.conf}
bin=${DNSMASQ:-/usr/sbin/dnsmasq}

die() { echo "dnsmasq.sh: $*" >&2; exit 1; }

# probe PORT - one A query for smarthost.test; true when any reply comes back
probe() {
    local reply=""
    exec 3<>"/dev/udp/127.0.0.1/$1" || return 1
    # id "te", RD, one question: smarthost.test IN A (NULs must stay in the
    # printf format: a shell string cannot hold them)
    printf '\x74\x65\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'\
'\x09smarthost\x04test\x00\x00\x01\x00\x01' >&3
    IFS= read -r -t 1 -N 2 -d '' reply <&3
    exec 3<&-
    [ "$reply" = "te" ]
}

# launch PORT DIR - start the daemon; its exit status says whether it bound
launch() {
    "$bin" --conf-file="$conf" --no-resolv --no-hosts --port="$1" \
        --listen-address=127.0.0.1 --bind-interfaces \
        --pid-file="$2/dnsmasq.pid" --log-facility="$2/dnsmasq.log" \
        --log-queries 2>>"$2/dnsmasq.err"
}

start() {
    local dir=$1 port try i
    [ -x "$bin" ] || die "$bin not found (install dnsmasq-base)"
    [ -r "$conf" ] || die "cannot read $conf"
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd)
    [ -e "$dir/dnsmasq.pid" ] && kill -0 "$(cat "$dir/dnsmasq.pid")" \
        2>/dev/null && die "already running in $dir"
    for try in $(seq 1 20); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        launch "$port" "$dir" || continue
        for i in $(seq 1 50); do
            if probe "$port"; then
                echo "$port"
                return 0
            fi
            sleep 0.1
        done
        stop "$dir"
        die "dnsmasq on port $port does not answer (see $dir/dnsmasq.log)"
    done
    die "could not start dnsmasq (see $dir/dnsmasq.err)"
}

stop() {
    local dir=$1 pid i
    [ -r "$dir/dnsmasq.pid" ] || return 0
    pid=$(cat "$dir/dnsmasq.pid")
    case $pid in ''|*[!0-9]*) die "bad pid file $dir/dnsmasq.pid" ;; esac
    kill "$pid" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    rm -f "$dir/dnsmasq.pid"
    return 0
}

case ${1:-} in
start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
stop)  [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
*)     die "usage: $0 start|stop DIR" ;;
esac
