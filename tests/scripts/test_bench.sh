#!/usr/bin/env bash
# The benchmarks' floor and peer work (bench/, `make bench`), on a few
# commands: this measures nothing.  The floor: a bot run with
# ENSEMBLE_SQL_TRACE records its SQL into a 0600 file, and bench/floor.c
# replays it into a new database without a failed statement, leaving the
# same votes, RSVPs and meetups as the bot's.  The peer: bench/peer/peer.js
# (grammY) answers each update of the Telegram fake.
set -u
bin=$1
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
fake=""
trap '[ -n "$fake" ] && kill "$fake" 2>/dev/null; rm -rf "$tmp"' EXIT
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

# The peer, on 30 updates of the fake.
if [ ! -d "$src/bench/peer/node_modules/grammy" ]; then
	echo "FAIL: bench/peer's packages are missing: make deps installs them" >&2
	exit 1
fi
python3 - "$tmp/tg.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(30):
        t = ["/meetup P; 2026-12-10 19:00; 2026-12-11 19:00", "/vote #1 1 2?", "/rsvp 1 yes"][min(i, 1 + i % 2)]
        f.write(json.dumps({"message": {"message_id": i + 1, "date": 1796115600,
            "chat": {"id": -100, "type": "supergroup"}, "from": {"id": 10 + i, "is_bot": False, "first_name": "u"},
            "text": t, "entities": [{"type": "bot_command", "offset": 0, "length": len(t.split()[0])}]}}) + "\n")
PY
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node "$src/bench/fast_fake.js" "$port" "$tmp/tg.jsonl" "" > "$tmp/fake.out" &
fake=$!
for _ in $(seq 100); do grep -q ready "$tmp/fake.out" && break; sleep 0.1; done
timeout 60 node "$src/bench/peer/peer.js" "http://127.0.0.1:$port" "$tmp/peer.db" > /dev/null 2> "$tmp/peer.log" &
peer=$!
replies=0
for _ in $(seq 300); do
	replies=$(curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["tg_replies"])')
	[ "$replies" -ge 30 ] && break
	sleep 0.1
done
kill "$peer" 2>/dev/null
wait "$peer" 2>/dev/null
if [ "$replies" = 30 ]; then ok; else fail "the peer answered $replies updates of 30"; cat "$tmp/peer.log" >&2; fi
v=$(sqlite3 "$tmp/peer.db" "SELECT COUNT(*) || ' ' || (SELECT COUNT(*) FROM rsvps) FROM votes" 2>&1)
if [ "$v" = "30 14" ]; then ok; else fail "the peer's votes and RSVPs: '$v', wanted '30 14'"; fi

echo "bench: $passed passed, $failed failed"
[ "$failed" = 0 ]
