#!/bin/sh
# test_style.sh - the rules of STYLE.md that a grep can enforce: no
# strcpy/strcat/sprintf; core/base includes no other tern header; core/
# never includes routers/, transports/ or acl/; only lua/ (and
# routers/lua.c) includes lua.h; drivers do not include each other.
cd "${TERN_TOP:-.}" || exit 1
n=0
fail=0
check() {   # check NAME OUTPUT-OF-GREP
    n=$((n + 1))
    if [ -z "$2" ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        echo "$2" | sed 's/^/#   /'
        fail=1
    fi
}
DIRS="core lua routers transports route acl load queue smtpd cmd tools"
SRC=$(find $DIRS -name '*.[ch]')
check "no strcpy, strcat or sprintf" \
    "$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf)\(' $SRC)"
check "core/base includes no other tern header" \
    "$(grep -nE '#include "(core|lua|routers|transports|acl)/' core/base/*.[ch] | grep -v '"core/base/')"
check "core never includes routers/, transports/ or acl/" \
    "$(grep -nE '#include "(routers|transports|acl)/' $(find core -name '*.[ch]'))"
check "only lua/ includes lua.h" \
    "$(grep -nlE '#include <(lua|lauxlib|lualib)\.h>' $SRC | grep -vE '^(lua|load)/')"
check "router drivers do not include each other" \
    "$(grep -nE '#include "routers/(dnslookup|manualroute|redirect|local_user|catch_all|lua)\.' routers/*.c)"
check "every .c file starts with a header comment" \
    "$(for f in $(find $DIRS -name '*.c'); do head -1 "$f" | grep -q '^/\*' || echo "$f"; done)"
echo "1..$n"
exit $fail
