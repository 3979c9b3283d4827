#!/usr/bin/env bash
# The command line as an operator meets it: flags, --check-config, bad
# database files, and a clean stop on SIGINT and SIGTERM.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'kill ${holder:-} 2> /dev/null; rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect() { # expect DESCRIPTION WANTED_RC COMMAND...; output in $tmp/out
	local what=$1 want=$2
	shift 2
	"$@" > "$tmp/out" 2>&1
	local rc=$?
	if [ "$rc" = "$want" ]; then ok; else fail "$what: exit $rc, wanted $want"; cat "$tmp/out" >&2; fi
}
contains() { # contains DESCRIPTION TEXT
	if grep -qF -- "$2" "$tmp/out"; then ok; else fail "$1: no '$2' in:"; cat "$tmp/out" >&2; fi
}

expect "version" 0 "$bin" --version
contains "version" "ensemble "
expect "help" 0 "$bin" --help
for flag in --config --console --db --clock --now --check-config --set --verbose --quiet --version --help; do
	contains "help lists $flag" "$flag"
done
expect "unknown flag" 2 "$bin" --frobnicate
# Nothing to run is refused before the database is made.
expect "nothing to run" 1 "$bin" --db "$tmp/a.db"
contains "nothing to run" "nothing to run"
if ls "$tmp"/a.db* > /dev/null 2>&1; then fail "nothing to run left: $(ls "$tmp"/a.db*)"; else ok; fi
expect "bad --clock" 2 "$bin" --clock=fast --console
expect "bad --now" 1 "$bin" --console --now=2026-02-31T10:00 --db "$tmp/a.db"
contains "bad --now" "--now takes"
expect "bad --set" 1 "$bin" --console --set colour=blue --db "$tmp/a.db"
contains "bad --set" "unknown configuration key 'colour'"

# --check-config: each error with its line; OK otherwise.
printf '[general]\nlang = en\n' > "$tmp/good.conf"
expect "check good" 0 "$bin" --check-config "$tmp/good.conf"
contains "check good" "configuration OK"
printf '[general]\nlang = de\ntimezone = Nowhere/Land\n[bogus]\nx = 1\n' > "$tmp/bad.conf"
expect "check bad" 1 "$bin" -n "$tmp/bad.conf"
contains "check bad line 2" "bad.conf:2: general.lang must name a language with a catalogue (en, fr), not 'de'"
contains "check bad line 3" "bad.conf:3: general.timezone must be a zone of the system's zoneinfo"
contains "check bad line 5" "bad.conf:5: unknown section [bogus]"
# Each message names the key that is wrong; errors and warnings go to
# standard error, and only the verdict to standard output.
printf '[matrix]\nhomeserver = not a url\nuser = @bot:example.org\naccess_token = t\n' > "$tmp/url.conf"
chmod 600 "$tmp/url.conf"
"$bin" --check-config "$tmp/url.conf" > "$tmp/stdout" 2> "$tmp/out"
rc=$?
if [ "$rc" = 1 ]; then ok; else fail "check url: exit $rc, wanted 1"; fi
contains "check url names the key" "url.conf:2: matrix.homeserver must start with https:// or http://, not 'not a url'"
if grep -q api_url "$tmp/out"; then fail "check url names api_url"; else ok; fi
if [ -s "$tmp/stdout" ]; then fail "check url wrote to standard output:"; cat "$tmp/stdout" >&2; else ok; fi
printf '[general]\nlang = fr\n[http]\nmax_body = 2048\n[general]\nlang = en\n' > "$tmp/twice.conf"
"$bin" --check-config "$tmp/twice.conf" > "$tmp/stdout" 2> "$tmp/out"
rc=$?
if [ "$rc" = 0 ]; then ok; else fail "check twice: exit $rc, wanted 0"; cat "$tmp/out" >&2; fi
contains "check twice" "twice.conf:6: warning: general.lang is given twice (lines 2 and 6); line 6 counts"
if [ "$(cat "$tmp/stdout")" = "configuration OK" ]; then ok; else fail "check twice: standard output:"; cat "$tmp/stdout" >&2; fi
printf '[telegram]\ntoken = 123456:SECRETSECRET\n' > "$tmp/secret.conf"
chmod 644 "$tmp/secret.conf"
expect "readable secret" 1 "$bin" --check-config "$tmp/secret.conf"
contains "readable secret" "chmod 600 $tmp/secret.conf"
if grep -q SECRETSECRET "$tmp/out"; then fail "the token was printed"; else ok; fi
expect "missing config" 1 "$bin" --config "$tmp/none.conf" --console
contains "missing config" "cannot read"

