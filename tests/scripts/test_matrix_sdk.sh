#!/usr/bin/env bash
# End to end with matrix-js-sdk, the client library behind Element, playing
# the room's members against the fake homeserver (tests/matrix/sdk;
# installed by scripts/deps.sh from its lock file).
set -eu
dir="$(dirname "$0")/../matrix/sdk"
if [ ! -d "$dir/node_modules/matrix-js-sdk" ]; then
	echo "matrix-js-sdk is not installed: run scripts/deps.sh (npm ci in tests/matrix/sdk)" >&2
	exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
	echo "matrix-js-sdk needs Node.js 20 or later; this is $(node --version)" >&2
	exit 1
fi
exec node "$dir/e2e.mjs" "$1"
