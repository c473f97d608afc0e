#!/bin/sh
# test_layercheck.sh - unit tests of tools/layercheck.py on tiny fake trees
# (a tools/layers.txt and a few .c/.h files in a temp dir): a clean tree
# passes; upward, sideways, lua.h, driver-to-driver includes and unclaimed
# folders fail with file:line and both layers; relative includes resolve.
# Prints TAP; exits 1 if any check failed.

. "$(dirname "$0")/tap.sh"
TOP=${TERN_TOP:-.}
case $TOP in /*) ;; *) TOP=$(pwd)/$TOP ;; esac
CHECK=$TOP/tools/layercheck.py
[ -f "$CHECK" ] || { echo "Bail out! $CHECK not found"; exit 1; }

T=$(mktemp -d /tmp/test_layercheck.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

tap_diag() { sed 's/^/#   /' "$T/out" "$T/err"; }
says() { grep -qxF -- "$1" "$T/out"; }
quiet() { [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; }
lines() { [ "$(wc -l <"$T/out")" -eq "$1" ]; }

# tree: a fresh fake tree in $T/tree with a small layer table
tree() {
    rm -rf "$T/tree"
    mkdir -p "$T/tree/tools"
    cat >"$T/tree/tools/layers.txt" <<'EOF'
# a fake table: base < conf < lua < routers, transports
base        core/base  :
conf        core/conf  : base
lua         lua        : base conf
routers     routers    : base conf lua
transports  transports : base conf lua
outside     test-suite
only  lua.h lauxlib.h lualib.h : lua routers/lua.c
drivers  routers : dnslookup lua manualroute
EOF
    put core/base/pool.h '/* pool.h */'
    put core/base/pool.c '/* pool.c */' '#include <string.h>' '#include "core/base/pool.h"'
    put core/conf/conf.h '/* conf.h */' '#include "core/base/pool.h"'
    put core/conf/conf.c '/* conf.c */' '#include "core/conf/conf.h"'
    put lua/lstate.c '/* lstate.c */' '#include <lua.h>' '#include <lauxlib.h>' \
        '#include "core/conf/conf.h"'
    put routers/router.h '/* router.h */' '#include "core/conf/conf.h"'
    put routers/dnslookup.c '/* dnslookup.c */' '#include "routers/router.h"'
    put transports/transport.h '/* transport.h */' '#include "core/conf/conf.h"'
    put transports/smtp.c '/* smtp.c */' '#include "transports/transport.h"'
    put test-suite/unit/test_x.c '/* anything goes here */' '#include <lua.h>' \
        '#include "routers/router.h"'
}
# put FILE LINE... - write the lines into the tree's FILE
put() {
    f=$T/tree/$1
    shift
    mkdir -p "$(dirname "$f")"
    printf '%s\n' "$@" >"$f"
}
run() { python3 "$CHECK" "$T/tree" >"$T/out" 2>"$T/err"; rc=$?; }

# --- a clean tree
tree
run
check "clean tree exits 0" [ "$rc" -eq 0 ]
check "clean tree prints nothing" quiet

# --- an upward include
tree
put core/base/pool.c '/* pool.c */' '#include <string.h>' '' '#include "core/conf/conf.h"'
run
check "upward include exits 1" [ "$rc" -eq 1 ]
check "upward include names file:line, header and both layers" \
    says 'core/base/pool.c:4: includes core/conf/conf.h (layer base may not use conf)'
check "upward include is the only violation" lines 1

# --- sideways, routers <-> transports
tree
put routers/dnslookup.c '/* dnslookup.c */' '#include "transports/transport.h"'
put transports/smtp.c '/* smtp.c */' '#include "routers/router.h"'
run
check "sideways includes exit 1" [ "$rc" -eq 1 ]
check "routers may not use transports" \
    says 'routers/dnslookup.c:2: includes transports/transport.h (layer routers may not use transports)'
check "transports may not use routers" \
    says 'transports/smtp.c:2: includes routers/router.h (layer transports may not use routers)'

