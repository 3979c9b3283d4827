#!/usr/bin/env python3
"""SIGHUP reads the configuration file again.  On the console: a new
log_level takes effect at once, a key that needs a restart (lang) is logged
as such and keeps its value, a file with errors is logged and changes
nothing, and the bot goes on answering; SIGTERM still stops it cleanly.  On
Matrix (the fake homeserver): the administrators' power level and the
invite list change while the bot runs.  Prints "N passed, N failed".

Usage: reload.py ENSEMBLE"""
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py
import harness
from harness import check, free_port, post_json, start_fake, wait_for

binary = sys.argv[1]
root = os.path.dirname(os.path.abspath(__file__))
tmp = harness.tempdir("ensemble-reload-")
logs = []

def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)

def start(args, log_path, stdin):
    log = open(log_path, "w")
    logs.append(log_path)
    p = subprocess.Popen([binary] + args, stdin=stdin, stdout=log, stderr=log)
    harness.atexit.register(lambda: p.poll() is None and p.kill())
    return p

def text_of(path):
    with open(path) as f:
        return f.read()

def hup(p, log_path, line):
    """Sends SIGHUP and waits for line in the log; the bot must still run."""
    p.send_signal(signal.SIGHUP)
    found = wait_for(lambda: line in text_of(log_path), "'%s' after SIGHUP" % line)
    check(p.poll() is None, "still running after SIGHUP (exit %s)" % p.returncode)
    return found

# --- The console. --------------------------------------------------------
conf = os.path.join(tmp, "console.conf")
log_path = os.path.join(tmp, "console.log")
write(conf, "[general]\ndb = %s\nlang = en\nlog_level = info\n" % os.path.join(tmp, "c.db"))
bot = start(["--config", conf, "--console"], log_path, subprocess.PIPE)

def say(line, answer):
    bot.stdin.write((line + "\n").encode())
    bot.stdin.flush()
    return wait_for(lambda: text_of(log_path).count(answer), "the answer to '%s'" % line)

say("alice: /start", "Ensemble")
check("chat console: /start from alice" not in text_of(log_path), "no debug line at log_level = info")

# Live keys (the log level, new chats' reminder times) and a key that
# needs a restart.
write(conf, "[general]\ndb = %s\nlang = fr\nlog_level = debug\nremind = 2h\n" % os.path.join(tmp, "c.db"))
hup(bot, log_path, "general.log_level = debug: in effect now")
check("general.remind = 2h: in effect now" in text_of(log_path), "remind is applied")
text = text_of(log_path)
check("received SIGHUP, reading the configuration again" in text, "SIGHUP is logged")
check("general.lang changed: it takes effect at the next restart" in text, "lang is logged as needing a restart")
check(say("alice: /help", "chat console: /help from alice"), "log_level = debug is in effect: the command is logged")
check("/about" in text_of(log_path)[-4000:], "the bot answered /help (in English: lang unchanged)")
check(say("bob@new: /remind", "[new] bot: Reminders in this chat: 2 hours before."),
      "a new chat starts with the new reminder times")
check(say("alice: /remind", "[console] bot: Reminders in this chat: 1 day before and 1 hour before."),
      "an existing chat keeps its own")

# A file with errors: logged, nothing changes, the bot goes on.
write(conf, "[general]\ndb = %s\nlang = fr\nlog_level = loud\nthis is not a line\nremind = 5h\n"
      % os.path.join(tmp, "c.db"))
hup(bot, log_path, "has errors: the running configuration is kept")
text = text_of(log_path)
check("console.conf:4: general.log_level must be error, warn, info or debug, not 'loud'" in text,
      "the error names the key and its line")
check("console.conf:5: syntax error" in text, "the syntax error with its line")
check(say("alice: /about", "chat console: /about from alice"),
      "after a bad file the bot answers, and log_level stayed debug")
check(say("carol@newer: /remind", "[newer] bot: Reminders in this chat: 2 hours before."),
      "after a bad file, new chats keep the running reminder times")

# The same file again: nothing to do; then a clean stop.
write(conf, "[general]\ndb = %s\nlang = fr\nlog_level = debug\nremind = 2h\n" % os.path.join(tmp, "c.db"))
n = text_of(log_path).count("general.lang changed")
bot.send_signal(signal.SIGHUP)
wait_for(lambda: text_of(log_path).count("general.lang changed") > n, "the third SIGHUP")
check("general.remind = 2h: in effect now" not in text_of(log_path).split("has errors")[-1],
      "an unchanged live key is not applied again")
