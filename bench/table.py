#!/usr/bin/env python3
"""The table `make bench` ends with: each figure, what it is measured
against (a floor or a peer, in the same run), the ratio and its goal.

The benchmark scripts call add(); when BENCH_TABLE names a file, each row
is appended to it as a JSON line.  `table.py FILE` prints the rows as a
Markdown table (the README's Performance section)."""
import json, os, sys

def add(what, figure, against, ratio, goal=""):
    """Records one row; ratio is a string, already rounded."""
    path = os.environ.get("BENCH_TABLE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"what": what, "figure": figure, "against": against, "ratio": ratio,
                                "goal": goal}) + "\n")

if __name__ == "__main__":
    print("| what | Ensemble | floor or peer | ratio | goal |")
    print("| --- | --- | --- | --- | --- |")
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)
            print("| %s | %s | %s | %s | %s |" % (r["what"], r["figure"], r["against"], r["ratio"], r["goal"]))
