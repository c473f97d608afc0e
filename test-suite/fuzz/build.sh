#!/bin/sh
# test-suite/fuzz/build.sh - build every libFuzzer target (fuzz_*.c) with
# clang, ASan and UBSan into build-fuzz/. The library is compiled once with
# the same flags.
set -eu
cd "$(dirname "$0")/../.."
OUT=build-fuzz
CFLAGS="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer $(pkg-config --cflags lua5.4 libcares openssl)"
LIBS="$(pkg-config --libs lua5.4 libcares openssl) -lgdbm -lcrypt -lm"
mkdir -p "$OUT/obj"
objs=""
SRCS=$(make -s --no-print-directory lib-srcs)
DIRS=$(for s in $SRCS; do dirname "$s"; done | sort -u)
for src in $SRCS; do
    obj="$OUT/obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find $DIRS -name "*.h" -newer "$obj" 2>/dev/null | head -1)" ]; then
        clang $CFLAGS -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
done
for t in test-suite/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    clang $CFLAGS -fsanitize=fuzzer "$t" $objs $LIBS -o "$OUT/$name"
done
