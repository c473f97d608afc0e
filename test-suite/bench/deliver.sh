#!/bin/bash
# deliver.sh - `make bench`, part 3: delivery throughput, tern against
# Postfix 3.7 and Exim 4.96, each accepting by SMTP and delivering.
#
# Usage (as root): bash test-suite/bench/deliver.sh BUILD_DIR
#   (bench.sh runs it after the SMTP part; BENCH_PARTS chooses.)
#
# Load as in smtp.sh and the reference harness (shared/bench-peers, e2e):
#   smtp-source -d -s 20 -m N -l SIZE -f bench@bench.test \
#     -t rcpt@bench.test -M client.bench.local 127.0.0.1:PORT
# Loads:
#   e2e1k    1 KiB x 3000 messages, delivered into one local Maildir
#   e2e100k  100 KiB x 1000 messages, the same
#   relay    1 KiB x 3000 messages, each relayed by SMTP to Postfix's
#            smtp-sink on 127.0.0.1:2525 (smtp-sink -c: it counts the
#            messages it received and writes nothing to disk)
# Throughput = N / (time from the start of the load until the last file
# is in Maildir/new, or until the sink has counted N messages), polled
# every 0.05 s. Each run has a fresh instance, spool and Maildir (or
# sink), `sync; sleep 2` before it. After the last one arrived the count
# is taken again 0.5 s later: it must be exactly N (every message
# delivered once), or the run is a failure.
#   tern     conf.d with queue_only = false, a local_user router with a
#            virtual user table (lsearch: rcpt -> home) and the maildir
#            transport as user mtabench; relay: a manualroute router to
#            127.0.0.1 and the smtp transport on port 2525. Port 2540.
#   Postfix  postfix-main.cf.in without the hold restriction: virtual(8)
#            into the Maildir as mtabench; relay: relayhost =
#            [127.0.0.1]:2525 instead of the virtual domain. Port 2530.
#   Exim     exim-accept.conf.in with queue_only = false and -q1m (the
#            reference's delivery mode: appendfile maildir_format as
#            mtabench); relay: exim-relay.conf.in. Port 2535.
# All fsync the message before 250 and the Maildir file before it counts
# as delivered. tern's order is checked with strace on a small run
# (check_deliver_fsync.py): every spool file is removed only after its
# Maildir file was fsynced and renamed into new/.
# Targets: tern >= 2x Postfix on every load. A missed target prints
# MISSED; the exit status is non-zero only when something failed to run
# or a count was wrong.
#
# Environment (defaults in brackets):
#   DLV_MTAS ["tern postfix exim"]  DLV_LOADS ["e2e1k e2e100k relay"]
#   DLV_RUNS [3] (medians)  DLV_SESSIONS [20]
#   DLV_N_1K [3000]  DLV_N_100K [1000]  DLV_N_RELAY [3000]
#   DLV_TIMEOUT [180] seconds per run  DLV_TRACE [1] (tern's fsync order)
#   BENCH_SKIP_SETUP [0]
# Configs, logs and outputs stay in test-suite/bench/state/deliver until
# the next run (spools and Maildirs are removed at the end); the summary
# also goes to test-suite/bench/results/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_ARG=$1
STATE=$HERE/state
WORK=$STATE/deliver
RESULTS=$HERE/results
EXIM=$STATE/exim-root/usr/sbin/exim4
MEM="python3 $HERE/smtp_mem.py"

DLV_MTAS=${DLV_MTAS:-"tern postfix exim"}
DLV_LOADS=${DLV_LOADS:-"e2e1k e2e100k relay"}
DLV_RUNS=${DLV_RUNS:-3}
SESSIONS=${DLV_SESSIONS:-20}
N_1K=${DLV_N_1K:-3000}
N_100K=${DLV_N_100K:-1000}
N_RELAY=${DLV_N_RELAY:-3000}
DLV_TIMEOUT=${DLV_TIMEOUT:-180}
DLV_TRACE=${DLV_TRACE:-1}
TRACE_N=100
SINK_PORT=2525
TARGET=2            # tern >= 2x Postfix

FAILURES=()
NOTES=()
STARTED=()
EXIM_TRUSTED=/etc/exim4/trusted_configs
EXIM_TRUSTED_CREATED=0

