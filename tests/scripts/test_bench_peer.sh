#!/usr/bin/env bash
# The benchmark's peer (bench/peer/peer.js: grammY and better-sqlite3,
# `make bench`) answers each of 30 updates of the Telegram fake and stores
# their votes and RSVPs: this measures nothing.  better-sqlite3 12 needs
# Node.js 20, as matrix-js-sdk does: with an older one the test is skipped
# with the reason (exit 77, SKIP_RETURN_CODE in CMakeLists.txt).
set -u
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
version="$(node --version 2>/dev/null || true)"
major=$(printf '%s' "$version" | sed -n 's/^v\([0-9]*\).*/\1/p')
if [ "${major:-0}" -lt 20 ]; then
	echo "SKIP: Node.js ${version:-is missing}: better-sqlite3 12 (bench/peer) needs Node.js 20 or later"
	exit 77
fi
tmp=$(mktemp -d)
fake=""
trap '[ -n "$fake" ] && kill "$fake" 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

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

echo "bench peer: $passed passed, $failed failed"
[ "$failed" = 0 ]
