#!/usr/bin/env python3
"""Dispatcher throughput: 100,000 commands of a realistic mix (votes 60 %,
RSVPs 20 %, meetup proposals 10 %, lists and info 10 %) from 2,000 users in
200 chats, piped through the console adapter of the release build into a
real SQLite file.  Reports the median of RUNS runs.

Usage: dispatcher.py ENSEMBLE [RUNS]"""
import os, random, statistics, subprocess, sys, tempfile, time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
rng = random.Random(1)
chats = ["c%d" % i for i in range(200)]
users = ["u%d" % i for i in range(2000)]
setup, lines = [], []
for c in chats:
    setup.append("u0@%s: /meetup Poll A; 2026-12-10 19:00; 2026-12-11 19:00; 2026-12-12 19:00" % c)
    setup.append("u0@%s: /meetup Poll B; 2026-12-13 19:00; 2026-12-14 19:00" % c)
    setup.append("u0@%s: /meetup Fixed; 2026-12-20 19:00; max: 20" % c)
for i in range(100000):
    c, u, r = rng.choice(chats), rng.choice(users), rng.random()
    if r < 0.6:
        lines.append("%s@%s: /vote #%d %d %d?" % (u, c, rng.choice([1, 2]), rng.randint(1, 2), rng.randint(1, 2)))
    elif r < 0.8:
        lines.append("%s@%s: /rsvp 3 %s" % (u, c, rng.choice(["yes", "no", "maybe"])))
    elif r < 0.9:
        lines.append("%s@%s: /meetup Extra %d; 2026-12-2%d 18:00; 2026-12-29 18:00" % (u, c, i, rng.randint(1, 8)))
    else:
        lines.append("%s@%s: %s" % (u, c, rng.choice(["/meetup list", "/poll 1", "/meetup info 3", "/help"])))
tmp = tempfile.mkdtemp(prefix="ensemble-bench-")
# The commands are read from a file, as a replayed transcript is: the
# console then reads 64 KiB at a time.  (Piped from this script, they
# would arrive in Python's 512-byte writes, and the benchmark would
# measure one transaction per dozen commands.)
commands = os.path.join(tmp, "commands.txt")
with open(commands, "w") as f:
    f.write("\n".join(setup + lines) + "\n")
results = []
for _ in range(runs):
    db = os.path.join(tmp, "d.db")
    for e in ("", "-wal", "-shm"):
        if os.path.exists(db + e):
            os.remove(db + e)
    t = time.perf_counter()
    with open(commands) as stdin:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "--console", "--db", db, "-q", "--now=2026-12-01T10:00"],
                           stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - t
    results.append((wall, int(p.stderr.decode().strip().splitlines()[-1])))
n = len(setup) + len(lines)
wall = statistics.median(r[0] for r in results)
print("dispatcher: %d commands in %.2f s: %.0f commands/s, %.1f us/command, peak RSS %.1f MB (median of %d)"
      % (n, wall, n / wall, wall / n * 1e6, statistics.median(r[1] for r in results) / 1024, runs))
