#!/usr/bin/env python3
"""tests/pg/slow_server.py on Matrix: a bot on PostgreSQL whose server is
slow to answer, against the fake homeserver (tests/matrix/fake_homeserver.py).

Another session holds a lock on the table every sync's batch writes (kv,
where next_batch is stored) for a few seconds while someone writes to the
bot.  The sync's batch runs on a thread of the loop's pool, its stored
state copied when it was given to the core (adapters/matrix.c), so the
loop goes on meanwhile: /healthz answers at once and the replies of the
commands handled before the lock keep leaving at the room's pace.  The new
command is answered once its transaction has committed, after the lock,
exactly once.  With the batch on the loop's thread both checks fail.

Then the thread holds the database for another reason than a sync's
batch: a reminder falls due while another session locks the jobs table, and
the scheduler's run (bot/sched.c) waits for that lock on the thread.  A sync
that arrives meanwhile waits for the database to be free, the loop going on
(adapters/matrix.c, mx__run_held); were it read at once, the loop would
wait for that thread and /healthz with it (checked: it then fails).  The
bot's clock starts at a set time (--now, real time running from there), so
that the reminder falls due DUE_S seconds after the start.

Last, the adapter's own reads and writes of the database on PostgreSQL:
which events of a sync were handled before is read on a thread (the table
of events seen locked, /healthz still answers), and so is what the last
run knew of a room the sync brings for the first time (kv locked, a room
the bot is invited to), and what an answered send
became (a native poll) is remembered when its answer comes and stored by a
thread (the row of the room's open polls held by another session, the
same).  Each check fails with that read, or that store, on the loop.

Usage: slow_server_matrix.py ENSEMBLE   (prints "N passed, N failed")"""
import atexit, os, signal, subprocess, sys, threading, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # tests/: harness.py, dbtarget.py
import dbtarget, harness, slowlock
from harness import check, free_port, post_json, start_fake, wait_for

binary = sys.argv[1]
if not dbtarget.PG:
    print("set ENSEMBLE_TEST_PG to a cluster's target (ctest runs this with the fixture pg)")
    sys.exit(1)
LOCK_S = 4
DUE_S = 50  # the reminder of the meetup below, an hour before 12:00
BOT = "@ensemble:test.local"
USERS = ["@user%d:test.local" % i for i in range(14)]
tmp = harness.tempdir("ensemble-slowmx-")
db = dbtarget.fresh(tmp, "slowmx")
port, http_port = free_port(), free_port()
fake = start_fake([sys.executable, os.path.join(os.path.dirname(here), "matrix", "fake_homeserver.py"), str(port)])
base = "http://127.0.0.1:%d" % port

def control(path, payload=None):
    return post_json(base + path, payload, timeout=10)

def say(room, sender, body):
    return control("/control/send", {"room": room, "sender": sender, "type": "m.room.message",
                                     "content": {"msgtype": "m.text", "body": body}})["event_id"]

def bot_messages(room):
    return [e for e in control("/control/events", {"room": room})["events"]
            if e["sender"] == BOT and e["type"] == "m.room.message"]

def replies_to(room, event_id):
    return [e for e in bot_messages(room)
            if e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id]

def healthz():
    return slowlock.healthz(http_port)

conf = os.path.join(tmp, "ensemble.conf")
with open(conf, "w") as f:
    # One message every 400 ms in the room: the replies to a burst leave
    # over a few seconds, during the lock.  A sync waits up to 5 s for
    # events: one is out when the reminder falls due, and returns with the
    # message said during the second lock.
    f.write("[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n[http]\nlisten = 127.0.0.1:%d\n"
            "[matrix]\nhomeserver = %s/\nuser = %s\npassword = bot-pass\nsync_timeout = 5\nroom_interval_ms = 400\n"
            "invite_from = %s\n" % (db, http_port, base, BOT, USERS[0]))
