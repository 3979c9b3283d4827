#!/usr/bin/env bash
# The chat's web page and the personal link to vote end to end
# (tests/web/pages.py), in Debian's Chromium driven by playwright-core.
set -eu
here=$(dirname "$0")
for m in playwright-core axe-core; do
	if [ ! -d "$here/node_modules/$m" ]; then
		echo "$m is missing: run scripts/deps.sh (npm ci in tests/web)" >&2
		exit 1
	fi
done
if [ ! -x /usr/bin/chromium ]; then
	echo "chromium is missing: run scripts/deps.sh" >&2
	exit 1
fi
exec /usr/bin/python3 "$here/pages.py" "$@"
