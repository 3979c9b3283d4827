#!/usr/bin/env bash
# The benchmark's floor (bench/floor.c, `make bench`) works, on a few
# commands: this measures nothing.  A bot run with ENSEMBLE_SQL_TRACE
# records its SQL into a 0600 file, and the floor replays it into a new
# database without a failed statement, leaving the same votes, RSVPs and
# meetups as the bot's.  Without the variable nothing is recorded.
set -u
bin=$1
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

cc -O2 -o "$tmp/floor" "$src/bench/floor.c" -lsqlite3 || { echo "FAIL: bench/floor.c does not build" >&2; exit 1; }
cat > "$tmp/cmds" <<'CMDS'
u0@c1: /meetup Poll A; 2026-12-10 19:00; 2026-12-11 19:00
u0@c1: /meetup Fixed; 2026-12-20 19:00; max: 20
u1@c1: /vote #1 1 2?
u2@c1: /vote #1 2
u1@c1: /vote #1 1
u3@c1: /rsvp 2 yes
u4@c1: /rsvp 2 maybe
u0@c2: /meetup It's "quoted"; 2026-12-12 18:00
u5@c2: /vote #1 1?
u0@c1: /meetup list
CMDS
ENSEMBLE_SQL_TRACE="$tmp/sql.trace" "$bin" --console --db "$tmp/bot.db" -q --now=2026-12-01T10:00 \
	< "$tmp/cmds" > "$tmp/out" 2> "$tmp/log" || fail "the bot with ENSEMBLE_SQL_TRACE: exit $?"
if [ "$(stat -c %a "$tmp/sql.trace" 2>/dev/null)" = 600 ]; then ok; else fail "the trace is not 0600"; fi
out=$("$tmp/floor" "$tmp/sql.trace" "$tmp/floor.db")
case "$out" in
*" 0 failed"*) ok ;;
*) fail "the replay: $out" ;;
esac
for q in "SELECT COUNT(*) FROM votes" "SELECT COUNT(*) FROM rsvps" "SELECT group_concat(title) FROM meetups" \
	"SELECT group_concat(user_id || answers) FROM votes"; do
	b=$(sqlite3 "$tmp/bot.db" "$q" 2>&1) f=$(sqlite3 "$tmp/floor.db" "$q" 2>&1)
	if [ "$b" = "$f" ] && [ -n "$b" ] && [ "$b" != 0 ] && [ "${b#Error}" = "$b" ]; then ok; else fail "$q: bot '$b', floor '$f'"; fi
done
# Without the variable, nothing is recorded.
"$bin" --console --db "$tmp/plain.db" -q --now=2026-12-01T10:00 < "$tmp/cmds" > /dev/null 2>&1
if [ -z "$(find "$tmp" -newer "$tmp/floor.db" -name '*.trace')" ]; then ok; else fail "a trace without ENSEMBLE_SQL_TRACE"; fi

echo "bench floor: $passed passed, $failed failed"
[ "$failed" = 0 ]