log()  { echo "[$(date +%T)] $*" >&2; }
fail() { log "ERROR: $*"; FAILURES+=("$*"); }
note() { log "NOTE: $*"; NOTES+=("$*"); }
die()  { echo "bench deliver: $*" >&2; exit 1; }
has()  { case " $1 " in *" $2 "*) return 0;; esac; return 1; }
port_of() { case $1 in postfix) echo 2530;; exim) echo 2535;; tern) echo 2540;; esac; }

# ---------------------------------------------------------------- processes
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

stop_tree() {  # PID: TERM it, wait up to 5 s, then KILL what is left of its tree
  local root=$1 pids p i
  pids=$($MEM pids "tree:$root")
  [ -n "$pids" ] || return 0
  kill -TERM "$root" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$root" || break; sleep 0.1; done
  for p in $pids; do alive "$p" && { kill -KILL "$p" 2>/dev/null || true; }; done
  wait "$root" 2>/dev/null || true
  local keep=(); for p in "${STARTED[@]}"; do [ "$p" = "$root" ] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}

wait_port() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

exim_untrust_all() {
  [ -e "$EXIM_TRUSTED" ] || return 0
  if [ "$EXIM_TRUSTED_CREATED" = 1 ]; then
    rm -f "$EXIM_TRUSTED"; rmdir "$(dirname "$EXIM_TRUSTED")" 2>/dev/null || true
  else
    grep -vF "$WORK/" "$EXIM_TRUSTED" > "$EXIM_TRUSTED.new" || true
    cat "$EXIM_TRUSTED.new" > "$EXIM_TRUSTED"; rm -f "$EXIM_TRUSTED.new"
  fi
}

