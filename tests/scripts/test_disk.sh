#!/usr/bin/env bash
# The database's disk misbehaving: a read-only file system, a full disk (a
# small tmpfs) and a database locked by another process.  The bot must not
# crash, must say clearly what went wrong (at start, or as a reply that
# nothing was changed), must keep what was stored, and the file must pass
# PRAGMA integrity_check afterwards.  Needs root (it mounts tmpfs).
set -u
bin=$1
tmp=$(mktemp -d)
mnt="$tmp/mnt"
mkdir -p "$mnt"
cleanup() { umount "$mnt" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap "" EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$2"; then ok; else fail "$1"; fi; }
run() { # run DB INPUT: the bot's output in $tmp/out, its log in $tmp/err, status in $rc
	printf '%s\n' "$2" | timeout 60 "$bin" --console --db "$1" --now=2026-12-01T10:00 -s lang=en \
		> "$tmp/out" 2> "$tmp/err"
	rc=$?
}
sql() { sqlite3 "$1" "$2" 2>&1; }

if ! mount -t tmpfs -o size=800k tmpfs "$mnt"; then
	echo "FAIL: cannot mount a tmpfs (this test needs root)" >&2
	exit 1
fi

# 1. A read-only file system under a database that holds a meetup.
db="$mnt/ro.db"
run "$db" 'alice: /meetup Apéro; Friday 7pm; Saturday 7pm; place: Café'
check "a meetup is stored first" '[ "$(sql "$db" "SELECT count(*) FROM meetups")" = 1 ]'
mount -o remount,ro "$mnt"
run "$db" 'bob: /vote 1
alice: /meetup Second; Sunday 7pm'
check "read-only: no crash (status $rc)" '[ $rc -lt 128 ]'
check "read-only: a clear error" 'grep -qiE "read-only|readonly|cannot|database" "$tmp/err" "$tmp/out"'
check "read-only: no reply claims a change" '! grep -q "Vote recorded\|will take place\|#2" "$tmp/out"'
mount -o remount,rw "$mnt"
check "read-only: integrity ok afterwards" '[ "$(sql "$db" "PRAGMA integrity_check")" = ok ]'
check "read-only: the meetup is still there" '[ "$(sql "$db" "SELECT count(*) FROM meetups")" = 1 ]'
run "$db" 'bob: /vote 1'
check "read-only: writable again, the bot works" 'grep -q "Vote recorded" "$tmp/out"'

# 2. A full disk: the rest of the tmpfs filled, then many writes.
rm -f "$mnt"/*
db="$mnt/full.db"
run "$db" 'alice: /meetup Kept; Friday 7pm; Saturday 7pm'
# Full but for 48 KiB: the bot starts, then runs out of room mid-way.
dd if=/dev/zero of="$mnt/pad" bs=4k count=12 2>/dev/null
dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
rm -f "$mnt/pad"
input=""
for i in $(seq 1 150); do
	input="$input
u$i: /meetup Meetup number $i with a long title to fill pages $(printf 'x%.0s' $(seq 1 200)); Friday 7pm; Saturday 8pm"
done
run "$db" "$input"
check "disk full: no crash (status $rc)" '[ $rc -lt 128 ]'
check "disk full: the users are told nothing changed" 'grep -q "nothing was changed" "$tmp/out"'
check "disk full: logged as such" 'grep -qi "full" "$tmp/err"'
rm -f "$mnt/fill"
check "disk full: integrity ok afterwards" '[ "$(sql "$db" "PRAGMA integrity_check")" = ok ]'
check "disk full: what was stored before is there" \
	'[ "$(sql "$db" "SELECT count(*) FROM meetups WHERE title = '"'"'Kept'"'"'")" = 1 ]'
run "$db" 'zoe: /meetup After; Friday 6pm'
check "disk full: space back, the bot works" 'grep -q "After" "$tmp/out"'

# A disk so full that the database cannot even be opened: a clear word.
dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null
rm -f "$db-wal" "$db-shm"
run "$db" 'zoe: /about'
check "disk full at start: exit 1, not a crash (status $rc)" '[ $rc = 1 ]'
check "disk full at start: says so" 'grep -q "disk full" "$tmp/err"'
rm -f "$mnt/fill"

# 3. Locked by another process for longer than the bot's busy waits (5 s for
# the batch, 5 s more for the command alone).
db="$tmp/locked.db"
run "$db" 'alice: /meetup Locked; Friday 7pm; Saturday 7pm'
python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(12)
c.execute("COMMIT")' "$db" "$tmp/locked" &
locker=$!
while [ ! -e "$tmp/locked" ]; do sleep 0.05; done
run "$db" 'bob: /vote 1'
check "locked: no crash (status $rc)" '[ $rc -lt 128 ]'
check "locked: the error is logged" 'grep -q "database is locked" "$tmp/err"'
# Either the vote waited for the lock and is stored, or the user was told
# that nothing changed: never a reply about a vote that is not there.
if grep -q "Vote recorded" "$tmp/out"; then
	check "locked: a vote announced is stored" '[ "$(sql "$db" "SELECT count(*) FROM votes")" = 1 ]'
else
	check "locked: the user is told nothing changed" 'grep -q "nothing was changed" "$tmp/out"'
fi
wait $locker
check "locked: integrity ok afterwards" '[ "$(sql "$db" "PRAGMA integrity_check")" = ok ]'
run "$db" 'carol: /vote 1'
check "locked: released, a vote is recorded" 'grep -q "Vote recorded" "$tmp/out"'
check "locked: the meetup kept" '[ "$(sql "$db" "SELECT count(*) FROM meetups")" = 1 ]'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
