#!/bin/sh
# test_retry_tools.sh - black-box tests of tern_dumpdb and tern_fixdb
# (output shape, deletion, exit codes). Needs TERN_BIN_DIR, the directory
# holding the binaries. The retry file is written with tern_dbmbuild (a
# GDBM file of "key value" lines; it stores keys in lower case, which the
# tools do not mind), in the record format of core/hints/retrydb.c.
# Prints TAP; exits 1 if any check failed.

. "$(dirname "$0")/tap.sh"
: "${TERN_BIN_DIR:?set TERN_BIN_DIR to the directory holding the binaries}"
B=$TERN_BIN_DIR
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
for p in tern_dumpdb tern_fixdb tern_dbmbuild; do
    [ -x "$B/$p" ] || { echo "Bail out! $B/$p is not executable"; exit 1; }
done
DUMP=$B/tern_dumpdb
FIX=$B/tern_fixdb

T=$(mktemp -d /tmp/test_retry_tools.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
TZ=UTC
export TZ

has() { grep -q -- "$1" "$2"; }
lines() { [ "$(wc -l <"$2")" -eq "$1" ]; }

mkdir -p spool/db
# 1700000000 = 14-Nov-2023 22:13:20 UTC
cat >src <<'EOF'
"t:mx.example:192.0.2.1" 1 1700000000 1700000000 1700000900 0 timeout_connect connect timed out
"r:u@b.example" 1 1700000000 1700010000 1700010900 1 rcpt_451 451 4.2.0 try later
"t:bad:1" garbage
EOF
"$B/tern_dbmbuild" src spool/db/retry >/dev/null 2>&1 ||
    { echo "Bail out! tern_dbmbuild failed"; exit 1; }

# --- dumpdb: two lines per good record, key order, expired marked
"$DUMP" spool retry >out 2>err
check "dumpdb exits 0" [ $? -eq 0 ]
check "dumpdb prints 2 lines per record (damaged one skipped)" lines 4 out
check "first record key line" \
    [ "$(sed -n 1p out)" = "r:u@b.example  rcpt_451 451 4.2.0 try later" ]
check "times line, expired marked *" [ "$(sed -n 2p out)" = \
"  first failed: 14-Nov-2023 22:13:20  last try: 15-Nov-2023 01:00:00  next try: 15-Nov-2023 01:15:00 *" ]
check "second record key line" [ "$(sed -n 3p out)" = \
    "t:mx.example:192.0.2.1  timeout_connect connect timed out" ]
check "unexpired record not marked" [ "$(sed -n 4p out)" = \
"  first failed: 14-Nov-2023 22:13:20  last try: 14-Nov-2023 22:13:20  next try: 14-Nov-2023 22:28:20" ]
check "damaged record warned about" has "damaged record for t:bad:1" err

# --- -C confdir takes spool_directory from the configuration
mkdir -p conf/main
printf 'main { spool_directory = "%s/spool" }\n' "$T" >conf/main/00.lua
"$DUMP" -C conf retry >out2 2>err
check "dumpdb -C exits 0" [ $? -eq 0 ]
check "dumpdb -C prints the same" cmp -s out out2

# --- no database yet: nothing, exit 0
mkdir empty
"$DUMP" empty retry >out 2>err
check "no database: exit 0" [ $? -eq 0 ]
check "no database: no output" [ ! -s out ]

# --- fixdb: list, -d, missing key, -a
"$FIX" spool retry >out 2>err
check "fixdb without options lists" [ $? -eq 0 ]
check "fixdb list is dumpdb's" cmp -s out out2
"$FIX" spool retry -d r:u@b.example >out 2>err
check "fixdb -d exits 0" [ $? -eq 0 ]
check "fixdb -d reports" has "^r:u@b.example: deleted" out
"$DUMP" spool retry >out 2>err
check "deleted record gone" [ "$(grep -c '^r:' out)" -eq 0 ]
check "other record kept" has "^t:mx.example:192.0.2.1 " out
"$FIX" spool retry -d r:u@b.example >out 2>err
check "fixdb -d of a missing key exits 1" [ $? -eq 1 ]
check "missing key message" has "r:u@b.example: no such record" err
"$FIX" spool retry -a >out 2>err
check "fixdb -a exits 0" [ $? -eq 0 ]
check "fixdb -a deletes the rest, the damaged one too" \
    has "^2 records deleted" out
"$DUMP" spool retry >out 2>err
check "after -a nothing is left" [ ! -s out ]

# --- usage errors: 64 and a usage line; --help: 0 on stdout
usage64() {     # usage64 BIN args...
    bin=$1
    shift
    "$bin" "$@" >uout 2>uerr
    [ $? -eq 64 ] && has "^usage: " uerr
}
check "dumpdb without arguments: 64" usage64 "$DUMP"
check "dumpdb without a database name: 64" usage64 "$DUMP" spool
check "dumpdb unknown database: 64" usage64 "$DUMP" spool wait-remote_smtp
check "dumpdb extra argument: 64" usage64 "$DUMP" spool retry extra
check "dumpdb -C without a directory: 64" usage64 "$DUMP" -C retry
check "dumpdb unknown option: 64" usage64 "$DUMP" -x spool retry
check "fixdb -d without a key: 64" usage64 "$FIX" spool retry -d
check "fixdb -a with -d: 64" usage64 "$FIX" spool retry -a -d k
check "fixdb unknown option: 64" usage64 "$FIX" spool retry -z
"$DUMP" --help >out 2>err
check "dumpdb --help exits 0 on stdout" \
    sh -c '[ $0 -eq 0 ] && grep -q "^usage: tern_dumpdb" out' $?
"$FIX" --help >out 2>err
check "fixdb --help exits 0 on stdout" \
    sh -c '[ $0 -eq 0 ] && grep -q "^usage: tern_fixdb" out' $?

# --- errors: 1 with a message
"$DUMP" missing retry >out 2>err
check "missing spool directory exits 1" [ $? -eq 1 ]
check "missing spool message" has "spool directory missing" err
# a damaged file is disposable (hintsdb.c): moved aside, logged, and the
# tools go on with a new one
mkdir -p broken/db
echo "not gdbm" >broken/db/retry
"$DUMP" broken retry >out 2>err
check "not a GDBM file: dumpdb exits 0 with no records" \
    sh -c '[ $0 -eq 0 ] && [ ! -s out ]' $?
check "not a GDBM file: it says it was moved aside" has "was damaged" err
check "not a GDBM file: kept as retry.corrupt-*" \
    sh -c 'ls broken/db/retry.corrupt-* >/dev/null 2>&1'
echo "not gdbm either" >broken/db/retry
"$FIX" broken retry -a >out 2>err
check "not a GDBM file: fixdb -a exits 0 with a new file" \
    sh -c '[ $0 -eq 0 ] && grep -q "^0 records deleted" out && [ -s broken/db/retry ]' $?
"$DUMP" -C nowhere retry >out 2>err
check "bad -C exits 1" [ $? -eq 1 ]

tap_done
