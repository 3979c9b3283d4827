#!/usr/bin/env python3
"""End-to-end throughput on Telegram and on Matrix, and the rate limiter.

Throughput: a loopback fake (bench/fast_fake.js, Node) hands out 100,000
updates of the dispatcher benchmark's mix (votes 60 %, RSVPs 20 %, meetup
proposals 10 %, lists and info 10 %) in batches of 100 and accepts the
replies; the release build runs with the rate limiter off.  The ceiling is
the same server driven by a bare libcurl loop (bench/ceiling.c) making the
same requests (the fake records the bot's sends, methods, paths and bodies,
and the loop replays them); the ratio is measured in the same run.  Medians
of RUNS runs.  Also the CPU time an update of the bot, of the bare loop and
of the fake in each run, which says whether a side ran out of core.

The SQL alone: one more run of the bot records the SQL it executes
(ENSEMBLE_SQL_TRACE), which bench/floor.c replays RUNS times, prepared once,
in the same transactions, into a new SQLite file: the bare loop's CPU and
this replay's are what the bot cannot do without (the requests, and what it
stores), and what it spends beyond their sum is its own (parsing,
rendering, the outbox, the loop).

Rate limiter (--limits): 5,000 replies to 200 Telegram groups with the
limiter on, against the fake enforcing Telegram's limits (1/s per chat,
20/min per group, 30/s overall): the 429s counted and the throughput compared
with the allowed 30/s.

Against a peer (--peer, Telegram): the same updates handled by an idiomatic
grammY bot storing the same effects with better-sqlite3 (bench/peer/, its
packages pinned and installed with `npm ci`), run alternately with Ensemble
on the same fake: updates/s, CPU an update (all threads), peak RSS, and the
RSS after the load, once both have been idle for IDLE_S seconds.

On PostgreSQL (--pg TARGET, the libpq target of a server: bench/run.sh
starts a throwaway one on this machine): Telegram's throughput (Matrix's
with --matrix) with the bot's database on that server, run alternately with
SQLite; the ratio is of updates/s, PostgreSQL's over SQLite's.

Usage: e2e.py ENSEMBLE [RUNS] [--limits] [--updates N] [--telegram | --matrix] [--peer] [--pg TARGET]
BENCH_PERF=FILE in the environment records a perf profile of the bot (on
CLOCK_MONOTONIC, like the trace); BENCH_TRACE=DIR has the fake time every
request and writes DIR/bot.trace and DIR/ceiling.trace for bench/gaps.py."""
import json, os, re, resource, random, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request
import table

binary = sys.argv[1]
args = sys.argv[2:]
runs = int(args[0]) if args and args[0].isdigit() else 3
limits_only = "--limits" in args
pg = args[args.index("--pg") + 1] if "--pg" in args else None
total = int(args[args.index("--updates") + 1]) if "--updates" in args else 100000
here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="ensemble-e2e-")
node = shutil.which("node")
trace_dir = os.environ.get("BENCH_TRACE")
fake_env = dict(os.environ, FAKE_TRACE="1") if trace_dir else os.environ

def save_trace(base, name):
    if trace_dir:
        with urllib.request.urlopen(base + "/trace", timeout=60) as r, \
                open(os.path.join(trace_dir, name), "wb") as f:
            shutil.copyfileobj(r, f)

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())

def mix(n, chats, users, rng):
    """The dispatcher benchmark's commands: (chat, user, text)."""
    out = []
    for c in chats:
        out.append((c, users[0], "/meetup Poll A; 2026-12-10 19:00; 2026-12-11 19:00; 2026-12-12 19:00"))
        out.append((c, users[0], "/meetup Poll B; 2026-12-13 19:00; 2026-12-14 19:00"))
        out.append((c, users[0], "/meetup Fixed; 2026-12-20 19:00; max: 20"))
    for i in range(n - len(out)):
        c, u, r = rng.choice(chats), rng.choice(users), rng.random()
        if r < 0.6:
            t = "/vote #%d %d %d?" % (rng.choice([1, 2]), rng.randint(1, 2), rng.randint(1, 2))
        elif r < 0.8:
            t = "/rsvp 3 %s" % rng.choice(["yes", "no", "maybe"])
        elif r < 0.9:
            t = "/meetup Extra %d; 2026-12-2%d 18:00; 2026-12-29 18:00" % (i, rng.randint(1, 8))
        else:
            t = rng.choice(["/meetup list", "/poll 1", "/meetup info 3", "/help"])
        out.append((c, u, t))
    return out