os.chmod(conf, 0o600)
log = os.path.join(tmp, "bot.log")
t_start = time.monotonic()
bot = subprocess.Popen([binary, "--config", conf, "--now=2026-12-01T10:59:%02d" % (60 - DUE_S), "--clock=real"] +
                       (["-v"] if os.environ.get("VERBOSE") else []),
                       stdin=subprocess.DEVNULL, stdout=open(log, "w"), stderr=subprocess.STDOUT)
atexit.register(bot.kill)

room = control("/control/room", {"creator": USERS[0], "members": USERS[1:]})["room_id"]
wait_for(lambda: any(r[1].endswith("/sync") for r in control("/control/requests")["requests"]), "the first sync")
control("/control/invite", {"room": room, "sender": USERS[0], "target": BOT})
check(wait_for(lambda: bot_messages(room), "the greeting after the invite", 20), "the bot joins and greets")
first = say(room, USERS[0], "!help")
check(wait_for(lambda: replies_to(room, first), "the answer to !help", 20), "the bot answers at first")
apero = say(room, USERS[0], "!meetup Apéro; 2026-12-01 12:00")
check(wait_for(lambda: [e for e in bot_messages(room) if "Apéro" in e["content"].get("body", "")],
              "the meetup's announcement", 20), "a meetup is fixed at noon")
n_apero = len([e for e in bot_messages(room) if "Apéro" in e["content"].get("body", "")])
def reminders():
    return [e for e in bot_messages(room) if "Apéro" in e["content"].get("body", "")][n_apero:]
check(wait_for(lambda: healthz() is not None, "/healthz", 10), "/healthz answers")

burst = [say(room, USERS[1 + i], "!help") for i in range(12)]
check(wait_for(lambda: replies_to(room, burst[0]), "the burst's first reply", 20), "the burst is handled")

holder = slowlock.lock(db, "kv", LOCK_S)
t_lock = time.monotonic()
slow = say(room, USERS[13], "!help")

slowlock.watch(t_lock, LOCK_S, healthz, lambda: len(bot_messages(room)))
check(not replies_to(room, slow), "the reply to the command in the blocked batch waits for its commit")
holder.join()
check(wait_for(lambda: replies_to(room, slow), "the blocked command's answer", 20),
      "the command is answered once the lock is gone")
time.sleep(1)
check(len(replies_to(room, slow)) == 1, "it is answered exactly once (%d)" % len(replies_to(room, slow)))
check(all(len(replies_to(room, m)) == 1 for m in burst), "each command of the burst is answered exactly once")

check(not reminders(), "the reminder is not due yet")
time.sleep(max(0, t_start + DUE_S - 2 - time.monotonic()))
holder = slowlock.lock(db, "jobs", LOCK_S + 3)
time.sleep(max(0, t_start + DUE_S + 1.5 - time.monotonic()))  # due: the scheduler's run waits for the lock
slow = say(room, USERS[13], "!about")
waits = []
for _ in range(4):  # over the 3 s after the sync's arrival, the lock still held
    time.sleep(0.75)
    waits.append(healthz())
check(all(w is not None and w < 0.5 for w in waits),
      "/healthz answers at once while a sync waits for the scheduler's thread (%s)"
      % ", ".join("-" if w is None else "%.0f ms" % (w * 1000) for w in waits))
check(not replies_to(room, slow) and not reminders(), "the sync and the reminder wait for the lock")
holder.join()
check(wait_for(lambda: reminders(), "the reminder", 20), "the reminder is posted once the lock is gone")
check(wait_for(lambda: replies_to(room, slow), "the answer to the command of the waiting sync", 20),
      "a sync that waited for the database is handled once it is free")
time.sleep(1)
check(len(replies_to(room, slow)) == 1, "its command is answered exactly once (%d)" % len(replies_to(room, slow)))
check(len(reminders()) == 1, "the reminder is posted exactly once (%d)" % len(reminders()))

