# lib.sh - what the bench parts share (sourced by smtp.sh and deliver.sh):
# failure and note lists, logging, the servers' ports, stopping process
# trees, ports, Exim's trusted-config list, cleanup on exit, tern's
# complaints, a cgroup per server instance (its CPU time), the order of
# the servers in each run, sizing a load to last BENCH_SECS, a fresh disk
# between runs, the issue's target table, and number helpers. The sourcing
# script sets BENCH_PART (its name in messages) and WORK (its scratch
# directory) first.

# smtp_mem.py runs a few times in every run: start the interpreter itself
# (python3 may be a pyenv shim) without site (-S: it needs only the
# standard library). Here that is 40 ms of CPU a start instead of 700.
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
MEM="$PYTHON -S $HERE/smtp_mem.py"

FAILURES=()         # what failed to run, or a wrong spool count
NOTES=()            # what looked wrong but is not a failure
STARTED=()          # server PIDs to stop on exit
EXIM_TRUSTED=/etc/exim4/trusted_configs
EXIM_TRUSTED_CREATED=0

log()  { echo "[$(date +%T)] $*" >&2; }
fail() { log "ERROR: $*"; FAILURES+=("$*"); }
note() { log "NOTE: $*"; NOTES+=("$*"); }
die()  { echo "bench $BENCH_PART: $*" >&2; exit 1; }
has()  { case " $1 " in *" $2 "*) return 0;; esac; return 1; }
# BENCH_PORT_OFFSET moves every port, so two worktrees can bench at once
# (their figures then disturb each other, but neither fails on a busy port)
PORT_OFFSET=${BENCH_PORT_OFFSET:-0}
port_of() {
  local p
  case $1 in sink) p=2525;; postfix) p=2530;; exim) p=2535;; tern) p=2540;; ternas) p=2545;; esac
  echo $((p + PORT_OFFSET))
}
name_of() { case $1 in postfix) echo Postfix;; exim) echo Exim;; tern) echo tern;; ternas) echo tern+as;; sink) echo smtp-sink;; esac; }

# The shared defaults of both parts: BENCH_QUICK=1 gives short runs for
# development (2 runs of >= 2 s, a 10 s soak); the parts' own knobs win.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  BENCH_RUNS=${BENCH_RUNS:-2}; BENCH_SECS=${BENCH_SECS:-2}; SOAK_SECS=${SOAK_SECS:-10}
fi
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_SECS=${BENCH_SECS:-10}
BENCH_DROP_CACHES=${BENCH_DROP_CACHES:-1}
CAL_MARGIN=1.4      # run 1: N = rate of the short calibration load x BENCH_SECS x this
SIZE_MARGIN=1.2     # later runs: N = rate of run 1 (or of a run that ended early) x BENCH_SECS x this
declare -A FIXED=() # "mta:load" -> 1 when its N was given by a knob (never resized)

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
  cg_remove_all
  exim_untrust_all
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# tern's own complaints: panics, rejections, anything on stderr
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
settle() { sync; sleep 1; }
# whole-machine CPU: "busy idle iowait" ticks since boot, and the busy%/iowait% between two
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5, $6}' /proc/stat; }
cpu_pct() { echo "$1 $2" | awk '{b=$4-$1; i=$5-$2; w=$6-$3; t=b+i+w; if (t<=0) t=1; printf "cpu %.0f%% busy, %.0f%% iowait", 100*b/t, 100*w/t}'; }
# CPU seconds the whole machine spent busy between two cpu_ticks readings
cpu_busy_secs() { echo "$1 $2" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($4-$1)/hz}'; }

