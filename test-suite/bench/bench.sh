#!/bin/bash
# bench.sh - `make bench`: part 1, address routing, tern against Exim 4.96;
# part 2, SMTP (smtp.sh), tern against Postfix 3.7 and Exim 4.96; part 3,
# delivery (deliver.sh): end to end into Maildirs and relaying to smtp-sink.
#
# Usage (as root): bash test-suite/bench/bench.sh BUILD_DIR
#   BUILD_DIR holds tern and tern_dbmbuild (make's $(BUILD), e.g. "build").
#   BENCH_PARTS="routing smtp deliver" (the default) runs setup.sh, then the
#   routing part below, then smtp.sh (see its header: accept throughput
#   with smtp-source, idle-connection memory, tern's fsync check).
#
# Routing: both MTAs route the same addresses, each in ONE process reading all of them
# on stdin (`-bt`), and the bench prints addresses/second, the ratio and
# tern's peak RSS:
#   (a) 100,000 addresses of local.bench, half aliases (redirect through a
#       100,000-entry DBM alias map), half direct users (virtual user table).
#       Target: tern >= 3x Exim, tern peak RSS < 64 MiB.
#   (b) 10,000 remote addresses over 1,000 domains. DNS comes from
#       dns_responder.py on 127.0.0.153:53, which answers every query after
#       5 ms. Exim uses the system resolver, so it runs under `unshare -m`
#       with a bind-mounted resolv.conf that names the responder (the host's
#       /etc/resolv.conf is never touched). Target: tern >= 10x Exim.
# Exim is Debian's exim4-daemon-light, unpacked by setup.sh with dpkg -x and
# run with -C; it is never installed as the system MTA.
#
# Every output is checked against the routing gen_routing.py says each
# address must get (check_bt.py). Exit status: 0 when everything ran and
# every output (and every SMTP spool count) was right, even if a target was
# MISSED; non-zero when something failed to run or an output was wrong.
#
# At the end it prints the target table of issue 10 that the SMTP and
# delivery parts wrote (state/smtp/targets.txt, state/deliver/targets.txt),
# one ok/MISSED per line.
#
# Environment (defaults in brackets):
#   BENCH_PARTS ["routing smtp deliver"]  (smtp.sh and deliver.sh list their knobs)
#   BENCH_QUICK [0]  1: short runs for development (2 runs of >= 2 s in the
#     SMTP and delivery parts, a 10 s soak, 1 routing run per side and mix)
#   BENCH_SIDES ["tern exim"]  BENCH_MIXES ["a b"]  BENCH_SKIP_SETUP [0]
#   TERN_RUNS [3]  EXIM_A_RUNS [3]  EXIM_B_RUNS [1]  (medians are reported)
#   DNS_LISTEN [127.0.0.153:53]  DNS_DELAY_MS [5]  IP_PREFIX [198.51.100]
#   RUN_TIMEOUT [240] seconds per routing run
# Scratch files (data, configs, outputs) stay in test-suite/bench/state/routing
# until the next run; the summary also goes to test-suite/bench/results/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_ARG=$1
STATE=$HERE/state
WORK=$STATE/routing
RESULTS=$HERE/results
EXIM_ROOT=$STATE/exim-root
EXIM=$EXIM_ROOT/usr/sbin/exim4
EXIM_DBMBUILD=$EXIM_ROOT/usr/sbin/exim_dbmbuild

BENCH_PARTS=${BENCH_PARTS:-"routing smtp deliver"}
export BENCH_PARTS  # setup.sh installs what the chosen parts need
BENCH_SIDES=${BENCH_SIDES:-"tern exim"}
BENCH_MIXES=${BENCH_MIXES:-"a b"}
if [ "${BENCH_QUICK:-0}" = 1 ]; then TERN_RUNS=${TERN_RUNS:-1}; EXIM_A_RUNS=${EXIM_A_RUNS:-1}; fi
TERN_RUNS=${TERN_RUNS:-3}
EXIM_A_RUNS=${EXIM_A_RUNS:-3}
EXIM_B_RUNS=${EXIM_B_RUNS:-1}
DNS_LISTEN=${DNS_LISTEN:-127.0.0.153:53}
DNS_DELAY_MS=${DNS_DELAY_MS:-5}
IP_PREFIX=${IP_PREFIX:-198.51.100}
RUN_TIMEOUT=${RUN_TIMEOUT:-240}

