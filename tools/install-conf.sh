#!/bin/sh
# tools/install-conf.sh DESTDIR SYSCONFDIR - install the default
# configuration for a system: conf.d/ to SYSCONFDIR/tern/conf.d (kept if
# present), the alias file, and main/10_paths.lua which puts the spool and
# logs in the usual places instead of ../var.
set -eu
DESTDIR=$1
ETC=$DESTDIR$2/tern
if [ -d "$ETC/conf.d" ]; then
    echo "$ETC/conf.d exists; leaving it alone (new default in conf.d.dist)"
    rm -rf "$ETC/conf.d.dist"
    cp -R conf.d "$ETC/conf.d.dist"
    exit 0
fi
install -d "$ETC" "$DESTDIR/var/spool/tern" "$DESTDIR/var/log/tern" \
    "$DESTDIR/var/lib/tern"
cp -R conf.d "$ETC/conf.d"
[ -f "$ETC/aliases" ] || install -m 644 etc/aliases "$ETC/aliases"
[ -f "$DESTDIR/var/lib/tern/virtual_users" ] || \
    install -m 640 var/virtual_users "$DESTDIR/var/lib/tern/virtual_users"
cat > "$ETC/conf.d/main/10_paths.lua" <<'LUA'
-- main/10_paths.lua - written by `make install`: system paths instead of
-- the ../var of the source tree.
tern_var = "/var/lib/tern"
tern_etc = "/etc/tern"
main {
  spool_directory = "/var/spool/tern",
  log_file_path = "/var/log/tern/%slog",
}
LUA
echo "installed the configuration in $ETC/conf.d"
