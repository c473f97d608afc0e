#!/bin/bash
# smtp.sh - `make bench`, part 2: SMTP accept throughput and idle-connection
# memory, tern against Postfix 3.7 and Exim 4.96.
#
# Usage (as root): bash test-suite/bench/smtp.sh BUILD_DIR
#   (bench.sh runs it after the routing part; BENCH_PARTS chooses.)
#
# Postfix's smtp-source drives each MTA in turn on loopback, each one a
# fresh instance with a fresh spool, `sync; sleep 2` before every run:
#   smtp-source -d -s 20 -m N -l SIZE -r RCPTS -f bench@bench.test \
#     -t rcpt@bench.test -M client.bench.local 127.0.0.1:PORT
# with three loads: 1 KiB x 1 rcpt, 100 KiB x 1 rcpt, 1 KiB x 10 rcpt.
# Throughput is N / wall time of smtp-source (it ends at the last 250).
# All three only queue (no delivery) and fsync before 250:
#   tern     conf.d with queue_only = true; group commit (syncfs), checked
#            with strace below. Port 2540.
#   Postfix  Debian's package (setup.sh apt-installs it, never started as
#            the system MTA), a private instance (postfix -c DIR start);
#            every message is put on hold. Port 2530.
#   Exim     the dpkg -x unpack of setup.sh, exim4 -C CONF -bdf with
#            queue_only = true, the config listed in
#            /etc/exim4/trusted_configs for the run. Port 2535.
# Peer settings are those of the reference harness in
# ../shared/bench-peers (postfix-main.cf.in, exim-accept.conf.in).
# After every run the spool is counted: N message files for every MTA.
# Idle connections: N connections each read their 220 banner and stay
# open; 3 s later the PSS and RSS of the server's processes (smtp_mem.py,
# /proc/PID/smaps_rollup) minus the idle server's, per connection.
# Durability of tern: strace -f -c on the workers over one 1 KiB load
# (fsync/syncfs per message), and a full trace of a shorter one in which
# check_fsync.py checks every "250 ... id=X" came after X's data sync,
# rename and directory fsync.
# Targets: tern >= 2x the faster peer on every load; < 20 KiB PSS per idle
# connection; every 250 after the fsync. A missed target prints MISSED.
# Exit status: non-zero only when something failed to run or a spool count
# was wrong.
#
# Environment (defaults in brackets):
#   SMTP_MTAS ["tern postfix exim"]  SMTP_LOADS ["1k 100k rcpt10"]
#   SMTP_RUNS [3] (medians)  SMTP_SESSIONS [20]
#   SMTP_N_1K [5000]  SMTP_N_100K [2000]  SMTP_N_RCPT10 [2000] (messages)
#   SMTP_IDLE_TERN [1000]  SMTP_IDLE_PEERS [200] (idle connections; 0: skip)
#   SMTP_TRACE [1] (strace checks of tern)  SMTP_TRACE_N [2000]
#   SMTP_TIMEOUT [180] seconds per load  SMTP_KEEP_SPOOL [0]
#   BENCH_SKIP_SETUP [0]
# Configs, logs and smtp-source output stay in test-suite/bench/state/smtp
# until the next run (the spools are removed at the end unless
# SMTP_KEEP_SPOOL=1); the summary also goes to test-suite/bench/results/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_ARG=$1
STATE=$HERE/state
WORK=$STATE/smtp
RESULTS=$HERE/results
EXIM=$STATE/exim-root/usr/sbin/exim4
MEM="python3 $HERE/smtp_mem.py"

SMTP_MTAS=${SMTP_MTAS:-"tern postfix exim"}
SMTP_LOADS=${SMTP_LOADS:-"1k 100k rcpt10"}
SMTP_RUNS=${SMTP_RUNS:-3}
SESSIONS=${SMTP_SESSIONS:-20}
N_1K=${SMTP_N_1K:-5000}
N_100K=${SMTP_N_100K:-2000}
N_RCPT10=${SMTP_N_RCPT10:-2000}
IDLE_TERN=${SMTP_IDLE_TERN:-1000}
IDLE_PEERS=${SMTP_IDLE_PEERS:-200}
SMTP_TRACE=${SMTP_TRACE:-1}
TRACE_N=${SMTP_TRACE_N:-2000}
TRACE_ORDER_N=200   # messages in the full (slow) trace
SMTP_TIMEOUT=${SMTP_TIMEOUT:-180}

