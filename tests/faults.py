#!/usr/bin/env python3
"""Fault injection: the real binary runs Telegram and Matrix at once, from
one configuration, against the two fake servers, which are made to answer
500, 502 with an HTML page, 429 with retry_after, 401, to hang, to close
the connection mid-body, to send a 10 MB body, and to repeat or reorder
updates.  After each fault the bot must still answer, exactly once, and lose
nothing; at the end it stops cleanly and the database passes
PRAGMA integrity_check.  Prints "N passed, N failed".

Usage: faults.py ENSEMBLE"""
import json, os, signal, sqlite3, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py
import harness
from harness import check, free_port, post_json, start_fake, wait_for

binary = sys.argv[1]
root = os.path.dirname(os.path.abspath(__file__))
tmp = harness.tempdir("ensemble-faults-")
TOKEN = "123456:FAULT-token"
BOT = "@ensemble:test.local"

tg_port, mx_port = free_port(), free_port()
tg = start_fake([sys.executable, os.path.join(root, "telegram", "fake_botapi.py"), str(tg_port), TOKEN])
mx = start_fake([sys.executable, os.path.join(root, "matrix", "fake_homeserver.py"), str(mx_port)])
TG = "http://127.0.0.1:%d" % tg_port
MX = "http://127.0.0.1:%d" % mx_port

def post(base, path, payload=None):
    return post_json(base + path, payload)

def tg_calls(method, ok=True):
    """The calls of method; ok: only those that succeeded."""
    with urllib.request.urlopen(TG + ("/control/ok" if ok else "/control/calls"), timeout=10) as r:
        return [b for m, b in json.loads(r.read()) if m == method]

