#!/usr/bin/env bash
# [http] listen binds exactly the address it names: the socket that `ss`
# shows is that address, the log line says so, and every other address of
# this machine refuses the connection (loopback and its own public ones;
# nothing outside the machine is contacted).
set -u
bin=$1
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

if ! command -v ss > /dev/null; then
	echo "ss (iproute2) is missing: apt-get install iproute2" >&2
	exit 1
fi

# connect ADDRESS PORT: prints "open", "refused", or what else happened.
connect() {
	python3 - "$1" "$2" << 'EOF'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect((host, port))
    print("open")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error: %s" % e)
EOF
}
has_ipv6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(1)' 2> /dev/null)
# This machine's own addresses beside loopback (link-local ones need a scope).
own4=$(ip -o -4 addr show scope global 2> /dev/null | awk '{ sub("/.*", "", $4); print $4 }')
own6=$(ip -o -6 addr show scope global 2> /dev/null | awk '{ sub("/.*", "", $4); print $4 }')

# check_listen SPEC SS_ADDRESS "OPEN ADDRESSES" "REFUSED ADDRESSES"
check_listen() {
	local spec=$1 want=$2 open=$3 refused=$4 port line got a
	rm -f "$tmp/fifo" "$tmp/log"
	mkfifo "$tmp/fifo"
	"$bin" --console --db "$tmp/l.db" --set "http.listen=$spec:0" < "$tmp/fifo" > /dev/null 2> "$tmp/log" &
	pid=$!
	exec 3> "$tmp/fifo"
	for _ in $(seq 100); do
		line=$(grep -o 'HTTP listener on .*' "$tmp/log") && break
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.05
	done
	port=${line##*:}
	if [ -z "$line" ] || [ "$line" != "HTTP listener on $want:$port" ]; then
		fail "$spec: log says '$line', wanted 'HTTP listener on $want:PORT'"
		cat "$tmp/log" >&2
	else
		ok
		got=$(ss -ltnH "sport = :$port" | awk '{ print $4 }')
		if [ "$got" = "$want:$port" ]; then ok; else fail "$spec: ss shows '$got', wanted '$want:$port'"; fi
		for a in $open; do
			got=$(curl -s -g --max-time 3 "http://$(bracket "$a"):$port/healthz")
			if [ "$got" = "$healthy" ]; then ok; else fail "$spec: /healthz on $a answered '$got'"; fi
		done
		for a in $refused; do
			got=$(connect "$a" "$port")
			if [ "$got" = refused ]; then ok; else fail "$spec: a connection to $a:$port: $got, wanted refused"; fi
		done
	fi
	exec 3>&-
	wait "$pid"
	local rc=$?
	pid=
	if [ "$rc" = 0 ]; then ok; else fail "$spec: exit $rc"; cat "$tmp/log" >&2; fi
}
bracket() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }
healthy='{"status":"ok","database":"ok","adapters":{"console":"ok"}}'

if [ -n "$has_ipv6" ]; then
	check_listen 127.0.0.1 127.0.0.1 "127.0.0.1" "127.0.0.2 ::1 $own4 $own6"
	check_listen 0.0.0.0 0.0.0.0 "127.0.0.1 127.0.0.2 $own4" "::1 $own6"
	check_listen '[::1]' '[::1]' "::1" "127.0.0.1 $own4 $own6"
	check_listen '[::]' '[::]' "::1 $own6" "127.0.0.1 $own4"
else
	echo "note: no IPv6 on this machine, only the IPv4 listeners are tested" >&2
	check_listen 127.0.0.1 127.0.0.1 "127.0.0.1" "127.0.0.2 $own4"
	check_listen 0.0.0.0 0.0.0.0 "127.0.0.1 127.0.0.2 $own4" ""
fi

# An address that is not numeric is refused when the configuration is read.
for spec in localhost:8080 ::1:8080 '[127.0.0.1]:8080' '[::1:8080' 999.0.0.1:8080; do
	"$bin" --console --db "$tmp/l.db" --set "http.listen=$spec" < /dev/null > "$tmp/out" 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -qF "not '$spec'" "$tmp/out"; then ok; else
		fail "listen=$spec: exit $rc"
		cat "$tmp/out" >&2
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