TARGET=2            # tern >= 2x the faster peer
IDLE_PSS_LIMIT=20   # KiB of PSS per idle connection

FAILURES=()         # what failed to run, or a wrong spool count
NOTES=()            # what looked wrong but is not a failure
STARTED=()          # server PIDs to stop on exit
EXIM_TRUSTED=/etc/exim4/trusted_configs
EXIM_TRUSTED_CREATED=0

log()  { echo "[$(date +%T)] $*" >&2; }
fail() { log "ERROR: $*"; FAILURES+=("$*"); }
note() { log "NOTE: $*"; NOTES+=("$*"); }
die()  { echo "bench smtp: $*" >&2; exit 1; }
has()  { case " $1 " in *" $2 "*) return 0;; esac; return 1; }
port_of() { case $1 in postfix) echo 2530;; exim) echo 2535;; tern) echo 2540;; esac; }
name_of() { case $1 in postfix) echo Postfix;; exim) echo Exim;; tern) echo tern;; esac; }

# ---------------------------------------------------------------- processes
alive() {  # PID: exists and is not a zombie
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

wait_port() {  # PORT SECONDS: until something accepts on 127.0.0.1:PORT
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

# ---------------------------------------------------------------- MTA drivers
# start_NAME DIR PORT (records DIR/pid), sel_NAME DIR (smtp_mem.py selector),
# count_NAME DIR (messages in the spool), stop with stop_tree "$(cat DIR/pid)".

start_tern() {
  local dir=$1 port=$2
  mkdir -p "$dir/conf/main" "$dir/spool" "$dir/log"
  cat > "$dir/conf/main/00_main.lua" <<EOF
-- generated by test-suite/bench/smtp.sh
main { primary_hostname = "bench.local", local_domains = { "bench.test" }, relay_from_hosts = { "127.0.0.1" }, local_interfaces = { "127.0.0.1" }, spool_directory = "$dir/spool", log_file_path = "$dir/log/%slog", queue_only = true, recipients_max = 1000, smtp_accept_max = 5000, message_size_limit = "200M" }
EOF
  "$TERN" -C "$dir/conf" -bdf -oX "$port" > "$dir/tern.out" 2>&1 &
  echo $! > "$dir/pid"; STARTED+=($!)
  wait_port "$port" 20
}
sel_tern()   { echo "tree:$(cat "$1/pid")"; }
count_tern() {  # final message files: input/<c>/<23-character id>
  { find "$1/spool/input" -mindepth 2 -maxdepth 2 -type f -regextype posix-extended \
      -regex '.*/[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}' 2>/dev/null || true; } | wc -l
}

start_postfix() {
  local dir=$1 port=$2 i pid
  mkdir -p "$dir/etc" "$dir/spool" "$dir/data" "$dir/log" "$dir/mail/Maildir"/{tmp,new,cur}
  chown postfix "$dir/data"; chown -R mtabench:mtabench "$dir/mail"
  sed -e "s|@DIR@|$dir|g" -e "s|@UID@|$(id -u mtabench)|g" -e "s|@GID@|$(id -g mtabench)|g" \
    "$HERE/postfix-main.cf.in" > "$dir/etc/main.cf"
  # Debian's master.cf without chroot, smtpd on 127.0.0.1:PORT, no submission/smtps
  awk -v port="$port" '
    /^#/ || /^[ \t]/ || NF < 8 { print; next }
    $1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
    { $5 = "n"; print }' /etc/postfix/master.cf | sed '/^submission\|^smtps\|^#/d' > "$dir/etc/master.cf"
  # postfix(1) reports to stderr only when that is a terminal: script(1) gives it one
  script -qec "postfix -c $dir/etc check" /dev/null >> "$dir/log/start.log" 2>&1 || true
  if ! script -qec "postfix -c $dir/etc start" /dev/null >> "$dir/log/start.log" 2>&1; then
    sed 's/^/    /' "$dir/log/start.log" >&2; return 1
  fi
  for ((i = 0; i < 50; i++)); do [ -s "$dir/spool/pid/master.pid" ] && break; sleep 0.1; done
  pid=$(tr -d ' \n' < "$dir/spool/pid/master.pid")
  echo "$pid" > "$dir/pid"; STARTED+=("$pid")
  wait_port "$port" 20
}
sel_postfix()   { echo "tree:$(cat "$1/pid")"; }
count_postfix() {  # on hold, or anywhere else in the queue
  { find "$1/spool/hold" "$1/spool/incoming" "$1/spool/active" "$1/spool/deferred" -type f 2>/dev/null || true; } | wc -l
}

start_exim() {
  local dir=$1 port=$2 i
  mkdir -p "$dir/spool" "$dir/log" "$dir/mail/Maildir"/{tmp,new,cur}
  chown -R Debian-exim:Debian-exim "$dir/spool" "$dir/log"; chown -R mtabench:mtabench "$dir/mail"
  for ((i = 0; i < 100; i++)); do echo "alias$i: user$i@bench.test"; done > "$dir/aliases"
  sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@EXIM@|$EXIM|g" \
    "$HERE/exim-accept.conf.in" > "$dir/exim.conf"
  chmod 644 "$dir/exim.conf" "$dir/aliases"
  # With -C, Exim keeps its privileges on re-exec only for a config listed in
  # its compiled-in TRUSTED_CONFIG_LIST; listed for the run, unlisted on exit.
  if [ ! -e "$EXIM_TRUSTED" ]; then
    mkdir -p "$(dirname "$EXIM_TRUSTED")"; : > "$EXIM_TRUSTED"; EXIM_TRUSTED_CREATED=1
  fi
  chmod 644 "$EXIM_TRUSTED"; chown root:root "$EXIM_TRUSTED"
  echo "$dir/exim.conf" >> "$EXIM_TRUSTED"
  "$EXIM" -C "$dir/exim.conf" -bdf >> "$dir/log/start.log" 2>&1 &
  echo $! > "$dir/pid"; STARTED+=($!)
  wait_port "$port" 20
}
# Exim's children can be re-parented to init: select by executable too.
sel_exim()   { echo "tree:$(cat "$1/pid"),exe:$EXIM"; }
count_exim() { { find "$1/spool/input" -name '*-H' 2>/dev/null || true; } | wc -l; }

start_mta() {  # MTA DIR: a fresh instance in DIR on the MTA's port
  local mta=$1 dir=$2 port; port=$(port_of "$1")
  port_free "$port" || { fail "port $port is busy: $mta not started"; return 1; }
  rm -rf "$dir"; mkdir -p "$dir"
  "start_$mta" "$dir" "$port" || { fail "$mta did not start in $dir"; stop_mta "$dir"; return 1; }
}
stop_mta() { [ -s "$1/pid" ] && stop_tree "$(cat "$1/pid")"; return 0; }

# tern's own complaints: panics, rejections, anything on stderr
tern_complaints() {  # DIR TAG
  local f
  for f in "$1/log/paniclog" "$1/log/rejectlog" "$1/tern.out"; do
    [ -s "$f" ] || continue
    note "$2: $(basename "$f") is not empty: $(head -c 300 "$f" | head -2 | tr '\n' ' ')"
  done
  [ -z "$(ls -A "$1/spool/corrupt" 2>/dev/null)" ] || note "$2: files in spool/corrupt"
}

# ---------------------------------------------------------------- helpers
commas() { sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1,\2\3/' -e 'ta'; }
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.4f", b-a}'; }
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{v[NR]=$1} END{if (NR==0) print "NA"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
rate() { awk -v n="$1" -v s="${2:-NA}" 'BEGIN{ if (s == "NA" || s == "" || s <= 0) print "NA"; else printf "%.0f", n/s }'; }
settle() { sync; sleep 2; }
# whole-machine CPU: "busy idle iowait" ticks since boot, and the busy%/iowait% between two
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5, $6}' /proc/stat; }
cpu_pct() { echo "$1 $2" | awk '{b=$4-$1; i=$5-$2; w=$6-$3; t=b+i+w; if (t<=0) t=1; printf "cpu %.0f%% busy, %.0f%% iowait", 100*b/t, 100*w/t}'; }
# CPU seconds the whole machine spent busy between two cpu_ticks readings
cpu_busy_secs() { echo "$1 $2" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($4-$1)/hz}'; }


load_n() { case $1 in 1k) echo "$N_1K";; 100k) echo "$N_100K";; rcpt10) echo "$N_RCPT10";; esac; }
load_size() { case $1 in 100k) echo 102400;; *) echo 1024;; esac; }
load_rcpts() { case $1 in rcpt10) echo 10;; *) echo 1;; esac; }
load_desc() { case $1 in 1k) echo "1 KiB, 1 rcpt";; 100k) echo "100 KiB, 1 rcpt";; rcpt10) echo "1 KiB, 10 rcpt";; esac; }

