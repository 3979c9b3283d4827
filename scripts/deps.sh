#!/usr/bin/env bash
# Installs the Debian packages Ensemble builds and runs with, when missing.
# Runs as root on a fresh Debian 12; as another user it only reports.
set -eu
pkgs="build-essential cmake pkg-config libcurl4-openssl-dev libjansson-dev
libwebsockets-dev libwebsockets-evlib-uv libsqlite3-dev libuv1-dev libinih-dev
sqlite3 tzdata curl python3 clang libclang-rt-14-dev gdb openssl iproute2"
# Node.js and npm run the end-to-end tests against telegram-test-api and
# with matrix-js-sdk (which needs Node.js 20 or later); a machine that
# already has them (from elsewhere than Debian) keeps its own.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
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
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm packages, exactly as the lock files pin them.
tests="$(dirname "$0")/../tests"
for pkg in telegram/tta:telegram-test-api matrix/sdk:matrix-js-sdk; do
	dir="$tests/${pkg%%:*}" name="${pkg#*:}"
	if [ ! -d "$dir/node_modules/$name" ]; then
		echo "installing $name (npm ci in tests/${pkg%%:*})"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
done