N_A=100000          # mix (a) addresses (and alias map / user table size)
N_B=10000           # mix (b) addresses
N_DOMAINS=1000
TARGET_A=3          # tern/Exim ratio targets
TARGET_B=10
RSS_LIMIT_KIB=$((64 * 1024))

FAILURES=()         # what failed to run or gave a wrong output
DNS_PID=

log()  { echo "[$(date +%T)] $*" >&2; }
fail() { log "ERROR: $*"; FAILURES+=("$*"); }
die()  { echo "bench: $*" >&2; exit 1; }
has()  { case " $1 " in *" $2 "*) return 0;; esac; return 1; }

cleanup() {
  if [ -n "$DNS_PID" ] && kill -0 "$DNS_PID" 2>/dev/null; then
    kill -TERM "$DNS_PID" 2>/dev/null || true
    wait "$DNS_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- checks
preflight() {
  [ "$(id -u)" = 0 ] || die "run as root (setup installs packages; Exim runs with -C; the responder binds port 53)"
  if [ "${BENCH_SKIP_SETUP:-0}" != 1 ]; then
    timeout 900 bash "$HERE/setup.sh" || die "setup.sh failed"
  fi
  has "$BENCH_PARTS" routing || return 0
  if has "$BENCH_SIDES" tern; then
    [ -d "$BUILD_ARG" ] || die "build directory $BUILD_ARG missing (run make all)"
    BUILD=$(cd "$BUILD_ARG" && pwd)
    TERN=$BUILD/tern
    TERN_DBMBUILD=$BUILD/tern_dbmbuild
    [ -x "$TERN" ] && [ -x "$TERN_DBMBUILD" ] \
      || die "$TERN or $TERN_DBMBUILD missing (run make all; BENCH_SIDES=exim measures Exim alone)"
  fi
  if has "$BENCH_SIDES" exim; then
    [ -x "$EXIM" ] && [ -x "$EXIM_DBMBUILD" ] || die "Exim not unpacked in $EXIM_ROOT: run setup.sh"
  fi
  case $DNS_LISTEN in 127.*:*) ;; *) die "DNS_LISTEN must be 127.x.x.x:PORT";; esac
  # An MX address that is one of ours makes Exim defer ("MX points to local host").
  local addrs=""
  command -v ip >/dev/null && addrs=$(ip -o -4 addr show)
  case $addrs in *" inet $IP_PREFIX."*)
    die "a local interface has an address in $IP_PREFIX.0/24: set IP_PREFIX to an unused /24";;
  esac
  case $WORK in *[\"\\\ ]*) die "work path $WORK must not contain quotes, backslashes or spaces";; esac
}

