#!/usr/bin/env bash
# End to end against telegram-test-api, the Bot API emulator from npm
# (tests/telegram/tta; installed by scripts/deps.sh from its lock file).
set -eu
dir="$(dirname "$0")/../telegram/tta"
if [ ! -d "$dir/node_modules/telegram-test-api" ]; then
	echo "telegram-test-api is not installed: run scripts/deps.sh (npm ci in tests/telegram/tta)" >&2
	exit 1
fi
exec node "$dir/e2e.js" "$1"
