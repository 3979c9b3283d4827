#!/usr/bin/env bash
# The database under pressure: a file the bot may not write, a disk that
# fills up mid-run, and another process holding the write lock.  Never a
# crash or a hang; errors are clear; what was announced is stored, what was
# not stored is not announced, and the file stays intact.
# Needs root (or CAP_SYS_ADMIN) to mount a small tmpfs.
set -u
shopt -s lastpipe  # "... | bot NAME" sets $rc here
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
mounted=
holders=
cleanup() {
	touch "$tmp"/*.release 2> /dev/null
	for p in $holders; do kill "$p" 2> /dev/null; done
	if [ -n "$mounted" ]; then umount "$mounted" 2> /dev/null || umount -l "$mounted"; fi
	chmod -R u+rwX "$tmp" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION CONDITION...
	local what=$1
	shift
	if "$@"; then ok; else fail "$what"; fi
}
show() { # show FILE: the first lines of a file, to explain a failure
	sed -n 1,20p "$1" | cut -c1-200 | sed 's/^/    /' >&2
}
sq() { sqlite3 -batch "$@" 2>&1; }
now=--now=2026-12-01T10:00
apology=$(sed -n 's/^dispatch\.error = //p' "$here/../../lang/en.txt")
[ -n "$apology" ] || fail "no dispatch.error in lang/en.txt"
if [ "$(id -u)" = 0 ]; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
else
	as_nobody() { "$@"; }  # file permissions already bind an ordinary user
fi

# bot NAME DB [ENSEMBLE ARGS...] < input: runs the console bot, output in
# $tmp/NAME.out and NAME.err, exit status in $rc.  A hang is cut at 40 s.
bot() {
	local name=$1 db=$2
	shift 2
	timeout -k 5 40 "$bin" --console --db "$db" "$now" -s lang=en "$@" \
		> "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
}
# no_crash NAME: an exit of its own, no signal, no timeout, no sanitizer report.
no_crash() {
	if [ "$rc" -ge 124 ]; then
		fail "$1: exit status $rc (a signal or a hang)"
		show "$tmp/$1.err"
	elif grep -qE 'Sanitizer|runtime error:' "$tmp/$1.err"; then
		fail "$1: sanitizer report"
		show "$tmp/$1.err"
	else ok; fi
}
expect_rc() { # expect_rc NAME WANTED
	if [ "$rc" = "$2" ]; then ok; else fail "$1: exit $rc, wanted $2"; show "$tmp/$1.err"; fi
}
has() { # has DESCRIPTION FILE TEXT (fixed string)
	if grep -qF -- "$3" "$2"; then ok; else fail "$1: no '$3' in $2:"; show "$2"; fi
}
hasnt() { # hasnt DESCRIPTION FILE TEXT
	if grep -qF -- "$3" "$2"; then fail "$1: '$3' in $2:"; show "$2"; else ok; fi
}
intact() { # intact DESCRIPTION DB: PRAGMA integrity_check says ok
	local r
	r=$(sq "$2" 'PRAGMA integrity_check')
	if [ "$r" = ok ]; then ok; else fail "$1: integrity_check: $r"; fi
}
same() { # same DESCRIPTION GOT WANTED
	if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', wanted '$3'"; fi
}
# wait_for FILE TEXT SECONDS: until FILE holds TEXT; 1 on timeout.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qF -- "$2" "$1" 2> /dev/null && return 0
		sleep 0.1
	done
	return 1
}
# holder NAME DB: another process that takes the write lock (with a row
# of its own pending) once $tmp/NAME.take exists, and commits once
# $tmp/NAME.release exists.  It prints "locked" when it holds the lock.
holder() {
	local name=$1 db=$2
	{
		wait_for_file "$tmp/$name.take"
		echo "BEGIN EXCLUSIVE; INSERT INTO kv (key, value) VALUES('holder-$name', 'held'); SELECT 'locked';"
		wait_for_file "$tmp/$name.release"
		echo "COMMIT;"
	} | sqlite3 -batch "$db" > "$tmp/$name.lock" 2>&1 &
	holders="$holders $!"
}
wait_for_file() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
}
meetup() { # meetup USER TITLE: a one-date meetup line
	echo "$1: /meetup $2; tomorrow 8pm; place: Bar"
}

# A database with meetup #1 and a vote, made the ordinary way.
seed() { # seed DB
	printf '%s\n' 'alice: /meetup Apéro; tomorrow 7pm; Friday 7pm; place: Café' 'bob: /vote 1' |
		"$bin" --console --db "$1" "$now" -s lang=en > /dev/null 2>&1
	same "seed $1" "$(sq "$1" 'SELECT count(*) FROM meetups; SELECT count(*) FROM votes' | tr '\n' ' ')" "1 1 "
}
# unchanged NAME DB COPY: the file is intact, byte for byte as before.
unchanged() {
	intact "$1: integrity" "$2"
	if cmp -s "$2" "$3"; then ok; else fail "$1: the database file changed"; fi
	same "$1: meetup kept" "$(sq "$2" 'SELECT num || title FROM meetups')" "1Apéro"
}

###############################################################################
# 1. A database the bot may not write: a clear start-up error (exit 1, the
#    path named, "read-only"), and nothing written.
mkdir "$tmp/ro"
seed "$tmp/ro/r.db"
cp "$tmp/ro/r.db" "$tmp/r.copy"
chmod 755 "$tmp"
readonly_case() { # readonly_case NAME: runs the bot and checks its refusal
	no_crash "$1"
	expect_rc "$1" 1
	has "$1 names the file" "$tmp/$1.err" "$tmp/ro/r.db"
	if grep -qiE 'read-?only' "$tmp/$1.err"; then ok; else fail "$1: no 'read-only' in:"; show "$tmp/$1.err"; fi
	hasnt "$1 answers nothing" "$tmp/$1.out" "bot:"
	unchanged "$1" "$tmp/ro/r.db" "$tmp/r.copy"
}
# 1a. The file is not writable (mode 444, its directory 555).
chmod 444 "$tmp/ro/r.db"
chmod 555 "$tmp/ro"
echo 'carol: /vote 2' | as_nobody timeout -k 5 40 "$bin" --console --db "$tmp/ro/r.db" "$now" -s lang=en \
	> "$tmp/ro-file.out" 2> "$tmp/ro-file.err"
rc=$?
readonly_case ro-file
# 1b. The file is writable but its directory is not: the WAL's -wal and
#     -shm files cannot be made.
chmod 666 "$tmp/ro/r.db"
echo 'carol: /vote 2' | as_nobody timeout -k 5 40 "$bin" --console --db "$tmp/ro/r.db" "$now" -s lang=en \
	> "$tmp/ro-dir.out" 2> "$tmp/ro-dir.err"
rc=$?
readonly_case ro-dir
chmod 755 "$tmp/ro"
chmod 644 "$tmp/ro/r.db"
# 1c. A read-only mount, where root too is refused (a private mount
#     namespace, so nothing outlives the test).
if unshare -m true 2> /dev/null; then
	echo 'carol: /vote 2' | unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" &&
		exec timeout -k 5 40 "$2" --console --db "$1/r.db" "$3" -s lang=en' sh "$tmp/ro" "$bin" "$now" \
		> "$tmp/ro-mount.out" 2> "$tmp/ro-mount.err"
	rc=$?
	readonly_case ro-mount
else
	fail "read-only mount: cannot make a mount namespace (unshare -m needs root or CAP_SYS_ADMIN)"
fi

###############################################################################
# 2. The disk fills up: a 704 KiB tmpfs holds the database, a file takes
#    all of it but 192 KiB, then 200 meetups with long titles and their
#    votes come in.  (The size leaves room for a second database made from
#    nothing, whose twelve migrations pass through the WAL.)
full=$tmp/full
mkdir "$full"
if mount -t tmpfs -o size=704k tmpfs "$full" 2> "$tmp/mount.err"; then
	mounted=$full
	db=$full/d.db
	seed "$db"
	fill() { # fill KIB: the tmpfs left with KIB free
		dd if=/dev/zero of="$full/reserve" bs=4k count=$(($1 / 4)) 2> /dev/null
		dd if=/dev/zero of="$full/fill" bs=4k 2> /dev/null
		rm -f "$full/reserve"
	}
	fill 192
	long=$(printf 'x%.0s' $(seq 150))
	for i in $(seq 2 200); do
		echo "alice: /meetup M$i $long; tomorrow 7pm; Friday 7pm; place: Café $i $long"
		echo "bob: /vote #$i 1"
	done > "$tmp/full.in"
	bot full "$db" < "$tmp/full.in"
	no_crash full
	expect_rc full 0
	# The disk filled up mid-run: first successes, then apologies, and
	# the log says why.
	announced=$(sed -n 's/^\[console\] bot: 📅 #\([0-9]*\) · .*/\1/p' "$tmp/full.out" | sort -n | tr '\n' ' ')
	if [ -n "$announced" ]; then ok; else fail "full: no meetup was created before the disk filled"; show "$tmp/full.out"; fi
	has "full: apology" "$tmp/full.out" "$apology"
	has "full: logged" "$tmp/full.err" "database or disk is full"
	# Every message is answered: a success, an error, or the apology.
	replies=$(grep -c '^\[console\] bot: ' "$tmp/full.out")
	if [ "$replies" -ge 398 ]; then ok; else fail "full: $replies replies to 398 messages"; fi
	voted=$(sed -n 's/^\[console\] bot: Vote recorded on #\([0-9]*\): .*/\1/p' "$tmp/full.out" | sort -n | tr '\n' ' ')
	rm -f "$full/fill"
	intact "full: integrity" "$db"
	# What was announced is stored, and nothing else.
	same "full: stored meetups" "$(sq "$db" 'SELECT num FROM meetups WHERE num > 1 ORDER BY num' | tr '\n' ' ')" "$announced"
	same "full: meetup #1 kept" "$(sq "$db" 'SELECT title FROM meetups WHERE num = 1')" "Apéro"
	same "full: stored votes" "$(sq "$db" 'SELECT m.num FROM votes v JOIN meetups m ON m.id = v.meetup_id
		WHERE m.num > 1 ORDER BY m.num' | tr '\n' ' ')" "$voted"
	same "full: vote on #1 kept" "$(sq "$db" 'SELECT count(*) FROM votes v JOIN meetups m ON m.id = v.meetup_id
		WHERE m.num = 1')" 1
	# With room again, the same file takes new meetups.
	meetup alice After | bot full-after "$db"
	no_crash full-after
	expect_rc full-after 0
	has "full: after" "$tmp/full-after.out" "· After"
	same "full: after stored" "$(sq "$db" "SELECT count(*) FROM meetups WHERE title = 'After'")" 1
	intact "full: after integrity" "$db"

	# 2a'. A job falls due while the disk is full (a poll's deadline and
	#      its nudge): the scheduler must not spin on it; the bot answers,
	#      and the job waits for room.
	#      The database is made outside the small disk and copied in:
	#      making one runs every migration, whose WAL holds some 400 KiB
	#      until the checkpoint at the end, more than is left here.
	jdb="$full/j.db"
	echo 'alice: /meetup First; tomorrow 7pm; Friday 7pm; place: Café; deadline: tomorrow 10am' | bot full-soon "$tmp/j.db"
	has "full-job: a poll with a deadline" "$tmp/full-soon.out" "· First"
	cp "$tmp/j.db" "$jdb"
	fill 48
	echo 'alice: /about' | bot full-job "$jdb" --now=2026-12-03T10:00
	no_crash full-job
	expect_rc full-job 0
	has "full-job: still answers" "$tmp/full-job.out" "Ensemble 0.1"
	has "full-job: the job waits" "$tmp/full-job.err" "trying again"
	rm -f "$full/fill" "$jdb" "$jdb-wal" "$jdb-shm"

	# 2b. No room at all at start-up: a clear error naming the file and
	#     the likely cause, and the file unharmed.
	fill 0
	cp "$db" "$tmp/d.copy"
	meetup alice Never | bot full-start "$db"
	no_crash full-start
	expect_rc full-start 1
	has "full-start names the file" "$tmp/full-start.err" "$db"
	has "full-start says why" "$tmp/full-start.err" "full"
	rm -f "$full/fill"
	intact "full-start: integrity" "$db"
	same "full-start: nothing stored" "$(sq "$db" "SELECT count(*) FROM meetups WHERE title = 'Never'")" 0
	if umount "$full"; then mounted=; ok; else fail "cannot unmount $full"; fi
else
	fail "cannot mount a tmpfs for the disk-full case (needs root or CAP_SYS_ADMIN): $(cat "$tmp/mount.err")"
fi

###############################################################################
# 3. Another process holds the write lock.  The bot waits for it (SQLite's
#    busy timeout is 5 s) and carries on when it is released.
busy_db=$tmp/busy.db
seed "$busy_db"

# 3a. Held 2 s from before the start: the bot waits, then does everything.
holder short "$busy_db"
touch "$tmp/short.take"
wait_for "$tmp/short.lock" locked 10 || fail "short: the lock was not taken"
(sleep 2; touch "$tmp/short.release") &
start=$SECONDS
{ meetup alice Two; echo 'bob: /vote 1'; } | bot short "$busy_db"
took=$((SECONDS - start))
wait
no_crash short
expect_rc short 0
has "short: meetup" "$tmp/short.out" "#2 · Two"
has "short: vote" "$tmp/short.out" "Vote recorded on #1"
hasnt "short: no lock error" "$tmp/short.err" "locked"
if [ "$took" -ge 1 ]; then ok; else fail "short: took ${took}s: the lock did not hold the bot back"; fi
same "short: stored" "$(sq "$busy_db" "SELECT count(*) FROM meetups WHERE title = 'Two'")" 1
same "short: the holder's row" "$(sq "$busy_db" "SELECT value FROM kv WHERE key = 'holder-short'")" held
intact "short: integrity" "$busy_db"

# 3b. Taken mid-session and held past the busy timeout: the bot logs the
#     locked database, stores nothing half-way, and works again once the
#     lock is released.
holder mid "$busy_db"
{
	meetup alice Three
	wait_for "$tmp/mid.out" "· Three" 10
	touch "$tmp/mid.take"
	wait_for "$tmp/mid.lock" locked 10
	meetup alice Blocked
	wait_for "$tmp/mid.err" "database is locked" 15
	touch "$tmp/mid.release"
	for ((i = 0; i < 100; i++)); do
		[ "$(sq "$busy_db" "SELECT value FROM kv WHERE key = 'holder-mid'")" = held ] && break
		sleep 0.1
	done
	meetup alice Four
	wait_for "$tmp/mid.out" "· Four" 10
} | bot mid "$busy_db"
wait
no_crash mid
expect_rc mid 0
has "mid: before the lock" "$tmp/mid.out" "· Three"
has "mid: logged" "$tmp/mid.err" "database is locked ($busy_db)"
has "mid: after the lock" "$tmp/mid.out" "· Four"
same "mid: stored" "$(sq "$busy_db" "SELECT count(*) FROM meetups WHERE title IN ('Three', 'Four')")" 2
# The message sent under the lock: announced and stored, or neither.
blocked=$(sq "$busy_db" "SELECT count(*) FROM meetups WHERE title = 'Blocked'")
if grep -qF "· Blocked" "$tmp/mid.out"; then
	same "mid: Blocked announced so stored" "$blocked" 1
else
	same "mid: Blocked not announced so not stored" "$blocked" 0
	# Not lost in silence: the one who asked hears that nothing changed.
	has "mid: Blocked gets the apology" "$tmp/mid.out" "$apology"
fi
same "mid: the holder's row" "$(sq "$busy_db" "SELECT value FROM kv WHERE key = 'holder-mid'")" held
intact "mid: integrity" "$busy_db"

# 3c. Held 7 s from before the start, past the busy timeout: the bot either
#     waits it out and does everything, or stops with an error naming the
#     locked database; never a crash, a hang or a half-stored meetup.
holder long "$busy_db"
touch "$tmp/long.take"
wait_for "$tmp/long.lock" locked 10 || fail "long: the lock was not taken"
(sleep 7; touch "$tmp/long.release") &
meetup alice Five | bot long "$busy_db"
wait
no_crash long
five=$(sq "$busy_db" "SELECT count(*) FROM meetups WHERE title = 'Five'")
case $five in '' | *[!0-9]*) fail "long: $five"; five=0 ;; esac
if [ "$rc" = 0 ]; then
	has "long: waited, then the meetup" "$tmp/long.out" "· Five"
	same "long: stored" "$five" 1
elif [ "$rc" = 1 ]; then
	has "long: the error names the file" "$tmp/long.err" "$busy_db"
	has "long: the error says locked" "$tmp/long.err" "locked"
	same "long: nothing stored" "$five" 0
else
	fail "long: exit $rc"
fi
has "long: logged" "$tmp/long.err" "database is locked"
same "long: the holder's row" "$(sq "$busy_db" "SELECT value FROM kv WHERE key = 'holder-long'")" held
intact "long: integrity" "$busy_db"
same "busy: meetups" "$(sq "$busy_db" 'SELECT count(*) FROM meetups')" $((4 + five))

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
