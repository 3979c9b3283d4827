#!/usr/bin/env bash
# The files the bot writes hold the Matrix access token and the chats'
# data: each is created 0600 whatever the umask (the database, SQLite's
# -wal and -shm while it runs, the delivery journal -acks), and an existing
# database that group or others may read is reported at start with the
# chmod to run.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
mode_is() { # mode_is DESCRIPTION FILE MODE
	local got
	got=$(stat -c %a "$2" 2> /dev/null)
	if [ "$got" = "$3" ]; then ok; else fail "$1: $2 has mode '$got', wanted $3"; fi
}

# A new database, under a permissive umask and under none: the side files
# are looked at while the bot runs (SQLite removes -wal and -shm at a clean
# stop), after a message has been written.
for mask in 022 000; do
	dir="$tmp/umask$mask"
	mkdir "$dir"
	mkfifo "$dir/fifo"
	(umask "$mask"; exec "$bin" --console --db "$dir/e.db" < "$dir/fifo" > "$dir/out" 2> "$dir/log") &
	pid=$!
	exec 3> "$dir/fifo"
	echo "alice: /start" >&3
	for _ in $(seq 100); do grep -q Ensemble "$dir/out" && break; sleep 0.05; done
	for f in e.db e.db-wal e.db-shm e.db-acks; do mode_is "umask $mask, running" "$dir/$f" 600; done
	exec 3>&-
	wait "$pid"
	rc=$?
	if [ "$rc" = 0 ]; then ok; else fail "umask $mask: exit $rc"; cat "$dir/log" >&2; fi
	for f in e.db e.db-acks; do mode_is "umask $mask, stopped" "$dir/$f" 600; done
	if grep -q "chmod" "$dir/log"; then fail "umask $mask: a warning about its own files"; cat "$dir/log" >&2; else ok; fi
done

# A database made readable by others (an older Ensemble created it 0644):
# one warning at start, naming every such file in one chmod command that
# works as it is written, a path with a space included.
dir="$tmp/old files"
mkdir "$dir"
echo "alice: /start" | "$bin" --console --db "$dir/e.db" > /dev/null 2>&1
chmod 644 "$dir/e.db" "$dir/e.db-acks"
echo "alice: /help" | "$bin" --console --db "$dir/e.db" > /dev/null 2> "$tmp/log"
want="run: chmod 600 '$dir/e.db' '$dir/e.db-acks'"
if grep -qF -- "$want" "$tmp/log"; then ok; else fail "no '$want' in:"; cat "$tmp/log" >&2; fi
if grep -q "warn.*e.db: holds the Matrix access token" "$tmp/log"; then ok; else fail "no warning line"; cat "$tmp/log" >&2; fi
bash -c "$(grep -o 'chmod 600 .*' "$tmp/log")"
mode_is "after the chmod it names" "$dir/e.db" 600
mode_is "after the chmod it names" "$dir/e.db-acks" 600
echo "alice: /help" | "$bin" --console --db "$dir/e.db" > /dev/null 2> "$tmp/log"
if grep -q chmod "$tmp/log"; then fail "a warning once the files are private"; cat "$tmp/log" >&2; else ok; fi
# Readable by the group alone is reported too.
chmod 640 "$dir/e.db"
echo "alice: /help" | "$bin" --console --db "$dir/e.db" > /dev/null 2> "$tmp/log"
if grep -qF "run: chmod 600 '$dir/e.db'" "$tmp/log"; then ok; else fail "group-readable: no warning"; cat "$tmp/log" >&2; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
