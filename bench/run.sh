#!/usr/bin/env bash
# The benchmarks, on the release build: `make bench`.  Each figure is
# measured beside what it is compared with, in the same run (the floor:
# the bot's SQL alone; the bare libcurl loop, alone and with the SQL of the
# same run; the grammY peer), and the run
# ends with one table of them and their ratios (bench/table.py).
set -eu
bin=${1:-build/ensemble}
here=$(dirname "$0")
BENCH_TABLE=$(mktemp)
export BENCH_TABLE
trap 'rm -f "$BENCH_TABLE"' EXIT
echo "== dispatcher, against its floor"
python3 "$here/dispatcher.py" "$bin" "${BENCH_RUNS:-3}"
echo "== reminders at scale"
python3 "$here/reminders.py" "$bin" "${BENCH_RUNS:-5}"
echo "== a reminder on the real clock"
python3 "$here/ontime.py" "$bin"
echo "== end to end on Telegram and Matrix, against a bare libcurl loop, the loop and the SQL alone, and (Telegram) a grammY peer"
python3 "$here/e2e.py" "$bin" "${BENCH_RUNS:-3}" --peer
echo "== the dispatcher, Telegram and Matrix end to end on PostgreSQL, against SQLite (a throwaway cluster on this machine)"
pgdir=$(dirname "$bin")/bench-pg
trap 'bash "$here/../tests/pg/cluster.sh" stop "$pgdir"; rm -rf "$pgdir"; rm -f "$BENCH_TABLE"' EXIT
rm -rf "$pgdir"
pg=$(bash "$here/../tests/pg/cluster.sh" start "$pgdir")
python3 "$here/dispatcher.py" "$bin" "${BENCH_RUNS:-3}" --pg "$pg"
python3 "$here/e2e.py" "$bin" "${BENCH_RUNS:-3}" --telegram --matrix --pg "$pg"
bash "$here/../tests/pg/cluster.sh" stop "$pgdir"
echo "== the rate limiter against Telegram's limits (about three minutes)"
python3 "$here/e2e.py" "$bin" 1 --limits
echo "== idle for a minute with both long polls"
python3 "$here/idle.py" "$bin" 60
echo "== $(date -u '+%d %B %Y'), $(uname -m), $(nproc) cores, $(lsb_release -ds 2>/dev/null || uname -sr)"
python3 "$here/table.py" "$BENCH_TABLE"