cleanup() {
  local p
  for p in "${STARTED[@]}"; do alive "$p" && stop_tree "$p"; done
  exim_untrust_all
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the sink
start_sink() {  # DIR: smtp-sink -c on SINK_PORT, counting into DIR/sink.out
  local dir=$1
  port_free "$SINK_PORT" || { fail "port $SINK_PORT is busy: no smtp-sink"; return 1; }
  smtp-sink -c -u nobody "127.0.0.1:$SINK_PORT" 512 > "$dir/sink.out" 2> "$dir/sink.err" &
  echo $! > "$dir/sink.pid"; STARTED+=($!)
  wait_port "$SINK_PORT" 10
}
count_sink() {  # DIR: messages the sink received ("mesg=N" of its last counter line)
  tail -c 200 "$1/sink.out" 2>/dev/null | tr '\r' '\n' | awk -F'mesg=' 'NF > 1 {n = $2 + 0} END {print n + 0}'
}
stop_sink() { [ -s "$1/sink.pid" ] && stop_tree "$(cat "$1/sink.pid")"; return 0; }

# ---------------------------------------------------------------- MTA drivers
# start_NAME DIR PORT MODE (MODE e2e or relay; records DIR/pid)

mail_dir() {  # DIR: the Maildir everyone delivers into, owned by mtabench
  mkdir -p "$1/mail/Maildir"/{tmp,new,cur}
  chown -R mtabench:mtabench "$1/mail"
}

start_tern() {
  local dir=$1 port=$2 mode=$3 c=$1/conf
  mkdir -p "$c/main" "$c/router" "$c/transport" "$dir/spool" "$dir/log"
  cat > "$c/main/00_main.lua" <<EOT
-- generated by test-suite/bench/deliver.sh ($mode)
main { primary_hostname = "bench.local", local_domains = { "bench.test" }, relay_from_hosts = { "127.0.0.1" }, local_interfaces = { "127.0.0.1" }, spool_directory = "$dir/spool", log_file_path = "$dir/log/%slog", queue_only = false, recipients_max = 1000, smtp_accept_max = 5000, message_size_limit = "200M" }
EOT
  if [ "$mode" = e2e ]; then
    mail_dir "$dir"
    echo "rcpt: home=$dir/mail" > "$dir/users"
    cat > "$c/router/100_users.lua" <<EOT
router "users" { driver = "local_user", domains = "+local_domains", users = "lsearch;$dir/users", transport = "local_maildir" }
EOT
    cat > "$c/transport/10_maildir.lua" <<'EOT'
transport "local_maildir" { driver = "maildir", directory = "${home}/Maildir", user = "mtabench" }
EOT
  else
    cat > "$c/router/100_sink.lua" <<EOT
router "sink" { driver = "manualroute", route_list = "* 127.0.0.1", self = "send", transport = "to_sink" }
EOT
    cat > "$c/transport/10_sink.lua" <<EOT
transport "to_sink" { driver = "smtp", port = $SINK_PORT }
EOT
  fi
  "$TERN" -C "$c" -bdf -oX "$port" > "$dir/tern.out" 2>&1 &
  echo $! > "$dir/pid"; STARTED+=($!)
  wait_port "$port" 20
}

start_postfix() {
  local dir=$1 port=$2 mode=$3 i pid
  mkdir -p "$dir/etc" "$dir/spool" "$dir/data" "$dir/log"
  chown postfix "$dir/data"
  mail_dir "$dir"
  sed -e "s|@DIR@|$dir|g" -e "s|@UID@|$(id -u mtabench)|g" -e "s|@GID@|$(id -g mtabench)|g" \
    -e '/^smtpd_end_of_data_restrictions/d' "$HERE/postfix-main.cf.in" > "$dir/etc/main.cf"
  if [ "$mode" = relay ]; then
    sed -i -e '/^virtual_/d' "$dir/etc/main.cf"
    echo "relayhost = [127.0.0.1]:$SINK_PORT" >> "$dir/etc/main.cf"
  fi
  awk -v port="$port" '
    /^#/ || /^[ \t]/ || NF < 8 { print; next }
    $1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
    { $5 = "n"; print }' /etc/postfix/master.cf | sed '/^submission\|^smtps\|^#/d' > "$dir/etc/master.cf"
  script -qec "postfix -c $dir/etc check" /dev/null >> "$dir/log/start.log" 2>&1 || true
  if ! script -qec "postfix -c $dir/etc start" /dev/null >> "$dir/log/start.log" 2>&1; then
    sed 's/^/    /' "$dir/log/start.log" >&2; return 1
  fi
  for ((i = 0; i < 50; i++)); do [ -s "$dir/spool/pid/master.pid" ] && break; sleep 0.1; done
  pid=$(tr -d ' \n' < "$dir/spool/pid/master.pid")
  echo "$pid" > "$dir/pid"; STARTED+=("$pid")
  wait_port "$port" 20
}

start_exim() {
  local dir=$1 port=$2 mode=$3 i
  mkdir -p "$dir/spool" "$dir/log"
  chown -R Debian-exim:Debian-exim "$dir/spool" "$dir/log"
  for ((i = 0; i < 100; i++)); do echo "alias$i: user$i@bench.test"; done > "$dir/aliases"
  if [ "$mode" = e2e ]; then
    mail_dir "$dir"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@EXIM@|$EXIM|g" \
      -e 's/^queue_only = true$/queue_only = false/' "$HERE/exim-accept.conf.in" > "$dir/exim.conf"
    grep -q '^queue_only = false$' "$dir/exim.conf" || { fail "exim-accept.conf.in: no queue_only line"; return 1; }
  else
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@EXIM@|$EXIM|g" -e "s|@SINK@|$SINK_PORT|g" \
      "$HERE/exim-relay.conf.in" > "$dir/exim.conf"
  fi
  chmod 644 "$dir/exim.conf" "$dir/aliases"
  if [ ! -e "$EXIM_TRUSTED" ]; then
    mkdir -p "$(dirname "$EXIM_TRUSTED")"; : > "$EXIM_TRUSTED"; EXIM_TRUSTED_CREATED=1
  fi
  chmod 644 "$EXIM_TRUSTED"; chown root:root "$EXIM_TRUSTED"
  echo "$dir/exim.conf" >> "$EXIM_TRUSTED"
  "$EXIM" -C "$dir/exim.conf" -bdf -q1m >> "$dir/log/start.log" 2>&1 &
  echo $! > "$dir/pid"; STARTED+=($!)
  wait_port "$port" 20
}

start_mta() {  # MTA DIR MODE
  local mta=$1 dir=$2 port; port=$(port_of "$1")
  port_free "$port" || { fail "port $port is busy: $mta not started"; return 1; }
  rm -rf "$dir"; mkdir -p "$dir"; chmod 755 "$dir"
  "start_$mta" "$dir" "$port" "$3" || { fail "$mta did not start in $dir"; stop_mta "$dir"; return 1; }
}
stop_mta() { [ -s "$1/pid" ] && stop_tree "$(cat "$1/pid")"; return 0; }

count_maildir() { find "$1/mail/Maildir/new" -type f 2>/dev/null | wc -l; }
count_tern_spool() {
  { find "$1/spool/input" -mindepth 2 -maxdepth 2 -type f -regextype posix-extended \
      -regex '.*/[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}' 2>/dev/null || true; } | wc -l
}

tern_complaints() {  # DIR TAG
  local f
  for f in "$1/log/paniclog" "$1/log/rejectlog" "$1/tern.out"; do
    [ -s "$f" ] || continue
    note "$2: $(basename "$f") is not empty: $(head -c 300 "$f" | head -2 | tr '\n' ' ')"
  done
  [ -z "$(ls -A "$1/spool/corrupt" 2>/dev/null)" ] || note "$2: files in spool/corrupt"
  return 0
}

# ---------------------------------------------------------------- helpers
commas() { sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1,\2\3/' -e 'ta'; }
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.4f", b-a}'; }
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{v[NR]=$1} END{if (NR==0) print "NA"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
rate() { awk -v n="$1" -v s="${2:-NA}" 'BEGIN{ if (s == "NA" || s == "" || s <= 0) print "NA"; else printf "%.0f", n/s }'; }
settle() { sync; sleep 2; }
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5, $6}' /proc/stat; }
cpu_pct() { echo "$1 $2" | awk '{b=$4-$1; i=$5-$2; w=$6-$3; t=b+i+w; if (t<=0) t=1; printf "cpu %.0f%% busy, %.0f%% iowait", 100*b/t, 100*w/t}'; }

load_n() { case $1 in e2e1k) echo "$N_1K";; e2e100k) echo "$N_100K";; relay) echo "$N_RELAY";; esac; }
load_size() { case $1 in e2e100k) echo 102400;; *) echo 1024;; esac; }
load_mode() { case $1 in relay) echo relay;; *) echo e2e;; esac; }
load_desc() { case $1 in e2e1k) echo "e2e Maildir, 1 KiB";; e2e100k) echo "e2e Maildir, 100 KiB";; relay) echo "relay to smtp-sink, 1 KiB";; esac; }

