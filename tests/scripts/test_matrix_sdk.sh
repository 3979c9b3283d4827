#!/usr/bin/env bash
# End to end with matrix-js-sdk, the client library behind Element, playing
# the room's members against the fake homeserver (tests/matrix/sdk;
# installed by scripts/deps.sh from its lock file).
# With a Node.js older than 20 (Debian 12's is 18) the test is skipped, with
# the reason: exit 77, which CMakeLists.txt registers as SKIP_RETURN_CODE.
set -eu
dir="$(dirname "$0")/../matrix/sdk"
version="$(node --version 2>/dev/null || true)"
major="$(printf '%s' "$version" | sed -n 's/^v\([0-9]*\).*/\1/p')"
if [ "${major:-0}" -lt 20 ]; then
	echo "SKIPPED: matrix-js-sdk needs Node.js 20 or later; this machine has ${version:-no Node.js}"
	exit 77
fi
if [ ! -d "$dir/node_modules/matrix-js-sdk" ]; then
	echo "matrix-js-sdk is not installed: run scripts/deps.sh (npm ci in tests/matrix/sdk)" >&2
	exit 1
fi
exec node "$dir/e2e.mjs" "$1"
