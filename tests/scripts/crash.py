#!/usr/bin/env python3
"""Crash-restart test of the reminders: the real binary is killed with
SIGKILL at random moments while reminders fall due, restarted on the same
database, and at the end every reminder must have been delivered once and
only once -- except the documented case of a message in flight when the
process died, which may be repeated (at most one repeat per kill).

Usage: crash.py ENSEMBLE [ITERATIONS] [SEED]"""
import os, random, re, signal, sqlite3, subprocess, sys, time
from datetime import datetime, timedelta
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # harness.py
import harness
from harness import check

binary = sys.argv[1]
iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 40
seed = int(sys.argv[3]) if len(sys.argv) > 3 else int(os.environ.get("CRASH_SEED", "1"))
rng = random.Random(seed)
tmp = harness.tempdir("ensemble-crash-")
db = os.path.join(tmp, "crash.db")
env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")  # a killed process leaks by design
out_all = []

def run(now, lines, kill_after=None):
    p = subprocess.Popen([binary, "--console", "--db", db, "-q", "--now=" + now, "--set", "lang=en"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    data = "".join(l + "\n" for l in lines).encode()
    if kill_after is None:
        out, err = p.communicate(input=data, timeout=60)
    else:
        # The input stays open, as if more was to come: the kill lands
        # while the bot is working or waiting.
        p.stdin.write(data)
        p.stdin.flush()
        time.sleep(kill_after)
        p.send_signal(signal.SIGKILL)
        out, err = p.stdout.read(), p.stderr.read()
        p.wait()
        p.stdin.close()
    if kill_after is None and p.returncode != 0:
        sys.exit("run at %s exited %d:\n%s" % (now, p.returncode, err.decode()))
    if b"AddressSanitizer" in err or b"runtime error" in err:
        sys.exit("sanitizer report:\n" + err.decode())
    out_all.append(out.decode())
    return p.returncode

t0 = datetime(2026, 12, 1, 10, 0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M")
# Ten meetups, each with reminders 1 day and 2 hours before.
setup = ["alice: /remind 1d 2h", "alice: /nudge off"]
starts = []
for k in range(10):
    start = t0 + timedelta(hours=27 + 3 * k)
    starts.append(start)
    setup.append("alice: /meetup M%d; %s; max: 5" % (k, start.strftime("%Y-%m-%d %H:%M")))
    setup.append("bob: /rsvp %d yes" % (k + 1))
run(fmt(t0), setup)

# Time moves in 30-minute steps; about half of the runs are killed at a
# random moment, the others end cleanly.
t = t0
end = starts[-1] - timedelta(minutes=30)
kills = 0
i = 0
clean_runs = []   # (from, to) of the runs that were not killed
while t < end:
    nxt = min(t + timedelta(minutes=30 * rng.randint(1, 3)), end)
    if rng.random() < 0.5:
        kills += 1
        run(fmt(t), ["~ " + fmt(nxt)], kill_after=rng.uniform(0.0, 0.08))
    else:
        run(fmt(t), ["~ " + fmt(nxt)])
        clean_runs.append((t, nxt))
    t = nxt
    i += 1
    if i >= iterations:
        break
run(fmt(end), [])   # the last start sends whatever is due or in the outbox
clean_runs.append((end, end))

text = "".join(out_all)
sent = re.findall(r"^\[console\] bot: ⏰ #(\d+) · M\d+ (starts in [^.(]+|is tomorrow)", text, re.M)
count = {}
for num, left in sent:
    count.setdefault(int(num), []).append(left.strip())
expected = 0
missing = []
dups = 0
for k, start in enumerate(starts):
    due = [start - timedelta(days=1), start - timedelta(hours=2)]
    # A reminder is owed when some run that was not killed started before
    # the meetup and reached its due time; when every run in between was
    # killed (even while starting), the meetup began while the bot was
    # down and the reminder is rightly dropped.
    n_due = sum(1 for d in due if any(a < start and b >= d for a, b in clean_runs))
    got = len(count.get(k + 1, []))
    expected += n_due
    if got < n_due:
        missing.append((k + 1, n_due, got))
    dups += max(0, got - n_due)
con = sqlite3.connect(db)
integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
pending_due = con.execute("SELECT count(*) FROM jobs WHERE kind = 2 AND due_ms <= ?",
                          (int(t.timestamp() - 3600) * 1000,)).fetchone()[0]  # Paris is UTC+1
outbox = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
con.close()
print("runs=%d kills=%d reminders expected=%d sent=%d duplicates=%d missing=%s integrity=%s outbox=%d "
      "pending_due=%d" % (i + 2, kills, expected, len(sent), dups, missing, integrity, outbox, pending_due))
# Each figure printed above is checked.
check(kills > 0 and len(clean_runs) > 1, "some runs were killed and some were not (the test tests nothing otherwise)")
check(expected > 0, "reminders fell due while the bot ran")
check(not missing, "no reminder is missing: %s" % missing)
check(dups <= kills, "at most one duplicate per kill (%d duplicates, %d kills)" % (dups, kills))
check(len(sent) == expected + dups, "every reminder sent is owed or a duplicate (%d sent)" % len(sent))
check(integrity == "ok", "the database passes integrity_check")
check(outbox == 0, "the outbox is empty after the last clean stop (%d left)" % outbox)
check(pending_due == 0, "no due reminder is left pending (%d)" % pending_due)
harness.finish()
