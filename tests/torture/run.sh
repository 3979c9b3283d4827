#!/usr/bin/env bash
# Allocation-failure torture: runs a console session of the release build
# once per allocation point n (every STRIDE-th), with the n-th allocation
# failing, and checks that the bot never dies of a signal (it may report
# an error and exit 1) and that its database passes integrity_check.
#   run.sh RELEASE_BINARY [STRIDE]
set -u
bin=$1
stride=${2:-${TORTURE_STRIDE:-25}}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -shared -fPIC -O1 -o "$tmp/failmalloc.so" "$here/failmalloc.c" -ldl || exit 1
run() { # run N: one session failing allocation N
	rm -f "$tmp/t.db" "$tmp/t.db-wal" "$tmp/t.db-shm"
	LD_PRELOAD="$tmp/failmalloc.so" FAIL_AT=$1 FAIL_REPORT=${2:-} timeout 20 \
		"$bin" --console --db "$tmp/t.db" -q --now=2026-12-01T10:00 < "$here/session.txt" > /dev/null 2> "$tmp/err"
}
run 0 1
total=$(grep -o 'allocations: [0-9]*' "$tmp/err" | awk '{print $2}')
[ -n "$total" ] || { echo "cannot count allocations"; cat "$tmp/err"; exit 1; }
runs=0 signals=0 libuv=0 corrupt=0
for n in $(seq 1 "$stride" "$total"); do
	run "$n"
	rc=$?
	runs=$((runs + 1))
	if [ "$rc" -ge 124 ]; then
		# libuv aborts on allocation failure inside its own loop set-up,
		# before the bot has done anything: counted apart.
		rm -f "$tmp/g.db" "$tmp/g.db-wal" "$tmp/g.db-shm"
		if [ "$rc" = 134 ] && gdb -batch -ex "set environment LD_PRELOAD=$tmp/failmalloc.so" \
			-ex "set environment FAIL_AT=$n" \
			-ex "run --console --db $tmp/g.db -q --now=2026-12-01T10:00 < $here/session.txt > /dev/null" \
			-ex bt "$bin" 2>&1 | grep -q "uv_loop_init"; then
			libuv=$((libuv + 1))
		else
			signals=$((signals + 1))
			echo "allocation $n: exit $rc"
			tail -5 "$tmp/err"
		fi
	fi
	if [ -f "$tmp/t.db" ] && [ "$(sqlite3 "$tmp/t.db" 'PRAGMA integrity_check' 2>&1)" != ok ]; then
		corrupt=$((corrupt + 1))
		echo "allocation $n: database corrupt"
	fi
done
echo "allocations in the session: $total; runs: $runs (every ${stride}th); killed by a signal: $signals; aborted inside libuv's loop set-up: $libuv; corrupt databases: $corrupt"
ok=$([ "$signals" = 0 ] && [ "$corrupt" = 0 ] && echo 1 || echo 0)
echo "$ok passed, $((1 - ok)) failed"
[ "$ok" = 1 ]
