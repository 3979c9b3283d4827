#!/usr/bin/env bash
# Replays a console transcript through the real binary and compares what
# the bot printed with the expected output.
#
#   run_transcript.sh ENSEMBLE NAME.in        (expects NAME.out beside it)
#
# NAME.in is console input.  Lines starting with "#!" are directives:
#   #! FLAGS             extra flags for the (next) run of the binary
#   #! restart [FLAGS]   end this run, start the binary again on the same
#                        database (with FLAGS, e.g. a later --now)
# Every run gets: --console --clock=sim --db TMP/t.db -q and, unless the
# transcript says otherwise, --now=2026-12-01T10:00 (a Tuesday) with
# lang=en and timezone=Europe/Paris.  The temporary directory shows as <tmp>.
# UPDATE=1 writes the output as the new expectation (review it!).
set -u
bin=$1
in=$2
expected=${in%.in}.out
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

base=(--console --clock=sim --db "$tmp/t.db" -q)
defaults=(--now=2026-12-01T10:00 --set lang=en --set timezone=Europe/Paris)

# Split the transcript into runs.
run=0
flags=()
: > "$tmp/run0.in"
: > "$tmp/run0.flags"
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	"#! restart"*)
		run=$((run + 1))
		: > "$tmp/run$run.in"
		printf '%s\n' "${line#\#! restart}" > "$tmp/run$run.flags"
		;;
	"#!"*)
		printf '%s\n' "${line#\#!}" >> "$tmp/run$run.flags"
		;;
	*)
		printf '%s\n' "$line" >> "$tmp/run$run.in"
		;;
	esac
done < "$in"

: > "$tmp/actual"
status=0
for i in $(seq 0 "$run"); do
	# shellcheck disable=SC2207
	extra=($(cat "$tmp/run$i.flags"))
	if [ "$i" = 0 ]; then
		args=("${base[@]}" "${defaults[@]}" "${extra[@]}")
	else
		args=("${base[@]}" --set lang=en --set timezone=Europe/Paris "${extra[@]}")
	fi
	"$bin" "${args[@]}" < "$tmp/run$i.in" >> "$tmp/actual" 2>> "$tmp/stderr"
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "run $i of $in exited with $rc" >&2
		status=1
	fi
done
sed -i "s|$tmp|<tmp>|g" "$tmp/actual"

if [ "${UPDATE:-}" = 1 ]; then
	cp "$tmp/actual" "$expected"
	echo "updated $expected"
fi
if ! diff -u "$expected" "$tmp/actual"; then
	echo "--- stderr of the bot:" >&2
	cat "$tmp/stderr" >&2
	exit 1
fi
if grep -E "runtime error|AddressSanitizer|LeakSanitizer" "$tmp/stderr" >&2; then
	exit 1
fi
exit $status