rc = harness.stop(bot, 20)
check(rc == 0, "SIGTERM after SIGHUPs: exit 0 (got %s)" % rc)

# Without --config there is no file to read: SIGHUP is logged, nothing more.
log2 = os.path.join(tmp, "noconf.log")
bot = start(["--console", "--db", os.path.join(tmp, "n.db")], log2, subprocess.PIPE)
wait_for(lambda: "running on" in text_of(log2), "the start without a file")
hup(bot, log2, "received SIGHUP: there is no configuration file to read again")
bot.stdin.close()
check(bot.wait(timeout=20) == 0, "the end of input after SIGHUP: exit 0")

# --- Matrix: administrators and invites. ----------------------------------
BOT = "@ensemble:test.local"
ALICE, BOB = "@alice:test.local", "@bob:test.local"
port = free_port()
start_fake([sys.executable, os.path.join(root, "matrix", "fake_homeserver.py"), str(port)])
base = "http://127.0.0.1:%d" % port
control = lambda path, payload: post_json(base + path, payload, timeout=10)

def replies(room, event_id):
    return [e for e in control("/control/events", {"room": room})["events"]
            if e["sender"] == BOT and e["content"].get("m.relates_to", {}).get("m.in_reply_to", {})
            .get("event_id") == event_id]

def command(room, sender, body):
    ev = control("/control/send", {"room": room, "sender": sender, "type": "m.room.message",
                                   "content": {"msgtype": "m.text", "body": body}})["event_id"]
    r = wait_for(lambda: replies(room, ev), "the answer to %s's %s" % (sender, body))
    return r[0]["content"]["body"] if r else ""

mconf = os.path.join(tmp, "matrix.conf")
mlog = os.path.join(tmp, "matrix.log")
matrix = "[general]\ndb = %s\nlang = en\n[matrix]\nhomeserver = %s\nuser = %s\npassword = bot-pass\n" \
         "sync_timeout = 1\nroom_interval_ms = 0\nadmin_level = %d\ninvite_from = %s\n"
write(mconf, matrix % (os.path.join(tmp, "m.db"), base, BOT, 100, ALICE))
room = control("/control/room", {"creator": ALICE, "members": [BOT, BOB],
                                 "power_levels": {"users": {ALICE: 100, BOB: 50}, "users_default": 0,
                                                  "events_default": 0, "state_default": 50}})["room_id"]
bot = start(["--config", mconf], mlog, subprocess.DEVNULL)
wait_for(lambda: "first sync" in text_of(mlog) or "/sync" in text_of(mlog) or "running on" in text_of(mlog),
         "the Matrix adapter's start")
time.sleep(1.5)  # the first sync skips the backlog
check("Only the chat's admins" in command(room, BOB, "!tz Asia/Tokyo"), "power 50 < admin_level 100: refused")
r1 = control("/control/room", {"creator": BOB, "members": []})["room_id"]
control("/control/invite", {"room": r1, "sender": BOB, "target": BOT})
wait_for(lambda: "invited to %s by %s: declined (invite_from)" % (r1, BOB) in text_of(mlog), "Bob's invite declined")

write(mconf, matrix % (os.path.join(tmp, "m.db"), base, BOT, 50, ALICE + ", " + BOB))
hup(bot, mlog, "matrix.invite_from = %s, %s: in effect now" % (ALICE, BOB))
check("matrix.admin_level = 50: in effect now" in text_of(mlog), "admin_level is applied")
check("Asia/Tokyo" in command(room, BOB, "!tz Asia/Tokyo"), "power 50 >= admin_level 50: Bob is an admin now")
r2 = control("/control/room", {"creator": BOB, "members": []})["room_id"]
control("/control/invite", {"room": r2, "sender": BOB, "target": BOT})
wait_for(lambda: "invited to %s by %s: joining" % (r2, BOB) in text_of(mlog), "Bob's invite accepted")

rc = harness.stop(bot, 20)
check(rc == 0, "Matrix: SIGTERM after SIGHUP, exit 0 (got %s)" % rc)
text = text_of(mlog)
check("bot-pass" not in text, "no password in the log")
harness.finish("\n".join(text_of(p)[-2500:] for p in logs))
