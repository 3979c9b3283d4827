#!/usr/bin/env python3
"""Folders are layers, and includes point down.

Each top-level folder of the daemon's sources is one layer; a source may
include headers of its own layer and of the layers below it, never above.
A header named *_internal.h is private to its folder: no other folder
includes it.  Tests, fuzz targets and benchmarks are not layers: they
include what they test.

    check_layers.py [ROOT]

prints each include that breaks the rule as FILE:LINE: why, and exits 1
when there is one, 0 otherwise.  ROOT defaults to the repository."""

import os
import re
import sys

# The layers, lowest first: the order is written here and nowhere else
# (README's Layout section describes it).
LAYERS = ["lib", "config", "storage", "bot", "adapters", "web", "daemon"]

# A layer that may use only some headers of a layer below it: web/ serves
# on the listener and knows no adapter.
ONLY = {("web", "adapters"): {"adapters/http_server.h"}}

# Folders that hold C sources without being layers.
NOT_LAYERS = {"tests", "fuzz", "bench", "build", ".git"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(root):
    """Yields (layer, path relative to root) of every .c and .h of a layer,
    and reports a folder of C sources that is no layer (a new one must be
    given its place in LAYERS)."""
    for top in sorted(os.listdir(root)):
        folder = os.path.join(root, top)
        if not os.path.isdir(folder) or top in NOT_LAYERS or top.startswith("build"):
            continue
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    yield top, os.path.relpath(os.path.join(dirpath, name), root)


def check(root):
    """Returns the list of problems, as "FILE:LINE: why" lines."""
    problems = []
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    for layer, path in sources(root):
        if layer not in rank:
            problems.append("%s: the folder %s/ is no layer: give it its place in %s's LAYERS"
                            % (path, layer, os.path.basename(__file__)))
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m or "/" not in m.group(1):
                    continue
                header = m.group(1)
                target = header.split("/", 1)[0]
                where = "%s:%d: includes \"%s\"" % (path, lineno, header)
                if target not in rank:
                    problems.append("%s, in %s/, which is no layer" % (where, target))
                elif rank[target] > rank[layer]:
                    problems.append("%s, a layer above %s/ (the order is %s)"
                                    % (where, layer, " <- ".join(LAYERS)))
                elif target != layer and header.endswith("_internal.h"):
                    problems.append("%s, private to %s/" % (where, target))
                elif header not in ONLY.get((layer, target), {header}):
                    problems.append("%s: %s/ uses only %s of %s/" % (where, layer,
                                    ", ".join(sorted(ONLY[(layer, target)])), target))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = check(root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
