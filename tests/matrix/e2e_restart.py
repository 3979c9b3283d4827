#!/usr/bin/env python3
"""End to end on Matrix, where the fake homeserver behaves as Synapse does
and a kinder fake hid bugs: the real binary against fake_homeserver.py.

- A reminder after a move: the job that sent the first reminder is deleted
  and SQLite hands its id to the moved meetup's new reminder; the homeserver
  remembers a device's transaction ids for a day, so a transaction id made
  from the job's id alone would be answered with the first reminder's event
  and nothing posted.
- Commands sent while the bot was down, more than the sync's timeline limit:
  the sync is limited, and the bot fills the gap from /messages, so a !vote
  among them is answered and counted once; a command older than a day is
  skipped, with a log line.
- A reminder that falls due while the homeserver is down is written once
  it is back: marked late, saying the time really left.

Prints "N passed, N failed".  Usage: e2e_restart.py ENSEMBLE"""
import calendar, datetime, json, os, re, signal, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # harness.py
import harness
from harness import check, free_port, post_json, start_fake, wait_for

binary = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="ensemble-mxr-")
BOT = "@ensemble:test.local"
ALICE, BOB, CHLOE, DAN = ("@%s:test.local" % n for n in ("alice", "bob", "chloe", "dan"))

port = free_port()
fake = start_fake([sys.executable, os.path.join(here, "fake_homeserver.py"), str(port)])
base = "http://127.0.0.1:%d" % port

def control(path, payload=None):
    return post_json(base + path, payload, timeout=10)

def events(room):
    return control("/control/events", {"room": room})["events"]

def messages(room):
    """The bot's messages in room, edits aside."""
    return [e for e in events(room) if e["sender"] == BOT and e["type"] == "m.room.message"
            and e["content"].get("msgtype") in ("m.notice", "m.text")
            and e["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"]

def say(room, sender, body, ts=None):
    payload = {"room": room, "sender": sender, "type": "m.room.message",
               "content": {"msgtype": "m.text", "body": body}}
    if ts is not None:
        payload["ts"] = ts
    return control("/control/send", payload)["event_id"]

def replies_to(room, event_id):
    return [e for e in messages(room)
            if e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id]

def reminders(room):
    return [e for e in messages(room) if e["content"]["body"].startswith("⏰")]

conf = os.path.join(tmp, "ensemble.conf")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n"
            "[matrix]\nhomeserver = %s\nuser = %s\npassword = bot-pass\nsync_timeout = 2\nroom_interval_ms = 0\n"
            % (os.path.join(tmp, "m.db"), base, BOT))
os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")

# The bot's clock: Paris time, from 17:59:52 on 1 December; each restart may
# move it on (jump), as if the bot had been down that long.
VSTART = datetime.datetime(2026, 12, 1, 17, 59, 52)
real_start = time.time()
jump = [datetime.timedelta(0)]
def vnow():
    return VSTART + jump[0] + datetime.timedelta(seconds=time.time() - real_start)
def start_bot():
    return subprocess.Popen([binary, "--config", conf, "--clock=real", "--now", vnow().strftime("%Y-%m-%dT%H:%M:%S"),
                             "-v"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
def stop_bot(p):
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=15) == 0, "a clean stop")
def jump_to(hh, mm, ss):
    """Moves the bot's clock (for its next start) to hh:mm:ss on 1 December."""
    jump[0] += datetime.datetime(2026, 12, 1, hh, mm, ss) - vnow()

# The room, the bot already in it (its first start skips the backlog).
room = control("/control/room", {"creator": ALICE, "members": [BOT, BOB, CHLOE, DAN]})["room_id"]
bot = start_bot()
wait_for(lambda: any(r[1].endswith("/sync") for r in control("/control/requests")["requests"]), "the first sync")
time.sleep(1)

# A meetup at 19:00 (its reminder 18:00, a few seconds away), Bob comes;
# a date poll beside it.
say(room, ALICE, "!meetup Soirée; 2026-12-01 19:00")
wait_for(lambda: [e for e in messages(room) if "Soirée" in e["content"]["body"]], "the meetup's announcement")
yes = say(room, BOB, "!rsvp 1 yes")
wait_for(lambda: replies_to(room, yes), "Bob's !rsvp")
quiz = say(room, ALICE, "!meetup Quiz; 2026-12-05 19:00; 2026-12-06 19:00")
wait_for(lambda: [e for e in events(room) if e["sender"] == BOT and e["type"] == "org.matrix.msc3381.poll.start"],
         "the Quiz poll")
first = wait_for(lambda: reminders(room), "the first reminder", 30)
check(first and "7:00 PM" in first[0]["content"]["body"] and "Bob" in first[0]["content"]["body"],
      "the first reminder, for 7:00 PM, calls Bob")

