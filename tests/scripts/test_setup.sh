#!/usr/bin/env bash
# The set-up scripts against stand-ins for apt-get, dpkg-query, node and npm
# (first on PATH, so nothing is installed): scripts/deps.sh waits while
# another apt-get holds the lock and fails at once on any other error; with
# a Node.js older than 20 it says so and leaves matrix-js-sdk out, and
# tests/scripts/test_matrix_sdk.sh is skipped (exit 77) with the reason.
set -u
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
has() { # has DESCRIPTION FILE TEXT
	if grep -qF -- "$3" "$2"; then ok; else fail "$1: no '$3' in $2:"; cat "$2" >&2; fi
}

# A copy of the tree's scripts, without node_modules.
mkdir -p "$tmp/tree/scripts" "$tmp/tree/tests/telegram/tta" "$tmp/tree/tests/matrix/sdk" "$tmp/tree/tests/web" "$tmp/bin"
cp "$src/scripts/deps.sh" "$tmp/tree/scripts/"
mkdir -p "$tmp/tree/bench/peer"
cp "$src/bench/peer/package.json" "$tmp/tree/bench/peer/"
cp -r "$src/tests/scripts" "$tmp/tree/tests/"

# The stand-ins.  apt-get logs its arguments and, for `update`, says the
# lock is held the first $LOCKED times; FAIL=1 makes it fail otherwise.
cat > "$tmp/bin/apt-get" << 'EOF'
#!/usr/bin/env bash
echo "$*" >> "$STUB_DIR/apt.log"
n=$(cat "$STUB_DIR/locked" 2> /dev/null || echo 0)
if [[ " $* " == *" update "* ]] && [ "$n" -lt "${LOCKED:-0}" ]; then
	echo $((n + 1)) > "$STUB_DIR/locked"
	echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
	echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
	exit 100
fi
if [ "${FAIL:-0}" = 1 ]; then
	echo "E: Unable to locate package libinih-dev" >&2
	exit 100
fi
EOF
cat > "$tmp/bin/dpkg-query" << 'EOF'
#!/usr/bin/env bash
# One package is missing; the others are installed.
[ "${!#}" = libinih-dev ] || printf 'install ok installed'
EOF
cat > "$tmp/bin/id" << 'EOF'
#!/usr/bin/env bash
echo 0
EOF
cat > "$tmp/bin/node" << 'EOF'
#!/usr/bin/env bash
echo "$NODE_VERSION"
EOF
cat > "$tmp/bin/npm" << 'EOF'
#!/usr/bin/env bash
echo "$(basename "$(dirname "$PWD")")/$(basename "$PWD") $*" >> "$STUB_DIR/npm.log"
EOF
chmod +x "$tmp/bin"/*
export STUB_DIR=$tmp
run_deps() { # run_deps NODE_VERSION LOCKED FAIL: deps.sh's output in $tmp/out
	rm -f "$tmp/apt.log" "$tmp/npm.log" "$tmp/locked"
	NODE_VERSION=$1 LOCKED=$2 FAIL=$3 PATH="$tmp/bin:$PATH" bash "$tmp/tree/scripts/deps.sh" > "$tmp/out" 2>&1
}

# Another apt-get holds the lock twice: deps.sh waits, then installs.
run_deps v18.19.0 2 0
rc=$?
if [ "$rc" = 0 ]; then ok; else fail "deps.sh with the lock held: exit $rc"; cat "$tmp/out" >&2; fi
has "waiting" "$tmp/out" "waiting for another apt-get or dpkg to finish"
if [ "$(grep -c ' update' "$tmp/apt.log")" = 3 ]; then ok; else fail "apt-get update not tried 3 times:"; cat "$tmp/apt.log" >&2; fi
if [ "$(grep -c 'install' "$tmp/apt.log")" = 1 ]; then ok; else fail "apt-get install not run once"; fi
if [ "$(grep -vc 'DPkg::Lock::Timeout=600' "$tmp/apt.log")" = 0 ]; then ok
else fail "an apt-get without DPkg::Lock::Timeout:"; cat "$tmp/apt.log" >&2; fi
has "install line" "$tmp/apt.log" "install -y -qq --no-install-recommends libinih-dev"
# ... and with Node.js 18, says that matrix-js-sdk's test will be skipped
# and installs only what can run.
has "node 18" "$tmp/out" "Node.js v18.19.0: matrix-js-sdk needs Node.js 20 or later"
has "node 18: tta" "$tmp/npm.log" "telegram/tta ci"
has "node 18: ical.js" "$tmp/npm.log" "tests/web ci"
if grep -q "matrix/sdk" "$tmp/npm.log"; then fail "matrix-js-sdk installed for Node.js 18"; else ok; fi
if grep -q "bench/peer" "$tmp/npm.log"; then fail "the benchmark's peer installed for Node.js 18"; else ok; fi

# Any other apt-get error fails at once, shown.
start=$(date +%s)
run_deps v20.11.1 0 1
rc=$?
if [ "$rc" != 0 ]; then ok; else fail "deps.sh went on after apt-get failed"; fi
has "other error shown" "$tmp/out" "Unable to locate package libinih-dev"
if [ $(($(date +%s) - start)) -lt 2 ]; then ok; else fail "deps.sh waited on an error that is not the lock"; fi

# Node.js 20: both npm packages, nothing said about Node.js.
run_deps v20.11.1 0 0
rc=$?
if [ "$rc" = 0 ]; then ok; else fail "deps.sh with Node.js 20: exit $rc"; cat "$tmp/out" >&2; fi
has "node 20: sdk" "$tmp/npm.log" "matrix/sdk ci"
has "node 20: the benchmark's peer" "$tmp/npm.log" "bench/peer ci"
if grep -q "needs Node.js 20" "$tmp/out"; then fail "Node.js 20 said to be too old"; else ok; fi

# matrix-js-sdk's test with Node.js 18 (or none) is a skip with its reason.
for v in v18.19.0 ""; do
	NODE_VERSION=$v PATH="$tmp/bin:$PATH" bash "$tmp/tree/tests/scripts/test_matrix_sdk.sh" "$1" > "$tmp/out" 2>&1
	rc=$?
	if [ "$rc" = 77 ]; then ok; else fail "test_matrix_sdk with Node.js '$v': exit $rc, wanted 77 (skip)"; cat "$tmp/out" >&2; fi
	has "skip reason" "$tmp/out" "SKIPPED: matrix-js-sdk needs Node.js 20 or later; this machine has ${v:-no Node.js}"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
