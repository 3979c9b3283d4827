#!/usr/bin/env python3
"""Dispatcher throughput: 100,000 commands of a realistic mix (votes 60 %,
RSVPs 20 %, meetup proposals 10 %, lists and info 10 %) from 2,000 users in
200 chats, piped through the console adapter of the release build into a
real SQLite file.  Reports the median of RUNS runs.

Against the floor: the SQL the bot runs for these commands, recorded once
(ENSEMBLE_SQL_TRACE) and replayed alone by bench/floor.c (the same
statements, prepared once, in the same transactions).  The bot's runs and
the floor's alternate; the ratio is of CPU time (user and system, all
threads), with the wall time's beside it.

On PostgreSQL (--pg TARGET, the libpq target of a server: bench/run.sh
starts a throwaway one on this machine): the same commands into a new
database on that server, run alternately with the SQLite runs; the ratio is
of commands/s, PostgreSQL's over SQLite's (the floor is SQLite's alone).

With --statements (and --pg, on a cluster started with ENSEMBLE_PG_STATS=1
tests/pg/cluster.sh start DIR, which loads pg_stat_statements): one run on
PostgreSQL alone, then where the server's time went, statement by
statement: calls, total and mean execution time, rows.  The statements a
statement runs inside (the checks of foreign keys, the triggers') are
counted in its time.  The extension's own cost makes this run slower than
the benchmark's; its shares, not its rate, are the point.

Usage: dispatcher.py ENSEMBLE [RUNS] [--pg TARGET [--statements]]"""
import os, random, re, resource, statistics, subprocess, sys, tempfile, time
import table

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 3
pg = sys.argv[sys.argv.index("--pg") + 1] if "--pg" in sys.argv else None
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

def fresh(db):
    for e in ("", "-wal", "-shm", "-acks"):
        if os.path.exists(db + e):
            os.remove(db + e)
    return db

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def pg_fresh(target):
    """A new, empty database on the server of target, in place of the
    last one: its target."""
    name = "bench_dispatcher_%d" % os.getpid()
    for sql in ("DROP DATABASE IF EXISTS %s" % name, "CREATE DATABASE %s" % name):
        subprocess.run(["psql", target, "-qAtc", sql], check=True)
    return re.sub(r"dbname=\S+", "dbname=" + name, target)

def server_cpu(target):
    """CPU seconds the PostgreSQL server of target (a cluster of
    tests/pg/cluster.sh: its socket's directory holds data/) has used: its
    postmaster, the backends that ended (counted into the postmaster's
    children) and those still running."""
    data = os.path.realpath(os.path.join(re.search(r"host=(\S+)", target).group(1), "data"))
    hz, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/cwd" % pid) != data:
                continue
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / hz

def sessions_ended(target, timeout=10):
    """Waits until no session is left on target's database: a backend that
    has exited but not yet been reaped by the postmaster is counted
    nowhere by server_cpu (its /proc entry has no cwd any more), which made
    some runs' figure for the server a few microseconds a command."""
    name = re.search(r"dbname=(\S+)", target).group(1)
    q = "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()" % name
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(["psql", target, "-qAtc", q], capture_output=True, text=True).stdout.strip()
        if out == "0":
            break
        time.sleep(0.05)
    time.sleep(0.2)  # and the postmaster has reaped it

def bot(env=None, target=None):
    """One run of the bot (on target, a PostgreSQL database, when given):
    wall seconds, CPU seconds, peak RSS in KiB."""
    db = target or fresh(os.path.join(tmp, "d.db"))
    t, c = time.perf_counter(), children_cpu()
    with open(commands) as stdin:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "--console", "--db", db, "-q", "--now=2026-12-01T10:00"],
                           stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, env=env)
    return time.perf_counter() - t, children_cpu() - c, int(p.stderr.decode().strip().splitlines()[-1])

def floor():
    """One replay of the recorded SQL: wall and CPU seconds."""
    out = subprocess.run([floor_bin, trace, fresh(os.path.join(tmp, "f.db"))], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[out.index("wall") + 1]), float(out[out.index("cpu") + 1])

