# lib.sh - what the bench parts share (sourced by smtp.sh and deliver.sh):
# failure and note lists, logging, the MTAs' ports, stopping process
# trees, ports, Exim's trusted-config list, cleanup on exit, tern's
# complaints, and number helpers. The sourcing script sets BENCH_PART
# (its name in messages) and WORK (its scratch directory) first.

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
settle() { sync; sleep 2; }
# whole-machine CPU: "busy idle iowait" ticks since boot, and the busy%/iowait% between two
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5, $6}' /proc/stat; }
cpu_pct() { echo "$1 $2" | awk '{b=$4-$1; i=$5-$2; w=$6-$3; t=b+i+w; if (t<=0) t=1; printf "cpu %.0f%% busy, %.0f%% iowait", 100*b/t, 100*w/t}'; }
# CPU seconds the whole machine spent busy between two cpu_ticks readings
cpu_busy_secs() { echo "$1 $2" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($4-$1)/hz}'; }