# Moved to 19:30: its new reminder (18:30) takes the id of the job just done.
say(room, ALICE, "!meetup move 1 2026-12-01 19:30")
wait_for(lambda: [e for e in messages(room) if "moves to" in e["content"]["body"]], "the move's announcement")
time.sleep(0.5)
stop_bot(bot)

# While the bot is down: an old command (two days old), then a !vote, then
# more than the timeline limit (100) of conversation, then one more command.
# (two days before the bot's clock, which is Paris time, UTC+1 in December)
old_ts = calendar.timegm((vnow() - datetime.timedelta(days=2, hours=1)).timetuple()) * 1000
old = say(room, DAN, "!about", ts=old_ts)
vote = say(room, BOB, "!vote 2 1")
for i in range(110):
    say(room, CHLOE, "chatting while the bot is away, %d" % i)
last = say(room, DAN, "!about")

# The member lists kept by a version that read room summaries had none:
# the bot asks the homeserver for them.
db = sqlite3.connect(os.path.join(tmp, "m.db"))
db.execute("UPDATE kv SET value = json_remove(value, '$.members') WHERE key LIKE 'matrix.room.%'")
db.commit()
db.close()

# Back at 18:31:30: the reminder of 18:30 is late.
jump_to(18, 31, 30)
bot = start_bot()
wait_for(lambda: replies_to(room, last), "the answer to the command after the gap", 30)
wait_for(lambda: replies_to(room, vote), "the answer to the !vote inside the gap", 10)
time.sleep(1.5)
check(len(replies_to(room, vote)) == 1, "the !vote sent while the bot was down (before 110 messages) is answered once")
check(len(replies_to(room, last)) == 1, "the command at the end of the gap is answered once")
check(not replies_to(room, old), "a command older than a day is not answered")
tally = say(room, ALICE, "!poll 2")
r = wait_for(lambda: replies_to(room, tally), "the tally of the Quiz")
check(r and "(1): Bob" in r[0]["content"]["body"], "the !vote from the gap counts: %s" % (r and r[0]["content"]["body"]))
reqs = control("/control/requests")["requests"]
check(any("/messages" in q[1] for q in reqs), "the gap is read from /messages")
check(any(q[1].endswith("/joined_members") for q in reqs), "a room without a member list asks for it")

second = wait_for(lambda: [e for e in reminders(room) if "7:30 PM" in e["content"]["body"]],
                  "the reminder of the moved meetup", 20)
check(second and len(second) == 1, "the moved meetup's reminder is posted (a transaction id never repeats)")
check(second and "late" in second[0]["content"]["body"], "the reminder missed while the bot was down says it is late")

# A reminder falls due while the homeserver is down (its /sync fails seven
# times, a minute and more with the bot's backoff, and so do its sends):
# it is written once the homeserver is back, late and with the time left.
say(room, ALICE, "!meetup Outage; 2026-12-01 19:33")
wait_for(lambda: [e for e in messages(room) if "Outage" in e["content"]["body"]], "the Outage meetup")
stop_bot(bot)
jump_to(18, 32, 45)
nsync = len([q for q in control("/control/requests")["requests"] if q[1].endswith("/sync")])
bot = start_bot()
wait_for(lambda: len([q for q in control("/control/requests")["requests"] if q[1].endswith("/sync")]) > nsync,
         "a sync after the restart")
# Down from 2.5 s before the reminder is due: a sync fails before it is.
while vnow() < datetime.datetime(2026, 12, 1, 18, 32, 57, 500000):
    time.sleep(0.05)
control("/control/fail", {"path": "/sync$", "method": "GET", "status": 502, "errcode": "M_UNKNOWN", "times": 7})
control("/control/fail", {"path": "/send/", "method": "PUT", "status": 502, "errcode": "M_UNKNOWN",
                          "times": 1000, "seconds_window": 60})
third = wait_for(lambda: [e for e in reminders(room) if "7:33 PM" in e["content"]["body"]],
                 "the reminder due while the homeserver was down", 150)
body = third[0]["content"]["body"] if third else ""
left = re.search(r"starts in (\d+) minutes", body)
check(third and len(third) == 1 and "late" in body and left and int(left.group(1)) < 60,
      "a reminder due while the homeserver was down is sent late, says so, and tells the time left: %s" % body[:120])
stop_bot(bot)

log.close()
text = open(os.path.join(tmp, "bot.log")).read()
check("older than" in text, "the command older than a day is skipped with a log line")
if harness.failed:
    for e in messages(room)[-12:]:
        print("NOTICE:", json.dumps(e["content"], ensure_ascii=False)[:400])
harness.finish(text[-4000:])
