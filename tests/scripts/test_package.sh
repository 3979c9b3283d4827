#!/usr/bin/env bash
# The Debian package on this machine, as a self-hoster meets it: built with
# dpkg-buildpackage from a copy of the tree (its version the project's),
# hardened and stripped with a -dbgsym package beside it, no lintian error;
# installed with apt-get, its files, owners, modes, user and state
# directory checked, its units verified; the installed bot run by hand as
# the user "ensemble" against the fake Bot API (tests/package/
# run_installed.py), and its backup script; then removed (the data and the user stay) and purged
# (the state directory goes, and it says so).  The machine is left as it was
# found, whatever fails: the package purged, the user deleted if the test
# made it.  It needs root, and fails without it (CI runs as root).
set -u
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
is() { # is DESCRIPTION WANTED ACTUAL
	if [ "$2" = "$3" ]; then ok; else fail "$1: '$3', wanted '$2'"; fi
}
bail() {
	echo "FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || bail "the package test installs and purges a package: run it as root (CI does)"
for tool in dpkg-buildpackage dh lintian systemd-analyze apt-get setpriv readelf man python3; do
	command -v $tool > /dev/null || bail "$tool is missing (bash scripts/deps.sh installs it)"
done
if dpkg-query -W -f='${Status}' ensemble 2> /dev/null | grep -qv "not-installed"; then
	bail "the package ensemble is already on this machine: the test would remove it"
fi
user_was_there=0
getent passwd ensemble > /dev/null && user_was_there=1
tmp=$(mktemp -d)
# dpkg with its arguments, output in $tmp/out, waiting (up to ten minutes)
# while another apt-get or dpkg holds the lock (as apt-get does with
# DPkg::Lock::Timeout).
dpkg_wait() {
	local tries=0
	until dpkg "$@" > "$tmp/out" 2>&1; do
		grep -q "lock" "$tmp/out" && [ "$tries" -lt 300 ] || return 1
		tries=$((tries + 1))
		sleep 2
	done
}
cleanup() {
	dpkg-query -W ensemble > /dev/null 2>&1 && dpkg_wait -P ensemble
	if [ "$user_was_there" = 0 ] && getent passwd ensemble > /dev/null; then
		userdel ensemble 2> /dev/null
		getent group ensemble > /dev/null && groupdel ensemble 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# The build, in its own directory; the version is CMakeLists.txt's, and
# debian/changelog says the same.
version=$(sed -n 's/^project(ensemble VERSION \([0-9.]*\) .*/\1/p' "$src/CMakeLists.txt")
is "debian/changelog's version" "$version" "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)"
start=$(date +%s)
if ! JOBS=2 bash "$src/scripts/deb.sh" "$tmp/deb" > "$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log" >&2
	bail "dpkg-buildpackage failed"
fi
echo "package built in $(($(date +%s) - start)) s"
deb=$tmp/deb/ensemble_${version}_amd64.deb
[ -f "$deb" ] || bail "no $(basename "$deb"): $(ls "$tmp/deb")"
if [ -f "$tmp/deb/ensemble-dbgsym_${version}_amd64.deb" ]; then ok; else fail "no -dbgsym package"; fi
echo "installed size: $(dpkg-deb -f "$deb" Installed-Size) KiB"
is "Depends has libwebsockets-evlib-uv" 1 "$(dpkg-deb -f "$deb" Depends | grep -c 'libwebsockets-evlib-uv')"
is "Depends has tzdata" 1 "$(dpkg-deb -f "$deb" Depends | grep -c 'tzdata')"

# Hardening (dpkg-buildflags' hardening=+all) and stripping, read from the
# binary itself.
dpkg-deb -x "$deb" "$tmp/root"
elf=$tmp/root/usr/bin/ensemble
readelf -hdlW --dyn-syms -S "$elf" > "$tmp/elf"
has_elf() { # has_elf WHAT PATTERN
	if grep -qE -- "$2" "$tmp/elf"; then ok; else fail "the binary is not $1 (no /$2/ in readelf's output)"; fi
}
has_elf "PIE" "Type: +DYN"
has_elf "PIE" "FLAGS_1.*PIE"
has_elf "RELRO" "GNU_RELRO"
has_elf "BIND_NOW" "\(FLAGS\).*BIND_NOW"
has_elf "fortified" "__[a-z]+_chk"
has_elf "stack-protected" "__stack_chk_fail"
if grep -qE "\.symtab|\.debug_info" "$tmp/elf"; then fail "the binary is not stripped"; else ok; fi

# lintian: no error; the warnings are printed.
lintian "$deb" > "$tmp/lintian" 2>&1
grep -E "^[EW]: " "$tmp/lintian"
if grep -q "^E: " "$tmp/lintian"; then fail "lintian reports errors"; else ok; fi

# Installed as a self-hoster installs it.
if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
	"$deb" > "$tmp/install.log" 2>&1; then
	cat "$tmp/install.log" >&2
	bail "apt-get install $(basename "$deb") failed"
fi
mode() { stat -c '%U:%G %a' "$1" 2>&1; }
is "/usr/bin/ensemble" "root:root 755" "$(mode /usr/bin/ensemble)"
is "/etc/ensemble/ensemble.conf" "root:ensemble 640" "$(mode /etc/ensemble/ensemble.conf)"
is "the conffile" "/etc/ensemble/ensemble.conf" "$(dpkg-query -W -f='${Conffiles}' ensemble | awk '{print $1}')"
is "the configuration's database" "db = /var/lib/ensemble/ensemble.db" "$(grep '^db' /etc/ensemble/ensemble.conf)"
is "keys set (db alone; the others commented out)" 1 "$(grep -cE '^[a-z_]+ =' /etc/ensemble/ensemble.conf)"
is "/var/lib/ensemble" "ensemble:ensemble 700" "$(mode /var/lib/ensemble)"
for f in /lib/systemd/system/ensemble.service /lib/systemd/system/ensemble-backup.service \
	/lib/systemd/system/ensemble-backup.timer /usr/share/doc/ensemble/README.md.gz \
	/usr/share/doc/ensemble/changelog.gz /usr/share/doc/ensemble/copyright; do
	if [ -f "$f" ]; then ok; else fail "$f is not installed"; fi
done
is "man -w ensemble" /usr/share/man/man8/ensemble.8.gz "$(man -w ensemble 2>&1)"
is "man -w ensemble.conf" /usr/share/man/man5/ensemble.conf.5.gz "$(man -w 5 ensemble.conf 2>&1)"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd ensemble)
is "the user's shell" /usr/sbin/nologin "${shell:-no user ensemble}"
is "the user's home" /var/lib/ensemble "${home:-no user ensemble}"
if [ "${uid:-0}" -gt 0 ] && [ "${uid:-0}" -lt 1000 ]; then ok; else fail "ensemble is not a system user (uid ${uid:-none})"; fi
# Nothing is enabled at installation: the bot needs its token first.
if ls /etc/systemd/system/*.wants/ensemble* > /dev/null 2>&1; then fail "a unit was enabled at installation"; else ok; fi
for unit in ensemble.service ensemble-backup.service ensemble-backup.timer; do
	if systemd-analyze verify "/lib/systemd/system/$unit" > "$tmp/out" 2>&1 && ! [ -s "$tmp/out" ]; then
		ok
	else
		fail "systemd-analyze verify $unit:"
		cat "$tmp/out" >&2
	fi
done
systemd-analyze security --offline=true /lib/systemd/system/ensemble.service | tail -1

# The installed bot, by hand, as the service runs it.
mkdir "$tmp/run"
chmod 711 "$tmp"
chmod 755 "$tmp/run"
if python3 "$src/tests/package/run_installed.py" "$tmp/run/ensemble.conf"; then ok; else fail "the installed bot (above)"; fi

# ensemble-backup.service's work, as the service runs it: a copy of the
# database, 0600, that --check-db finds sound; copies older than KEEP_DAYS
# deleted, younger ones kept.
as_ensemble() { setpriv --reuid ensemble --regid ensemble --init-groups "$@"; }
backups=/var/lib/ensemble/backups
as_ensemble mkdir -m 700 $backups
as_ensemble touch -d "20 days ago" $backups/ensemble-2000-01-01T000000.db
as_ensemble touch -d "2 days ago" $backups/ensemble-2000-01-02T000000.db
if (cd / && KEEP_DAYS=14 as_ensemble /usr/libexec/ensemble/backup /etc/ensemble/ensemble.conf $backups) \
	> "$tmp/out" 2>&1; then
	ok
else
	fail "the backup script:"
	cat "$tmp/out" >&2
fi
copy=$(ls $backups | grep -v '^ensemble-2000' | head -1)
if [ -n "$copy" ]; then
	is "the backup" "ensemble:ensemble 600" "$(mode "$backups/$copy")"
	is "--check-db on the backup" ok "$(/usr/bin/ensemble --check-db "$backups/$copy" 2>&1)"
else
	fail "no backup in $backups: $(ls $backups)"
fi
if [ ! -e $backups/ensemble-2000-01-01T000000.db ]; then ok; else fail "a 20-day-old backup was kept"; fi
if [ -e $backups/ensemble-2000-01-02T000000.db ]; then ok; else fail "a 2-day-old backup was deleted"; fi

# Remove: the program goes, the data, the configuration and the user stay.
dpkg_wait -r ensemble || fail "dpkg -r: $(cat "$tmp/out")"
if [ ! -e /usr/bin/ensemble ]; then ok; else fail "dpkg -r left /usr/bin/ensemble"; fi
if [ -f /var/lib/ensemble/ensemble.db ]; then ok; else fail "dpkg -r removed the database"; fi
if [ -f /etc/ensemble/ensemble.conf ]; then ok; else fail "dpkg -r removed the configuration"; fi
if getent passwd ensemble > /dev/null; then ok; else fail "dpkg -r removed the user"; fi
# Purge: the state directory goes, and it says so.
dpkg_wait -P ensemble || fail "dpkg -P: $(cat "$tmp/out")"
if grep -q "Removing /var/lib/ensemble" "$tmp/out"; then ok; else fail "dpkg -P did not say it removes /var/lib/ensemble:"; cat "$tmp/out" >&2; fi
if [ ! -e /var/lib/ensemble ]; then ok; else fail "dpkg -P left /var/lib/ensemble"; fi
if [ ! -e /etc/ensemble ]; then ok; else fail "dpkg -P left /etc/ensemble: $(ls -A /etc/ensemble)"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
