#!/usr/bin/env python3
"""Crash-restart on both platforms: the real binary runs Telegram and Matrix
from one configuration against the two fake servers while votes, RSVPs and
due reminders flow, and is killed with SIGKILL at random moments KILLS
times, restarted each time on the same database (its clock runs on from
where the test says it is).  At the end, from the fakes' records and the
database:

- 0 lost votes or RSVPs: every one the test sent is in the database;
- 0 duplicate messages on Matrix (transaction ids make retries idempotent);
- on Telegram at most one duplicate per crash (the message in flight);
- every command answered, every due reminder delivered (Matrix: once);
- PRAGMA integrity_check ok (SQLite).

The database is an SQLite file, or with ENSEMBLE_TEST_PG set (the libpq
target of a PostgreSQL server: CTest's fixture pg) a database of its own on
that server (tests/dbtarget.py), dropped at the end.

With --standby (PostgreSQL), the failover test: two instances share the
database, one leads and the other stands by (storage/db.h); each kill aims
at the one that leads (its /readyz answers 200), the other must take over
(its /readyz 200, timed from the kill: the median and the worst are
printed, and each must be within TAKEOVER_MAX s), and the killed one is
started again, to stand by.  The same guarantees as above.

Usage: crash_platforms.py ENSEMBLE [KILLS [SEED]] [--standby]
(prints "N passed, N failed")"""
import argparse, atexit, datetime, json, os, random, signal, statistics, subprocess, sys, threading, time
import urllib.error, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py
import dbtarget, harness
from harness import check, free_port, post_json, start_fake

def wait_for(pred, what, timeout=20):
    return harness.wait_for(pred, what, timeout)

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("kills", nargs="?", type=int, default=15)
ap.add_argument("seed", nargs="?", type=int, default=1)
ap.add_argument("--standby", action="store_true", help="two instances, kills aimed at the leader (PostgreSQL)")
args = ap.parse_args()
if args.standby and not dbtarget.PG:
    ap.error("--standby needs a PostgreSQL server: set ENSEMBLE_TEST_PG")
binary = args.binary
kills = args.kills
rng = random.Random(args.seed)
TAKEOVER_MAX = 10.0
root = os.path.dirname(os.path.abspath(__file__))
tmp = harness.tempdir("ensemble-crash2-")
TOKEN = "123456:CRASH-token"
BOT = "@ensemble:test.local"

tg_port, mx_port = free_port(), free_port()
tg = start_fake([sys.executable, os.path.join(root, "telegram", "fake_botapi.py"), str(tg_port), TOKEN])
mx = start_fake([sys.executable, os.path.join(root, "matrix", "fake_homeserver.py"), str(mx_port)])
TG = "http://127.0.0.1:%d" % tg_port
MX = "http://127.0.0.1:%d" % mx_port

def post(base, path, payload=None):
    return post_json(base + path, payload)

def tg_sent():
    with urllib.request.urlopen(TG + "/control/ok", timeout=10) as r:
        return [b for m, b in json.loads(r.read()) if m == "sendMessage"]

