#!/usr/bin/env bash
# What an operator gets wrong in [general] db on PostgreSQL, each met with
# one clear sentence on standard error and exit status 1 from `ensemble
# --config FILE`, before anything runs: a target that is no URL, a server
# that refuses the connection, a wrong password (and none), and a database
# written by a newer Ensemble.  The password never shows.  The right
# password, from ENSEMBLE_DB_PASSWORD or in the URL, works (the checks'
# control).
#
# The credentials need a role with a password over TCP, which the shared
# cluster of the fixture pg does not offer: this script starts a cluster of
# its own in the build directory (tests/pg/cluster.sh makes it), and runs
# it listening on 127.0.0.1 alone, on a free port, with scram-sha-256 for
# TCP; it stops and removes it at the end.
#
# Usage: test_bad_target.sh ENSEMBLE
set -u
bin=$(realpath "$1")
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
pgbin=/usr/lib/postgresql/15/bin
dir=$(dirname "$bin")/pg-bad-target
tmp=$(mktemp -d)
cleanup() {
	[ -f "$dir/data/postmaster.pid" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$dir" "$tmp"
	[ -L "${link:-}" ] && rm -f "$link"
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
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The cluster: made by cluster.sh, restarted with a TCP listener and
# passwords required over it.
bash "$src/tests/pg/cluster.sh" stop "$dir" >/dev/null 2>&1
rm -rf "$dir"
bash "$src/tests/pg/cluster.sh" start "$dir" >/dev/null || { echo "FAIL: cannot start a cluster"; exit 1; }
bash "$src/tests/pg/cluster.sh" stop "$dir"
# The cluster's own directory (cluster.sh makes the build's a link to one
# in /tmp when postgres cannot enter the build directory).
link=$dir
dir=$(readlink -f "$dir")
port=$(free_port)
# TLS too, with a certificate of its own: carol may connect only over it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout "$dir/data/server.key" \
	-out "$dir/data/server.crt" >/dev/null 2>&1 || { echo "FAIL: cannot make a certificate"; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout "$tmp/other.key" \
	-out "$tmp/other.crt" >/dev/null 2>&1
printf '%s\n' 'local all all trust' 'hostnossl all carol 127.0.0.1/32 reject' \
	'host all all 127.0.0.1/32 scram-sha-256' >"$dir/data/pg_hba.conf"
chmod 600 "$dir/data/server.key"
chown postgres: "$dir/data/pg_hba.conf" "$dir/data/server.key" "$dir/data/server.crt"
runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
	-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c ssl=on" start >/dev/null ||
	{ cat "$dir/server.log"; exit 1; }
admin="host=$dir port=$port user=ensemble dbname=ensemble"
psql "$admin" -qc "CREATE ROLE bob LOGIN PASSWORD 'right-pass-42'" -c "CREATE DATABASE bobdb OWNER bob" \
	-c "CREATE ROLE carol LOGIN PASSWORD 'right-pass-42'" -c "CREATE DATABASE caroldb OWNER carol"

# run TARGET [ENV...]: ensemble --config with db = TARGET, the console on
# an empty input; its exit status in $rc, its standard error in $tmp/err.
run() {
	local target=$1
	shift
	printf '[general]\ndb = %s\nlang = en\n' "$target" >"$tmp/conf"
	env -u ENSEMBLE_DB_PASSWORD "$@" "$bin" --config "$tmp/conf" --console </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
}
# refused WHAT PATTERN: exit 1 and one line "ensemble: ..." matching
# PATTERN, no password and no sanitizer report.
refused() {
	check "$1: exit status 1 (got $rc)" [ "$rc" = 1 ]
	check "$1: says $(head -c 300 "$tmp/err")" grep -Eq "^ensemble: .*$2" "$tmp/err"
	check "$1: no password shown" bash -c "! grep -Eq 'right-pass|wrong-pass' '$tmp/err' '$tmp/out'"
	check "$1: no crash" bash -c "! grep -q Sanitizer '$tmp/err'"
}

# The control: the right password, from the environment or the URL.
run "postgresql://bob@127.0.0.1:$port/bobdb" ENSEMBLE_DB_PASSWORD=right-pass-42
check "the right password from ENSEMBLE_DB_PASSWORD: exit 0 ($(tail -1 "$tmp/err"))" [ "$rc" = 0 ]
bobdb="host=$dir port=$port user=ensemble dbname=bobdb"
check "... the schema made" [ "$(psql "$bobdb" -Atc "SELECT version FROM ensemble_schema")" = 14 ]
run "postgresql://bob:right-pass-42@127.0.0.1:$port/bobdb"
check "the right password in the URL: exit 0" [ "$rc" = 0 ]
check "... and it is not logged" bash -c "! grep -q right-pass '$tmp/err'"

run "postgresql://bob@[127.0.0.1:$port/bobdb"
refused "a target that is no URL" "neither a postgresql:// URL nor a libpq key/value string"
run "host=$dir port=$port dbname=bobdb user=bob hostaddrr=127.0.0.1"
refused "a key/value string with an unknown key" "neither a postgresql:// URL nor a libpq key/value string"
dead=$(free_port)
run "postgresql://bob@127.0.0.1:$dead/bobdb" ENSEMBLE_DB_PASSWORD=right-pass-42
refused "a refused connection" "cannot connect to PostgreSQL for database \"bobdb\" at 127.0.0.1:$dead.*Connection refused"
run "postgresql://bob@127.0.0.1:$port/bobdb" ENSEMBLE_DB_PASSWORD=wrong-pass-42
refused "a wrong password" "database \"bobdb\" at 127.0.0.1:$port.*password authentication failed for user \"bob\""
run "postgresql://bob:wrong-pass-42@127.0.0.1:$port/bobdb"
refused "a wrong password in the URL" "password authentication failed for user \"bob\""
run "postgresql://bob@127.0.0.1:$port/bobdb" HOME="$tmp"
refused "no password at all" "database \"bobdb\" at 127.0.0.1:$port.*password"
# The password from the bot user's ~/.pgpass, libpq's own file (0600).
mkdir -p "$tmp/home"
printf '127.0.0.1:%s:bobdb:bob:right-pass-42\n' "$port" >"$tmp/home/.pgpass"
chmod 600 "$tmp/home/.pgpass"
run "postgresql://bob@127.0.0.1:$port/bobdb" HOME="$tmp/home"
check "the right password from ~/.pgpass: exit 0 ($(tail -1 "$tmp/err"))" [ "$rc" = 0 ]
check "... and it is not logged" bash -c "! grep -q right-pass '$tmp/err' '$tmp/out'"

# sslmode as libpq takes it, in the URL: carol's server accepts her over
# TLS only.
run "postgresql://carol@127.0.0.1:$port/caroldb?sslmode=require" ENSEMBLE_DB_PASSWORD=right-pass-42
check "sslmode=require: over TLS, exit 0 ($(tail -1 "$tmp/err"))" [ "$rc" = 0 ]
run "postgresql://carol@127.0.0.1:$port/caroldb?sslmode=disable" ENSEMBLE_DB_PASSWORD=right-pass-42
refused "sslmode=disable where TLS is required" "database \"caroldb\" at 127.0.0.1:$port"
run "postgresql://carol@127.0.0.1:$port/caroldb?sslmode=verify-full&sslrootcert=$tmp/other.crt" \
	ENSEMBLE_DB_PASSWORD=right-pass-42
refused "sslmode=verify-full against another authority" "certificate verify failed"

# A database a newer Ensemble wrote: refused, and left as it is.
psql "$bobdb" -qc "UPDATE ensemble_schema SET version = 99"
run "postgresql://bob@127.0.0.1:$port/bobdb" ENSEMBLE_DB_PASSWORD=right-pass-42
refused "a newer schema" "written by a newer Ensemble \(schema version 99"
check "... left at version 99" [ "$(psql "$bobdb" -Atc "SELECT version FROM ensemble_schema")" = 99 ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
