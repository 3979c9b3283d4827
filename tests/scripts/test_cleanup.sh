#!/usr/bin/env bash
# Tests leave nothing in the temporary directory: a few of them, one of each
# kind (a transcript, a shell script test, the Python harness's scripts, the
# crash test), run with TMPDIR pointing to an empty directory of their own,
# which must be empty again afterwards.
set -u
bin=$1
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # test_cli.sh runs the bot as nobody in a folder of its TMPDIR
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

clean_after() { # clean_after NAME COMMAND...: runs it with its own TMPDIR
	local name=$1 dir="$tmp/$1"
	shift
	mkdir -m 755 "$dir"
	TMPDIR=$dir "$@" > "$tmp/$name.out" 2>&1
	local rc=$?
	if [ "$rc" = 0 ]; then ok; else fail "$name: exit $rc"; tail -20 "$tmp/$name.out" >&2; fi
	if [ -z "$(ls -A "$dir")" ]; then ok; else fail "$name left in the temporary directory: $(ls -A "$dir")"; fi
}

clean_after transcript python3 "$src/tests/run_transcript.py" "$bin" "$src/tests/transcripts/core_en.chat"
clean_after cli bash "$src/tests/scripts/test_cli.sh" "$bin"
clean_after crash python3 "$src/tests/scripts/crash.py" "$bin"
clean_after reload python3 "$src/tests/reload.py" "$bin"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
