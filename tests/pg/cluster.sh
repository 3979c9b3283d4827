#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: Debian's PostgreSQL 15,
# never its system service.
#
#   tests/pg/cluster.sh start DIR   initdb into DIR/data (if not there yet)
#                                   and start the server, listening only on
#                                   a Unix socket in DIR (no TCP port);
#                                   prints the libpq target to use:
#                                   "host=DIR user=ensemble dbname=ensemble"
#   tests/pg/cluster.sh start DIR PRIMARY
#                                   the same, the cluster made (if not there
#                                   yet) as a streaming replica of the one
#                                   in PRIMARY (pg_basebackup -R)
#   tests/pg/cluster.sh stop DIR    stops it (fast shutdown); DIR is kept
#   tests/pg/cluster.sh crash DIR   stops it as a crash would (immediate
#                                   shutdown: no checkpoint, sessions cut)
#   tests/pg/cluster.sh promote DIR makes the replica in DIR a primary
#   tests/pg/cluster.sh url DIR     prints the target again
#
# With ENSEMBLE_PG_STATS=1 in the environment, start loads
# pg_stat_statements (for bench/dispatcher.py --statements); the tests and
# the benchmark's figures run without it, which costs a little on every
# statement.
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
	echo "usage: $0 start|stop|crash|promote|url DIR [PRIMARY]" >&2
	exit 2
fi
primary=${3:-}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# The server runs as postgres, which must reach DIR: a build under a
# directory only root may enter (a clone in /root) would refuse it.  Then
# DIR becomes a link to a directory of /tmp, where the data and the socket
# live; clients (root) follow the link, the server's commands are given
# the real path.
if [ "$(id -u)" = 0 ] && [ "$cmd" = start ] && [ ! -L "$dir" ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
	real=$(mktemp -d /tmp/ensemble-pg.XXXXXX)
	rmdir "$dir" 2>/dev/null || { echo "$dir is not empty and postgres cannot reach it" >&2; exit 1; }
	ln -s "$real" "$dir"
fi
real=$(readlink -f "$dir")

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
	[ "$(id -u)" = 0 ] && chown postgres: "$real"
	if [ ! -f "$real/data/PG_VERSION" ] && [ -n "$primary" ]; then
		as_owner "$bin/pg_basebackup" -h "$(readlink -f "$primary")" -U ensemble -D "$real/data" -R -X stream \
			>"$real/initdb.log" 2>&1 || { cat "$real/initdb.log" >&2; exit 1; }
	elif [ ! -f "$real/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$real/data" -U ensemble -A trust -E UTF8 --locale=C.UTF-8 >"$real/initdb.log" 2>&1 ||
			{ cat "$real/initdb.log" >&2; exit 1; }
	fi
	# No TCP listener; the socket in DIR; fsync kept on (the crash tests
	# rely on what a commit promises).
	stats=
	if [ "${ENSEMBLE_PG_STATS:-}" = 1 ]; then
		stats=" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top"
	fi
	as_owner "$bin/pg_ctl" -D "$real/data" -l "$real/server.log" -w -t 30 \
		-o "-c listen_addresses='' -c unix_socket_directories='$real' -c max_connections=200$stats" start >/dev/null ||
		{ cat "$real/server.log" >&2; exit 1; }
	if ! as_owner "$bin/psql" -h "$real" -U ensemble -d postgres -Atqc \
		"SELECT 1 FROM pg_database WHERE datname = 'ensemble'" | grep -q 1; then
		as_owner "$bin/createdb" -h "$real" -U ensemble ensemble
	fi
	echo "host=$dir user=ensemble dbname=ensemble"
	;;
stop)
	if [ -f "$real/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$real/data" -m fast -w stop >/dev/null
	fi
	;;
crash)
	as_owner "$bin/pg_ctl" -D "$real/data" -m immediate -w stop >/dev/null
	;;
promote)
	as_owner "$bin/pg_ctl" -D "$real/data" -w promote >/dev/null
	;;
url)
	echo "host=$dir user=ensemble dbname=ensemble"
	;;
*)
	echo "usage: $0 start|stop|crash|promote|url DIR [PRIMARY]" >&2
	exit 2
	;;
esac
