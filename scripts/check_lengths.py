#!/usr/bin/env python3
"""No function of the daemon's sources is longer than 80 lines.

A long function is read as one block: a maintainer who changes a step of it
must hold every other step in mind.  Past the limit, each step becomes a
named function with a one-line contract.

The sources' style makes functions easy to find without a C parser: a
function's body opens with "{" alone at column 0, under its signature (whose
first line also starts at column 0), and closes with "}" at column 0.  A
function's length counts from the line of its name (the signature's first
line in this code's style) to its closing brace, both included, as ctags
counts it.

Functions still over the limit while the code is being reworked are named
in an allow-list, one "FILE:FUNCTION" a line ("#" starts a comment).  The
list only shrinks: a function on it that is no longer over the limit, or no
longer exists, is reported too, so that its line is removed.

    check_lengths.py [ROOT [ALLOW_LIST]]

prints each problem as FILE:LINE: why, and exits 1 when there is one, 0
otherwise.  ROOT defaults to the repository, ALLOW_LIST to
ROOT/scripts/long_functions.txt (a missing file allows nothing).  Tests,
fuzz targets and benchmarks are not checked."""

import os
import re
import sys

LIMIT = 80

# Folders that hold C sources that are not the daemon's.
NOT_CHECKED = {"tests", "fuzz", "bench", ".git"}

NAME = re.compile(r"([A-Za-z_]\w*)\s*\(")


def sources(root):
    """Yields the path, relative to root, of every .c and .h checked."""
    for top in sorted(os.listdir(root)):
        folder = os.path.join(root, top)
        if not os.path.isdir(folder) or top in NOT_CHECKED or top.startswith("build"):
            continue
        for dirpath, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def functions(lines):
    """Yields (name, first line, length) of each function of a file given as
    its list of lines; line numbers count from 1."""
    start = None
    name = None
    for i, line in enumerate(lines):
        if line.startswith("{"):
            # The signature's first line is the last line above that starts
            # at column 0: its parameters' continuation lines are indented.
            j = i - 1
            while j >= 0 and not re.match(r"[A-Za-z_]", lines[j]):
                j -= 1
            m = NAME.search(lines[j]) if j >= 0 else None
            if m:
                start, name = j, m.group(1)
        elif line.startswith("}") and start is not None:
            yield name, start + 1, i - start + 1
            start = None


def read_allowed(path):
    """Returns the allow-list as a dict of "FILE:FUNCTION" to its line."""
    allowed = {}
    if not os.path.exists(path):
        return allowed
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                allowed[entry] = lineno
    return allowed


def check(root, allow_path):
    """Returns the list of problems, as "FILE:LINE: why" lines."""
    problems = []
    allowed = read_allowed(allow_path)
    seen = set()
    list_name = os.path.relpath(allow_path, root)
    for path in sources(root):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        for name, first, length in functions(lines):
            key = "%s:%s" % (path, name)
            if length <= LIMIT:
                continue
            if key in allowed:
                seen.add(key)
                continue
            problems.append("%s:%d: %s is %d lines long, over %d: give its steps names"
                            % (path, first, name, length, LIMIT))
    for key, lineno in sorted(allowed.items(), key=lambda kv: kv[1]):
        if key not in seen:
            problems.append("%s:%d: %s is no longer over %d lines: remove it from the list"
                            % (list_name, lineno, key, LIMIT))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    allow = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "scripts", "long_functions.txt")
    problems = check(root, allow)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
