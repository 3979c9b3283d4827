#!/usr/bin/env bash
# The calendar feeds end to end (tests/web/feeds.py), with Debian's
# Python: its python3-icalendar is one of the three parsers.
set -eu
here=$(dirname "$0")
if [ ! -d "$here/node_modules/ical.js" ]; then
	echo "ical.js is missing: run scripts/deps.sh (npm ci in tests/web)" >&2
	exit 1
fi
exec /usr/bin/python3 "$here/feeds.py" "$@"