def write_telegram(path, cmds):
    with open(path, "w") as f:
        for i, (c, u, t) in enumerate(cmds):
            f.write(json.dumps({"message": {"message_id": i + 1, "date": 1796115600,
                "chat": {"id": -1000000000000 - c, "type": "supergroup"},
                "from": {"id": 10 + u, "is_bot": False, "first_name": "u%d" % u},
                "text": t, "entities": [{"type": "bot_command", "offset": 0, "length": len(t.split()[0])}]}}) + "\n")

def write_matrix(path, cmds):
    with open(path, "w") as f:
        for i, (c, u, t) in enumerate(cmds):
            f.write(json.dumps({"room": "!r%d:test.local" % c, "type": "m.room.message",
                "sender": "@u%d:test.local" % u, "content": {"msgtype": "m.text", "body": "!" + t[1:]}}) + "\n")

def cpu_seconds(pid):
    """User and system CPU time of a running process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

IDLE_S = 5

def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        return [int(l.split()[1]) for l in f if l.startswith(field)][0]

def start_peer(base):
    """Starts bench/peer/peer.js on a new database, its packages installed
    from its lock file when missing."""
    peer = os.path.join(here, "peer")
    if not os.path.isdir(os.path.join(peer, "node_modules")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=peer, check=True, stdout=subprocess.DEVNULL)
    db = os.path.join(tmp, "peer.db")
    for e in ("", "-wal", "-shm"):
        if os.path.exists(db + e):
            os.remove(db + e)
    return subprocess.Popen([node, os.path.join(peer, "peer.js"), base, db], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL)

def pg_fresh(target):
    """A new, empty database on the server of target, in place of the
    last one: its target."""
    name = "bench_e2e_%d" % os.getpid()
    for sql in ("DROP DATABASE IF EXISTS %s" % name, "CREATE DATABASE %s" % name):
        subprocess.run(["psql", target, "-qAtc", sql], check=True)
    return re.sub(r"dbname=\S+", "dbname=" + name, target)

def run_bot(platform, tg_file, mx_file, limits, expect, peer=False, target=None):
    port = free_port()
    fake = subprocess.Popen([node, os.path.join(here, "fast_fake.js"), str(port), tg_file, mx_file]
                            + (["telegram"] if limits else []), stdout=subprocess.PIPE, text=True, env=fake_env)
    fake.stdout.readline()
    base = "http://127.0.0.1:%d" % port
    db = os.path.join(tmp, "b.db")
    for e in ("", "-wal", "-shm"):
        if os.path.exists(db + e):
            os.remove(db + e)
    conf = os.path.join(tmp, "b.conf")
    with open(conf, "w") as f:
        f.write("[general]\ndb = %s\nlang = en\n" % (target or db))
        if platform == "telegram":
            f.write("[telegram]\ntoken = 123456:BENCH\napi_url = %s\npoll_timeout = 5\n" % base)
            if not limits:
                f.write("chat_interval_ms = 0\nglobal_per_second = 0\ngroup_per_minute = 0\n")
        else:
            f.write("[matrix]\nhomeserver = %s\nuser = @ensemble:test.local\npassword = x\nsync_timeout = 5\n"
                    "room_interval_ms = 0\n" % base)
    os.chmod(conf, 0o600)
    if peer:
        bot = start_peer(base)
    else:
        bot = subprocess.Popen([binary, "--config", conf, "-q", "--now=2026-12-01T10:00", "--clock=real"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # BENCH_PERF=FILE records a profile of the bot (perf, DWARF call graphs).
    prof = None
    if os.environ.get("BENCH_PERF"):
        prof = subprocess.Popen(["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "--call-graph", "dwarf,8192", "-F", "2000", "-o",
                                 os.environ["BENCH_PERF"], "-p", str(bot.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key = "tg" if platform == "telegram" else "mx"
    last, still = -1, 0
    while True:
        time.sleep(0.5)
        st = get(base + "/stats")
        done = st["tg_confirmed" if key == "tg" else "mx_served"] >= expect
        replies = st[key + "_replies"]
        still = still + 1 if done and replies == last else 0
        last = replies
        if still >= (6 if limits else 3):
            break
        if bot.poll() is not None:
            raise SystemExit("the bot died")
    hwm = rss_kib(bot.pid, "VmHWM")
    st["bot_cpu"], st["fake_cpu"] = cpu_seconds(bot.pid), cpu_seconds(fake.pid)
    if prof:
        prof.send_signal(signal.SIGINT)
        prof.wait()
    if not limits:
        time.sleep(IDLE_S)
        st["idle_rss"] = rss_kib(bot.pid, "VmRSS")
    bot.send_signal(signal.SIGTERM)
    bot.wait(timeout=30)
    sends = get(base + "/sends") if limits else None
    if not limits and not peer:
        save_trace(base, "bot.trace")
        with urllib.request.urlopen(base + "/requests", timeout=60) as r, \
                open(os.path.join(tmp, "requests.txt"), "wb") as f:
            shutil.copyfileobj(r, f)
    fake.kill()
    fake.wait()
    return st, hwm, sends

def ceiling(platform, tg_file, mx_file, updates):
    port = free_port()
    fake = subprocess.Popen([node, os.path.join(here, "fast_fake.js"), str(port), tg_file, mx_file],
                            stdout=subprocess.PIPE, text=True, env=fake_env)
    fake.stdout.readline()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The bot sends one request at a time on Telegram, four on Matrix.
    out = subprocess.run([os.path.join(tmp, "ceiling"), platform, "http://127.0.0.1:%d" % port, str(updates),
                          os.path.join(tmp, "requests.txt"), "1" if platform == "telegram" else "4"],
                         capture_output=True, text=True,
                         check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    loop_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    fake_cpu = cpu_seconds(fake.pid)
    save_trace("http://127.0.0.1:%d" % port, "ceiling.trace")
    fake.kill()
    fake.wait()
    return float(out.stdout.strip()), loop_cpu, fake_cpu

subprocess.run(["cc", "-O2", "-o", os.path.join(tmp, "ceiling"), os.path.join(here, "ceiling.c")]
               + subprocess.run(["pkg-config", "--cflags", "--libs", "libcurl"], capture_output=True, text=True,
                                check=True).stdout.split(), check=True)
floor_bin = os.path.join(tmp, "floor")
subprocess.run(["cc", "-O2", "-o", floor_bin, os.path.join(here, "floor.c"), "-lsqlite3"], check=True)

def sql_alone(platform, tg_file, mx_file):
    """One more run of the bot on platform with its SQL recorded, the
    recording replayed alone RUNS times: the statements, and the median
    CPU seconds of a replay."""
    trace = os.path.join(tmp, "sql.trace")
    os.environ["ENSEMBLE_SQL_TRACE"] = trace
    try:
        run_bot(platform, tg_file, mx_file, False, total)
    finally:
        del os.environ["ENSEMBLE_SQL_TRACE"]
    cpus, statements = [], 0
    for _ in range(runs):
        db = os.path.join(tmp, "floor.db")
        for e in ("", "-wal", "-shm"):
            if os.path.exists(db + e):
                os.remove(db + e)
        out = subprocess.run([floor_bin, trace, db], capture_output=True, text=True, check=True).stdout.split()
        if out[out.index("failed,") - 1] != "0":
            raise SystemExit("the replay of %s's SQL failed: %s" % (platform, " ".join(out)))
        statements = int(out[0])
        cpus.append(float(out[out.index("cpu") + 1]))
    os.remove(trace)
    return statements, statistics.median(cpus)
rng = random.Random(1)
empty = os.path.join(tmp, "empty.jsonl")
open(empty, "w").close()

if limits_only:
    n = 5000
    cmds = [(i % 200, i % 50, "/about") for i in range(n)]
    tg_file = os.path.join(tmp, "tg_limits.jsonl")
    write_telegram(tg_file, cmds)
    st, hwm, sends = run_bot("telegram", tg_file, empty, True, n)
    span = (sends[-1] - sends[0]) / 1000.0
    rate = (len(sends) - 1) / span if span > 0 else 0
    print("rate limiter: %d replies to 200 groups in %.1f s: %.1f messages/s = %.1f %% of the allowed 30/s; "
          "429 answers: %d" % (st["tg_replies"], span, rate, rate / 30 * 100, st["refused_429"]))
    table.add("rate limiter: 5,000 replies to 200 groups (%d × 429)" % st["refused_429"], "%.1f messages/s" % rate,
              "Telegram's allowed 30/s", "%.3f" % (rate / 30), "≥ 0.95, no 429")
    print(json.dumps({"replies": st["tg_replies"], "seconds": round(span, 1), "per_second": round(rate, 2),
                      "of_allowed": round(rate / 30, 3), "refused_429": st["refused_429"]}))
    sys.exit(0)

cmds = mix(total, list(range(200)), list(range(2000)), rng)
if pg:
    # Telegram by default; --matrix measures Matrix instead (or as well).
    on_pg = [p for p in ("telegram", "matrix") if "--" + p in args] or ["telegram"]
    tg_file, mx_file = os.path.join(tmp, "tg.jsonl"), os.path.join(tmp, "mx.jsonl")
    write_telegram(tg_file, cmds)
    write_matrix(mx_file, cmds)
    for platform in on_pg:
        lite, post = [], []
        for _ in range(runs):
            for out, target in ((lite, None), (post, pg_fresh(pg))):
                st, hwm, _ = run_bot(platform, tg_file if platform == "telegram" else empty,
                                     mx_file if platform == "matrix" else empty, False, total, target=target)
                out.append((total / ((st["last_ms"] - st["first_ms"]) / 1000.0), st["bot_cpu"] * 1e6 / total))
        l_rate, p_rate = statistics.median(r[0] for r in lite), statistics.median(r[0] for r in post)
        name = "Telegram" if platform == "telegram" else "Matrix"
        print("%s end to end on PostgreSQL: %d updates: %.0f updates/s (bot CPU %.1f us an update), SQLite %.0f "
              "updates/s (%.1f us): PostgreSQL/SQLite %.2f (median of %d)"
              % (platform, total, p_rate, statistics.median(r[1] for r in post), l_rate,
                 statistics.median(r[1] for r in lite), p_rate / l_rate, runs))
        table.add("%s end to end on PostgreSQL (the server on this machine): updates/s" % name, "%.0f" % p_rate,
                  "SQLite, same run: %.0f" % l_rate, "%.2f" % (p_rate / l_rate), "≥ 0.33")
    sys.exit(0)
only = [p for p in ("telegram", "matrix") if "--" + p in args] or ["telegram", "matrix"]
tg_file, mx_file = os.path.join(tmp, "tg.jsonl"), os.path.join(tmp, "mx.jsonl")
write_telegram(tg_file, cmds)
write_matrix(mx_file, cmds)
with_peer = "--peer" in args
for platform in only:
    rows, peers = [], []
    for _ in range(runs):
        st, hwm, _ = run_bot(platform, tg_file if platform == "telegram" else empty,
                             mx_file if platform == "matrix" else empty, False, total)
        key = "tg" if platform == "telegram" else "mx"
        secs = (st["last_ms"] - st["first_ms"]) / 1000.0
        c, loop_cpu, ceil_fake_cpu = ceiling(platform, tg_file if platform == "telegram" else empty,
                                             mx_file if platform == "matrix" else empty, total)
        rows.append((total / secs, total / c, st[key + "_replies"], hwm,
                     st["bot_cpu"], st["fake_cpu"], loop_cpu, ceil_fake_cpu, st["idle_rss"]))
        if with_peer and platform == "telegram":
            pst, phwm, _ = run_bot(platform, tg_file, empty, False, total, peer=True)
            peers.append((total / ((pst["last_ms"] - pst["first_ms"]) / 1000.0), pst["tg_replies"], phwm,
                          pst["bot_cpu"], pst["idle_rss"]))
    med = lambda v, i: statistics.median(r[i] for r in v)
    bot_rate, ceil_rate = med(rows, 0), med(rows, 1)
    ratio = statistics.median(r[0] / r[1] for r in rows)
    print("%s end to end: %d updates, %d replies: %.0f updates/s; bare libcurl ceiling %.0f updates/s; "
          "ratio %.2f; peak RSS %.1f MB, after the load %.1f MB (median of %d)"
          % (platform, total, rows[0][2], bot_rate, ceil_rate, ratio, med(rows, 3) / 1024, med(rows, 8) / 1024, runs))
    # Where the CPU went, in microseconds an update: the bot against the
    # bare loop, and the fake in each run (two cores for all of it).
    us = lambda i: med(rows, i) * 1e6 / total
    print("%s CPU per update: bot %.1f us, its fake %.1f us; bare loop %.1f us, its fake %.1f us"
          % (platform, us(4), us(5), us(6), us(7)))
    name = "Telegram" if platform == "telegram" else "Matrix"
    table.add("%s end to end: CPU an update (%d updates)" % (name, total), "%.1f µs" % us(4),
              "bare libcurl loop, same requests: %.1f µs" % us(6), "%.2f" % (us(4) / us(6)),
              "≤ 2" if platform == "matrix" else "")
    statements, sql_cpu = sql_alone(platform, tg_file if platform == "telegram" else empty,
                                    mx_file if platform == "matrix" else empty)
    sql_us = sql_cpu * 1e6 / total
    print("%s SQL alone (recorded, replayed by bench/floor.c): %d statements, %.1f us an update; the bot "
          "beyond the bare loop and its SQL: %.1f us an update, %.2f of their sum (median of %d)"
          % (platform, statements, sql_us, us(4) - us(6) - sql_us, us(4) / (us(6) + sql_us), runs))
    table.add("%s end to end: CPU an update, against the bare loop and the SQL alone" % name, "%.1f µs" % us(4),
              "loop %.1f + SQL %.1f µs (%.1f statements)" % (us(6), sql_us, statements / total),
              "%.2f" % (us(4) / (us(6) + sql_us)), "")
    table.add("%s end to end: updates/s" % name, "%.0f" % bot_rate, "bare libcurl loop: %.0f" % ceil_rate,
              "%.2f" % ratio, "")
    if peers:
        pus = med(peers, 3) * 1e6 / total
        print("telegram peer (grammY, better-sqlite3): %d replies: %.0f updates/s; CPU per update %.1f us; "
              "peak RSS %.1f MB, after the load %.1f MB (median of %d)"
              % (peers[0][1], med(peers, 0), pus, med(peers, 2) / 1024, med(peers, 4) / 1024, runs))
        print("ensemble/peer: CPU per update %.2f, peak RSS %.2f, RSS after the load %.2f, updates/s %.2f"
              % (us(4) / pus, med(rows, 3) / med(peers, 2), med(rows, 8) / med(peers, 4),
                 bot_rate / med(peers, 0)))
        table.add("Telegram against a grammY peer: CPU an update", "%.1f µs" % us(4), "%.1f µs" % pus,
                  "%.2f" % (us(4) / pus), "≤ 0.33")
        table.add("Telegram against the peer: peak RSS", "%.1f MB" % (med(rows, 3) / 1024),
                  "%.1f MB" % (med(peers, 2) / 1024), "%.2f" % (med(rows, 3) / med(peers, 2)), "≤ 0.25")
        table.add("Telegram against the peer: RSS %d s after the load" % IDLE_S, "%.1f MB" % (med(rows, 8) / 1024),
                  "%.1f MB" % (med(peers, 4) / 1024), "%.2f" % (med(rows, 8) / med(peers, 4)), "")
        table.add("Telegram against the peer: updates/s", "%.0f" % bot_rate, "%.0f" % med(peers, 0),
                  "%.2f" % (bot_rate / med(peers, 0)), "")