# --- lua.h: not from core/conf, yes from routers/lua.c
tree
put core/conf/conf.c '/* conf.c */' '#include "core/conf/conf.h"' '#  include <lualib.h>'
put routers/lua.c '/* lua.c */' '#include <lua.h>' '#include "routers/router.h"'
run
check "lualib.h from core/conf exits 1" [ "$rc" -eq 1 ]
check "lualib.h from core/conf is named" \
    says 'core/conf/conf.c:3: includes <lualib.h> (only lua, routers/lua.c may)'
check "lua.h from routers/lua.c passes" lines 1
tree
put transports/smtp.c '/* smtp.c */' '#include <lua.h>'
run
check "lua.h from another driver folder fails" \
    says 'transports/smtp.c:2: includes <lua.h> (only lua, routers/lua.c may)'

# --- drivers do not include each other; helpers are fine
tree
put routers/manualroute.h '/* manualroute.h */' '#include "routers/router.h"'
put routers/manualroute.c '/* manualroute.c */' '#include "routers/manualroute.h"'
put routers/dnslookup.c '/* dnslookup.c */' '#include "routers/router.h"' \
    '#include "routers/manualroute.h"'
run
check "driver including another driver fails" \
    says 'routers/dnslookup.c:3: includes routers/manualroute.h (drivers in routers do not include each other)'
check "a driver may include its own header" lines 1

# --- a folder no layer claims
tree
put core/dkim/dkim.c '/* dkim.c */' '#include "core/base/pool.h"'
run
check "unclaimed folder exits 1" [ "$rc" -eq 1 ]
check "unclaimed folder is named" \
    says 'core/dkim/dkim.c: in folder core/dkim, which no layer of tools/layers.txt claims'
tree
put core/conf/sub/x.h '/* x.h */'
run
check "a subfolder of a layer's folder is not claimed" \
    says 'core/conf/sub/x.h: in folder core/conf/sub, which no layer of tools/layers.txt claims'
tree
put core/base/pool.c '/* pool.c */' '#include "test-suite/unit/tap.h"'
put test-suite/unit/tap.h '/* tap.h */'
run
check "including a file of an outside folder fails" \
    says 'core/base/pool.c:2: includes test-suite/unit/tap.h (layer base may not use test-suite/unit, which is in no layer)'

# --- relative includes
tree
put core/base/x.h '/* x.h */'
put core/base/pool.c '/* pool.c */' '#include "x.h"'
put core/conf/x.h '/* x.h */'
put core/conf/conf.c '/* conf.c */' '#include "x.h"' '#include "../base/x.h"'
run
check "same-folder \"x.h\" resolves to its own layer" [ "$rc" -eq 0 ]
tree
put core/conf/x.h '/* x.h */'
put core/base/pool.c '/* pool.c */' '#include "../conf/x.h"'
run
check "\"../conf/x.h\" from core/base resolves to layer conf" \
    says 'core/base/pool.c:2: includes core/conf/x.h (layer base may not use conf)'
tree
put core/conf/conf.h '/* conf.h */' '#include "routers/router.h"'
put core/conf/routers/router.h '/* a decoy */'
run
check "an include resolves from the top first" \
    says 'core/conf/conf.h:2: includes routers/router.h (layer conf may not use routers)'
tree
put core/base/pool.c '/* pool.c */' '#include "nosuch.h"' '#include <core/conf/conf.h>'
run
check "a quoted include not in the tree fails" \
    says 'core/base/pool.c:2: includes "nosuch.h" (not found in the tree)'
check "an angle include of a tree header is checked too" \
    says 'core/base/pool.c:3: includes core/conf/conf.h (layer base may not use conf)'

# --- a bad table
tree
echo 'hints core/hints : base nosuch' >>"$T/tree/tools/layers.txt"
run
check "a table naming an unknown layer exits 2" [ "$rc" -eq 2 ]
check "the unknown layer is named" grep -q 'unknown layer nosuch' "$T/err"

tap_done
