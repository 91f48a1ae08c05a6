#!/bin/bash
# The Debian package, end to end: build it with dpkg-buildpackage, check it
# with lintian, bootstrap a throwaway Debian bookworm root (debootstrap,
# minbase, from Debian's mirror), install the .deb there with apt together
# with Debian's dovecot-core/-imapd/-pop3d, start that Dovecot on
# 127.0.0.1, add an account against the sandbox's external server (outside
# the root, same network) and fetch; upgrade over itself and keep key and
# accounts; remove (mail, accounts and key stay, Dovecot still starts);
# purge (the key goes). The Roundcube plugin package (arch all) installs
# there with Debian's Roundcube.
#
# Everything happens under $FETCHMAIL_BUILD_DIR/pkgtest and inside the
# private mount namespace of scripts/ns-run: proc, dev and run are mounted
# into the root only there. The machine's own /etc, /var/lib/dovecot and
# /usr/lib/dovecot are never touched.
#
# Caches between local runs (CI starts from nothing): the built .deb is
# reused while the sources are unchanged, and the bootstrapped root is kept
# as bookworm-minbase.tar. FETCHMAIL_PKGTEST_FRESH=1 ignores both.
# FETCHMAIL_DEBIAN_MIRROR overrides http://deb.debian.org/debian.
export SANDBOX_EXTRAS=
source "$(dirname "$0")/lib.sh"

for tool in dpkg-buildpackage debootstrap lintian fakeroot dh; do
	command -v "$tool" >/dev/null ||
		fatal "$tool is missing: scripts/build installs the packaging tools"
done

