#!/usr/bin/env bash
# Every C file git tracks (the daemon's, the unit tests', the fuzz targets',
# the benchmark's) is laid out as .clang-format says.  The check is first
# shown to catch a misformatted file, on a small tree of its own.  Skipped
# only when clang-format is missing (scripts/deps.sh installs it).
set -u
src=${ENSEMBLE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" > /dev/null || { echo "SKIP: $cf is missing (Debian: apt-get install clang-format)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# formatted FILE: whether clang-format would leave FILE as it is, with the
# .clang-format of FILE's tree.
formatted() { "$cf" --dry-run --Werror "$1" > /dev/null 2>&1; }

cp "$src/.clang-format" "$tmp/"
printf 'int f(int x)\n{\n\tif(x)\n\t\treturn 1;\n\treturn 0;\n}\n' > "$tmp/good.c"
printf 'int f(int x) {\n    if (x) return 1;\n    return 0;\n}\n' > "$tmp/bad.c"
formatted "$tmp/good.c" || fail "a file in the project's layout is reported as misformatted"
formatted "$tmp/bad.c" && fail "a misformatted file passes the check"

# The files git tracks, so that build directories and generated files are
# out; a source tree without git (an unpacked release) has nothing else.
files=$(git -C "$src" ls-files '*.c' '*.h' 2> /dev/null) ||
	files=$(cd "$src" && find lib config storage bot adapters daemon tests fuzz bench -name '*.[ch]' | sort)
[ -n "$files" ] || fail "no C file found under $src"
bad=0
for f in $files; do
	if ! (cd "$src" && formatted "$f"); then
		echo "FAIL: $f is not formatted: run clang-format -i $f (or make format for every file)" >&2
		bad=$((bad + 1))
	fi
done
if [ "$bad" != 0 ]; then
	failed=$((failed + bad))
	version=$("$cf" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
	[ "$version" = 14 ] || echo "note: this is clang-format $version; the layout is clang-format 14's" \
	                            "(Debian 12), and other versions may lay some lines out differently" >&2
fi

[ "$failed" = 0 ] || { echo "$failed failure(s)"; exit 1; }
echo "OK: $(wc -w <<< "$files") C files formatted"
