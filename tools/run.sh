#!/bin/sh
# tools/run.sh - `make run`: start tern on the embedded default
# configuration (conf.d/ of this tree, state under ./var), in the
# foreground, listening on 127.0.0.1:2525. Ctrl-C stops it.
set -eu
TERN=${1:-build/tern}
mkdir -p var/spool var/log var/mail
"$TERN" -C conf.d -bV | tail -1
cat <<MSG

tern is starting on 127.0.0.1:2525 (conf.d/, state in ./var).
Try, in another terminal:
  swaks --server 127.0.0.1:2525 --to postmaster@localhost
  tail -f var/log/mainlog
  $TERN -C conf.d -bh 192.0.2.1        # test the policy as a remote client
  $TERN -C conf.d -bt postmaster@localhost
Stop with Ctrl-C.

MSG
exec "$TERN" -C conf.d -bdf -q30m
