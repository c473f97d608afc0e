#!/bin/sh
# test_style.sh - the rules of STYLE.md that a grep can enforce: no
# strcpy/strcat/sprintf; every .c file starts with a header comment. The
# layer rules (who may include whom, who may include lua.h, drivers do not
# include each other) are one check: tools/layercheck.py against the table
# in tools/layers.txt.
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
layers=$(python3 tools/layercheck.py . 2>&1) ||
    layers=${layers:-"tools/layercheck.py failed and said nothing"}
check "includes follow the layers of tools/layers.txt" "$layers"
check "every .c file starts with a header comment" \
    "$(for f in $(find $DIRS -name '*.c'); do head -1 "$f" | grep -q '^/\*' || echo "$f"; done)"
echo "1..$n"
exit $fail