# Which events of a sync were handled before is read on a thread
# (mx__seen_start): with the table of events seen locked, a sync waits for
# it, the loop going on.  Read on the loop, /healthz fails.
holder = slowlock.lock(db, "seen_events", LOCK_S)
t_lock = time.monotonic()
about = say(room, USERS[12], "!about")
waits = slowlock.healthy_while(t_lock, LOCK_S, http_port)
slowlock.check_healthy(waits, "a sync's events seen wait for the lock")
check(not replies_to(room, about), "the sync's command waits for the lock")
holder.join()
check(wait_for(lambda: replies_to(room, about), "the answer to the command of the sync", 20),
      "a sync whose events seen waited for a lock is handled once it is gone")

# A room's state as the last run left it (kv's row of the room) is read
# at its first sight in a run, on a thread with the sync's events seen:
# with kv locked, the sync of a room the bot is invited to waits for it,
# the loop going on.  Read on the loop, /healthz fails.
room2 = control("/control/room", {"creator": USERS[0], "members": USERS[1:3]})["room_id"]
holder = slowlock.lock(db, "kv", LOCK_S)
t_lock = time.monotonic()
control("/control/invite", {"room": room2, "sender": USERS[0], "target": BOT})
waits = slowlock.healthy_while(t_lock, LOCK_S, http_port)
slowlock.check_healthy(waits, "a new room's state waits for the lock")
holder.join()
check(wait_for(lambda: bot_messages(room2), "the greeting in the new room", 20),
      "the bot joins the new room and greets it once the lock is gone")

# What an answered send became (here a native poll: its start event, its
# ref, the room's open polls) is remembered when its answer comes and
# stored by a thread.  Another session holds the row of the room's open
# polls, which the sync's batches do not write: the poll's store waits for
# it, the loop going on.  The poll's answer is made slow, so that it comes
# while the row is held; stored on the loop, /healthz fails.
def polls_row():
    return dbtarget.psql(db, "SELECT value FROM kv WHERE key = 'matrix.polls.%s'" % room).strip()

def poll_starts():
    return [e for e in control("/control/events", {"room": room})["events"]
            if e["sender"] == BOT and e["type"] == "org.matrix.msc3381.poll.start"]

def lock_row(key, seconds):
    """Holds kv's row key from another session for seconds, once granted;
    returns the thread to join."""
    p = subprocess.Popen(["psql", db, "-v", "ON_ERROR_STOP=1", "-Atq"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    p.stdin.write("BEGIN;\nSELECT 'held' FROM kv WHERE key = '%s' FOR UPDATE;\n" % key)
    p.stdin.flush()
    check(p.stdout.readline().strip() == "held", "another session holds the row %s" % key)
    def hold():
        time.sleep(seconds)
        p.stdin.write("COMMIT;\n")
        p.stdin.close()
        p.wait()
    holder = threading.Thread(target=hold)
    holder.start()
    return holder

say(room, USERS[11], "!meetup Quiz; 2026-12-05 19:00; 2026-12-06 19:00")
check(wait_for(lambda: polls_row() and poll_starts(), "the first poll stored", 20), "a first poll is stored")
control("/control/fail", {"path": r"/send/org\.matrix\.msc3381\.poll\.start/", "method": "PUT", "mode": "slow",
                          "seconds": 1.5, "times": 1})
say(room, USERS[11], "!meetup Quiz 2; 2026-12-07 19:00; 2026-12-08 19:00")
check(wait_for(lambda: len(poll_starts()) == 2, "the second poll", 20), "a second poll is posted (its answer slow)")
second = poll_starts()[-1]["event_id"]
holder = lock_row("matrix.polls.%s" % room, LOCK_S + 3)
t_lock = time.monotonic()
waits = slowlock.healthy_while(t_lock, LOCK_S + 3, http_port)
slowlock.check_healthy(waits, "what a send became waits for a row")
check(second not in polls_row(), "the second poll's store waits for the row")
holder.join()
check(wait_for(lambda: second in polls_row(), "the second poll stored", 20),
      "what the second poll became is stored once the row is free")
check(bot.poll() is None, "the bot is still running")
text = open(log).read()
check("Sanitizer" not in text, "no sanitizer report")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=20) == 0, "the bot stops cleanly")
fake.kill()
harness.finish(text[-4000:])
