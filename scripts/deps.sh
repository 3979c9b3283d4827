#!/usr/bin/env bash
# Installs the Debian packages Ensemble builds and runs with, when missing,
# and those its tests use: systemd (systemd-analyze, for the units),
# mandoc and man-db (the man pages), debhelper, dpkg-dev and lintian (the
# package test builds, checks and installs the package),
# python3-prometheus-client (its text parser reads /metrics), chromium
# (the web page's test opens it there, headless), postgresql-15 (the
# PostgreSQL engine's tests start a throwaway cluster of their own,
# tests/pg/cluster.sh, never the system's service).
# Runs as root on a fresh Debian 12; as another user it only reports.
set -eu
pkgs="build-essential cmake pkg-config libcurl4-openssl-dev libjansson-dev
libwebsockets-dev libwebsockets-evlib-uv libsqlite3-dev libuv1-dev libinih-dev
libical-dev libssl-dev libpq-dev python3-icalendar postgresql-15
sqlite3 tzdata curl python3 python3-prometheus-client clang libclang-rt-14-dev clang-format gdb openssl iproute2
libsystemd-dev systemd mandoc man-db debhelper dpkg-dev lintian chromium"
# Node.js and npm run the end-to-end tests against telegram-test-api and
# with matrix-js-sdk (which needs Node.js 20 or later); a machine that
# already has them (from elsewhere than Debian) keeps its own.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"

# Runs apt-get with its arguments, waiting for another apt-get or dpkg to
# finish (a fresh machine often runs unattended upgrades at boot) for up to
# ten minutes.  DPkg::Lock::Timeout makes apt wait for dpkg's lock, but
# `apt-get update` (apt 2.6) fails at once on the lists' lock whatever it
# says: that case is tried again.
apt_get() {
	local out tries=0
	until out=$(apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1); do
		if ! printf '%s' "$out" | grep -q "Could not get lock" || [ "$tries" -ge 300 ]; then
			printf '%s\n' "$out" >&2
			return 1
		fi
		[ "$tries" = 0 ] && echo "waiting for another apt-get or dpkg to finish (up to 10 minutes)"
		tries=$((tries + 1))
		sleep 2
	done
}

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages:$missing (run as root: apt-get install$missing)" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt_get update -qq
	apt_get install -y -qq --no-install-recommends $missing
fi

# matrix-js-sdk needs Node.js 20; Debian 12's own is 18.  With an older one
# its end-to-end test is skipped (and says why) instead of failing.
node_major=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p')
sdk=1
if [ "${node_major:-0}" -lt 20 ]; then
	echo "Node.js $(node --version 2>/dev/null || echo "is missing"): matrix-js-sdk needs Node.js 20 or later;" \
	     "its end-to-end test (script/test_matrix_sdk) will be skipped.  Install Node.js 20 to run it."
	sdk=0
fi

# npm packages, exactly as the lock files pin them.
tests="$(dirname "$0")/../tests"
for pkg in telegram/tta:telegram-test-api matrix/sdk:matrix-js-sdk web:ical.js web:playwright-core web:axe-core; do
	dir="$tests/${pkg%%:*}" name="${pkg#*:}"
	[ "$name" = matrix-js-sdk ] && [ "$sdk" = 0 ] && continue
	if [ ! -d "$dir/node_modules/$name" ]; then
		echo "installing $name (npm ci in tests/${pkg%%:*})"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
done
# The benchmark's peer (bench/peer/, grammY and better-sqlite3 12, which
# needs Node.js 20 too), which script/test_bench_peer starts.
peer="$(dirname "$0")/../bench/peer"
if [ "$sdk" = 1 ] && [ -f "$peer/package.json" ] && [ ! -d "$peer/node_modules/grammy" ]; then
	echo "installing grammy and better-sqlite3 (npm ci in bench/peer)"
	(cd "$peer" && npm ci --no-audit --no-fund --loglevel=error)
fi