GROUP = -1001000000777
room = post(MX, "/control/room", {"creator": "@alice:test.local", "members": [BOT]})["room_id"]
msg = [0]
def tg_say(uid, text):
    msg[0] += 1
    post(TG, "/control/update", {"message": {"message_id": msg[0], "date": int(time.time()),
        "chat": {"id": GROUP, "type": "supergroup"}, "from": {"id": uid, "is_bot": False, "first_name": "U%d" % uid},
        "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})
    return msg[0]
def mx_say(user, text):
    return post(MX, "/control/send", {"room": room, "sender": user, "type": "m.room.message",
                                      "content": {"msgtype": "m.text", "body": text}})["event_id"]
def mx_events():
    return [e for e in post(MX, "/control/events", {"room": room})["events"] if e["sender"] == BOT]

conf = os.path.join(tmp, "c.conf")
db_path = dbtarget.fresh(tmp, "c.db")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n"
            "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\nchat_interval_ms = 0\n"
            "global_per_second = 1000\ngroup_per_minute = 1000\n"
            "[matrix]\nhomeserver = %s\nuser = %s\npassword = bot-pass\nsync_timeout = 1\nroom_interval_ms = 0\n"
            % (db_path, TOKEN, TG, MX, BOT))
os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")
# With --standby, each instance has its listener (for /readyz), the same
# configuration otherwise.
ports = [free_port(), free_port()] if args.standby else [None]
# The bot's clock: 09:00:45 on 1 December when the test starts, running on
# in real time across restarts; meetups at 10:01 (and 10:02 for long runs)
# have their one-hour reminders fall due during the kills.
VSTART = datetime.datetime(2026, 12, 1, 9, 0, 45)
real0 = time.time()
def start_bot(i=0):
    now = VSTART + datetime.timedelta(seconds=int(time.time() - real0))
    listen = ["--set", "http.listen=127.0.0.1:%d" % ports[i]] if ports[i] else []
    p = subprocess.Popen([binary, "--config", conf, "--clock=real", "--now", now.strftime("%Y-%m-%dT%H:%M:%S")]
                         + listen, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    atexit.register(p.kill)  # a failing run leaves no bot behind
    return p

def probe(i, path):
    """(status, JSON body) of GET path on instance i's listener; (None, None)
    when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (ports[i], path), timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except (OSError, ValueError):
        return None, None

bot = start_bot()
bots = [bot]
if args.standby:
    wait_for(lambda: probe(0, "/readyz")[0] == 200, "the first instance leading")
    bots.append(start_bot(1))
    check(wait_for(lambda: probe(1, "/healthz") == (200, {"status": "standby", "database": "ok", "adapters": {}}),
                   "the second instance standing by") and probe(1, "/readyz")[0] == 503,
          "the second instance stands by: /healthz 200, /readyz 503")
wait_for(lambda: any(r[1].endswith("/sync") for r in post(MX, "/control/requests")["requests"]), "Matrix syncing")
time.sleep(1.5)
# Meetups, confirmed at once (one date each): the RSVPs go to them.
slots = ["10:01"] + (["10:02"] if kills > 40 else [])
for i, hm in enumerate(slots):
    tg_say(1, "/meetup Crash %d; 2026-12-01 %s" % (i + 1, hm))
    mx_say("@alice:test.local", "!meetup Crash %d; 2026-12-01 %s" % (i + 1, hm))
wait_for(lambda: len([b for b in tg_sent() if "will take place" in b["text"]]) == len(slots), "the Telegram meetups")
wait_for(lambda: len([e for e in mx_events() if "will take place" in e["content"].get("body", "")]) == len(slots),
         "the Matrix meetups")

# The traffic: each new user RSVPs once, alternately on each platform, and
# some vote in a poll (a meetup with two dates) as well.
tg_say(1, "/meetup Poll; 2026-12-05 19:00; 2026-12-06 19:00")
mx_say("@alice:test.local", "!meetup Poll; 2026-12-05 19:00; 2026-12-06 19:00")
poll_num = len(slots) + 1
sent = {"tg": [], "mx": []}     # (user, command id, kind)
stop = threading.Event()
def traffic():
    k = 0
    while not stop.is_set():
        k += 1
        n = 1 + (k % len(slots))
        if k % 3 == 0:
            sent["tg"].append((2000 + k, tg_say(2000 + k, "/vote #%d 1 2?" % poll_num), "vote"))
            sent["mx"].append(("@v%d:test.local" % k, mx_say("@v%d:test.local" % k, "!vote #%d 2" % poll_num), "vote"))
        else:
            sent["tg"].append((2000 + k, tg_say(2000 + k, "/rsvp %d yes" % n), "rsvp"))
            sent["mx"].append(("@u%d:test.local" % k, mx_say("@u%d:test.local" % k, "!rsvp %d yes" % n), "rsvp"))
        time.sleep(rng.uniform(0.05, 0.25))
th = threading.Thread(target=traffic)
th.start()
def failover(leader):
    """Kills the instance that leads, times the other's taking over, starts
    the killed one again and waits for it to stand by.  Returns the new
    leader's index and the time to take over (None when it did not)."""
    other = 1 - leader
    bots[leader].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    bots[leader].wait()
    took = wait_for(lambda: probe(other, "/readyz")[0] == 200, "instance %d taking over" % other, TAKEOVER_MAX * 3)
    took = took and time.monotonic() - killed
    bots[leader] = start_bot(leader)
    wait_for(lambda: probe(leader, "/healthz")[1] == {"status": "standby", "database": "ok", "adapters": {}},
             "instance %d standing by again" % leader)
    return other, took

takeovers = []
leader = 0
for i in range(kills):
    time.sleep(rng.uniform(0.2, 1.2))
    if args.standby:
        leader, took = failover(leader)
        takeovers.append(took)
        continue
    bot.send_signal(signal.SIGKILL)
    bot.wait()
    bot = bots[0] = start_bot()
stop.set()
th.join()
# Past the last reminder, then every command answered.
hh, mm = (int(x) for x in slots[-1].split(":"))
last_due = VSTART.replace(hour=hh, minute=mm, second=0) - datetime.timedelta(hours=1)
while VSTART + datetime.timedelta(seconds=time.time() - real0) < last_due + datetime.timedelta(seconds=2):
    time.sleep(0.5)
def tg_replies():
    out = {}
    for b in tg_sent():
        mid = b.get("reply_parameters", {}).get("message_id")
        if mid:
            out[mid] = out.get(mid, 0) + 1
    return out
def mx_replies():
    out = {}
    for e in mx_events():
        eid = e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
        if eid:
            out[eid] = out.get(eid, 0) + 1
    return out
wait_for(lambda: all(c in tg_replies() for u, c, k in sent["tg"]), "every Telegram command answered", 60)
wait_for(lambda: all(c in mx_replies() for u, c, k in sent["mx"]), "every Matrix command answered", 60)
time.sleep(2)
for i, b in enumerate(bots):
    b.send_signal(signal.SIGTERM)
    check(b.wait(timeout=20) == 0, "instance %d: a clean stop at the end" % i)
log.close()

tr, mr = tg_replies(), mx_replies()
tg_dups = sum(max(0, tr.get(c, 0) - 1) for u, c, k in sent["tg"])
mx_dups = sum(max(0, mr.get(c, 0) - 1) for u, c, k in sent["mx"])
check(all(c in tr for u, c, k in sent["tg"]), "every Telegram command answered")
check(all(c in mr for u, c, k in sent["mx"]), "every Matrix command answered")
check(mx_dups == 0, "0 duplicate replies on Matrix (%d)" % mx_dups)
tg_rem = [b for b in tg_sent() if "starts in 1 hour" in b["text"]]
mx_rem = [e for e in mx_events() if "starts in 1 hour" in e["content"].get("body", "")]
check(len({b["text"].split(" · ")[0] for b in tg_rem}) == len(slots), "every Telegram reminder delivered")
check(len(mx_rem) == len(slots), "every Matrix reminder delivered once (%d of %d)" % (len(mx_rem), len(slots)))
tg_all_dups = tg_dups + max(0, len(tg_rem) - len(slots))
check(tg_all_dups <= kills, "Telegram duplicates within one per crash (%d for %d kills)" % (tg_all_dups, kills))

def stored(platform, users, table):
    """How many of users (ids on platform) have a row in table."""
    have = {r[0] for r in dbtarget.query(db_path, "SELECT u.ext_id FROM %s t JOIN users u ON u.id = t.user_id "
                                                  "WHERE u.platform = '%s'" % (table, platform))}
    return sum(str(u) in have for u in users)
if not dbtarget.PG:
    check(dbtarget.query(db_path, "PRAGMA integrity_check") == [["ok"]], "integrity_check ok")
for plat, key in (("telegram", "tg"), ("matrix", "mx")):
    rsvps = [u for u, c, k in sent[key] if k == "rsvp"]
    votes = [u for u, c, k in sent[key] if k == "vote"]
    check(stored(plat, rsvps, "rsvps") == len(rsvps), "%s: every RSVP stored (%d of %d)" % (plat, stored(plat, rsvps, "rsvps"), len(rsvps)))
    check(stored(plat, votes, "votes") == len(votes), "%s: every vote stored (%d of %d)" % (plat, stored(plat, votes, "votes"), len(votes)))
if args.standby:
    done = [t for t in takeovers if t]
    check(len(done) == kills, "a take-over after each kill (%d of %d)" % (len(done), kills))
    check(done and max(done) <= TAKEOVER_MAX, "each take-over within %g s" % TAKEOVER_MAX)
    if done:
        print("take-over after %d kills of the leader: median %.2f s, worst %.2f s, best %.2f s"
              % (len(done), statistics.median(done), max(done), min(done)))
print("kills %d; commands: Telegram %d, Matrix %d; duplicates: Telegram %d, Matrix %d; reminders: Telegram %d, Matrix %d"
      % (kills, len(sent["tg"]), len(sent["mx"]), tg_all_dups, mx_dups, len(tg_rem), len(mx_rem)))
harness.finish(open(os.path.join(tmp, "bot.log")).read()[-3000:])
