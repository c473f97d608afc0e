#!/bin/sh
# tools/run.sh - `make run`: start tern on the embedded default
# configuration (conf.d/ of this tree, state under ./var).
#
# The SMTP daemon arrives with the SMTP server; until then this checks the
# configuration (tern -bV) and routes a few sample addresses (tern -bt), so
# a new user sees the routers at work.
set -eu
TERN=${1:-build/tern}
mkdir -p var/spool var/log var/mail
"$TERN" -C conf.d -bV
echo
echo "Routing sample addresses (tern -C conf.d -bt ...):"
echo
"$TERN" -C conf.d -bt postmaster@localhost "admin+lists@localhost" \
    root@localhost || true
echo
echo "Try: $TERN -C conf.d -bt ADDRESS...   (a remote address needs DNS)"