# ---------------------------------------------------------------- cgroups
# Each server instance runs in a cgroup v2 of its own (under
# CGROUP/tern-bench-PART-PID/), so its CPU time is the cgroup's
# cpu.stat usage_usec: every process of the instance, including children
# that exited (tern's delivery children, Postfix's smtpd/cleanup, Exim's
# receiving and delivery processes, whoever reaped them). Without a
# writable cgroup v2 the bench falls back to the /proc sums of the process
# tree (utime+stime+cutime+cstime), which lose the time of children that
# were re-parented and reaped by init (Exim's).
CG_BASE=""
cg_init() {
  local mnt
  mnt=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
  if [ -n "$mnt" ] && mkdir "$mnt/tern-bench-$BENCH_PART-$$" 2>/dev/null; then
    CG_BASE=$mnt/tern-bench-$BENCH_PART-$$
    [ -r "$CG_BASE/cpu.stat" ] || { rmdir "$CG_BASE"; CG_BASE=""; }
  fi
  if [ -n "$CG_BASE" ]; then log "CPU time per server: cgroup v2 $CG_BASE"
  else note "no writable cgroup v2 (cpu.stat): CPU time from /proc process trees (misses re-parented children)"; fi
}
# cg_new DIR: a fresh cgroup for the instance in DIR (its path goes to DIR/cgroup)
cg_new() {
  [ -n "$CG_BASE" ] || return 0
  local cg
  cg=$CG_BASE/$(basename "$1")
  cg_remove "$cg"
  if mkdir "$cg" 2>/dev/null; then echo "$cg" > "$1/cgroup"
  else note "cannot make cgroup $cg: CPU time of $(basename "$1") from /proc"; fi
}
# cg_cmd DIR: sets CG to the words that run a command in DIR's cgroup,
# used as `"${CG[@]}" CMD... &`: the shell execs them, so $! is CMD's pid
cg_cmd() {
  CG=()
  [ -s "$1/cgroup" ] || return 0
  CG=(sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$(cat "$1/cgroup")")
}
# cpu_secs DIR SEL: CPU seconds used so far by the instance in DIR
cpu_secs() {
  if [ -s "$1/cgroup" ]; then
    awk '$1 == "usage_usec" {printf "%.6f", $2 / 1e6}' "$(cat "$1/cgroup")/cpu.stat"
  else
    $MEM cpu "$2"
  fi
}
cg_remove() {  # CGROUP: kill what is left in it and remove it
  local i
  [ -d "$1" ] || return 0
  { [ -e "$1/cgroup.kill" ] && echo 1 > "$1/cgroup.kill"; } 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do [ -s "$1/cgroup.procs" ] || break; sleep 0.1; done
  rmdir "$1" 2>/dev/null || true
}
cg_remove_all() {
  local c
  [ -n "$CG_BASE" ] && [ -d "$CG_BASE" ] || return 0
  for c in "$CG_BASE"/*/; do [ -d "$c" ] && cg_remove "${c%/}"; done
  rmdir "$CG_BASE" 2>/dev/null || true
}

# ---------------------------------------------------------------- runs
# rotated LIST RUN: the servers in the order of run RUN: run 1 in LIST's
# order, run 2 starting with LIST's second... so none is always first
# after a fresh disk, or always after the heaviest writer.
rotated() {
  local a r=$2 i k seq=()
  read -r -a a <<< "$1"
  k=${#a[@]}
  for ((i = 0; i < k; i++)); do seq+=("${a[$(( (i + r - 1) % k ))]}"); done
  echo "${seq[*]}"
}

# size_for RATE SESSIONS [MARGIN]: messages for a load of >= BENCH_SECS at
# RATE msg/s, a multiple of SESSIONS, MARGIN (SIZE_MARGIN) to spare
size_for() {
  awk -v r="$1" -v s="$BENCH_SECS" -v m="${3:-$SIZE_MARGIN}" -v k="$2" \
    'BEGIN{ n = r * s * m; n = int((n + k - 1) / k) * k; if (n < 10 * k) n = 10 * k; print n }'
}

# fresh_disk: after a run's files were removed, write back everything and
# drop the clean page cache. The root file system is ext4 without a
# journal: for 60 s after a delete (360 s while the inode table block is
# dirty), ext4 skips the freed inodes when it creates files, but only
# while their inode table block is cached; every create then walks past
# them. Measured here: 30,000 files made in 0.6 s of CPU, and in 2.6-6.8 s
# right after 30,000 others had been removed. Dropping the cache gives each
# run the same start: no dirty pages, no recently freed inodes in sight.
DROP_WARNED=0
fresh_disk() {
  sync
  [ "$BENCH_DROP_CACHES" = 1 ] || return 0
  if ! { echo 1 > /proc/sys/vm/drop_caches; } 2>/dev/null && [ "$DROP_WARNED" = 0 ]; then
    DROP_WARNED=1
    note "cannot write /proc/sys/vm/drop_caches: runs after a removed spool create files more slowly (ext4 without a journal)"
  fi
  return 0
}

# ---------------------------------------------------------------- figures
# stats "V1 V2 ...": "median min max" (NA when empty)
stats() {
  echo "$1" | tr ' ' '\n' | awk 'NF && $1 != "NA"' | sort -g | awk '{v[NR] = $1}
    END{ if (NR == 0) { print "NA NA NA"; exit }
         m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
         print m, v[1], v[NR] }'
}
# fmt_stats "MEDIAN MIN MAX" DECIMALS: "9,876 (9,100-10,200)"
fmt_stats() {
  local m lo hi
  read -r m lo hi <<< "$1"
  [ "$m" = NA ] && { echo NA; return; }
  printf '%s (%s-%s)' "$(printf "%.${2}f" "$m" | commas)" "$(printf "%.${2}f" "$lo" | commas)" \
    "$(printf "%.${2}f" "$hi" | commas)"
}
div() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN{ if (a == "NA" || b == "NA" || a == "" || b == "" || b == 0) print "NA"; else printf "%.*f", d, a / b }'; }

# target DESC VALUE OK: one line of the issue's target table (OK is the
# verdict expression's result: 1 ok, 0 MISSED, empty NA); written to
# WORK/targets.txt, which bench.sh gathers at the end
TARGETS=()
target() {
  local v=NA
  case $3 in 1) v=ok;; 0) v=MISSED;; esac
  TARGETS+=("$(printf '%-58s %-26s %s' "$1" "$2" "$v")")
}
targets_out() {
  [ "${#TARGETS[@]}" -gt 0 ] || return 0
  printf '%s\n' "${TARGETS[@]}" > "$WORK/targets.txt"
  printf '\ntargets (issue 10), %s part:\n' "$BENCH_PART"
  printf '  %s\n' "${TARGETS[@]}"
}

declare -A RATES=() CPUS=() NS=() SECS=()   # "mta:load" -> per-run msg/s, CPU us/msg, N, seconds
# record KEY TAG N SECS CPU_US RUN: one run's figures. N of the later runs
# of KEY comes from run 1's rate (a 10 s measurement, better than the
# calibration's), and is raised again after any run shorter than BENCH_SECS.
record() {
  local key=$1 r
  r=$(rate "$3" "$4")
  RATES[$key]="${RATES[$key]:-} $r"; CPUS[$key]="${CPUS[$key]:-} $5"
  NS[$key]="${NS[$key]:-} $3"; SECS[$key]="${SECS[$key]:-} $4"
  if awk -v s="$4" -v m="$BENCH_SECS" 'BEGIN{exit !(s < m)}'; then
    [ -n "${FIXED[$key]:-}" ] && { note "$2: lasted $4 s < BENCH_SECS=$BENCH_SECS (N fixed by a knob)"; return 0; }
    N[$key]=$(size_for "$r" "$SESSIONS")
    note "$2: lasted $4 s < BENCH_SECS=$BENCH_SECS; N raised to ${N[$key]} for the later runs"
  elif [ "$6" = 1 ] && [ -z "${FIXED[$key]:-}" ]; then
    N[$key]=$(size_for "$r" "$SESSIONS")
  fi
}

# server_rows LOAD SERVERS: a line per server with LOAD's figures (from
# the parts' RATES/CPUS/NS/SECS arrays: one value per run)
server_rows() {
  local load=$1 m key n
  printf '  %-10s %15s %26s %24s %13s\n' server messages/run "msg/s median (min-max)" \
    "CPU us/msg med. (min-max)" "run s (min-max)"
  for m in $2; do
    key=$m:$load
    if [ -z "${RATES[$key]:-}" ]; then printf '  %-10s %15s\n' "$(name_of "$m")" "no run"; continue; fi
    read -r n _ <<< "$(stats "${NS[$key]}")"
    [ "$(stats "${NS[$key]}" | awk '{print ($2 == $3)}')" = 1 ] || n="$(stats "${NS[$key]}" | awk '{print $2 "-" $3}')"
    printf '  %-10s %15s %26s %24s %13s\n' "$(name_of "$m")" "$(echo "$n" | commas)" \
      "$(fmt_stats "$(stats "${RATES[$key]}")" 0)" "$(fmt_stats "$(stats "${CPUS[$key]}")" 0)" \
      "$(stats "${SECS[$key]}" | awk '{printf "%.1f-%.1f", $2, $3}')"
  done
}

# compare LOAD: medians of LOAD for tern and the peers; sets T_RATE,
# P_RATE, E_RATE, FAST (the faster peer's name) and FAST_RATE, T_CPU,
# BETTER (the peer with less CPU per message) and BETTER_CPU
compare() {
  local load=$1
  T_RATE=$(stats "${RATES[tern:$load]:-}" | cut -d' ' -f1)
  P_RATE=$(stats "${RATES[postfix:$load]:-}" | cut -d' ' -f1)
  E_RATE=$(stats "${RATES[exim:$load]:-}" | cut -d' ' -f1)
  T_CPU=$(stats "${CPUS[tern:$load]:-}" | cut -d' ' -f1)
  read -r FAST FAST_RATE <<< "$(pick max "Postfix $P_RATE" "Exim $E_RATE")"
  read -r BETTER BETTER_CPU <<< "$(pick min "Postfix $(stats "${CPUS[postfix:$load]:-}" | cut -d' ' -f1)" \
    "Exim $(stats "${CPUS[exim:$load]:-}" | cut -d' ' -f1)")"
}
pick() {  # max|min "NAME VALUE"...: the pair with the largest/smallest value (NA skipped)
  local how=$1; shift
  printf '%s\n' "$@" | awk -v how="$how" '$2 != "NA" && $2 != "" {
      if (!n++ || (how == "max" && $2 > v) || (how == "min" && $2 < v)) { b = $1; v = $2 } }
    END{ if (n) print b, v; else print "none NA" }'
}
# atleast A B: 1 when A >= B, 0 when not, empty when either is NA
atleast() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "NA" || b == "NA" || a == "" || b == "") print ""; else print (a + 0 >= b + 0) ? 1 : 0 }'; }