n = len(setup) + len(lines)
if pg and "--statements" in sys.argv:
    db = pg_fresh(pg)
    ext = subprocess.run(["psql", db, "-qAtc", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                          "SELECT pg_stat_statements_reset()"], capture_output=True, text=True)
    if ext.returncode:
        sys.exit("pg_stat_statements is not loaded on that server: start it with "
                 "ENSEMBLE_PG_STATS=1 tests/pg/cluster.sh start DIR (%s)" % ext.stderr.strip())
    bot(target=db)
    sessions_ended(db)
    out = subprocess.run(["psql", db, "-qAt", "-F", "\t", "-c",
                          "SELECT calls, round(total_exec_time::numeric), round((mean_exec_time * 1000)::numeric, 1), "
                          "rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements "
                          "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                          "AND query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [r.split("\t") for r in out]
    total = sum(float(r[1]) for r in rows)
    print("the server's execution time for %d commands: %.0f ms, %.1f us a command (pg_stat_statements, "
          "track = top)" % (n, total, total / n * 1e3))
    print("%8s %8s %6s %9s %8s  %s" % ("calls", "ms", "share", "us each", "rows", "statement"))
    for r in rows[:15]:
        print("%8s %8s %5.1f%% %9s %8s  %s" % (r[0], r[1], float(r[1]) / total * 100 if total else 0, r[2], r[3],
                                                r[4]))
    sys.exit(0)
if pg:
    lite, post, server = [], [], []
    for _ in range(runs):
        lite.append(bot())
        db = pg_fresh(pg)
        before = server_cpu(pg)
        post.append(bot(target=db))
        sessions_ended(db)
        server.append(server_cpu(pg) - before)
    lite_mb = sum(os.path.getsize(os.path.join(tmp, "d.db" + e)) for e in ("", "-wal")
                  if os.path.exists(os.path.join(tmp, "d.db" + e))) / 1e6
    pg_mb = int(subprocess.run(["psql", db, "-qAtc", "SELECT pg_database_size(current_database())"],
                               capture_output=True, text=True, check=True).stdout) / 1e6
    l_rate = n / statistics.median(r[0] for r in lite)
    p_rate = n / statistics.median(r[0] for r in post)
    p_cpu = statistics.median(r[1] for r in post)
    s_cpu = statistics.median(server)
    print("dispatcher on PostgreSQL: %d commands: %.0f commands/s (CPU a command: bot %.1f us, server %.1f us), "
          "SQLite %.0f commands/s (bot %.1f us): PostgreSQL/SQLite %.2f (median of %d)"
          % (n, p_rate, p_cpu / n * 1e6, s_cpu / n * 1e6, l_rate, statistics.median(r[1] for r in lite) / n * 1e6,
             p_rate / l_rate, runs))
    print("the database after the run: SQLite %.1f MB, PostgreSQL %.1f MB (%s)"
          % (lite_mb, pg_mb, subprocess.run(["psql", db, "-qAtc", "SELECT (SELECT count(*) FROM chats) || ' chats, ' "
                                             "|| (SELECT count(*) FROM users) || ' users, ' || (SELECT count(*) FROM "
                                             "meetups) || ' meetups, ' || (SELECT count(*) FROM votes) || ' votes'"],
                                            capture_output=True, text=True).stdout.strip()))
    table.add("dispatcher on PostgreSQL: the server's CPU a command", "%.1f µs" % (s_cpu / n * 1e6), "", "", "")
    table.add("dispatcher on PostgreSQL (the server on this machine): commands/s", "%.0f/s" % p_rate,
              "SQLite, same run: %.0f/s" % l_rate, "%.2f" % (p_rate / l_rate), "≥ 0.33")
    sys.exit(0)

floor_bin, trace = os.path.join(tmp, "floor"), os.path.join(tmp, "sql.trace")
subprocess.run(["cc", "-O2", "-o", floor_bin, os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor.c"),
                "-lsqlite3"], check=True)
bot(dict(os.environ, ENSEMBLE_SQL_TRACE=trace))
results, floors = [], []
for _ in range(runs):
    results.append(bot())
    floors.append(floor())
wall = statistics.median(r[0] for r in results)
cpu = statistics.median(r[1] for r in results)
rss = statistics.median(r[2] for r in results) / 1024
f_wall = statistics.median(f[0] for f in floors)
f_cpu = statistics.median(f[1] for f in floors)
print("dispatcher: %d commands in %.2f s: %.0f commands/s, %.1f us/command, peak RSS %.1f MB (median of %d)"
      % (n, wall, n / wall, wall / n * 1e6, rss, runs))
print("dispatcher against its floor: CPU %.1f us/command against %.1f us: bot/floor %.2f; wall %.1f against %.1f us: %.2f"
      % (cpu / n * 1e6, f_cpu / n * 1e6, cpu / f_cpu, wall / n * 1e6, f_wall / n * 1e6, wall / f_wall))
table.add("dispatcher: CPU a command (%d commands through the console)" % n, "%.1f µs" % (cpu / n * 1e6),
          "floor (its SQL alone): %.1f µs" % (f_cpu / n * 1e6), "%.2f" % (cpu / f_cpu), "≤ 2")
table.add("dispatcher: wall time a command", "%.1f µs (%.0f/s)" % (wall / n * 1e6, n / wall),
          "floor: %.1f µs" % (f_wall / n * 1e6), "%.2f" % (wall / f_wall), "")
