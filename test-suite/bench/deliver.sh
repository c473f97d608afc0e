#!/bin/bash
# deliver.sh - `make bench`, part 3: delivery throughput and CPU per
# message, tern against Postfix 3.7 and Exim 4.96, each accepting by SMTP
# and delivering.
#
# Usage (as root): bash test-suite/bench/deliver.sh BUILD_DIR
#   (bench.sh runs it after the SMTP part; BENCH_PARTS chooses.)
#
# Load as in smtp.sh and the reference harness (shared/bench-peers, e2e):
#   smtp-source -d -s 20 -m N -l SIZE -f bench@bench.test \
#     -t rcpt@bench.test -M client.bench.local 127.0.0.1:PORT
# Loads:
#   e2e1k    1 KiB messages, delivered into one local Maildir
#   e2e100k  100 KiB messages, the same
#   relay    1 KiB messages, each relayed by SMTP to Postfix's smtp-sink
#            on 127.0.0.1:2525 (smtp-sink -c: it counts the messages it
#            received and writes nothing to disk)
# Throughput = N / (time from the start of the load until the last file
# is in Maildir/new, or until the sink has counted N messages; the looks
# get closer as the count nears N, smtp_mem.py wait-count). CPU per
# message = the instance's cgroup CPU time over that span / N (every
# process of the instance, delivery children that exited included).
# Every run lasts >= BENCH_SECS: N is sized per server and load from a
# calibration load on the same fresh instance before run 1 (its messages
# are delivered before the measured load starts), then from run 1's rate,
# as in smtp.sh. Each run
# has a fresh instance, spool and Maildir (or sink), the servers in a
# rotated order (run 1: tern postfix exim; run 2: postfix exim tern...).
# After the last one arrived the count is taken again 0.5 s later: it must
# be exactly the messages sent (every message delivered once), or the run
# is a failure. Then spool and Maildir are removed and the page cache
# dropped (lib.sh fresh_disk).
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
# Targets (issue 10): tern >= 2.5x Postfix into the Maildir (1 KiB and
# 100 KiB), >= 3x Postfix relaying; CPU per message into the Maildir <=
# 1/3 of the better peer's. A missed target prints MISSED; the exit status
# is non-zero only when something failed to run or a count was wrong.
#
# Environment (defaults in brackets; lib.sh has the shared ones):
#   BENCH_RUNS [5]  BENCH_SECS [10]  BENCH_QUICK [0]  BENCH_DROP_CACHES [1]
#   BENCH_PORT_OFFSET [0]
#   DLV_MTAS ["tern postfix exim"]  DLV_LOADS ["e2e1k e2e100k relay"]
#   DLV_RUNS [BENCH_RUNS]  DLV_SESSIONS [20]
#   DLV_N_1K  DLV_N_100K  DLV_N_RELAY [sized] (a number: fixed N)
#   DLV_CAL_1K [300]  DLV_CAL_100K [100]  DLV_CAL_RELAY [300]
#   DLV_TIMEOUT [300] seconds per run  DLV_TRACE [1] (tern's fsync order)
#   BENCH_SKIP_SETUP [0]
# Configs, logs and outputs stay in test-suite/bench/state/deliver until
# the next run (spools and Maildirs are removed after each run); the
# summary also goes to test-suite/bench/results/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_ARG=$1
STATE=$HERE/state
WORK=$STATE/deliver
RESULTS=$HERE/results
EXIM=$STATE/exim-root/usr/sbin/exim4

BENCH_PART=deliver
. "$HERE/lib.sh"

