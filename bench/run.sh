#!/usr/bin/env bash
# The benchmarks, on the release build: `make bench`.
set -eu
bin=${1:-build/ensemble}
here=$(dirname "$0")
echo "== dispatcher"
python3 "$here/dispatcher.py" "$bin" "${BENCH_RUNS:-3}"
echo "== reminders at scale"
python3 "$here/reminders.py" "$bin" "${BENCH_RUNS:-5}"
echo "== a reminder on the real clock"
python3 "$here/ontime.py" "$bin"