# Database files that cannot be used are clear errors, never crashes.
head -c 8192 /dev/urandom > "$tmp/garbage.db"
expect "garbage db" 1 "$bin" --console --db "$tmp/garbage.db" < /dev/null
contains "garbage db" "garbage.db"
mkdir "$tmp/dir.db"
expect "directory db" 1 "$bin" --console --db "$tmp/dir.db" < /dev/null
contains "directory db" "not a regular file"
echo "alice: /start" | "$bin" --console --db "$tmp/new.db" -q > /dev/null
sqlite3 "$tmp/new.db" "PRAGMA user_version = 999"
expect "newer db" 1 "$bin" --console --db "$tmp/new.db" < /dev/null
contains "newer db" "newer Ensemble"
if command -v setpriv > /dev/null; then
	mkdir "$tmp/ro"
	echo "alice: /start" | "$bin" --console --db "$tmp/ro/r.db" -q > /dev/null
	chmod 755 "$tmp" "$tmp/ro"
	chmod 444 "$tmp/ro/r.db"
	chmod 555 "$tmp/ro"
	expect "read-only db" 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$bin" --console --db "$tmp/ro/r.db" < /dev/null
	contains "read-only db" "read-only"
	chmod 755 "$tmp/ro"
fi

# SIGTERM and SIGINT stop the bot cleanly with exit 0, the database intact.
for sig in TERM INT; do
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	"$bin" --console --db "$tmp/sig.db" -q < "$tmp/fifo" > "$tmp/sig.out" 2>&1 &
	pid=$!
	exec 3> "$tmp/fifo"
	echo "alice: /start" >&3
	for _ in $(seq 50); do grep -q Ensemble "$tmp/sig.out" && break; sleep 0.1; done
	kill -s "$sig" "$pid"
	wait "$pid"
	rc=$?
	exec 3>&-
	if [ "$rc" = 0 ]; then ok; else fail "SIG$sig: exit $rc"; cat "$tmp/sig.out" >&2; fi
	if grep -q "Ensemble" "$tmp/sig.out"; then ok; else fail "SIG$sig: no reply before the signal"; fi
	if [ "$(sqlite3 "$tmp/sig.db" 'PRAGMA integrity_check')" = ok ]; then ok; else fail "SIG$sig: integrity"; fi
done

# A '~' line to a time that is not one (a 32nd day, a 13th month, a local
# time the clocks skip) is refused with a clear line, and the clock stays.
printf '%s\n' 'alice: /start' '~ 2026-12-32T10:00' '~ 2026-13-01T10:00' '~ 2027-03-28T02:30' \
	'alice: /about' '~ 2026-12-02T10:00' 'alice: /about' |
	"$bin" --console --db "$tmp/clock.db" --now=2026-12-01T10:00 --set lang=en > "$tmp/out" 2>&1
contains "clock: 32 December" "line 2: 2026-12-32T10:00 is not a date and time; the clock stays"
contains "clock: month 13" "line 3: 2026-13-01T10:00 is not a date and time; the clock stays"
contains "clock: skipped hour" "line 4: 2027-03-28T02:30 does not exist in Europe/Paris (the clocks skip it); the clock stays"
if [ "$(grep -c 'Up for less than a minute' "$tmp/out")" = 1 ] && grep -q 'Up for 1 day' "$tmp/out"; then ok
else fail "clock: the clock moved on a refused line, or not on a good one:"; cat "$tmp/out" >&2; fi

# The HTTP listener shares the loop with the console: /healthz answers
# while the console waits for input, and the listener stops with the bot.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -f "$tmp/fifo"
mkfifo "$tmp/fifo"
"$bin" --console --db "$tmp/http.db" --set http.listen=127.0.0.1:$port -q < "$tmp/fifo" > "$tmp/http.out" 2>&1 &
pid=$!
exec 3> "$tmp/fifo"
body=""
for _ in $(seq 50); do body=$(curl -s "http://127.0.0.1:$port/healthz") && [ -n "$body" ] && break; sleep 0.1; done
if [ "$body" = '{"status":"ok","database":"ok","adapters":{"console":"ok"}}' ]; then ok; else fail "healthz answered '$body'"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
if [ "$code" = 200 ]; then ok; else fail "readyz gave $code"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nothing")
if [ "$code" = 404 ]; then ok; else fail "unknown path gave $code"; fi
echo "alice: /start" >&3
for _ in $(seq 50); do grep -q Ensemble "$tmp/http.out" && break; sleep 0.1; done
if grep -q Ensemble "$tmp/http.out"; then ok; else fail "console did not answer beside the listener"; fi
kill -TERM "$pid"
wait "$pid"
rc=$?
exec 3>&-
if [ "$rc" = 0 ]; then ok; else fail "stop with the listener: exit $rc"; cat "$tmp/http.out" >&2; fi
if curl -s "http://127.0.0.1:$port/healthz" > /dev/null; then fail "listener still up after stop"; else ok; fi
# A port already taken is a clear error.  The holder says when it listens
# (a file appears), and holds the port until it is killed; SO_REUSEADDR lets
# it bind beside the connections the listener above left in TIME_WAIT.
python3 -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
open(sys.argv[2], "w").close(); time.sleep(120)' "$port" "$tmp/held" &
holder=$!
for _ in $(seq 200); do [ -e "$tmp/held" ] && break; sleep 0.05; done
if [ -e "$tmp/held" ]; then ok; else fail "the port holder did not listen within 10 s"; fi
expect "port taken" 1 "$bin" --console --db "$tmp/http.db" --set http.listen=127.0.0.1:$port < /dev/null
contains "port taken" "cannot listen on 127.0.0.1:$port"
kill "$holder" 2> /dev/null
wait "$holder" 2> /dev/null

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