# smtp_source PORT N SIZE RCPTS OUTFILE: one load; sets LOAD_SECS and
# LOAD_CPU (smtp-source's CPU seconds), returns its status
smtp_source() {
  local rc=0 t0=$EPOCHREALTIME
  /usr/bin/time -o "$5.time" -f '%U %S' timeout -k 5 "$SMTP_TIMEOUT" \
    smtp-source -d -s "$SESSIONS" -m "$2" -l "$3" -r "$4" \
    -f bench@bench.test -t rcpt@bench.test -M client.bench.local "127.0.0.1:$1" > "$5" 2>&1 || rc=$?
  LOAD_SECS=$(secs_since "$t0")
  LOAD_CPU=$(tail -1 "$5.time" | awk 'NF == 2 {printf "%.2f", $1 + $2; exit} {print "NA"}')
  return $rc
}

# ---------------------------------------------------------------- checks
preflight() {
  [ "$(id -u)" = 0 ] || die "run as root (Postfix and Exim instances, the Exim trusted-config list)"
  if [ "${BENCH_SKIP_SETUP:-0}" != 1 ]; then
    BENCH_PARTS=smtp timeout 900 bash "$HERE/setup.sh" || die "setup.sh failed"
  fi
  command -v smtp-source >/dev/null || die "smtp-source missing: run setup.sh"
  if has "$SMTP_MTAS" tern; then
    [ -d "$BUILD_ARG" ] || die "build directory $BUILD_ARG missing (run make all)"
    BUILD=$(cd "$BUILD_ARG" && pwd)
    TERN=$BUILD/tern
    [ -x "$TERN" ] || die "$TERN missing (run make all)"
  fi
  if has "$SMTP_MTAS" postfix; then
    command -v postfix >/dev/null && [ -r /etc/postfix/master.cf ] || die "Postfix missing: run setup.sh"
    getent passwd mtabench >/dev/null || die "user mtabench missing: run setup.sh"
  fi
  if has "$SMTP_MTAS" exim; then
    [ -x "$EXIM" ] || die "Exim not unpacked in $STATE/exim-root: run setup.sh"
  fi
  if [ "$SMTP_TRACE" = 1 ] && has "$SMTP_MTAS" tern; then
    command -v strace >/dev/null || die "strace missing: run setup.sh (or SMTP_TRACE=0)"
  fi
  local m; for m in $SMTP_MTAS; do
    port_free "$(port_of "$m")" || die "port $(port_of "$m") ($m) is busy"
  done
  case $WORK in *[\"\\\ \|]*) die "work path $WORK must not contain quotes, backslashes, bars or spaces";; esac
  # 1000 idle connections need more than 1024 descriptors (client and server inherit this)
  local hard; hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
}

# The root file system is ext4 without a journal: for 60 s after a file is
# deleted (longer until its inode table block is written back) ext4 will
# not reuse its inode, and creating files walks past such inodes. Right
# after the last bench removed its spools (over 100,000 files), tern's first
# 1 KiB run fell from ~9,000 to ~3,000 msg/s. So wait out that minute.
DELETED_STAMP=$STATE/smtp-spools-removed
wait_after_delete() {
  local t
  [ -s "$DELETED_STAMP" ] || return 0
  t=$(( $(cat "$DELETED_STAMP") + 65 - $(date +%s) ))
  if [ "$t" -gt 0 ] && [ "$t" -le 65 ]; then
    log "the last SMTP bench removed its spools $((65 - t)) s ago: waiting $t s (ext4 skips recently deleted inodes)"
    sleep "$t"
  fi
}

prepare() {
  if [ -d "$WORK" ]; then          # spools kept by SMTP_KEEP_SPOOL=1 go now
    local kept; kept=$(find "$WORK" -mindepth 3 -maxdepth 3 -name spool -type d | head -1)
    rm -rf "$WORK"; sync
    [ -z "$kept" ] || date +%s > "$DELETED_STAMP"
  fi
  wait_after_delete
  mkdir -p "$WORK/runs" "$WORK/idle" "$WORK/trace"
  chmod 755 "$STATE" "$WORK" "$WORK/runs" "$WORK/idle" "$WORK/trace"  # postfix and Debian-exim traverse them
  # What else keeps the CPUs busy (other users' builds and tests skew the figures)
  local c0 c1 pct
  c0=$(cpu_ticks); sleep 2; c1=$(cpu_ticks)
  pct=$(echo "$c0 $c1" | awk '{b=$4-$1; t=b+$5-$2+$6-$3; printf "%.0f", (t > 0) ? 100*b/t : 0}')
  log "SMTP part: CPUs ${pct}% busy with other work before the runs ($(nproc) CPUs)"
  [ "$pct" -le 10 ] || note "CPUs ${pct}% busy with other work before the runs: the figures may be skewed"
  return 0
}

# ---------------------------------------------------------------- throughput
declare -A SECS=()     # "mta:load" -> run times (s)

measure() {  # MTA LOAD RUN
  local mta=$1 load=$2 run=$3 n size rcpts tag dir rc=0 c0 c1 got port
  n=$(load_n "$load"); size=$(load_size "$load"); rcpts=$(load_rcpts "$load")
  tag=$mta-$load-$run; dir=$WORK/runs/$tag; port=$(port_of "$mta")
  settle
  start_mta "$mta" "$dir" || return 0
  sleep 0.5
  local sel s0 s1 other
  sel=$("sel_$mta" "$dir"); s0=$($MEM cpu "$sel")
  $MEM cpu-snap "$dir/cpu.snap"
  c0=$(cpu_ticks)
  smtp_source "$port" "$n" "$size" "$rcpts" "$dir/smtp-source.out" || rc=$?
  c1=$(cpu_ticks)
  s1=$($MEM cpu "$sel")
  # CPU of everyone else's processes during the load (other users' work);
  # reaped children count in full, so at most what the machine did besides
  other=$($MEM cpu-others "$dir/cpu.snap" "$sel,tree:$$")
  other=$(awk -v o="$other" -v m="$(cpu_busy_secs "$c0" "$c1")" -v a="$s0" -v b="$s1" -v c="$LOAD_CPU" \
    'BEGIN{ if (c == "NA") c = 0; r = m - (b - a) - c; if (o > r) o = r; printf "%.2f", (o < 0) ? 0 : o }')
  sleep 0.2
  got=$("count_$mta" "$dir")
  stop_mta "$dir"
  log "$tag: $n msgs in $LOAD_SECS s = $(rate "$n" "$LOAD_SECS") msg/s, $(cpu_pct "$c0" "$c1")" \
    "(CPU s: $mta $(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.2f", b-a}'), smtp-source $LOAD_CPU, other $other), spooled $got"
  if awk -v o="$other" -v s="$LOAD_SECS" -v n="$(nproc)" 'BEGIN{exit !(o > 0.15 * s * n)}'; then
    note "$tag: other processes used $other CPU s of $(awk -v s="$LOAD_SECS" -v n="$(nproc)" 'BEGIN{printf "%.2f", s*n}') during the run: its figure is disturbed"
  fi
  [ "$mta" = tern ] && tern_complaints "$dir" "$tag"
  if [ -s "$dir/smtp-source.out" ]; then
    note "$tag: smtp-source said: $(head -3 "$dir/smtp-source.out" | tr '\n' ' ')($(wc -l < "$dir/smtp-source.out") lines)"
  fi
  if [ "$rc" != 0 ]; then
    fail "$tag: smtp-source exited with status $rc ($dir/smtp-source.out)"; return 0
  fi
  if [ "$got" != "$n" ]; then
    fail "$tag: $got messages in the spool, expected $n"; return 0
  fi
  SECS[$mta:$load]="${SECS[$mta:$load]:-} $LOAD_SECS"
}

