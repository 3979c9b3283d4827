#!/usr/bin/env bash
# The systemd units as CMake made them for this build (BUILD/dist, beside
# the binary): `systemd-analyze verify` passes on each (with ExecStart's
# binary and the man pages pointed at this tree's), and `systemd-analyze
# security --offline=true` rates ensemble.service and ensemble-backup.service
# at an exposure of at most 2.5 ("OK" or better).  The package test checks
# the installed units the same way.
set -u
bin=$1
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
dist=$(dirname "$bin")/dist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

if ! command -v systemd-analyze > /dev/null; then
	echo "FAIL: systemd-analyze is missing (bash scripts/deps.sh installs systemd)" >&2
	exit 1
fi
mkdir -p "$tmp/units" "$tmp/man/man8" "$tmp/man/man5" "$tmp/libexec/ensemble"
cp "$src/docs/man/ensemble.8" "$tmp/man/man8/"
cp "$src/docs/man/ensemble.conf.5" "$tmp/man/man5/"
cp "$dist/backup" "$tmp/libexec/ensemble/backup"
chmod +x "$tmp/libexec/ensemble/backup"
bindir=$(sed -n 's|^ExecStart=\(.*\)/ensemble .*|\1|p' "$dist/ensemble.service")
libexec=$(sed -n 's|^ExecStart=\(.*\)/ensemble/backup .*|\1|p' "$dist/ensemble-backup.service")
for unit in ensemble.service ensemble-backup.service; do
	sed -e "s|^ExecStart=$bindir/ensemble |ExecStart=$bin |" \
	    -e "s|^ExecStart=$libexec/ensemble/backup |ExecStart=$tmp/libexec/ensemble/backup |" \
	    "$dist/$unit" > "$tmp/units/$unit"
done
cp "$src/dist/systemd/ensemble-backup.timer" "$tmp/units/"

for unit in ensemble.service ensemble-backup.service ensemble-backup.timer; do
	if MANPATH=$tmp/man systemd-analyze verify "$tmp/units/$unit" > "$tmp/out" 2>&1 && ! [ -s "$tmp/out" ]; then
		ok
	else
		fail "systemd-analyze verify $unit:"
		cat "$tmp/out" >&2
	fi
done
for unit in ensemble.service ensemble-backup.service; do
	systemd-analyze security --offline=true "$tmp/units/$unit" > "$tmp/out" 2>&1
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$tmp/out")
	echo "$unit: exposure ${level:-unknown}"
	if [ -n "$level" ] && awk "BEGIN { exit !($level <= 2.5) }"; then
		ok
	else
		fail "$unit: exposure '${level:-unknown}', wanted 2.5 or less:"
		grep "✗" "$tmp/out" >&2
	fi
done
# The README gives ensemble.service's figure.
systemd-analyze security --offline=true "$tmp/units/ensemble.service" > "$tmp/out" 2>&1
level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$tmp/out")
if grep -qF "exposure level $level" "$src/README.md"; then ok; else fail "README.md does not give the exposure level $level"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
