#!/usr/bin/env python3
"""Reminders at scale: 1,000,000 pending reminder jobs in the database.

Measures, as medians over several runs of the real binary (the release build):
  - start-up to ready: a run on the database with nothing due and an empty
    input (open, migrate-check, resend outbox, next-due lookup, arm, exit);
  - its peak RSS;
  - the next-due lookup itself (the scheduler's query, through SQLite);
  - firing 10,000 reminders due at the same moment: CPU time of the run.

Usage: reminders.py ENSEMBLE [RUNS]"""
import os, resource, shutil, sqlite3, statistics, subprocess, sys, tempfile, time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
tmp = tempfile.mkdtemp(prefix="ensemble-bench-")
base = os.path.join(tmp, "base.db")

T0 = 1796115600          # 2026-12-01T09:00Z: nothing due yet
FIRE = T0 + 86400        # when 10,000 reminders fall due together

# The schema comes from the binary itself.
subprocess.run([binary, "--console", "--db", base, "-q", "--now=2026-12-01T10:00"],
               input=b"alice: /start\n", stdout=subprocess.DEVNULL, check=True)
con = sqlite3.connect(base)
con.execute("INSERT INTO users (platform, ext_id, name) VALUES ('console', 'bob', 'bob')")
con.execute("INSERT INTO members (chat_id, user_id, last_seen) SELECT 1, id, 0 FROM users WHERE ext_id='bob'")
# 10,000 confirmed meetups starting an hour after FIRE...
con.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
    INSERT INTO meetups (chat_id, num, title, place, creator, state, duration_min, chosen, start_at, created_at)
    SELECT 1, i, 'Meetup ' || i, 'Room ' || (i % 50), 1, 1, 120, 1, ?, ? FROM n""", (FIRE + 3600, T0))
con.execute("INSERT INTO slots (meetup_id, idx, start_at, duration_min) SELECT id, 1, start_at, 120 FROM meetups")
con.execute("INSERT INTO rsvps (meetup_id, user_id, answer, waiting, reconfirm, seq) SELECT id, 2, 2, 0, 0, 1 FROM meetups")
# ... one reminder each due at FIRE, and 990,000 more spread over the year after.
con.execute("INSERT INTO jobs (due_ms, kind, meetup_id, arg) SELECT ?, 2, id, 60 FROM meetups", (FIRE * 1000,))
con.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 990000)
    INSERT INTO jobs (due_ms, kind, meetup_id, arg)
    SELECT (? + 86400 + (i * 31) % (365 * 86400)) * 1000, 2, 1 + i % 10000, 1440 FROM n""", (FIRE,))
con.commit()
pending = con.execute("SELECT count(*) FROM jobs WHERE state = 0").fetchone()[0]
plan = " ".join(r[3] for r in con.execute(
    "EXPLAIN QUERY PLAN SELECT due_ms FROM jobs WHERE state = 0 ORDER BY due_ms, id LIMIT 1"))
t = time.perf_counter()
for _ in range(10000):
    con.execute("SELECT due_ms FROM jobs WHERE state = 0 ORDER BY due_ms, id LIMIT 1").fetchone()
lookup_us = (time.perf_counter() - t) / 10000 * 1e6
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()

def one(now, copy):
    db = os.path.join(tmp, "run.db")
    if copy:
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(db + ext):
                os.remove(db + ext)
        shutil.copy(base, db)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "--console", "--db", db, "-q", "--now=" + now],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss_kb = int(out.stderr.decode().strip().splitlines()[-1])
    return wall, cpu, rss_kb, out.stdout.decode().count("⏰")

startup = [one("2026-12-01T10:00", True) for _ in range(runs)]
fire = [one("2026-12-02T10:00", True) for _ in range(runs)]
med = lambda xs: statistics.median(xs)
print("machine: %s, %d cores" % (os.uname().machine, os.cpu_count()))
print("pending reminder jobs: %d" % pending)
print("next-due query plan: %s" % plan)
print("next-due lookup: %.1f us (median of 10,000, Python sqlite3)" % lookup_us)
print("start-up to ready (nothing due, empty input, exit): %.1f ms wall, %.1f ms CPU, peak RSS %.1f MB (median of %d)"
      % (med([s[0] for s in startup]) * 1e3, med([s[1] for s in startup]) * 1e3,
         med([s[2] for s in startup]) / 1024, runs))
print("fire 10,000 due at once: %.0f ms CPU (%.0f ms wall), %d reminders sent, peak RSS %.1f MB (median of %d)"
      % (med([f[1] for f in fire]) * 1e3, med([f[0] for f in fire]) * 1e3, fire[0][3],
         med([f[2] for f in fire]) / 1024, runs))
shutil.rmtree(tmp)