# ---------------------------------------------------------------- idle connections
declare -A IDLE=()     # mta -> smtp_mem.py idle output

idle_test() {  # MTA
  local mta=$1 dir=$WORK/idle/$1 n=$IDLE_PEERS r
  [ "$mta" = tern ] && n=$IDLE_TERN
  [ "$n" -gt 0 ] || return 0
  settle
  start_mta "$mta" "$dir" || return 0
  sleep 1
  r=$($MEM idle "$("sel_$mta" "$dir")" 127.0.0.1 "$(port_of "$mta")" "$n" 3) || r=""
  stop_mta "$dir"
  log "idle $mta: $r"
  [ "$mta" = tern ] && tern_complaints "$dir" "idle-$mta"
  case " $r " in
    *" banners=$n "*) IDLE[$mta]=$r;;
    *) fail "idle $mta: not every one of $n connections got its banner ($r)";;
  esac
}

kv() { local k; for k in $1; do [ "${k%%=*}" = "$2" ] && { echo "${k#*=}"; return; }; done; echo NA; }

# ---------------------------------------------------------------- fsync checks (tern)
TRACE_COUNT=""; TRACE_ORDER=""; TRACE_ORDER_OK=""

strace_workers() {  # DIR OUT OPTIONS...: strace the workers of the tern in DIR
  local dir=$1 out=$2 pids=() p; shift 2
  for p in $(pgrep -P "$(cat "$dir/pid")"); do pids+=(-p "$p"); done
  [ "${#pids[@]}" -gt 0 ] || return 1
  strace -f -o "$out" "$@" "${pids[@]}" 2>"$out.err" &
  STRACE_PID=$!
  sleep 1
}
strace_stop() { kill -INT "$STRACE_PID" 2>/dev/null || true; wait "$STRACE_PID" 2>/dev/null || true; }