PKG=$FETCHMAIL_BUILD_DIR/pkgtest
ROOT=$PKG/root
MIRROR=${FETCHMAIL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$PKG"
T0=$SECONDS
timing() { say "$1 after $((SECONDS - T0)) s"; }

# ------------------------------------------------------------------ the root's mounts
# The root must never be removed while something is mounted below it:
# /dev is the machine's.
root_umount() {
	local m
	for m in $(findmnt -rn -o TARGET | grep -F "$ROOT/" | sort -r); do
		umount -l "$m" || true
	done
}
root_remove() {
	root_umount
	if findmnt -rn -o TARGET | grep -qF "$ROOT/"; then
		echo "# $ROOT still has mounts: not removed" >&2
		return 1
	fi
	rm -rf --one-file-system "$ROOT"
}
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
dovecot_stop() {
	local pid
	pid=$(cat "$ROOT/run/dovecot/master.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	wait_until 15 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
}
on_exit 'dovecot_stop; root_umount'

# ------------------------------------------------------------------ build
check "the package builds with dpkg-buildpackage -us -uc -b"
VERSION=$(sed -n 's/^project(dovecot-fetchmail VERSION \([0-9.]*\).*/\1/p' \
	"$FETCHMAIL_SOURCE_DIR/CMakeLists.txt")
DEB=$PKG/dovecot-fetchmail_${VERSION}_amd64.deb
cd "$FETCHMAIL_SOURCE_DIR"
src_hash=$(git ls-files -co --exclude-standard | grep -v -e '^build' -e '^debian/\.' |
	sort | while read -r f; do [[ -f $f ]] && sha256sum "$f"; done | sha256sum | cut -c1-16)
if [[ ${FETCHMAIL_PKGTEST_FRESH:-} != 1 && -f $DEB && $(cat "$PKG/src.hash" 2>/dev/null) == "$src_hash" ]]; then
	say "sources unchanged: reusing $DEB"
else
	rm -rf "$PKG/src" "$PKG"/*.deb "$PKG"/*.changes "$PKG"/*.buildinfo "$PKG/src.hash"
	mkdir -p "$PKG/src"
	git ls-files -co --exclude-standard | grep -v -e '^build' |
		while read -r f; do [[ -f $f ]] && echo "$f"; done |
		tar -cf - -T - | tar -xf - -C "$PKG/src"
	if (cd "$PKG/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
		dpkg-buildpackage -us -uc -b) >"$PKG/build.log" 2>&1; then
		echo "$src_hash" >"$PKG/src.hash"
	else
		tail -n 40 "$PKG/build.log"
		fatal "dpkg-buildpackage failed (log: $PKG/build.log)"
	fi
fi
[[ -f $DEB ]] || fatal "no $DEB"
pass "built $(basename "$DEB")"
timing "built"
CONTROL=$(dpkg-deb -f "$DEB")
assert_match "$CONTROL" $'\nDepends: [^\n]*dovecot-abi-2\\.3\\.abiv[0-9]+' "depends on the Dovecot ABI"
assert_contains "$CONTROL" "dovecot-abi-$(cat /usr/share/dovecot/dovecot-abi)" \
	"the ABI of the Dovecot it was built against"
assert_match "$CONTROL" $'\nDepends: [^\n]*dovecot-core' "depends on dovecot-core"
assert_contains "$(dpkg-deb -c "$DEB")" "./etc/dovecot/conf.d/90-fetchmail.conf" "ships the conf"
RCDEB=$PKG/dovecot-fetchmail-roundcube_${VERSION}_all.deb
[[ -f $RCDEB ]] && pass "built $(basename "$RCDEB")" || fail "no $RCDEB"
RCFILES=$(dpkg-deb -c "$RCDEB")
assert_contains "$RCFILES" "./usr/share/roundcube/plugins/fetchmail/fetchmail.php" "the Roundcube plugin"
assert_contains "$RCFILES" "./usr/share/roundcube/plugins/fetchmail/config.inc.php -> /etc/roundcube/plugins/fetchmail/config.inc.php" \
	"its config links to /etc/roundcube/plugins/fetchmail"
assert_eq "$(dpkg-deb -f "$RCDEB" Architecture)" all "arch all"

check "lintian: no errors"
assert_ok lintian --fail-on error "$PKG/dovecot-fetchmail_${VERSION}_amd64.changes"
assert_not_contains "$OUT" "E: " "no lintian error"

# the same build, version bumped, for a real upgrade (dpkg runs the upgrade
# paths of the maintainer scripts) without a second compile
UPVER=$VERSION+pkgtest1
rm -rf "$PKG/repack"
dpkg-deb -R "$DEB" "$PKG/repack"
sed -i "s/^Version: .*/Version: $UPVER/" "$PKG/repack/DEBIAN/control"
DEB2=$PKG/dovecot-fetchmail_${UPVER}_amd64.deb
dpkg-deb -b "$PKG/repack" "$DEB2" >/dev/null

# ------------------------------------------------------------------ the root
check "a Debian bookworm root from Debian's packages"
[[ ! -d $ROOT ]] || root_remove || fatal "cannot clear $ROOT"
mkdir -p "$ROOT"
TARBALL=$PKG/bookworm-minbase.tar
if [[ ${FETCHMAIL_PKGTEST_FRESH:-} != 1 && -f $TARBALL ]]; then
	tar -xf "$TARBALL" -C "$ROOT"
	say "root from the cached $TARBALL"
else
	debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$PKG/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$PKG/debootstrap.log"; fatal "debootstrap failed"; }
	tar -cf "$TARBALL.tmp" -C "$ROOT" . && mv "$TARBALL.tmp" "$TARBALL"
fi
assert_contains "$(cat "$ROOT/etc/debian_version")" "12." "bookworm"
timing "root ready"

cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOF
printf '#!/bin/sh\n# nothing starts by itself in this root\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount -t tmpfs -o mode=0755 tmpfs "$ROOT/run"

# ------------------------------------------------------------------ install
check "apt installs the package with Debian's Dovecot"
cp "$DEB" "$DEB2" "$ROOT/tmp/"
assert_ok in_root apt-get update -qq
assert_ok in_root apt-get install -y -q --no-install-recommends \
	"/tmp/$(basename "$DEB")" dovecot-imapd dovecot-pop3d
[[ $RC == 0 ]] || fatal "apt-get install failed: $OUT"
timing "installed"
assert_eq "$(in_root dpkg-query -W -f='${Status} ${Version}' dovecot-fetchmail)" \
	"install ok installed $VERSION" "installed"
for f in /usr/lib/dovecot/modules/lib90_fetchmail_plugin.so \
	/usr/lib/dovecot/modules/doveadm/lib10_doveadm_fetchmail_plugin.so \
	/usr/share/dovecot/protocols.d/fetchmail.protocol \
	/usr/share/man/man1/doveadm-fetchmail.1.gz \
	/usr/share/doc/dovecot-fetchmail/admin-guide.md.gz \
	/usr/share/doc/dovecot-fetchmail/migration.md.gz; do
	[[ -f $ROOT$f ]] && pass "installed $f" || fail "missing $f"
done
assert_contains "$(in_root dpkg-query -W -f='${Conffiles}' dovecot-fetchmail)" \
	"/etc/dovecot/conf.d/90-fetchmail.conf" "90-fetchmail.conf is a conffile"
KEY=$ROOT/etc/dovecot/fetchmail.key
assert_eq "$(stat -c '%a %U %G' "$KEY")" "600 root root" "the key: root only"
assert_match "$(cat "$KEY")" '^[0-9a-f]{64}$' "the key: 64 hex digits"
KEY_SUM=$(sha256sum <"$KEY")
assert_eq "$(stat -c '%a %U %G' "$ROOT/var/lib/dovecot/fetchmail")" "700 root root" "state directory"
assert_contains "$(in_root doveconf -h mail_plugins)" "fetchmail" "Dovecot's config loads the plugin"
assert_ok in_root doveadm fetchmail version

# ------------------------------------------------------------------ run it
check "start the root's Dovecot on 127.0.0.1 and fetch from the sandbox"
sandbox_up   # the external server to fetch from, outside the root
IMAP_PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
U=tester@example.org
TESTER_PASSWORD=tester-$RANDOM$RANDOM
cp "$CA_FILE" "$ROOT/etc/dovecot/pkgtest-ca.pem"
echo "$U:{PLAIN}$TESTER_PASSWORD:8:8::/srv/mail/tester::" >"$ROOT/etc/dovecot/pkgtest-users"
chmod 0640 "$ROOT/etc/dovecot/pkgtest-users"
in_root chgrp dovecot /etc/dovecot/pkgtest-users
mkdir -p "$ROOT/srv/mail/tester"
in_root chown -R mail:mail /srv/mail
# the system passdb/userdb (PAM, passwd) are not for this test's user
sed -i 's/^!include auth-system.conf.ext/#&/' "$ROOT/etc/dovecot/conf.d/10-auth.conf"
cat >"$ROOT/etc/dovecot/conf.d/99-pkgtest.conf" <<EOF
# test-debian-package.sh
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 8
mail_uid = mail
mail_gid = mail
mail_location = maildir:~/Maildir
log_path = /var/log/dovecot-pkgtest.log
instance_name = dovecot-pkgtest
ssl_client_ca_file = /etc/dovecot/pkgtest-ca.pem
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u /etc/dovecot/pkgtest-users
}
userdb {
  driver = passwd-file
  args = username_format=%u /etc/dovecot/pkgtest-users
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
dovecot_start() {
	if in_root /usr/sbin/dovecot </dev/null >/dev/null 2>"$PKG/dovecot-start.err"; then
		pass "the root's Dovecot starts"
	else
		fail "the root's Dovecot does not start: $(cat "$PKG/dovecot-start.err")"
	fi
	wait_until 15 test -s "$ROOT/run/dovecot/master.pid" || fail "Dovecot did not start: $(tail -n 20 "$ROOT/var/log/dovecot-pkgtest.log")"
	wait_until 15 bash -c "echo > /dev/tcp/127.0.0.1/$IMAP_PORT" || fail "no IMAP listener"
}
imap_count() { # messages in the tester's INBOX, over IMAP
	"$PYTHON" - "$IMAP_PORT" "$U" "$TESTER_PASSWORD" <<-'EOF'
	import imaplib, sys
	c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
	c.login(sys.argv[2], sys.argv[3])
	typ, data = c.select("INBOX", readonly=True)
	print(int(data[0]))
	c.logout()
	EOF
}
dovecot_start
assert_eq "$(imap_count)" 0 "IMAP login to the root's Dovecot, empty INBOX"
# processes of the root's Dovecot (the sandbox may run a service of its own)
root_pgrep() {
	local p
	for p in $(pgrep -f "$1"); do
		[[ $(readlink "/proc/$p/root") == "$ROOT" ]] && return 0
	done
	return 1
}
wait_until 15 root_pgrep "doveadm fetchmail service" &&
	pass "the fetch service runs" ||
	fail "the fetch service is not running"
assert_eq "$(stat -c '%u %a' "$ROOT/var/lib/dovecot/fetchmail")" "0 700" \
	"the registry's directory is root's only"

ID=$(in_root doveadm fetchmail add -u "$U" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user alice --password "$ALICE_PASSWORD" --tls implicit \
	2>"$PKG/add.err") || fail "add failed: $(cat "$PKG/add.err")"
assert_match "$ID" '^fm-[a-z2-7]{8}$' "account added"
assert_eq "$(cat "$PKG/add.err")" "" "add says nothing on stderr (the service was told)"
three() { [[ $(imap_count) == 3 ]]; }
assert_ok wait_until 30 three
pass "the service fetched alice's 3 messages by itself (no run, no cron)"
assert_ok in_root doveadm -f tab fetchmail run -u "$U" "$ID"
assert_match "$OUT" $'\tok\t0\t' "run now: nothing new"
assert_eq "$(imap_count)" 3 "the 3 messages are in the INBOX, over IMAP"
timing "fetched"

# ------------------------------------------------------------------ upgrade
check "upgrade over itself: key, conffile and accounts stay"
assert_ok in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$DEB2")"
assert_eq "$(in_root dpkg-query -W -f='${Version}' dovecot-fetchmail)" "$UPVER" "upgraded"
assert_eq "$(sha256sum <"$KEY")" "$KEY_SUM" "the key is the same"
assert_eq "$(find "$ROOT/etc/dovecot" -name '*.dpkg-*' | wc -l)" 0 "no conffile prompt leftovers"
dovecot_stop
dovecot_start
assert_ok in_root doveadm -f tab fetchmail list -u "$U"
assert_contains "$OUT" "$ID" "the account is still there"
sandbox_fill alice 1 1k
assert_ok in_root doveadm -f tab fetchmail run -u "$U" "$ID"
assert_match "$OUT" $'\tok\t1\t' "after the upgrade: only the new message (password and ledger read)"
assert_eq "$(imap_count)" 4 "4 messages"

# ------------------------------------------------------------------ remove
check "apt remove: mail, accounts, key and conffile stay; Dovecot still starts"
dovecot_stop
assert_ok in_root apt-get remove -y -q dovecot-fetchmail
assert_eq "$(in_root dpkg-query -W -f='${Status}' dovecot-fetchmail)" \
	"deinstall ok config-files" "removed, config kept"
[[ ! -e $ROOT/usr/lib/dovecot/modules/lib90_fetchmail_plugin.so ]] && pass "plugin gone" || fail "plugin still there"
[[ ! -e $ROOT/usr/share/dovecot/protocols.d/fetchmail.protocol ]] && pass "plugin no longer loaded" ||
	fail "protocols.d/fetchmail.protocol still there"
[[ -f $ROOT/etc/dovecot/conf.d/90-fetchmail.conf ]] && pass "conffile kept" || fail "conffile gone"
assert_eq "$(sha256sum <"$KEY")" "$KEY_SUM" "the key is kept"
assert_contains "$(cat "$ROOT/srv/mail/tester/dovecot-attributes")" "fetchmail/account/$ID" \
	"the account record is kept"
assert_ok in_root doveconf -n
dovecot_start
assert_eq "$(imap_count)" 4 "the mail is still there, Dovecot runs without the plugin"
dovecot_stop
assert_ok in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$DEB2")"
assert_eq "$(sha256sum <"$KEY")" "$KEY_SUM" "reinstall: the same key"
dovecot_start
sandbox_fill alice 1 1k
assert_ok in_root doveadm -f tab fetchmail run -u "$U" "$ID"
assert_match "$OUT" $'\tok\t1\t' "reinstalled: the kept account fetches only new mail"
dovecot_stop

# ------------------------------------------------------------------ purge
check "apt purge: the key goes, the mail stays"
assert_ok in_root apt-get purge -y -q dovecot-fetchmail
assert_eq "$(in_root dpkg-query -W -f='${Status}' dovecot-fetchmail 2>&1 || true)" \
	"dpkg-query: no packages found matching dovecot-fetchmail" "purged"
[[ ! -e $KEY ]] && pass "the key is gone" || fail "the key is still there"
[[ ! -e $ROOT/etc/dovecot/conf.d/90-fetchmail.conf ]] && pass "conffile gone" || fail "conffile still there"
[[ ! -e $ROOT/var/lib/dovecot/fetchmail ]] && pass "state directory gone" || fail "state directory still there"
dovecot_start
assert_eq "$(imap_count)" 5 "the mail stays after purge"
dovecot_stop

# ------------------------------------------------------------------ Roundcube
check "the Roundcube plugin package installs with Debian's Roundcube"
cp "$RCDEB" "$ROOT/tmp/"
assert_ok in_root apt-get install -y -q --no-install-recommends \
	"/tmp/$(basename "$RCDEB")" roundcube-sqlite3
assert_eq "$(in_root dpkg-query -W -f='${Status}' dovecot-fetchmail-roundcube)" \
	"install ok installed" "installed"
assert_contains "$(in_root dpkg-query -W -f='${Conffiles}' dovecot-fetchmail-roundcube)" \
	"/etc/roundcube/plugins/fetchmail/config.inc.php" "its settings are a conffile"
for f in fetchmail.php lib/fetchmail_api.php config.inc.php; do
	assert_ok in_root php -l "/usr/share/roundcube/plugins/fetchmail/$f"
done
assert_eq "$(in_root php -r 'include "/usr/share/roundcube/plugins/fetchmail/config.inc.php"; echo $config["fetchmail_api_url"];')" \
	"http://127.0.0.1:8080/doveadm/v1" "the plugin reads its settings through the link"
timing "done"

root_remove || fail "could not remove $ROOT"
