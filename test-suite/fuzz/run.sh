#!/bin/sh
# test-suite/fuzz/run.sh SECONDS - run every built fuzz target for SECONDS
# each, starting from its seed corpus; new inputs go to build-fuzz/corpus.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
for exe in build-fuzz/fuzz_*; do
    name=$(basename "$exe"); kind=${name#fuzz_}
    mkdir -p "build-fuzz/corpus/$kind"
    echo "== $name, $secs s"
    "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        "build-fuzz/corpus/$kind" "test-suite/fuzz/corpus/$kind" 2>&1 | tail -3
done
