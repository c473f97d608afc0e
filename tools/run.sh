#!/bin/sh
# tools/run.sh - `make run`: start tern on the embedded default
# configuration (conf.d/ of this tree, state under ./var), in the
# foreground, listening on 127.0.0.1:2525. Ctrl-C stops it.
# Started as root, tern runs as tern_user (the "tern" account `make deps`
# creates): the daemon hands var/spool and var/log to it at start, and the
# virtual users' Maildirs under var/mail are written as that user, so
# var/mail is handed over here (links are not followed).
set -eu
TERN=${1:-build/tern}
mkdir -p var/spool var/log var/mail
if [ "$(id -u)" = 0 ] && getent passwd tern >/dev/null; then
    chown -R -h tern:tern var/mail
fi
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
