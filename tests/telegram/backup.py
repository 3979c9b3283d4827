#!/usr/bin/env python3
"""Back up, stop, restore, start: no message lost, none sent twice.  The
real binary on Telegram (the fake Bot API) plans a reminder in one group,
answers there (delivered: in the delivery journal, its outbox row not yet
deleted) and has two answers in another held back by a 429.  `ensemble
--backup` copies its database while it runs; the copy is 0600 and passes
--check-db.  The bot answers once more, stops, and the copy is put back as
the README says.  Started again (later, so that the reminder is due), it
sends the two held answers and the reminder, once each, and nothing the
backup knew as delivered.  Prints "N passed, N failed".

Usage: backup.py ENSEMBLE"""
import json, os, re, shutil, signal, sqlite3, stat, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # harness.py
import harness
from harness import check, free_port, post_json, start_fake

binary = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
TOKEN = "123456:TEST-token-backup"
tmp = harness.tempdir("ensemble-backup-")
port = free_port()
fake = start_fake([sys.executable, os.path.join(here, "fake_botapi.py"), str(port), TOKEN])
base = "http://127.0.0.1:%d" % port

def calls(method, which="calls"):
    """The calls of method the bot made, or with which="ok" those that
    succeeded: the messages delivered."""
    with urllib.request.urlopen(base + "/control/" + which, timeout=10) as r:
        return [b for m, b in json.loads(r.read()) if m == method]

def texts_to(chat, since=0):
    """The texts delivered to chat, from the since-th delivery on."""
    return [b["text"] for b in calls("sendMessage", "ok")[since:] if str(b["chat_id"]) == str(chat)]

