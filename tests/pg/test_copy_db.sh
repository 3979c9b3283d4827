#!/usr/bin/env bash
# ensemble --copy-db, both ways, on a database a run of the bot filled: the
# input lines of several transcripts (meetups, polls, votes, RSVPs, groups,
# series, interests, calendar links) played through the console into an
# SQLite file, copied into an empty PostgreSQL database (every table's rows
# counted on both sides), the bot then working on the copy (a new meetup
# gets a new id: the identity sequences were set past the copied ones),
# and copied back into a new SQLite file whose every table holds exactly
# the original's rows.  A destination that holds rows, a source that does
# not exist and the same database twice are refused with exit status 1,
# changing nothing; a password in a target is never printed.
#
# Usage: test_copy_db.sh ENSEMBLE, with ENSEMBLE_TEST_PG the libpq target
# of a running cluster (ctest's fixture pg) and ENSEMBLE_SRC the sources.
set -u
bin=$1
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
cluster=${ENSEMBLE_TEST_PG:?set ENSEMBLE_TEST_PG to a cluster\'s target (ctest runs this with the fixture pg)}
tmp=$(mktemp -d)
name=copy_db_$$
pgdb="$(echo "$cluster" | sed 's/dbname=[^ ]*//') dbname=$name"
cleanup() {
	psql "$cluster" -qAtc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $what"
	fi
}
lite() { sqlite3 -cmd ".mode quote" "$@"; }
pg() { psql "$pgdb" -qAtc "$1"; }

# A database the bot filled: what users typed in the transcripts.
for t in agenda_en groups_en series_en meetup_poll_en rsvp_en lists_en nonvoters_en groups_contact_en dates_en; do
	grep -v -e '^>' -e '^#' "$src/tests/transcripts/$t.chat"
done >"$tmp/input.txt"
"$bin" --console --clock=sim --now=2026-12-01T10:00 --db "$tmp/a.db" -q --set lang=en --set timezone=Europe/Paris \
	--set http.listen=127.0.0.1:0 --set web.public_url=https://bot.example.org <"$tmp/input.txt" >"$tmp/fill.out" 2>&1
check "the bot filled the database" [ "$(sqlite3 "$tmp/a.db" "SELECT count(*) FROM meetups")" -gt 10 ]
tables=$(sqlite3 "$tmp/a.db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
total=0
for t in $tables; do total=$((total + $(sqlite3 "$tmp/a.db" "SELECT count(*) FROM $t"))); done

# SQLite -> PostgreSQL.
psql "$cluster" -qAtc "CREATE DATABASE $name"
"$bin" --copy-db "$tmp/a.db" "$pgdb" >"$tmp/out" 2>"$tmp/err"
check "SQLite to PostgreSQL: exit 0 ($(cat "$tmp/err"))" [ $? = 0 ]
check "it says what it copied: $(tail -1 "$tmp/out")" \
	grep -qx "copied $total rows; every table's count checked" "$tmp/out"
for t in $tables; do
	n=$(sqlite3 "$tmp/a.db" "SELECT count(*) FROM $t")
	check "$t: $n rows in PostgreSQL ($(pg "SELECT count(*) FROM $t"))" [ "$(pg "SELECT count(*) FROM $t")" = "$n" ]
	check "$t: its line says $n" grep -Eq "^$t +$n rows?$" "$tmp/out"
done

# The links' key went too, or every calendar and vote link given out
# would change with the copy.
hex() { od -An -v -tx1 | tr -d ' \n'; }
check "the source has a web key file" [ -s "$tmp/a.db.webkey" ]
check "the web key is in PostgreSQL's web_key, the same bytes" \
	[ "$(pg "SELECT encode(key, 'hex') FROM web_key")" = "$(hex <"$tmp/a.db.webkey")" ]

# A destination with rows is refused, and left as it was.
"$bin" --copy-db "$tmp/a.db" "$pgdb password=hunter2" >"$tmp/out2" 2>"$tmp/err2"
check "a destination that has rows: exit 1" [ $? = 1 ]
check "... said: $(cat "$tmp/err2")" grep -q "the destination is not empty (its table chats has" "$tmp/err2"
check "... nothing added" [ "$(pg "SELECT count(*) FROM chats")" = "$(sqlite3 "$tmp/a.db" "SELECT count(*) FROM chats")" ]
check "the password is not printed" bash -c "! grep -q hunter2 '$tmp/out2' '$tmp/err2'"

# PostgreSQL -> SQLite, from a database a bot is running on: every row as
# it was, and a message whose delivery the bot recorded (a row of
# outbox_acks, which it has not yet folded in) is not copied as waiting.
mkfifo "$tmp/input"
"$bin" --console --db "$pgdb" -q <"$tmp/input" >/dev/null 2>&1 &
running=$!
exec 3>"$tmp/input" # the bot's input, open until the end of its input below
for _ in $(seq 100); do
	[ "$(pg "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
	sleep 0.1
done
id=$(pg "INSERT INTO outbox (action, created_ms) VALUES ('{}', 0) RETURNING id")
pg "INSERT INTO outbox_acks (id) VALUES ($id)"
"$bin" --copy-db "$pgdb" "$tmp/b.db" >"$tmp/out" 2>"$tmp/err"
check "PostgreSQL to SQLite, a bot running on it: exit 0 ($(cat "$tmp/err"))" [ $? = 0 ]
exec 3>&-
wait "$running"
check "the bot running on it stopped cleanly" [ $? = 0 ]
check "the copy is its owner's alone" [ "$(stat -c %a "$tmp/b.db")" = 600 ]
check "the web key came back into b.db.webkey, 0600" [ "$(stat -c %a "$tmp/b.db.webkey")" = 600 ]
check "... the same bytes" [ "$(hex <"$tmp/b.db.webkey")" = "$(hex <"$tmp/a.db.webkey")" ]
for t in $tables; do
	check "$t: the same rows after the round trip" \
		[ "$(lite "$tmp/a.db" "SELECT * FROM $t" | sort | md5sum)" = "$(lite "$tmp/b.db" "SELECT * FROM $t" | sort | md5sum)" ]
done

# The bot on the copy: the same meetups, and a new one gets a new id.
max=$(pg "SELECT max(id) FROM meetups")
printf 'alice: /meetup Copied over; 2026-12-20 19:00\n' |
	"$bin" --console --clock=sim --now=2026-12-10T10:00 --db "$pgdb" -q --set lang=en >"$tmp/run.out" 2>&1
check "the bot works on the copy: $(tail -1 "$tmp/run.out")" grep -q "Copied over will take place" "$tmp/run.out"
check "the new meetup's id follows the copied ones" [ "$(pg "SELECT id FROM meetups WHERE title = 'Copied over'")" = $((max + 1)) ]

"$bin" --copy-db "$tmp/a.db" "$tmp/b.db" >/dev/null 2>"$tmp/err"
check "an SQLite destination with rows: exit 1" [ $? = 1 ]

# What cannot be copied at all.
"$bin" --copy-db "$tmp/none.db" "$tmp/c.db" >/dev/null 2>"$tmp/err"
check "a missing source: exit 1" [ $? = 1 ]
check "... said: $(cat "$tmp/err")" grep -q "the source $tmp/none.db does not exist" "$tmp/err"
check "... and made nothing" bash -c "[ ! -e $tmp/none.db ] && [ ! -e $tmp/c.db ]"
"$bin" --copy-db "$tmp/a.db" "$tmp/a.db" >/dev/null 2>"$tmp/err"
check "the same database twice: exit 1 ($(cat "$tmp/err"))" grep -q "the same database" "$tmp/err"
"$bin" --copy-db "$tmp/a.db" >/dev/null 2>&1
check "--copy-db without TO: exit 2" [ $? = 2 ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
