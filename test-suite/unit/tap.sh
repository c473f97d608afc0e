# tap.sh - TAP for the shell unit tests, sourced before they cd anywhere:
#     . "$(dirname "$0")/tap.sh"
#     check "name" command args...   ok/not ok by the command's status
#     tap_done                       the plan; status 1 if any check failed
# A test may define tap_diag() to print "#   " lines after a failed check.
n=0
failed=0
tap_diag() { :; }
check() {       # check "name" command...
    name=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        tap_diag
        failed=$((failed + 1))
    fi
}
tap_done() {
    echo "1..$n"
    [ "$failed" -eq 0 ]
}