SHOWN, HELD = -1001000000001, -1001000000002   # a group that gets its answers, one held back
mid = [0]
def say(chat, text):
    mid[0] += 1
    post_json(base + "/control/update", {"message": {
        "message_id": mid[0], "date": int(time.time()), "chat": {"id": chat, "type": "supergroup"},
        "from": {"id": 1, "is_bot": False, "first_name": "Alice", "language_code": "en"}, "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}}, timeout=10)

db = os.path.join(tmp, "ensemble.db")
copy = os.path.join(tmp, "backup", "ensemble.db")
os.mkdir(os.path.dirname(copy))
conf = os.path.join(tmp, "ensemble.conf")
# A long poll of 20 seconds: nothing wakes the idle bot, which would delete
# the delivered rows of the journal before the backup reads it.
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\nremind = 5min\n[telegram]\ntoken = %s\n"
            "api_url = %s\npoll_timeout = 20\nchat_interval_ms = 20\n" % (db, TOKEN, base))
os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")
def start_bot(now):
    # Real time, from `now` on: the restart comes after the reminder's time.
    return subprocess.Popen([binary, "--config", conf, "-v", "--clock=real", "--now=" + now],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
def run(*args):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)

bot = start_bot("2026-12-10T09:50")
harness.wait_for(lambda: calls("getUpdates"), "the first getUpdates")

# A meetup at 10:00 in SHOWN: its reminder is due at 09:55.
say(SHOWN, "/meetup Lunch; 2026-12-10 10:00")
harness.wait_for(lambda: texts_to(SHOWN), "the meetup's announcement")
# HELD's first answer is refused with a 429 that asks for two minutes: it
# and the next one wait in the outbox.
post_json(base + "/control/fail", {"method": "sendMessage", "code": 429, "retry_after": 120})
say(HELD, "/help")
harness.wait_for(lambda: any(str(b["chat_id"]) == str(HELD) for b in calls("sendMessage")), "HELD's 429")
say(HELD, "/about")
# An answer in SHOWN, delivered just before the backup.
n = len(texts_to(SHOWN))
say(SHOWN, "/help")
harness.wait_for(lambda: len(texts_to(SHOWN)) > n, "the answer before the backup")
# The bot records the delivery once it has Telegram's answer.
journal = harness.wait_for(lambda: os.path.getsize(db + "-acks"), "the delivery in the journal") or 0

r = run("--config", conf, "--backup", copy)
check(r.returncode == 0, "--backup of the running bot exits 0: %s%s" % (r.stdout, r.stderr))
m = re.search(r"(\d+) bytes, schema version (\d+), (\d+) delivered message", r.stdout)
check(m and int(m.group(1)) == os.path.getsize(copy), "--backup says the copy's size: %r" % r.stdout)
check(journal > 0 and m and int(m.group(3)) >= 1,
      "the journal held deliveries (%d bytes) that the copy takes out of its outbox: %r" % (journal, r.stdout))
check(os.path.exists(copy) and stat.S_IMODE(os.stat(copy).st_mode) == 0o600, "the copy is 0600")
c = run("--check-db", copy)
check(c.returncode == 0 and c.stdout.strip() == "ok", "the copy passes --check-db: %r %r" % (c.stdout, c.stderr))
con = sqlite3.connect("file:%s?mode=ro" % copy, uri=True)
pending = [json.loads(a) for (a,) in con.execute("SELECT action FROM outbox ORDER BY id")]
reminders = con.execute("SELECT count(*) FROM jobs WHERE kind = 2 AND state = 0").fetchone()[0]
con.close()
check(len(pending) == 2 and all(str(a.get("chat")) == str(HELD) for a in pending),
      "the copy's outbox holds HELD's two answers and nothing delivered: %r" % [a.get("chat") for a in pending])
check(reminders == 1, "the copy holds the reminder, pending")
# --check-db names a problem planted in a copy of the copy, and exits 1.
bad = os.path.join(tmp, "bad.db")
shutil.copyfile(copy, bad)
con = sqlite3.connect(bad)
con.execute("INSERT INTO outbox (action, created_ms) VALUES ('{not json', 0)")
con.commit()
con.close()
c = run("--check-db", bad)
check(c.returncode == 1 and "is not valid JSON" in c.stderr and "1 problem found" in c.stdout,
      "--check-db names a planted problem and exits 1: %r %r" % (c.stdout, c.stderr))
r2 = run("--config", conf, "--backup", copy)
check(r2.returncode != 0 and "exists" in r2.stderr, "a second --backup to the same file is refused: %r" % r2.stderr)

# More after the backup; then the bot stops, HELD's answers still held.
n = len(texts_to(SHOWN))
say(SHOWN, "/about")
harness.wait_for(lambda: len(texts_to(SHOWN)) > n, "the answer after the backup")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=30) == 0, "the bot stops with 0")
check(not texts_to(HELD), "HELD's answers were never delivered before the restore")

# The README's restore: the copy in place, 0600, the stale side files gone.
for side in ("-wal", "-shm", "-acks"):
    if os.path.exists(db + side):
        os.unlink(db + side)
shutil.copyfile(copy, db)
os.chmod(db, 0o600)
before = len(calls("sendMessage", "ok"))
bot = start_bot("2026-12-10T09:55:30")
got = harness.wait_for(lambda: len(texts_to(HELD, before)) >= 2 and texts_to(SHOWN, before),
                       "HELD's answers and the reminder after the restore", timeout=30)
time.sleep(2)
held, shown = texts_to(HELD, before), texts_to(SHOWN, before)
check(len(held) == 2 and "What I can do" in held[0] and "Up for" in held[1],
      "HELD's two answers are sent after the restore, in order, once: %r" % [t[:30] for t in held])
check(len(shown) == 1 and "starts in" in shown[0],
      "SHOWN gets the reminder once and nothing it had before: %r" % [t[:30] for t in shown])
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=30) == 0, "the restored bot stops with 0")
c = run("--check-db", db)
check(c.returncode == 0 and c.stdout.strip() == "ok", "the restored database passes --check-db: %r" % c.stdout)
fake.terminate()
log.close()
text = open(os.path.join(tmp, "bot.log")).read()
check("AddressSanitizer" not in text and "runtime error" not in text and "LeakSanitizer" not in text,
      "no sanitizer report")
harness.finish(text[-3000:])
