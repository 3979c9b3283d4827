#!/usr/bin/env bash
# The man pages: ensemble(8) and ensemble.conf(5) pass `mandoc -Tlint` and
# groff's warnings (`man --warnings`) without a message; every option of
# `ensemble --help` is in ensemble(8)'s OPTIONS and every option there is in
# --help; every section.key of config/ensemble.conf.example is in
# ensemble.conf(5), with the same default, and every key there is in the
# example.
set -u
bin=$1
src=${ENSEMBLE_SRC:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

for tool in mandoc man groff; do
	if ! command -v $tool > /dev/null; then
		echo "FAIL: $tool is missing (bash scripts/deps.sh installs it)" >&2
		exit 1
	fi
done

for page in "$src/docs/man/ensemble.8" "$src/docs/man/ensemble.conf.5"; do
	name=$(basename "$page")
	mandoc -Tlint "$page" > "$tmp/lint" 2>&1
	if [ -s "$tmp/lint" ]; then fail "mandoc -Tlint $name:"; cat "$tmp/lint" >&2; else ok; fi
	MANWIDTH=80 man --warnings -l "$page" > "$tmp/out" 2> "$tmp/lint"
	if [ -s "$tmp/lint" ]; then fail "man --warnings $name:"; cat "$tmp/lint" >&2; else ok; fi
	if grep -q "^NAME" "$tmp/out"; then ok; else fail "man -l $name: no NAME section rendered"; fi
done

# The comparisons, one problem a line on standard output.
"$bin" --help > "$tmp/help" 2>&1 || fail "ensemble --help: exit $?"
python3 - "$tmp/help" "$src/docs/man/ensemble.8" "$src/config/ensemble.conf.example" \
	"$src/docs/man/ensemble.conf.5" > "$tmp/diff" << 'PY'
import re, sys

help_text, page8, example, page5 = (open(p).read() for p in sys.argv[1:])

def options_of_help(text):
    """The flags of --help's first column: '  -c, --config FILE', '      --db PATH'."""
    found = set()
    for line in text.splitlines():
        m = re.match(r"^ {2}(?:-([a-zA-Z]), | {4})--([a-z][a-z-]*)", line)
        if m:
            found.add("--" + m.group(2))
            if m.group(1):
                found.add("-" + m.group(1))
    return found

def tags(page, section_re):
    """The paragraph tags (the line after .TP or .TQ) of the .SH section or
    of each .SS section whose title matches section_re, with the title."""
    out, title, want, after_tp = [], None, False, False
    for line in page.splitlines():
        m = re.match(r"^\.S[HS]\s+\"?([^\"]*)\"?\s*$", line)
        if m:
            title, want = m.group(1), bool(re.fullmatch(section_re, m.group(1)))
            after_tp = False
        elif line in (".TP", ".TQ"):
            after_tp = True
        elif after_tp:
            after_tp = False
            if want:
                out.append((title, line))
    return out

def options_of_page(page):
    found = set()
    for _, tag in tags(page, "OPTIONS"):
        tag = tag.replace("\\-", "-")
        found.update(re.findall(r"--[a-z][a-z-]*", tag))
        found.update(re.findall(r"(?<![\w-])-[a-zA-Z](?![\w-])", tag))
    return found

def keys_of_example(text):
    found, section = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[([a-z]+)\]$", line)
        if m:
            section = m.group(1)
        m = re.match(r"^([a-z_]+) =(.*)$", line)
        if m:
            found[section + "." + m.group(1)] = m.group(2).strip()
    return found

def keys_of_page(page):
    found = {}
    for title, tag in tags(page, r"\[[a-z]+\]"):
        m = re.match(r"^\.B\s+\"?([a-z_]+) =(.*?)\"?$", tag)
        if m:
            value = m.group(2).strip().replace("\\-", "-")
            found[title.strip("[]") + "." + m.group(1)] = value
    return found

h, p = options_of_help(help_text), options_of_page(page8)
if len(h) < 10:
    print("--help: only %d options found" % len(h))
for o in sorted(h - p):
    print("%s: in --help, not in ensemble(8)" % o)
for o in sorted(p - h):
    print("%s: in ensemble(8), not in --help" % o)
e, m = keys_of_example(example), keys_of_page(page5)
if len(e) < 20:
    print("ensemble.conf.example: only %d keys found" % len(e))
for k in sorted(set(e) - set(m)):
    print("%s: in ensemble.conf.example, not in ensemble.conf(5)" % k)
for k in sorted(set(m) - set(e)):
    print("%s: in ensemble.conf(5), not in ensemble.conf.example" % k)
for k in sorted(set(e) & set(m)):
    if e[k] != m[k]:
        print("%s: default '%s' in the example, '%s' in ensemble.conf(5)" % (k, e[k], m[k]))
PY
rc=$?
if [ "$rc" = 0 ]; then ok; else fail "the comparison script failed ($rc)"; fi
if [ -s "$tmp/diff" ]; then
	while read -r line; do fail "$line"; done < "$tmp/diff"
else
	ok
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
