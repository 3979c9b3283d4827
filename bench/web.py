#!/usr/bin/env python3
"""The calendar feeds under load: a database of CHATS chats (default
10,000), each with three confirmed meetups, five members answering them and
a calendar link, built in one batch with Python's sqlite3 on a file the
bot made (so its schema is the bot's own); the key file is written here too,
so that the links' tokens are known (token = the first 16 bytes of
HMAC-SHA256(key, salt), as web/web_links.c derives them).  The release
build then serves REQUESTS requests (default 1,000) of each kind over one
kept-alive connection, one at a time, to feeds of chats drawn at random:

  static   GET /robots.txt, a fixed answer: the listener's own cost
  200      GET /cal/TOKEN.ics without If-None-Match: the feed made
  304      the same with the feed's ETag in If-None-Match: one lookup

For each it prints requests/s and the mean time a request (the client's
wall clock), and the bot's CPU time a request (/proc/PID/stat, clock
ticks, and the scheduler's /proc/PID/schedstat), then one JSON line.  The
304's cost is given next to the static baseline's: what the lookup adds.

Usage: web.py BINARY [CHATS] [REQUESTS]"""
import hashlib, hmac, http.client, json, os, random, shutil, socket, sqlite3, subprocess, sys, tempfile, time

if len(sys.argv) < 2 or len(sys.argv) > 4:
    sys.exit("usage: web.py BINARY [CHATS] [REQUESTS]")
binary = os.path.abspath(sys.argv[1])
chats = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
requests = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
TICK = os.sysconf("SC_CLK_TCK")
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def encode(token):
    """A token's base64url form, without padding, as web__encode writes it."""
    bits = acc = 0
    out = []
    for byte in token:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 6:
            bits -= 6
            out.append(B64[(acc >> bits) & 63])
    if bits:
        out.append(B64[(acc << (6 - bits)) & 63])
    return "".join(out)


def build(path, key):
    """Fills the bot-made database at path; returns the chats' tokens."""
    db = sqlite3.connect(path)
    now = int(time.time())
    tokens = []
    with db:
        db.executemany("INSERT INTO users (id, platform, ext_id, name) VALUES (?, 'console', ?, ?)",
                       [(u, "u%d" % u, "User %d" % u) for u in range(1, 5 * chats + 1)])
        db.executemany("INSERT INTO chats (id, platform, ext_id, lang, tz) VALUES (?, 'console', ?, ?, ?)",
                       [(c, "c%d" % c, "fr" if c % 2 else "en", "Europe/Paris") for c in range(1, chats + 1)])
        db.executemany("INSERT INTO chat_titles (chat_id, title) VALUES (?, ?)",
                       [(c, "Chat %d" % c) for c in range(1, chats + 1)])
        db.executemany("INSERT INTO members (chat_id, user_id, last_seen) VALUES (?, ?, ?)",
                       [(c, 5 * (c - 1) + i, now) for c in range(1, chats + 1) for i in range(1, 6)])
        db.executemany("INSERT INTO meetups (id, chat_id, num, title, place, creator, state, duration_min, "
                       "start_at, created_at) VALUES (?, ?, ?, ?, 'Library, 2 rue Neuve', ?, 1, 120, ?, ?)",
                       [(3 * (c - 1) + n, c, n, "Meetup %d of chat %d" % (n, c), 5 * (c - 1) + 1,
                         now + 86400 * (n + c % 20), now) for c in range(1, chats + 1) for n in range(1, 4)])
        db.executemany("INSERT INTO rsvps (meetup_id, user_id, answer, seq) VALUES (?, ?, 2, ?)",
                       [(3 * (c - 1) + n, 5 * (c - 1) + i, i) for c in range(1, chats + 1) for n in range(1, 4)
                        for i in range(1, 6)])
        rows = []
        for c in range(1, chats + 1):
            salt = os.urandom(16)
            token = hmac.new(key, salt, hashlib.sha256).digest()[:16]
            rows.append((hashlib.sha256(token).digest(), c, salt, now * 1000))
            tokens.append(encode(token))
        db.executemany("INSERT INTO web_links (hash, kind, chat_id, salt, created_ms) VALUES (?, 1, ?, ?, ?)", rows)
    db.close()
    return tokens


def cpu(pid):
    """The bot's CPU time: user + system from stat (ticks), and schedstat's ns."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open("/proc/%d/schedstat" % pid) as f:
        sched = int(f.read().split()[0])
    return (int(fields[11]) + int(fields[12])) / TICK, sched / 1e9


def run(conn, pid, paths, headers_of):
    """Sends each path in turn; returns (status counts, wall s, CPU s, sched s)."""
    statuses = {}
    c0, s0 = cpu(pid)
    t0 = time.perf_counter()
    for p in paths:
        conn.request("GET", p, headers=headers_of(p))
        r = conn.getresponse()
        r.read()
        statuses[r.status] = statuses.get(r.status, 0) + 1
    wall = time.perf_counter() - t0
    c1, s1 = cpu(pid)
    return statuses, wall, c1 - c0, s1 - s0


def main():
    tmp = tempfile.mkdtemp(prefix="ensemble-bench-web-")
    bot = None
    try:
        db = os.path.join(tmp, "t.db")
        port = free_port()
        args = [binary, "--console", "-q", "--db", db, "--set", "http.listen=127.0.0.1:%d" % port,
                "--set", "web.public_url=https://bench.example.org"]
        # A first run makes the database (its schema, migrated) and stops.
        subprocess.run(args, input="", capture_output=True, timeout=60, check=True)
        key = os.urandom(32)
        fd = os.open(db + ".webkey", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, key)
        os.close(fd)
        t0 = time.perf_counter()
        tokens = build(db, key)
        built = time.perf_counter() - t0
        bot = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rng = random.Random(7)
        feeds = ["/cal/%s.ics" % rng.choice(tokens) for _ in range(requests)]
        # Warm-up, and each feed's ETag for the conditional run.
        etags = {}
        for p in set(feeds):
            conn.request("GET", p)
            r = conn.getresponse()
            r.read()
            etags[p] = r.getheader("ETag")
        results = {}
        for name, paths, hdr in (("static", ["/robots.txt"] * requests, lambda p: {}),
                                 ("200", feeds, lambda p: {}),
                                 ("304", feeds, lambda p: {"If-None-Match": etags[p]})):
            st, wall, c, s = run(conn, bot.pid, paths, hdr)
            results[name] = {"statuses": st, "rps": requests / wall, "wall_us": wall / requests * 1e6,
                             "cpu_us": c / requests * 1e6, "sched_us": s / requests * 1e6}
        conn.close()
        print("database: %d chats, %d meetups, %d answers, built in %.1f s (%.1f MB)"
              % (chats, 3 * chats, 15 * chats, built, os.path.getsize(db) / 1e6))
        for name, r in results.items():
            print("%-7s %s: %8.0f requests/s, %6.1f µs a request (client's wall), bot CPU %6.1f µs "
                  "(stat), %6.1f µs (schedstat)" % (name, r["statuses"], r["rps"], r["wall_us"], r["cpu_us"],
                                                    r["sched_us"]))
        print("304 against static: %+.1f µs wall, %+.1f µs bot CPU (schedstat) a request"
              % (results["304"]["wall_us"] - results["static"]["wall_us"],
                 results["304"]["sched_us"] - results["static"]["sched_us"]))
        print(json.dumps({"chats": chats, "requests": requests, "results": results}))
    finally:
        if bot:
            bot.stdin.close()
            bot.wait(timeout=30)
        shutil.rmtree(tmp, True)


main()
