#!/bin/bash
# run_dns_tests.sh - run test_ev and test_dns against the test zone.
#
# USAGE: bash test-suite/unit/run_dns_tests.sh [BUILD_DIR]   (default: build)
# Starts dnsmasq through test-suite/lib/dnsmasq.sh in a temporary directory,
# runs $BUILD_DIR/test/test_ev and $BUILD_DIR/test/test_dns with
# TERN_TEST_DNS=127.0.0.1:PORT, stops dnsmasq on any exit, prints
# "N passed, N failed, N skipped" (a "# SKIP" line is a skip, not a pass)
# and exits non-zero if a test failed or a program did not finish cleanly
# (exit status, or a plan 1..N that is not the number of tests run).
set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-build}/test
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-dns.XXXXXX") || exit 1
trap 'bash "$here/../lib/dnsmasq.sh" stop "$tmp"; rm -rf "$tmp"' EXIT

port=$(bash "$here/../lib/dnsmasq.sh" start "$tmp") || exit 1
export TERN_TEST_DNS=127.0.0.1:$port

passed=0 failed=0 skipped=0 status=0
for t in test_ev test_dns; do
    echo "# $t (dnsmasq on $TERN_TEST_DNS)"
    timeout 300 "$bin/$t" >"$tmp/$t.out" 2>&1
    rc=$?
    cat "$tmp/$t.out"
    s=$(grep -c '^ok .*# SKIP' "$tmp/$t.out")
    p=$(($(grep -c '^ok ' "$tmp/$t.out") - s))
    f=$(grep -c '^not ok ' "$tmp/$t.out")
    plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$tmp/$t.out")
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    if grep -q '^1\.\.0 *# *SKIP' "$tmp/$t.out"; then
        skipped=$((skipped + 1))        # the whole file
    fi
    if [ "$rc" -ne 0 ] || [ "$plan" != "$((p + s + f))" ]; then
        echo "# $t: exit status $rc, plan '${plan}', $((p + s + f)) tests"
        status=1
    fi
done
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
