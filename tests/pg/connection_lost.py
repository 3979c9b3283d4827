#!/usr/bin/env python3
"""A bot on PostgreSQL whose connections the server ends, again and again,
while people write to it: the real binary, one instance, against the fake
Bot API, on a database of its own (tests/dbtarget.py, ENSEMBLE_TEST_PG).

Every one of the bot's sessions (the one that writes and holds the
leadership, and the one that records deliveries) is ended with
pg_terminate_backend five times during a burst of votes.  The bot must
connect again (with backoff), take the leadership again (no other instance
holds it), and go on: every command answered exactly once (a batch whose
transaction died with its session is rolled back and its updates, not yet
confirmed to Telegram, are read again), every vote stored, no exit, no
crash, the reconnections logged.

Usage: connection_lost.py ENSEMBLE   (prints "N passed, N failed")"""
import os, re, signal, sys, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # tests/: harness.py, dbtarget.py
import dbtarget, harness, tggroup
from harness import check

binary = sys.argv[1]
if not dbtarget.PG:
    print("set ENSEMBLE_TEST_PG to a cluster's target (ctest runs this with the fixture pg)")
    sys.exit(1)
TOKEN = "123456:LOSTCONN-token"
GROUP = -1001000000777
tmp = harness.tempdir("ensemble-conn-")
db = dbtarget.fresh(tmp, "conn")
dbname = re.search(r"dbname=(\S+)", db).group(1)
group = tggroup.Group(TOKEN, GROUP)
API = group.api
bot, log = tggroup.start_bot(binary, tmp, "[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n"
                                             "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\nchat_interval_ms = 20\ngroup_per_minute = 1000\n" % (db, TOKEN, API))

say, calls, answers = group.say, group.calls, group.answers

def end_sessions():
    """Ends every session of the bot on its database; how many."""
    out = dbtarget.psql(dbtarget.PG, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE datname = '%s' AND pid <> pg_backend_pid()" % dbname)
    return int(out.strip() or 0)

say(1, "Ann", "/meetup Picnic; 2026-12-24 12:00; 2026-12-26 12:00")
check(harness.wait_for(lambda: any(m == "sendPoll" for m, _ in calls()), "the proposal's poll", 20),
      "the bot answers at first")

ended = 0
sent = []
for round_ in range(12):  # until five sessions were ended
    for user in range(2, 8):
        sent.append(say(user, "User%d" % user, "/vote 1 %d" % (1 + (user + round_) % 2)))
    time.sleep(0.05)
    ended += end_sessions()
    time.sleep(0.3)
    if ended >= 5:
        break
check(ended >= 5, "the server ended the bot's sessions (%d ended)" % ended)
last = say(9, "Zoe", "/vote 1 1")
sent.append(last)
check(harness.wait_for(lambda: all(answers().get(m) for m in sent), "every command's answer", 40),
      "every command is answered after the sessions ended")
time.sleep(2)
tggroup.check_each_once(answers(), sent)
polls = sum(1 for m, _ in calls() if m == "sendPoll")
check(polls == 1, "the proposal's poll sent once (%d)" % polls)
votes = dbtarget.query(db, "SELECT count(*) FROM votes")
check(votes == [["7"]], "the seven voters' votes stored (%s)" % votes)
check(bot.poll() is None, "the bot is still running")
text = open(log).read()
check("lost the connection to PostgreSQL" in text and "connected again to PostgreSQL" in text,
      "the lost and the new connections are logged")
check("Sanitizer" not in text, "no sanitizer report")
check(db not in text and "user=ensemble" not in text,
      "the log names the database, never its target string (which may hold a password)")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=20) == 0, "the bot stops cleanly")
group.kill()
harness.finish(text[-4000:])