# ---------------------------------------------------------------- checks
preflight() {
  [ "$(id -u)" = 0 ] || die "run as root (Postfix and Exim instances, deliveries as mtabench)"
  if [ "${BENCH_SKIP_SETUP:-0}" != 1 ]; then
    BENCH_PARTS=smtp timeout 900 bash "$HERE/setup.sh" || die "setup.sh failed"
  fi
  command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null || die "smtp-source/smtp-sink missing: run setup.sh"
  getent passwd mtabench >/dev/null || die "user mtabench missing: run setup.sh"
  if has "$DLV_MTAS" tern; then
    [ -d "$BUILD_ARG" ] || die "build directory $BUILD_ARG missing (run make all)"
    BUILD=$(cd "$BUILD_ARG" && pwd)
    TERN=$BUILD/tern
    [ -x "$TERN" ] || die "$TERN missing (run make all)"
  fi
  if has "$DLV_MTAS" postfix; then
    command -v postfix >/dev/null && [ -r /etc/postfix/master.cf ] || die "Postfix missing: run setup.sh"
  fi
  if has "$DLV_MTAS" exim; then
    [ -x "$EXIM" ] || die "Exim not unpacked in $STATE/exim-root: run setup.sh"
  fi
  if [ "$DLV_TRACE" = 1 ] && has "$DLV_MTAS" tern; then
    command -v strace >/dev/null || die "strace missing: run setup.sh (or DLV_TRACE=0)"
  fi
  local m; for m in $DLV_MTAS; do
    port_free "$(port_of "$m")" || die "port $(port_of "$m") ($m) is busy"
  done
  port_free "$SINK_PORT" || die "port $SINK_PORT (smtp-sink) is busy"
  case $WORK in *[\"\\\ \|]*) die "work path $WORK must not contain quotes, backslashes, bars or spaces";; esac
  rm -rf "$WORK"
  mkdir -p "$WORK/runs" "$WORK/trace"
  chmod 755 "$STATE" "$WORK" "$WORK/runs" "$WORK/trace"
}

# ---------------------------------------------------------------- throughput
declare -A SECS=()     # "mta:load" -> run times (s)

# wait_count DIR MODE N: poll until N arrived or DLV_TIMEOUT; echoes the count
wait_count() {
  local dir=$1 mode=$2 n=$3 t0=$4 got=0
  while :; do
    if [ "$mode" = relay ]; then got=$(count_sink "$dir"); else got=$(count_maildir "$dir"); fi
    [ "$got" -ge "$n" ] && break
    awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$DLV_TIMEOUT" 'BEGIN{exit !(b - a > m)}' && break
    sleep 0.05
  done
  echo "$got"
}

measure() {  # MTA LOAD RUN
  local mta=$1 load=$2 run=$3 n size mode tag dir rc=0 c0 c1 got final t0 secs load_secs port
  n=$(load_n "$load"); size=$(load_size "$load"); mode=$(load_mode "$load")
  tag=$mta-$load-$run; dir=$WORK/runs/$tag; port=$(port_of "$mta")
  settle
  start_mta "$mta" "$dir" "$mode" || return 0
  if [ "$mode" = relay ]; then start_sink "$dir" || { stop_mta "$dir"; return 0; }; fi
  sleep 0.5
  c0=$(cpu_ticks)
  t0=$EPOCHREALTIME
  timeout -k 5 "$DLV_TIMEOUT" smtp-source -d -s "$SESSIONS" -m "$n" -l "$size" \
    -f bench@bench.test -t rcpt@bench.test -M client.bench.local "127.0.0.1:$port" \
    > "$dir/smtp-source.out" 2>&1 || rc=$?
  load_secs=$(secs_since "$t0")
  got=$(wait_count "$dir" "$mode" "$n" "$t0")
  secs=$(secs_since "$t0")
  c1=$(cpu_ticks)
  sleep 0.5
  if [ "$mode" = relay ]; then final=$(count_sink "$dir"); else final=$(count_maildir "$dir"); fi
  local left=NA; [ "$mta" = tern ] && left=$(count_tern_spool "$dir")
  stop_mta "$dir"; stop_sink "$dir"
  log "$tag: $n msgs accepted in $load_secs s, $got arrived in $secs s = $(rate "$n" "$secs") msg/s," \
    "$(cpu_pct "$c0" "$c1"); 0.5 s later $final (tern spool: $left left)"
  [ "$mta" = tern ] && tern_complaints "$dir" "$tag"
  if [ -s "$dir/smtp-source.out" ]; then
    note "$tag: smtp-source said: $(head -3 "$dir/smtp-source.out" | tr '\n' ' ')"
  fi
  if [ "$rc" != 0 ]; then fail "$tag: smtp-source exited with status $rc"; return 0; fi
  if [ "$final" != "$n" ]; then
    fail "$tag: $final messages arrived, expected exactly $n"; return 0
  fi
  if [ "$left" != NA ] && [ "$left" != 0 ]; then note "$tag: $left messages still in tern's spool 0.5 s after the last arrived"; fi
  SECS[$mta:$load]="${SECS[$mta:$load]:-} $secs"
}

# ---------------------------------------------------------------- fsync order (tern)
TRACE_RESULT=""; TRACE_OK=""

trace_test() {
  local dir=$WORK/trace/e2e out=$WORK/trace/strace-deliver.txt pids=() p st got
  settle
  start_mta tern "$dir" e2e || return 0
  sleep 0.5
  for p in $(pgrep -P "$(cat "$dir/pid")"); do pids+=(-p "$p"); done
  strace -f -tt -y -s 100 -o "$out" \
    -e trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,unlink,unlinkat,link,linkat,write \
    "${pids[@]}" 2> "$out.err" &
  st=$!
  sleep 1
  timeout -k 5 60 smtp-source -d -s 5 -m "$TRACE_N" -l 1024 -f bench@bench.test -t rcpt@bench.test \
    -M client.bench.local "127.0.0.1:$(port_of tern)" > "$dir/smtp-source.out" 2>&1 || fail "trace: smtp-source failed"
  got=$(wait_count "$dir" e2e "$TRACE_N" "$EPOCHREALTIME")
  sleep 1
  kill -INT "$st" 2>/dev/null || true; wait "$st" 2>/dev/null || true
  stop_mta "$dir"
  [ "$got" = "$TRACE_N" ] || fail "trace: $got of $TRACE_N delivered"
  TRACE_OK=ok
  TRACE_RESULT=$(python3 "$HERE/check_deliver_fsync.py" "$out" "$dir/spool" "$dir/mail/Maildir" 2> "$out.check") || TRACE_OK=MISSED
  log "trace (strace -f, $TRACE_N msgs): $TRACE_RESULT $TRACE_OK"
  if [ -s "$out.check" ]; then sed 's/^/    /' "$out.check" >&2; fi
}

# ---------------------------------------------------------------- report
report() {
  local load n t p e rp re verdict
  printf '\ndelivery bench: tern (%s) vs Postfix %s and Exim 4.96 (Debian): accepted by SMTP and delivered\n' \
    "${BUILD:-not run}" "$(postconf -h mail_version 2>/dev/null || echo '?')"
  printf 'smtp-source -d -s %s over loopback; msg/s = N / time until the last message is in Maildir/new (or counted by smtp-sink);\n' "$SESSIONS"
  printf 'medians of %s runs, each on a fresh instance; fsync of the queue file before 250 and of the Maildir file before it counts\n\n' "$DLV_RUNS"
  printf '%-38s %11s %14s %11s %13s %10s  %s\n' load "tern msg/s" "Postfix msg/s" "Exim msg/s" tern/Postfix tern/Exim \
    "target (>= ${TARGET}x Postfix)"
  for load in $DLV_LOADS; do
    n=$(load_n "$load")
    t=$(rate "$n" "$(echo "${SECS[tern:$load]:-}" | median)")
    p=$(rate "$n" "$(echo "${SECS[postfix:$load]:-}" | median)")
    e=$(rate "$n" "$(echo "${SECS[exim:$load]:-}" | median)")
    rp=$(awk -v a="$t" -v b="$p" 'BEGIN{print (a == "NA" || b == "NA") ? "NA" : sprintf("%.2f", a/b)}')
    re=$(awk -v a="$t" -v b="$e" 'BEGIN{print (a == "NA" || b == "NA") ? "NA" : sprintf("%.2f", a/b)}')
    verdict=NA
    [ "$rp" != NA ] && verdict=$(awk -v r="$rp" -v x="$TARGET" 'BEGIN{print (r >= x) ? "ok" : "MISSED"}')
    printf '%-38s %11s %14s %11s %13s %10s  %s\n' "$(load_desc "$load"), $(echo "$n" | commas) msgs" \
      "$(echo "$t" | commas)" "$(echo "$p" | commas)" "$(echo "$e" | commas)" "$rp" "$re" "$verdict"
  done
  if [ -n "$TRACE_RESULT" ]; then
    printf '\nfsync order (tern, strace -f of a %s-message e2e run): %s: %s\n' "$TRACE_N" "$TRACE_RESULT" "$TRACE_OK"
  fi
  echo
  for load in $DLV_LOADS; do
    for m in $DLV_MTAS; do
      [ -n "${SECS[$m:$load]:-}" ] || continue
      printf '  %s (%s): run times%s s; msg/s' "$m" "$load" "${SECS[$m:$load]}"
      for t in ${SECS[$m:$load]}; do printf ' %s' "$(rate "$(load_n "$load")" "$t")"; done
      echo
    done
  done
  if [ "${#NOTES[@]}" -gt 0 ]; then
    printf '\nnotes:\n'; printf '  %s\n' "${NOTES[@]}"
  fi
}

# ---------------------------------------------------------------- main
preflight
for ((run = 1; run <= DLV_RUNS; run++)); do
  for load in $DLV_LOADS; do
    for mta in $DLV_MTAS; do measure "$mta" "$load" "$run"; done
  done
done
if [ "$DLV_TRACE" = 1 ] && has "$DLV_MTAS" tern; then trace_test; fi

mkdir -p "$RESULTS"
summary=$RESULTS/deliver-$(date +%Y%m%d-%H%M%S).txt
report | tee "$summary"
find "$WORK" -mindepth 3 -maxdepth 3 \( -name spool -o -name mail \) -type d -exec rm -rf {} +
echo "(summary: $summary; configs, logs and outputs: $WORK)"
if [ "${#FAILURES[@]}" -gt 0 ]; then
  printf '\nFAILED:\n' >&2
  printf '  %s\n' "${FAILURES[@]}" >&2
  exit 1
fi
exit 0
