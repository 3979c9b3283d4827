#!/usr/bin/env python3
"""Where a one-request-at-a-time client loses time, seen from the server.

Reads traces written by bench/e2e.py with BENCH_TRACE=DIR (lines "ARRIVED
ANSWERED WHAT", monotonic nanoseconds, one per request, from the fake) and
prints, for each, the gaps between an answer leaving and the next request
arriving: their median and tail, and how much of the run went in long ones.
With one send out at a time, those gaps are the client's share of the run.

Usage: gaps.py DIR/bot.trace [DIR/ceiling.trace ...]"""
import statistics, sys

for path in sys.argv[1:]:
    rows = sorted((int(a), int(b), w) for a, b, w in (l.split() for l in open(path) if l.strip()))
    gaps = sorted(g for g in ((rows[i + 1][0] - rows[i][1]) / 1000.0 for i in range(len(rows) - 1)) if g > 0)
    if not gaps:
        print("%s: no gaps" % path)
        continue
    total = (rows[-1][1] - rows[0][0]) / 1e9
    over = [g for g in gaps if g > 100]
    print("%s: %d requests in %.2f s; gaps median %.1f us, p90 %.1f, p99 %.1f; "
          "%d gaps over 100 us: %.2f s; all gaps %.2f s"
          % (path, len(rows), total, statistics.median(gaps), gaps[int(0.9 * len(gaps))],
             gaps[int(0.99 * len(gaps))], len(over), sum(over) / 1e6, sum(gaps) / 1e6))
