#!/usr/bin/env bash
# No function of the daemon's sources is longer than 80 lines, except those
# scripts/long_functions.txt still names, and that list only shrinks.
# scripts/check_lengths.py is first shown to catch a long function, a stale
# line of the list, and to let a short or listed one pass, on a small tree of
# its own.
set -u
src=${ENSEMBLE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
check=$src/scripts/check_lengths.py
command -v python3 > /dev/null || { echo "SKIP: python3 is missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# body N: a function's body of N lines, braces included.  fits is 80 lines
# long, its signature included; too_long is 81, from the line of its name.
body() { echo "{"; for _ in $(seq 3 "$1"); do printf '\tx++;\n'; done; echo "}"; }
mkdir -p "$tmp/lib" "$tmp/tests"
{
	echo "static int x;"
	echo "static void fits(void)"; body 79
	echo "static void"; echo "too_long(int a,"; printf '\tint b)\n'; body 79
	echo "void listed(void)"; body 90
	echo "void shortened(void)"; body 10
} > "$tmp/lib/a.c"
{ echo "void ignored(void)"; body 200; } > "$tmp/tests/t.c"
printf '# a comment\nlib/a.c:listed\nlib/a.c:shortened  # now short\nlib/a.c:gone\n' > "$tmp/allow.txt"
out=$(python3 "$check" "$tmp" "$tmp/allow.txt")
rc=$?
[ "$rc" = 1 ] || fail "a tree with a long function passes the check (exit $rc)"
grep -q '^lib/a.c:83: too_long is 81 lines long, over 80' <<< "$out" ||
	fail "the long function is not reported: $out"
grep -q '^allow.txt:3: lib/a.c:shortened is no longer over 80 lines' <<< "$out" ||
	fail "a listed function now short is not reported: $out"
grep -q '^allow.txt:4: lib/a.c:gone is no longer over 80 lines' <<< "$out" ||
	fail "a listed function that is gone is not reported: $out"
[ "$(wc -l <<< "$out")" = 3 ] || fail "what is allowed is reported too: $out"

out=$(python3 "$check" "$src")
rc=$?
[ "$rc" = 0 ] || fail "a function is over 80 lines, or scripts/long_functions.txt names one that is not:
$out"

[ "$failed" = 0 ] && echo "lengths: no function over 80 lines but those listed" && exit 0
exit 1