DLV_MTAS=${DLV_MTAS:-"tern postfix exim"}
DLV_LOADS=${DLV_LOADS:-"e2e1k e2e100k relay"}
DLV_RUNS=${DLV_RUNS:-$BENCH_RUNS}
SESSIONS=${DLV_SESSIONS:-20}
DLV_TIMEOUT=${DLV_TIMEOUT:-300}
DLV_TRACE=${DLV_TRACE:-1}
TRACE_N=100
SINK_PORT=$(port_of sink)
TARGET_E2E=2.5      # tern >= 2.5x Postfix into the Maildir
TARGET_RELAY=3      # tern >= 3x Postfix relaying
CPU_SHARE=0.3333    # tern's CPU per message into the Maildir <= 1/3 of the better peer's
declare -A N=()     # "mta:load" -> messages per run (fixed, or sized by calibration)
for l in e2e1k:DLV_N_1K e2e100k:DLV_N_100K relay:DLV_N_RELAY; do
  v=${l#*:}; [ -z "${!v:-}" ] || for m in $DLV_MTAS; do N[$m:${l%%:*}]=${!v}; FIXED[$m:${l%%:*}]=1; done
done

# ---------------------------------------------------------------- the sink
start_sink() {  # DIR: smtp-sink -c on SINK_PORT, counting into DIR/sink.out
  local dir=$1
  port_free "$SINK_PORT" || { fail "port $SINK_PORT is busy: no smtp-sink"; return 1; }
  smtp-sink -c -u nobody "127.0.0.1:$SINK_PORT" 512 > "$dir/sink.out" 2> "$dir/sink.err" &
  echo $! > "$dir/sink.pid"; STARTED+=($!)
  wait_port "$SINK_PORT" 10
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
  cg_cmd "$dir"
  "${CG[@]}" "$TERN" -C "$c" -bdf -oX "$port" > "$dir/tern.out" 2>&1 &
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
  cg_cmd "$dir"
  if ! "${CG[@]}" script -qec "postfix -c $dir/etc start" /dev/null >> "$dir/log/start.log" 2>&1; then
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
  cg_cmd "$dir"
  "${CG[@]}" "$EXIM" -C "$dir/exim.conf" -bdf -q1m >> "$dir/log/start.log" 2>&1 &
  echo $! > "$dir/pid"; STARTED+=($!)
  wait_port "$port" 20
}

start_mta() {  # MTA DIR MODE
  local mta=$1 dir=$2 port; port=$(port_of "$1")
  port_free "$port" || { fail "port $port is busy: $mta not started"; return 1; }
  rm -rf "$dir"; mkdir -p "$dir"; chmod 755 "$dir"
  cg_new "$dir"
  "start_$mta" "$dir" "$port" "$3" || { fail "$mta did not start in $dir"; stop_mta "$dir"; return 1; }
}
stop_mta() {
  [ -s "$1/pid" ] && stop_tree "$(cat "$1/pid")"
  [ -s "$1/cgroup" ] && cg_remove "$(cat "$1/cgroup")"
  return 0
}
finish_mta() {  # DIR: stop the instance and its sink, remove spool and Maildir, fresh disk
  stop_mta "$1"; stop_sink "$1"
  rm -rf "$1/spool" "$1/mail"
  fresh_disk
}
sel_of() {  # MTA DIR: smtp_mem.py selector of the instance
  case $1 in exim) echo "tree:$(cat "$2/pid"),exe:$EXIM";; *) echo "tree:$(cat "$2/pid")";; esac
}

count_tern_spool() {
  { find "$1/spool/input" -mindepth 2 -maxdepth 2 -type f -regextype posix-extended \
      -regex '.*/[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}' 2>/dev/null || true; } | wc -l
}


load_cal() {
  case $1 in e2e1k) echo "${DLV_CAL_1K:-300}";; e2e100k) echo "${DLV_CAL_100K:-100}";; relay) echo "${DLV_CAL_RELAY:-300}";; esac
}
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
  fresh_disk
  mkdir -p "$WORK/runs" "$WORK/trace"
  chmod 755 "$STATE" "$WORK" "$WORK/runs" "$WORK/trace"
}

# ---------------------------------------------------------------- throughput
what_of() {  # DIR MODE: smtp_mem.py wait-count's target
  if [ "$2" = relay ]; then echo "sink:$1/sink.out"; else echo "maildir:$1/mail/Maildir"; fi
}
# wait_count DIR MODE N T0: until N arrived or DLV_TIMEOUT after T0
# (an $EPOCHREALTIME); sets GOT (the count) and SECS_T0 (seconds since T0)
wait_count() {
  read -r GOT SECS_T0 <<< "$($MEM wait-count "$(what_of "$1" "$2")" "$3" "$4" "$DLV_TIMEOUT")"
}

# send_load DIR PORT N SIZE OUT: smtp-source; sets LOAD_SECS, returns its status
send_load() {
  local rc=0 t0=$EPOCHREALTIME
  timeout -k 5 "$DLV_TIMEOUT" smtp-source -d -s "$SESSIONS" -m "$3" -l "$4" \
    -f bench@bench.test -t rcpt@bench.test -M client.bench.local "127.0.0.1:$2" > "$5" 2>&1 || rc=$?
  LOAD_SECS=$(secs_since "$t0")
  return $rc
}

