#!/bin/sh
# test_dbmbuild.sh - black-box tests of tern_dbmbuild (exit codes, messages,
# atomic replacement). Needs TERN_BIN_DIR, the directory holding the binary.
# Prints TAP; exits 1 if any check failed.

. "$(dirname "$0")/tap.sh"
: "${TERN_BIN_DIR:?set TERN_BIN_DIR to the directory holding tern_dbmbuild}"
BIN=$TERN_BIN_DIR/tern_dbmbuild
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
[ -x "$BIN" ] || { echo "Bail out! $BIN is not executable"; exit 1; }

T=$(mktemp -d /tmp/test_dbmbuild.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1

has() { grep -q -- "$1" "$2"; }
no_tmp() { ! ls | grep -q '\.tmp\.'; }

# --- success
printf '# test aliases\nalice: a@example.com\nBob bob@example.net\n' >good
printf '"quoted: key": q\ncarol:\n  line1\n  line2\n' >>good
"$BIN" good good.db >out 2>err
rc=$?
check "success exits 0" [ "$rc" -eq 0 ]
check "DST created" [ -s good.db ]
check "reports entry count" has "4 entries written to good.db" out
check "quiet stderr on success" [ ! -s err ]
check "no temp file after success" no_tmp

# --- malformed line 3: exit 1, SRC:3:, no DST, no temp file
printf 'a: 1\nb: 2\n"unterminated: 3\nd: 4\n' >bad
"$BIN" bad bad.db >out 2>err
rc=$?
check "bad line exits 1" [ "$rc" -eq 1 ]
check "stderr names bad:3:" has "^tern_dbmbuild: bad:3: " err
check "DST not created" [ ! -e bad.db ]
check "no temp file after failure" no_tmp

# --- every bad line reported
printf '"x\n: y\nok: 1\n' >bad2
"$BIN" bad2 bad2.db >out 2>err
check "first bad line reported" has "bad2:1: " err
check "second bad line reported" has "bad2:2: " err

# --- existing DST untouched on failure
cp good.db keep.db
cksum <keep.db >before
"$BIN" bad keep.db >out 2>err
rc=$?
cksum <keep.db >after
check "failure with existing DST exits 1" [ "$rc" -eq 1 ]
check "existing DST untouched" cmp -s before after
check "no temp file left" no_tmp

# --- duplicate key: warning, first kept, still success
printf 'dup: first\nother: x\nDUP: second\n' >dup
"$BIN" dup dup.db >out 2>err
rc=$?
check "duplicate key still succeeds" [ "$rc" -eq 0 ]
check "duplicate key warning" \
    has 'dup:3: duplicate key "DUP" ignored (first kept)' err
check "duplicates not counted" has "2 entries written" out

# --- rebuild replaces DST
printf 'alice: new\n' >good
"$BIN" good good.db >out 2>err
check "rebuild over existing DST" has "1 entry written to good.db" out

# --- usage
"$BIN" >out 2>err
check "no arguments exits 2" [ $? -eq 2 ]
check "usage on stderr" has "^usage: tern_dbmbuild" err
"$BIN" a b c >out 2>err
check "three arguments exits 2" [ $? -eq 2 ]
"$BIN" -x a b >out 2>err
check "unknown option exits 2" [ $? -eq 2 ]
"$BIN" --help >out 2>err
check "--help exits 0" [ $? -eq 0 ]
check "--help prints usage on stdout" has "^usage: tern_dbmbuild" out
"$BIN" missing missing.db >out 2>err
check "missing source exits 1" [ $? -eq 1 ]
check "missing source message" has "failed to open missing" err

tap_done
