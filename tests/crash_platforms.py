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
- PRAGMA integrity_check ok.

Usage: crash_platforms.py ENSEMBLE [KILLS [SEED]]   (prints "N passed, N failed")"""
import datetime, json, os, random, signal, sqlite3, subprocess, sys, threading, time
import urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py
import harness
from harness import check, free_port, post_json, start_fake

def wait_for(pred, what, timeout=20):
    return harness.wait_for(pred, what, timeout)

binary = sys.argv[1]
kills = int(sys.argv[2]) if len(sys.argv) > 2 else 15
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
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
db_path = os.path.join(tmp, "c.db")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n"
            "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\nchat_interval_ms = 0\n"
            "global_per_second = 1000\ngroup_per_minute = 1000\n"
            "[matrix]\nhomeserver = %s\nuser = %s\npassword = bot-pass\nsync_timeout = 1\nroom_interval_ms = 0\n"
            % (db_path, TOKEN, TG, MX, BOT))
os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")
# The bot's clock: 09:00:45 on 1 December when the test starts, running on
# in real time across restarts; meetups at 10:01 (and 10:02 for long runs)
# have their one-hour reminders fall due during the kills.
VSTART = datetime.datetime(2026, 12, 1, 9, 0, 45)
real0 = time.time()
def start_bot():
    now = VSTART + datetime.timedelta(seconds=int(time.time() - real0))
    return subprocess.Popen([binary, "--config", conf, "--clock=real", "--now", now.strftime("%Y-%m-%dT%H:%M:%S")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)

bot = start_bot()
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
for i in range(kills):
    time.sleep(rng.uniform(0.2, 1.2))
    bot.send_signal(signal.SIGKILL)
    bot.wait()
    bot = start_bot()
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
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=20) == 0, "a clean stop at the end")
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

db = sqlite3.connect(db_path)
check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check ok")
def stored(platform, users, table):
    q = ("SELECT count(*) FROM %s t JOIN users u ON u.id = t.user_id WHERE u.platform = ? AND u.ext_id = ?" % table)
    return sum(db.execute(q, (platform, str(u))).fetchone()[0] > 0 for u in users)
for plat, key in (("telegram", "tg"), ("matrix", "mx")):
    rsvps = [u for u, c, k in sent[key] if k == "rsvp"]
    votes = [u for u, c, k in sent[key] if k == "vote"]
    check(stored(plat, rsvps, "rsvps") == len(rsvps), "%s: every RSVP stored (%d of %d)" % (plat, stored(plat, rsvps, "rsvps"), len(rsvps)))
    check(stored(plat, votes, "votes") == len(votes), "%s: every vote stored (%d of %d)" % (plat, stored(plat, votes, "votes"), len(votes)))
print("kills %d; commands: Telegram %d, Matrix %d; duplicates: Telegram %d, Matrix %d; reminders: Telegram %d, Matrix %d"
      % (kills, len(sent["tg"]), len(sent["mx"]), tg_all_dups, mx_dups, len(tg_rem), len(mx_rem)))
harness.finish(open(os.path.join(tmp, "bot.log")).read()[-3000:])