trace_test() {
  local dir=$WORK/trace/count out=$WORK/trace/strace-c.txt n calls
  # 1. syscall counts over one 1 KiB load
  settle
  start_mta tern "$dir" || return 0
  sleep 0.5
  strace_workers "$dir" "$out" -c || { fail "trace: no tern workers"; stop_mta "$dir"; return 0; }
  smtp_source "$(port_of tern)" "$TRACE_N" 1024 1 "$dir/smtp-source.out" || fail "trace: smtp-source exited non-zero"
  sleep 0.5; strace_stop
  n=$(count_tern "$dir"); stop_mta "$dir"
  [ "$n" = "$TRACE_N" ] || fail "trace: $n messages in tern's spool, expected $TRACE_N"
  calls=$(awk '$NF ~ /^(fsync|fdatasync|syncfs|sync_file_range)$/ {c[$NF]=$4}
    END{for (k in c) printf "%s=%s ", k, c[k]}' "$out")
  TRACE_COUNT=$(awk -v n="$n" -v s="$calls" 'BEGIN{
    split("fsync fdatasync syncfs sync_file_range", k, " ")
    m = split(s, kv, " "); for (i = 1; i <= m; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
    for (i = 1; i <= 4; i++) if (v[k[i]] > 0 || i == 1 || i == 3)
      out = out sprintf("%s%s %d (%.2f/msg)", out == "" ? "" : ", ", k[i], v[k[i]], (n ? v[k[i]] / n : 0))
    print out }')
  log "trace (strace -f -c, $n msgs): $TRACE_COUNT"
  # 2. order: every 250 after its message's data sync, rename and directory fsync
  dir=$WORK/trace/order; out=$WORK/trace/strace-order.txt
  settle
  start_mta tern "$dir" || return 0
  sleep 0.5
  strace_workers "$dir" "$out" -tt -y -s 200 \
    -e trace=write,writev,pwrite64,sendto,sendmsg,fsync,fdatasync,syncfs,sync_file_range,rename,renameat,renameat2 \
    || { stop_mta "$dir"; return 0; }
  smtp_source "$(port_of tern)" "$TRACE_ORDER_N" 1024 1 "$dir/smtp-source.out" || fail "trace: smtp-source exited non-zero"
  sleep 0.5; strace_stop
  stop_mta "$dir"
  TRACE_ORDER_OK=ok
  TRACE_ORDER=$(python3 "$HERE/check_fsync.py" "$out" 2>"$out.check") || TRACE_ORDER_OK=MISSED
  log "trace (full, $TRACE_ORDER_N msgs): $TRACE_ORDER"
  if [ -s "$out.check" ]; then sed 's/^/    /' "$out.check" >&2; fi
}

# ---------------------------------------------------------------- report
report() {
  local load n ratio_p ratio_e t p e best verdict m
  printf '\nSMTP bench: tern (%s) vs Postfix %s and Exim 4.96 (Debian), accept only (queue, no delivery), fsync before 250\n' \
    "${BUILD:-not run}" "$(postconf -h mail_version 2>/dev/null || echo '?')"
  printf 'smtp-source -d -s %s over loopback; msg/s = N / wall time, medians of %s runs, each on a fresh instance and spool\n\n' \
    "$SESSIONS" "$SMTP_RUNS"
  printf '%-30s %11s %14s %11s %13s %10s  %s\n' load "tern msg/s" "Postfix msg/s" "Exim msg/s" tern/Postfix tern/Exim \
    "target (>= ${TARGET}x the faster peer)"
  for load in $SMTP_LOADS; do
    n=$(load_n "$load")
    t=$(rate "$n" "$(echo "${SECS[tern:$load]:-}" | median)")
    p=$(rate "$n" "$(echo "${SECS[postfix:$load]:-}" | median)")
    e=$(rate "$n" "$(echo "${SECS[exim:$load]:-}" | median)")
    ratio_p=$(awk -v a="$t" -v b="$p" 'BEGIN{print (a == "NA" || b == "NA") ? "NA" : sprintf("%.2f", a/b)}')
    ratio_e=$(awk -v a="$t" -v b="$e" 'BEGIN{print (a == "NA" || b == "NA") ? "NA" : sprintf("%.2f", a/b)}')
    best=$(awk -v a="$p" -v b="$e" 'BEGIN{ if (a == "NA") a = 0; if (b == "NA") b = 0; print (a > b) ? a : b }')
    verdict=NA
    if [ "$t" != NA ] && [ "$best" != 0 ]; then
      verdict=$(awk -v a="$t" -v b="$best" -v x="$TARGET" 'BEGIN{printf "%.2fx %s", a/b, (a >= x*b) ? "ok" : "MISSED"}')
      { [ "$p" = NA ] || [ "$e" = NA ]; } && verdict="$verdict (one peer only)"
    fi
    printf '%-30s %11s %14s %11s %13s %10s  %s\n' "$(load_desc "$load"), $(echo "$n" | commas) msgs" \
      "$(echo "$t" | commas)" "$(echo "$p" | commas)" "$(echo "$e" | commas)" "$ratio_p" "$ratio_e" "$verdict"
  done
  echo
  printf '%-30s %11s %14s %11s  %s\n' "idle connections" tern Postfix Exim "target (tern)"
  local row_n="" row_pss="" row_rss="" v pss
  for m in tern postfix exim; do
    v=${IDLE[$m]:-}
    row_n="$row_n $(kv "$v" conns | commas)"
    row_pss="$row_pss $(kv "$v" per_conn_pss_kib)"
    row_rss="$row_rss $(kv "$v" per_conn_rss_kib)"
  done
  pss=$(kv "${IDLE[tern]:-}" per_conn_pss_kib)
  verdict=NA
  [ "$pss" != NA ] && verdict=$(awk -v p="$pss" -v l="$IDLE_PSS_LIMIT" 'BEGIN{print (p < l) ? "ok" : "MISSED"}')
  # shellcheck disable=SC2086
  printf '%-30s %11s %14s %11s\n' "  connections held" $row_n
  # shellcheck disable=SC2086
  printf '%-30s %11s %14s %11s  %s\n' "  PSS per connection, KiB" $row_pss "< $IDLE_PSS_LIMIT KiB $verdict"
  # shellcheck disable=SC2086
  printf '%-30s %11s %14s %11s\n' "  RSS per connection, KiB" $row_rss
  if [ -n "${IDLE[tern]:-}" ]; then
    v=${IDLE[tern]}
    printf '  tern with %s idle connections: %s processes, total RSS %s KiB, PSS %s KiB (idle server: RSS %s KiB, PSS %s KiB)\n' \
      "$(kv "$v" conns | commas)" "$(kv "$v" after_nproc)" "$(kv "$v" after_rss_kib | commas)" \
      "$(kv "$v" after_pss_kib | commas)" "$(kv "$v" before_rss_kib | commas)" "$(kv "$v" before_pss_kib | commas)"
  fi
  if [ -n "$TRACE_COUNT$TRACE_ORDER" ]; then
    printf '\nfsync before 250 (tern, strace of the workers):\n'
    [ -n "$TRACE_COUNT" ] && printf '  strace -f -c, %s x 1 KiB, %s sessions: %s (fsync: message files and directories)\n' \
      "$(echo "$TRACE_N" | commas)" "$SESSIONS" "$TRACE_COUNT"
    if [ -n "$TRACE_ORDER" ]; then
      local msgs dur
      msgs=$(kv "$TRACE_ORDER" messages); dur=$(kv "$TRACE_ORDER" durable)
      printf '  full trace, %s x 1 KiB: %s of %s replies "250 ... id=X" came after X was synced, renamed and its directory fsynced: %s\n' \
        "$TRACE_ORDER_N" "$dur" "$msgs" "${TRACE_ORDER_OK:-NA}"
      printf '    per message: fsync of message files %s, fsync of directories %s, syncfs %s\n' \
        "$(kv "$TRACE_ORDER" fsync_file_per_msg)" "$(kv "$TRACE_ORDER" fsync_dir_per_msg)" "$(kv "$TRACE_ORDER" syncfs_per_msg)"
    fi
  fi
  echo
  for load in $SMTP_LOADS; do
    for m in $SMTP_MTAS; do
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
prepare
for ((run = 1; run <= SMTP_RUNS; run++)); do
  for load in $SMTP_LOADS; do
    for mta in $SMTP_MTAS; do measure "$mta" "$load" "$run"; done
  done
done
for mta in $SMTP_MTAS; do idle_test "$mta"; done
if [ "$SMTP_TRACE" = 1 ] && has "$SMTP_MTAS" tern; then trace_test; fi

mkdir -p "$RESULTS"
summary=$RESULTS/smtp-$(date +%Y%m%d-%H%M%S).txt
report | tee "$summary"
if [ "${SMTP_KEEP_SPOOL:-0}" != 1 ]; then
  find "$WORK" -mindepth 3 -maxdepth 3 -name spool -type d -exec rm -rf {} +
  sync
  date +%s > "$DELETED_STAMP"
fi
echo "(summary: $summary; configs, logs and outputs: $WORK)"
if [ "${#FAILURES[@]}" -gt 0 ]; then
  printf '\nFAILED:\n' >&2
  printf '  %s\n' "${FAILURES[@]}" >&2
  exit 1
fi
exit 0