# calibrate MTA LOAD DIR: CAL messages sent and delivered on the fresh
# instance size N for every run of MTA x LOAD; sets CAL_N
calibrate() {
  local mta=$1 load=$2 dir=$3 n t0 mode; n=$(load_cal "$load"); mode=$(load_mode "$load")
  t0=$EPOCHREALTIME
  send_load "$dir" "$(port_of "$mta")" "$n" "$(load_size "$load")" "$dir/calibrate.out" \
    || { fail "$mta-$load: calibration load failed ($dir/calibrate.out)"; return 1; }
  wait_count "$dir" "$mode" "$n" "$t0"
  [ "$GOT" = "$n" ] || { fail "$mta-$load: $GOT of $n calibration messages arrived"; return 1; }
  N[$mta:$load]=$(size_for "$(rate "$n" "$SECS_T0")" "$SESSIONS" "$CAL_MARGIN")
  CAL_N=$n
  log "$mta-$load: calibration $n msgs delivered in $SECS_T0 s = $(rate "$n" "$SECS_T0") msg/s: N = ${N[$mta:$load]} per run"
  sleep 0.5
}

measure() {  # MTA LOAD RUN
  local mta=$1 load=$2 run=$3 n size mode tag dir rc=0 c0 c1 final t0 port s0 s1 cpu sel want
  size=$(load_size "$load"); mode=$(load_mode "$load")
  tag=$mta-$load-$run; dir=$WORK/runs/$tag; port=$(port_of "$mta")
  settle
  start_mta "$mta" "$dir" "$mode" || return 0
  if [ "$mode" = relay ]; then start_sink "$dir" || { finish_mta "$dir"; return 0; }; fi
  sleep 0.5
  CAL_N=0
  if [ -z "${N[$mta:$load]:-}" ]; then calibrate "$mta" "$load" "$dir" || { finish_mta "$dir"; return 0; }; fi
  n=${N[$mta:$load]}; want=$((n + CAL_N))
  sel=$(sel_of "$mta" "$dir"); s0=$(cpu_secs "$dir" "$sel")
  c0=$(cpu_ticks)
  t0=$EPOCHREALTIME
  send_load "$dir" "$port" "$n" "$size" "$dir/smtp-source.out" || rc=$?
  wait_count "$dir" "$mode" "$want" "$t0"
  s1=$(cpu_secs "$dir" "$sel")
  c1=$(cpu_ticks)
  cpu=$(awk -v a="$s0" -v b="$s1" -v n="$n" 'BEGIN{printf "%.1f", (b - a) * 1e6 / n}')
  sleep 0.5
  final=$($MEM wait-count "$(what_of "$dir" "$mode")" 0 "$EPOCHREALTIME" 0 | cut -d' ' -f1)
  local left=NA; [ "$mta" = tern ] && left=$(count_tern_spool "$dir")
  finish_mta "$dir"
  log "$tag: $n msgs accepted in $LOAD_SECS s, $((GOT - CAL_N)) arrived in $SECS_T0 s = $(rate "$n" "$SECS_T0") msg/s," \
    "$cpu CPU us/msg, $(cpu_pct "$c0" "$c1"); 0.5 s later $final of $want (tern spool: $left left)"
  [ "$mta" = tern ] && tern_complaints "$dir" "$tag"
  if [ -s "$dir/smtp-source.out" ]; then
    note "$tag: smtp-source said: $(head -3 "$dir/smtp-source.out" | tr '\n' ' ')"
  fi
  if [ "$rc" != 0 ]; then fail "$tag: smtp-source exited with status $rc"; return 0; fi
  if [ "$final" != "$want" ]; then
    fail "$tag: $final messages arrived, expected exactly $want"; return 0
  fi
  if [ "$left" != NA ] && [ "$left" != 0 ]; then note "$tag: $left messages still in tern's spool 0.5 s after the last arrived"; fi
  record "$mta:$load" "$tag" "$n" "$SECS_T0" "$cpu" "$run"
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
  wait_count "$dir" e2e "$TRACE_N" "$EPOCHREALTIME"; got=$GOT
  sleep 1
  kill -INT "$st" 2>/dev/null || true; wait "$st" 2>/dev/null || true
  stop_mta "$dir"
  [ "$got" = "$TRACE_N" ] || fail "trace: $got of $TRACE_N delivered"
  TRACE_OK=ok
  TRACE_RESULT=$(python3 "$HERE/check_deliver_fsync.py" "$out" "$dir/spool" "$dir/mail/Maildir" 2> "$out.check") || TRACE_OK=MISSED
  finish_mta "$dir"
  log "trace (strace -f, $TRACE_N msgs): $TRACE_RESULT $TRACE_OK"
  if [ -s "$out.check" ]; then sed 's/^/    /' "$out.check" >&2; fi
}

