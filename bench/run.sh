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
echo "== end to end on Telegram and Matrix, against a bare libcurl ceiling"
python3 "$here/e2e.py" "$bin" "${BENCH_RUNS:-3}"
echo "== the rate limiter against Telegram's limits (about three minutes)"
python3 "$here/e2e.py" "$bin" 1 --limits
echo "== idle for a minute with both long polls"
python3 "$here/idle.py" "$bin" 60
