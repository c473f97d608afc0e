#!/bin/sh
# test_install.sh - make install honours PREFIX and DESTDIR, installs the
# programs, man pages and a configuration that loads and routes. It uses
# the normal build (make install builds it when needed).
cd "${TERN_TOP:-.}" || exit 1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
n=0
fail=0
t() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi; }
make -s install DESTDIR="$dest" PREFIX=/usr >"$dest/log" 2>&1
rc=$?                   # t's own n=$((...)) would reset $? before eval
t "make install exits 0" '[ "$rc" = 0 ] || { sed "s/^/#   /" "$dest/log"; false; }'
t "tern installed in PREFIX/sbin" '[ -x "$dest/usr/sbin/tern" ]'
t "tern_dbmbuild installed" '[ -x "$dest/usr/sbin/tern_dbmbuild" ]'
t "tern_dumpdb and tern_fixdb installed" '[ -x "$dest/usr/sbin/tern_dumpdb" ] && [ -x "$dest/usr/sbin/tern_fixdb" ]'
t "their man pages installed" '[ -f "$dest/usr/share/man/man8/tern_dumpdb.8" ] && [ -f "$dest/usr/share/man/man8/tern_fixdb.8" ]'
t "man pages installed" '[ -f "$dest/usr/share/man/man8/tern.8" ] && [ -f "$dest/usr/share/man/man8/tern_dbmbuild.8" ]'
t "configuration in /etc/tern/conf.d" '[ -f "$dest/etc/tern/conf.d/main/00_main.lua" ]'
t "system paths drop-in written" 'grep -q /var/spool/tern "$dest/etc/tern/conf.d/main/10_paths.lua"'
t "installed configuration loads" '"$dest/usr/sbin/tern" -C "$dest/etc/tern/conf.d" -bP spool_directory | grep -qx "spool_directory = /var/spool/tern"'
make -s install DESTDIR="$dest" PREFIX=/usr >"$dest/log2" 2>&1
rc=$?
t "a second make install exits 0" '[ "$rc" = 0 ] || { sed "s/^/#   /" "$dest/log2"; false; }'
t "a second install keeps the existing configuration" 'grep -q "leaving it alone" "$dest/log2" && [ -d "$dest/etc/tern/conf.d.dist" ]'
echo "1..$n"
exit $fail