# ---------------------------------------------------------------- report
report() {
  local load r re cpu_r target
  printf '\ndelivery bench: tern (%s) vs Postfix %s and Exim 4.96 (Debian): accepted by SMTP and delivered\n' \
    "${BUILD:-not run}" "$(postconf -h mail_version 2>/dev/null || echo '?')"
  printf 'smtp-source -d -s %s over loopback; msg/s = N / time until the last message is in Maildir/new (or counted by smtp-sink);\n' "$SESSIONS"
  printf '%s runs per load, servers in rotated order, each on a fresh instance and lasting >= %s s (N sized per server by a\n' \
    "$DLV_RUNS" "$BENCH_SECS"
  printf 'calibration load); CPU = the instance'"'"'s cgroup CPU time over the same span / N; fsync of the queue file before 250\n'
  printf 'and of the Maildir file before it counts\n'
  for load in $DLV_LOADS; do
    printf '\n%s\n' "$(load_desc "$load")"
    server_rows "$load" "$DLV_MTAS"
    compare "$load"
    r=$(div "$T_RATE" "$P_RATE"); re=$(div "$T_RATE" "$E_RATE"); cpu_r=$(div "$T_CPU" "$BETTER_CPU")
    printf '  tern / Postfix: %s; tern / Exim: %s; CPU per message tern / better peer (%s): %s\n' "$r" "$re" "$BETTER" "$cpu_r"
    target=$TARGET_E2E; [ "$load" = relay ] && target=$TARGET_RELAY
    target "$(load_desc "$load"): tern >= ${target}x Postfix" "${r}x" "$(atleast "$r" "$target")"
    if [ "$load" != relay ]; then
      target "$(load_desc "$load"): CPU/msg <= 1/3 of better peer" "$cpu_r ($T_CPU vs $BETTER_CPU us)" \
        "$(atleast "$CPU_SHARE" "$cpu_r")"
    fi
  done
  if [ -n "$TRACE_RESULT" ]; then
    printf '\nfsync order (tern, strace -f of a %s-message e2e run): %s: %s\n' "$TRACE_N" "$TRACE_RESULT" "$TRACE_OK"
  fi
  echo
  for load in $DLV_LOADS; do
    for m in $DLV_MTAS; do
      [ -n "${RATES[$m:$load]:-}" ] || continue
      printf '  %s (%s): N%s; s%s; msg/s%s; CPU us/msg%s\n' "$m" "$load" "${NS[$m:$load]}" "${SECS[$m:$load]}" \
        "${RATES[$m:$load]}" "${CPUS[$m:$load]}"
    done
  done
  targets_out
  if [ "${#NOTES[@]}" -gt 0 ]; then
    printf '\nnotes:\n'; printf '  %s\n' "${NOTES[@]}"
  fi
}

# ---------------------------------------------------------------- main
preflight
cg_init
for ((run = 1; run <= DLV_RUNS; run++)); do
  order=$(rotated "$DLV_MTAS" "$run")
  log "run $run of $DLV_RUNS: $order"
  for load in $DLV_LOADS; do
    for mta in $order; do measure "$mta" "$load" "$run"; done
  done
done
if [ "$DLV_TRACE" = 1 ] && has "$DLV_MTAS" tern; then trace_test; fi

mkdir -p "$RESULTS"
summary=$RESULTS/deliver-$(date +%Y%m%d-%H%M%S).txt
report | tee "$summary"
echo "(summary: $summary; configs, logs and outputs: $WORK)"
if [ "${#FAILURES[@]}" -gt 0 ]; then
  printf '\nFAILED:\n' >&2
  printf '  %s\n' "${FAILURES[@]}" >&2
  exit 1
fi
exit 0
