#!/usr/bin/env bash
# Runs one libFuzzer target for a while on a copy of its seed corpus.
#   fuzz_one.sh BINARY CORPUS_DIR SECONDS
# Exits non-zero on a crash, a leak or UB (the report and the input that
# caused it are printed), and prints a closing line either way.
set -u
bin=$1
seeds=$2
seconds=${3:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || { mkdir -p "$work/corpus"; cp "$seeds"/* "$work/corpus/"; }
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/" \
	"$work/corpus" > "$work/log" 2>&1
rc=$?
grep -E "^#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs" "$work/log" | tail -2
if [ "$rc" != 0 ]; then
	tail -60 "$work/log"
	for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -e "$a" ] && { echo "input $a:"; od -c "$a" | head -20; }
	done
	echo "0 passed, 1 failed"
	exit 1
fi
echo "1 passed, 0 failed"