# ---------------------------------------------------------------- data + configs
prepare_data() {
  rm -rf "$WORK"
  mkdir -p "$WORK/data" "$WORK/out" "$WORK/exim-spool" "$WORK/exim-log" "$WORK/tern-spool"
  chmod 755 "$STATE" "$WORK" "$WORK/data"      # Exim may drop to Debian-exim for -bt
  chown Debian-exim:Debian-exim "$WORK/exim-spool" "$WORK/exim-log"
  log "generating data in $WORK/data"
  timeout 120 python3 "$HERE/gen_routing.py" "$WORK/data" --users $N_A --aliases $N_A \
    --local $N_A --domains $N_DOMAINS --per-domain $((N_B / N_DOMAINS)) \
    --home-base "$WORK/home" --ip-prefix "$IP_PREFIX"
  chmod 644 "$WORK"/data/*
}

build_dbs() {  # the same lsearch sources, each MTA's own DBM builder
  local t0
  if has "$BENCH_SIDES" exim; then
    t0=$EPOCHREALTIME
    timeout 120 "$EXIM_DBMBUILD" "$WORK/data/aliases.lsearch" "$WORK/data/aliases.exim.db" >/dev/null
    timeout 120 "$EXIM_DBMBUILD" "$WORK/data/users.lsearch" "$WORK/data/users.exim.db" >/dev/null
    log "exim_dbmbuild: 2 x $N_A entries in $(secs_since "$t0") s"
  fi
  if has "$BENCH_SIDES" tern; then
    t0=$EPOCHREALTIME
    timeout 120 "$TERN_DBMBUILD" "$WORK/data/aliases.lsearch" "$WORK/data/aliases.tern.db" >/dev/null
    timeout 120 "$TERN_DBMBUILD" "$WORK/data/users.lsearch" "$WORK/data/users.tern.db" >/dev/null
    log "tern_dbmbuild: 2 x $N_A entries in $(secs_since "$t0") s"
  fi
  chmod 644 "$WORK"/data/*
}

write_exim_conf() {
  sed -e "s|@WORK@|$WORK|g" \
      -e "s|@ALIASDB@|$WORK/data/aliases.exim.db|g" \
      -e "s|@USERSDB@|$WORK/data/users.exim.db|g" \
      "$HERE/exim-route.conf.in" > "$WORK/exim-route.conf"
  chmod 644 "$WORK/exim-route.conf"
  # resolv.conf that Exim sees inside its mount namespace
  printf 'nameserver %s\noptions attempts:2 timeout:2\n' "${DNS_LISTEN%:*}" > "$WORK/resolv.conf"
  chmod 644 "$WORK/resolv.conf"
  [ "${DNS_LISTEN##*:}" = 53 ] || log "WARNING: the system resolver (Exim) only talks to port 53"
}

write_tern_conf() {  # conf.d layout, DESIGN.md section 4
  local c=$WORK/tern-route
  mkdir -p "$c/main" "$c/router" "$c/transport"
  cat > "$c/main/00_main.lua" <<EOF
-- generated by test-suite/bench/bench.sh
main { primary_hostname = "bench.local", local_domains = { "local.bench" }, dns_servers = "$DNS_LISTEN", spool_directory = "$WORK/tern-spool" }
EOF
  cat > "$c/router/100_dnslookup.lua" <<'EOF'
router "dnslookup" { driver = "dnslookup", domains = "! +local_domains", transport = "remote_smtp", no_more = true }
EOF
  cat > "$c/router/200_aliases.lua" <<EOF
router "aliases" { driver = "redirect", domains = "+local_domains", lookup = "dbm;$WORK/data/aliases.tern.db" }
EOF
  cat > "$c/router/300_users.lua" <<EOF
router "users" { driver = "local_user", domains = "+local_domains", users = "dbm;$WORK/data/users.tern.db", transport = "local_maildir" }
EOF
  cat > "$c/transport/10_transports.lua" <<'EOF'
transport "remote_smtp" { driver = "smtp" }
transport "local_maildir" { driver = "maildir", directory = "${home}/Maildir" }
EOF
}

# ---------------------------------------------------------------- DNS responder
dns_start() {  # STATSFILE
  local stats=$1 i
  rm -f "$stats"
  timeout -k 5 600 python3 "$HERE/dns_responder.py" --listen "$DNS_LISTEN" \
    --delay-ms "$DNS_DELAY_MS" --ip-prefix "$IP_PREFIX" --stats "$stats" 2>"$stats.err" &
  DNS_PID=$!
  for ((i = 0; i < 100; i++)); do
    [ -s "$stats" ] && return 0
    kill -0 "$DNS_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$stats.err" >&2
  die "DNS responder did not start on $DNS_LISTEN"
}

# Not in a $(...) subshell: there `wait` does not know the responder, returns
# at once, and the counts were read before its last write (0 queries).
dns_stop() {  # STATSFILE -> sets DNS_COUNTS="QUERIES DROPS"
  local stats=$1
  kill -TERM "$DNS_PID" 2>/dev/null || true
  wait "$DNS_PID" 2>/dev/null || true
  DNS_PID=
  DNS_COUNTS=$(awk -F= '$1=="queries"{q=$2} $1=="drops"{d=$2} END{print q+0, d+0}' "$stats")
}

# ---------------------------------------------------------------- timing helpers
commas() { sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1,\2\3/' -e 'ta'; }
# system-wide count of UDP datagrams dropped for a full receive buffer: a
# client that fires all its queries at once can lose the burst of replies
udp_rcvbuf_errors() { awk '$1=="Udp:" && $2 ~ /^[0-9]+$/ {print $6; exit}' /proc/net/snmp; }
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.4f", b-a}'; }
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{v[NR]=$1} END{if (NR==0) print "NA"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
maxof()  { tr ' ' '\n' | awk 'NF' | sort -g | awk 'END{print (NR ? $1 : "NA")}'; }

# run_route TAG INPUT -- CMD... : one -bt run of CMD with INPUT on stdin.
# Output in $WORK/out/TAG.{out,err}; sets RUN_SECS and RUN_RSS_KIB (peak RSS
# of the routing process, from /usr/bin/time %M); returns CMD's status.
run_route() {
  local tag=$1 input=$2 rc=0 t0; shift 3
  local out=$WORK/out/$tag
  t0=$EPOCHREALTIME
  timeout -k 5 "$RUN_TIMEOUT" /usr/bin/time -o "$out.time" -f '%M' "$@" \
    < "$input" > "$out.out" 2> "$out.err" || rc=$?
  RUN_SECS=$(secs_since "$t0")
  RUN_RSS_KIB=$(tail -1 "$out.time" 2>/dev/null | grep -E '^[0-9]+$' || echo NA)
  return $rc
}

# check_run TAG MIX : the output of run TAG must give exactly the expected routing
check_run() {
  local tag=$1 mix=$2 pat n
  if [ "$mix" = a ]; then pat="router = users"; n=$N_A; else pat="host mx.d"; n=$N_B; fi
  timeout 120 python3 "$HERE/check_bt.py" "$tag" "$WORK/data/expect-$mix.txt" \
    "$WORK/out/$tag.out" --count "$pat" "$n" >&2
}

# bench_side SIDE MIX RUNS : route mix MIX RUNS times; records R_<side>_<mix>_{secs,rss,dns}
bench_side() {
  local side=$1 mix=$2 runs=$3 r tag rc secs=() rss=() dns=() q rcvbuf0
  local input=$WORK/data/addrs-$mix.txt
  for ((r = 1; r <= runs; r++)); do
    tag=$side-$mix-$r
    q="" rcvbuf0=0
    if [ "$mix" = b ]; then dns_start "$WORK/out/$tag.dns"; rcvbuf0=$(udp_rcvbuf_errors); fi
    rc=0
    case $side in
      tern) run_route "$tag" "$input" -- "$TERN" -C "$WORK/tern-route" -bt || rc=$?;;
      exim)
        if [ "$mix" = a ]; then
          run_route "$tag" "$input" -- "$EXIM" -C "$WORK/exim-route.conf" -bt || rc=$?
        else
          run_route "$tag" "$input" -- unshare -m sh -c \
            'mount --bind "$1" /etc/resolv.conf && exec "$2" -C "$3" -bt' \
            sh "$WORK/resolv.conf" "$EXIM" "$WORK/exim-route.conf" || rc=$?
        fi;;
    esac
    if [ "$mix" = b ]; then
      dns_stop "$WORK/out/$tag.dns"; q=$DNS_COUNTS
      q="$q $(( $(udp_rcvbuf_errors) - rcvbuf0 ))"
      dns+=("$(echo "$q" | tr ' ' /)")
    fi
    log "$tag: ${RUN_SECS} s, peak RSS ${RUN_RSS_KIB} KiB, exit $rc${q:+, DNS queries/responder drops/all UDP rcvbuf drops $q}"
    if [ "$rc" != 0 ]; then
      fail "$tag exited with status $rc (stderr: $WORK/out/$tag.err)"
      tail -5 "$WORK/out/$tag.err" | sed 's/^/    /' >&2
      return 0
    fi
    check_run "$tag" "$mix" || { fail "$tag: wrong -bt output (see above; $WORK/out/$tag.out)"; return 0; }
    secs+=("$RUN_SECS"); rss+=("$RUN_RSS_KIB")
  done
  printf -v "R_${side}_${mix}_secs" '%s' "$(echo "${secs[*]}" | median)"
  printf -v "R_${side}_${mix}_allsecs" '%s' "${secs[*]}"
  printf -v "R_${side}_${mix}_rss" '%s' "$(echo "${rss[*]}" | maxof)"
  printf -v "R_${side}_${mix}_dns" '%s' "${dns[*]:-}"
}

# ---------------------------------------------------------------- report
rate() {  # N SECS -> addresses/second
  awk -v n="$1" -v s="${2:-NA}" 'BEGIN{ if (s == "NA" || s == "" || s <= 0) print "NA"; else printf "%.0f", n/s }'
}

report() {
  local mix n desc target tr er ratio verdict rss rssv t e
  printf '\nrouting bench: tern (%s) vs Exim 4.96 (Debian, dpkg -x, -C); one process per run, addresses on stdin\n' "${BUILD:-not run}"
  printf 'medians of %s tern runs, %s/%s Exim runs (a/b); DNS: %s ms per answer from %s\n\n' \
    "$TERN_RUNS" "$EXIM_A_RUNS" "$EXIM_B_RUNS" "$DNS_DELAY_MS" "$DNS_LISTEN"
  printf '%-44s %12s %12s %8s  %-16s %s\n' mix "tern addr/s" "exim addr/s" ratio target "tern peak RSS"
  for mix in $BENCH_MIXES; do
    if [ "$mix" = a ]; then n=$N_A; desc="(a) $N_A local+aliased, DBM maps"; target=$TARGET_A
    else n=$N_B; desc="(b) $N_B remote, $N_DOMAINS domains, 5 ms DNS"; target=$TARGET_B; fi
    desc=$(echo "$desc" | commas)
    t=R_tern_${mix}_secs; e=R_exim_${mix}_secs
    tr=$(rate "$n" "${!t:-NA}"); er=$(rate "$n" "${!e:-NA}")
    ratio=NA; verdict=""
    if [ "$tr" != NA ] && [ "$er" != NA ]; then
      ratio=$(awk -v a="${!e}" -v b="${!t}" 'BEGIN{printf "%.2f", a/b}')
      verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN{print (r >= t) ? "ok" : "MISSED"}')
    fi
    rss=R_tern_${mix}_rss; rssv=${!rss:-NA}
    if [ "$rssv" != NA ]; then
      local mib; mib=$(awk -v k="$rssv" 'BEGIN{printf "%.1f MiB", k/1024}')
      if [ "$mix" = a ]; then
        if [ "$rssv" -lt "$RSS_LIMIT_KIB" ]; then mib="$mib (< 64 MiB ok)"; else mib="$mib (< 64 MiB MISSED)"; fi
      fi
      rssv=$mib
    fi
    printf '%-44s %12s %12s %8s  %-16s %s\n' "$desc" "$(echo "$tr" | commas)" "$(echo "$er" | commas)" \
      "$ratio" ">= ${target}x $verdict" "$rssv"
  done
  echo
  for mix in $BENCH_MIXES; do
    for side in tern exim; do
      has "$BENCH_SIDES" "$side" || continue
      local s=R_${side}_${mix}_allsecs r=R_${side}_${mix}_rss d=R_${side}_${mix}_dns
      [ -n "${!s:-}" ] || continue
      printf '  %s (%s): run times %s s; peak RSS %s KiB' "$side" "$mix" "${!s}" "${!r:-NA}"
      if [ "$mix" = b ]; then printf '; DNS queries/responder drops/all UDP rcvbuf drops per run: %s' "${!d:-NA}"; fi
      echo
    done
  done
}

# ---------------------------------------------------------------- main
routing_part() {
  prepare_data
  build_dbs
  write_exim_conf
  write_tern_conf
  for mix in $BENCH_MIXES; do
    if has "$BENCH_SIDES" tern; then bench_side tern "$mix" "$TERN_RUNS"; fi
    if has "$BENCH_SIDES" exim; then
      if [ "$mix" = a ]; then bench_side exim a "$EXIM_A_RUNS"; else bench_side exim b "$EXIM_B_RUNS"; fi
    fi
  done

  mkdir -p "$RESULTS"
  summary=$RESULTS/routing-$(date +%Y%m%d-%H%M%S).txt
  report | tee "$summary"
  echo "(summary: $summary; data, configs and outputs: $WORK)"
}

preflight
status=0
rm -f "$STATE/smtp/targets.txt" "$STATE/deliver/targets.txt"
if has "$BENCH_PARTS" routing; then
  routing_part
  if [ "${#FAILURES[@]}" -gt 0 ]; then
    printf '\nFAILED (routing):\n' >&2
    printf '  %s\n' "${FAILURES[@]}" >&2
    status=1
  fi
fi
if has "$BENCH_PARTS" smtp; then
  BENCH_SKIP_SETUP=1 bash "$HERE/smtp.sh" "$BUILD_ARG" || status=1
fi
if has "$BENCH_PARTS" deliver; then
  BENCH_SKIP_SETUP=1 bash "$HERE/deliver.sh" "$BUILD_ARG" || status=1
fi
if [ -s "$STATE/smtp/targets.txt" ] || [ -s "$STATE/deliver/targets.txt" ]; then
  mkdir -p "$RESULTS"
  summary=$RESULTS/targets-$(date +%Y%m%d-%H%M%S).txt
  {
    printf '
issue 10 targets (ratios of medians from this run; "NA": a figure is missing):
'
    cat "$STATE/smtp/targets.txt" "$STATE/deliver/targets.txt" 2>/dev/null | sed 's/^/  /'
  } | tee "$summary"
fi
exit $status