GROUP = -1001000000042
msg = [0]
def tg_say(text, uid=1):
    msg[0] += 1
    return post(TG, "/control/update", {"message": {"message_id": msg[0], "date": int(time.time()),
        "chat": {"id": GROUP, "type": "supergroup"}, "from": {"id": uid, "is_bot": False, "first_name": "U%d" % uid},
        "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})

def tg_replies_to(mid):
    return [b for b in tg_calls("sendMessage") if b.get("reply_parameters", {}).get("message_id") == mid]

def tg_fail(method, code, **kw):
    post(TG, "/control/fail", dict(method=method, code=code, **kw))

room = post(MX, "/control/room", {"creator": "@alice:test.local", "members": [BOT, "@bob:test.local"]})["room_id"]

def mx_say(text, sender="@alice:test.local"):
    return post(MX, "/control/send", {"room": room, "sender": sender, "type": "m.room.message",
                                       "content": {"msgtype": "m.text", "body": text}})["event_id"]

def mx_replies_to(eid):
    evs = post(MX, "/control/events", {"room": room})["events"]
    return [e for e in evs if e["sender"] == BOT and
            e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == eid]

def mx_fail(path, status, **kw):
    post(MX, "/control/fail", dict(path=path, status=status, times=kw.pop("times", 1), **kw))

conf = os.path.join(tmp, "e.conf")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\n"
            "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\nchat_interval_ms = 0\n"
            "[matrix]\nhomeserver = %s\nuser = %s\npassword = bot-pass\nsync_timeout = 1\nroom_interval_ms = 0\n"
            % (os.path.join(tmp, "e.db"), TOKEN, TG, MX, BOT))
os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")
bot = subprocess.Popen([binary, "--config", conf, "-v"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
wait_for(lambda: tg_calls("getUpdates", ok=False), "Telegram polling")
wait_for(lambda: any(r[1].endswith("/sync") for r in post(MX, "/control/requests")["requests"]), "Matrix syncing")
time.sleep(1.5)  # the first sync (backlog skipped) is behind us

def tg_pending():
    with urllib.request.urlopen(TG + "/control/pending", timeout=10) as r:
        return json.loads(r.read())["pending"]

def tg_case(what, fault, timeout=15, receive=True):
    """Injects fault (a function); for a receiving fault, waits until the
    bot has met it (the poll in flight would otherwise bring the command);
    then sends a command and expects exactly one answer."""
    fault()
    if receive:
        wait_for(lambda: tg_pending() == 0, "the bot to meet the fault (%s)" % what, 20)
    tg_say("/about")
    m = msg[0]
    r = wait_for(lambda: tg_replies_to(m), "Telegram answer after " + what, timeout)
    time.sleep(0.3)
    check(r and len(tg_replies_to(m)) == 1, "Telegram, %s: answered once" % what)

def mx_case(what, fault, timeout=15, receive=True):
    fault()
    if receive:
        wait_for(lambda: post(MX, "/control/pending")["pending"] == 0, "the bot to meet the fault (%s)" % what, 20)
    e = mx_say("!about")
    r = wait_for(lambda: mx_replies_to(e), "Matrix answer after " + what, timeout)
    time.sleep(0.3)
    check(r and len(mx_replies_to(e)) == 1, "Matrix, %s: answered once" % what)

# Receiving faults.
tg_case("getUpdates 500 twice", lambda: tg_fail("getUpdates", 500, times=2))
tg_case("getUpdates 502 with an HTML page", lambda: tg_fail("getUpdates", 502, mode="garbage"))
tg_case("getUpdates 429 retry_after 2", lambda: tg_fail("getUpdates", 429, retry_after=2))
tg_case("getUpdates cut mid-body", lambda: tg_fail("getUpdates", 200, mode="truncate"))
tg_case("getUpdates 401", lambda: tg_fail("getUpdates", 401))
mx_case("/sync 500 twice", lambda: mx_fail("/sync$", 500, errcode="M_UNKNOWN", times=2))
mx_case("/sync 502 with an HTML page", lambda: mx_fail("/sync$", 502, mode="garbage"))
mx_case("/sync 429 retry_after_ms 1500", lambda: mx_fail("/sync$", 429, errcode="M_LIMIT_EXCEEDED", retry_after_ms=1500))
mx_case("/sync cut mid-body", lambda: mx_fail("/sync$", 200, mode="truncate"))

# Sending faults: the reply arrives once (Matrix: the same transaction id).
tg_case("sendMessage 500 twice", lambda: tg_fail("sendMessage", 500, times=2), receive=False)
tg_case("sendMessage 502 with an HTML page", lambda: tg_fail("sendMessage", 502, mode="garbage"), receive=False)
mx_case("send 500 twice", lambda: mx_fail("/send/", 500, errcode="M_UNKNOWN", times=2), receive=False)
mx_case("send 502 with an HTML page", lambda: mx_fail("/send/", 502, mode="garbage"), receive=False)
mx_case("send 429 storm", lambda: mx_fail("/send/", 429, errcode="M_LIMIT_EXCEEDED", retry_after_ms=100, times=6), receive=False)
# A room that refuses the bot (403): logged, marked inactive, not retried.
mx_fail("/send/", 403, errcode="M_FORBIDDEN")
e403 = mx_say("!about")
time.sleep(1.5)
check(not mx_replies_to(e403), "a send refused with 403 is not retried")
db = sqlite3.connect(os.path.join(tmp, "e.db"))
check(db.execute("SELECT active FROM chats WHERE platform = 'matrix' AND ext_id = ?", (room,)).fetchone() == (0,),
      "the room that refused the bot is marked inactive")
db.close()

# A send refused for good (401 on Telegram is not retried forever): the bot
# logs it and goes on with the next one.
tg_fail("sendMessage", 400)
m = msg[0] + 1
tg_say("/about")
time.sleep(1.0)
check(not tg_replies_to(m), "a message refused with 400 is not retried")
tg_case("after a refused message", lambda: None, receive=False)

# Repeated and reordered updates and events: each handled once.
tg_case("a replay of confirmed updates", lambda: tg_fail("getUpdates", 200, mode="replay"))
tg_fail("getUpdates", 200, mode="reverse")
a, b = msg[0] + 1, msg[0] + 2
msg[0] = b
post(TG, "/control/updates", [{"message": {"message_id": k, "date": int(time.time()),
     "chat": {"id": GROUP, "type": "supergroup"}, "from": {"id": 1, "is_bot": False, "first_name": "U1"},
     "text": "/about", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}} for k in (a, b)])
wait_for(lambda: tg_replies_to(a) and tg_replies_to(b), "answers to a reordered batch")
time.sleep(0.3)
check(len(tg_replies_to(a)) == 1 and len(tg_replies_to(b)) == 1, "a reordered batch: each answered once")
e = mx_say("!about")
wait_for(lambda: mx_replies_to(e), "the Matrix answer before a repeat")
post(MX, "/control/repeat", {"event_id": e})
time.sleep(1.5)
check(len(mx_replies_to(e)) == 1, "an event the server repeats is handled once")

# 10 MB bodies: a huge message is refused politely, on both platforms.
big = "/about " + "x" * (10 * 1024 * 1024)
m = msg[0] + 1
tg_say(big)
r = wait_for(lambda: tg_replies_to(m), "the answer to a 10 MB message", 30)
check(r and "too long" in r[0]["text"], "Telegram: a 10 MB message gets 'too long'")
e = mx_say("!about " + "y" * (10 * 1024 * 1024))
r = wait_for(lambda: mx_replies_to(e), "the Matrix answer to a 10 MB message", 30)
check(r and "too long" in r[0]["content"]["body"], "Matrix: a 10 MB message gets 'too long'")

# The database locked by another process longer than the bot waits for it:
# the batches fail, are fetched again (not confirmed and lost), and each
# command is answered once the lock is gone.
import threading
def hold_lock(seconds, ready):
    c = sqlite3.connect(os.path.join(tmp, "e.db"), isolation_level=None, timeout=30)
    c.execute("BEGIN EXCLUSIVE")
    ready.set()
    time.sleep(seconds)
    c.execute("COMMIT")
    c.close()
ready = threading.Event()
locker = threading.Thread(target=hold_lock, args=(7, ready))
locker.start()
ready.wait()
tg_say("/about")
m_locked = msg[0]
e_locked = mx_say("!about")
locker.join()
wait_for(lambda: tg_replies_to(m_locked) and mx_replies_to(e_locked), "the answers after the lock", 40)
time.sleep(1)
check(len(tg_replies_to(m_locked)) == 1, "Telegram: a command during a database lock answered once")
check(len(mx_replies_to(e_locked)) == 1, "Matrix: a command during a database lock answered once")

# A server that hangs: the long poll's own timeout gives up, the bot
# polls again (Telegram: poll_timeout 1 s + 15 s).
tg_case("getUpdates that never answers", lambda: tg_fail("getUpdates", 200, mode="hang"), timeout=40)
mx_case("/sync that never answers", lambda: mx_fail("/sync$", 200, mode="hang", seconds=45), timeout=45)

# Both adapters kept running side by side: one's faults never stopped the other.
bot.send_signal(signal.SIGTERM)
rc = bot.wait(timeout=20)
check(rc == 0, "a clean stop after all that")
log.close()
db = sqlite3.connect(os.path.join(tmp, "e.db"))
check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check ok")
check(db.execute("SELECT active FROM chats WHERE platform = 'matrix' AND ext_id = ?", (room,)).fetchone() == (1,),
      "the room is active again once it speaks to the bot")
text = open(os.path.join(tmp, "bot.log")).read()
check("retrying" in text, "retries are logged")
check("getUpdates rate limited: waiting 2 s" in text, "Telegram waits retry_after")
check("/sync rate limited: waiting 1500 ms" in text, "Matrix waits retry_after_ms")
check("refused (400)" in text, "a message refused for good is logged")
check("database is locked" in text and "fetched again" in text, "the lock is logged, and the refetch")
check(TOKEN not in text and "bot-pass" not in text, "no secret in the log")
check("AddressSanitizer" not in text and "runtime error" not in text, "no sanitizer report")
harness.finish(text[-4000:])
