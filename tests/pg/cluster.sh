#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: Debian's PostgreSQL 15,
# never its system service.
#
#   tests/pg/cluster.sh start DIR   initdb into DIR/data (if not there yet)
#                                   and start the server, listening only on
#                                   a Unix socket in DIR (no TCP port);
#                                   prints the libpq target to use:
#                                   "host=DIR user=ensemble dbname=ensemble"
#   tests/pg/cluster.sh stop DIR    stops it (fast shutdown); DIR is kept
#   tests/pg/cluster.sh url DIR     prints the target again
#
# The server refuses to run as root, so as root it runs as the system user
# postgres (made by Debian's postgresql-15 package), which then owns DIR.
# The superuser role is "ensemble", trusted on the socket; database
# "ensemble" exists.  The server's log is DIR/server.log.
set -eu
bin=/usr/lib/postgresql/15/bin
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop|url DIR" >&2
	exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "$cmd" in
start)
	if [ ! -x "$bin/initdb" ]; then
		echo "$bin/initdb is missing: apt-get install postgresql-15 (scripts/deps.sh does)" >&2
		exit 1
	fi
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -U ensemble -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	# No TCP listener; the socket in DIR; fsync kept on (the crash tests
	# rely on what a commit promises).
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200" start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	if ! as_owner "$bin/psql" -h "$dir" -U ensemble -d postgres -Atqc \
		"SELECT 1 FROM pg_database WHERE datname = 'ensemble'" | grep -q 1; then
		as_owner "$bin/createdb" -h "$dir" -U ensemble ensemble
	fi
	echo "host=$dir user=ensemble dbname=ensemble"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	fi
	;;
url)
	echo "host=$dir user=ensemble dbname=ensemble"
	;;
*)
	echo "usage: $0 start|stop|url DIR" >&2
	exit 2
	;;
esac
