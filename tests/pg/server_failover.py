#!/usr/bin/env python3
"""The database server fails over under a bot: a primary with a synchronous
streaming replica, two throwaway clusters of Debian's PostgreSQL 15 started
here (tests/pg/cluster.sh start, the replica's with pg_basebackup -R), as
docs/scale.md describes
for a highly available setup.  The bot's target lists both servers with
target_session_attrs=read-write, so libpq connects to whichever is the
primary.

During a burst of votes on Telegram (the fake Bot API) the primary dies
(cluster.sh crash: an immediate shutdown, no checkpoint, every session
cut), and the replica is promoted a moment later (cluster.sh promote), as an
operator or a failover manager would.  The bot loses its connection, retries
with backoff while nothing is confirmed to Telegram, finds the new primary,
takes the leadership there (the advisory lock does not survive a failover),
and goes on: every vote answered exactly once and stored on the new
primary, no exit.  The times from the crash and from the promotion to the
first answer after are printed (docs/scale.md reports them).

Usage: server_failover.py ENSEMBLE   (prints "N passed, N failed")"""
import atexit, os, signal, subprocess, sys, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # tests/: harness.py, dbtarget.py
import dbtarget, harness, tggroup
from harness import check

binary = sys.argv[1]
TOKEN = "123456:FAILOVER-token"
GROUP = -1001000000888
tmp = harness.tempdir("ensemble-srvfail-")
primary, replica = os.path.join(tmp, "primary"), os.path.join(tmp, "replica")


def cluster(*args):
    """tests/pg/cluster.sh with args; what it prints."""
    return subprocess.run(["bash", os.path.join(here, "cluster.sh")] + list(args), check=True, capture_output=True,
                          text=True).stdout.strip()


def stop_all():
    for d in (primary, replica):
        subprocess.run(["bash", os.path.join(here, "cluster.sh"), "stop", d], capture_output=True)


atexit.register(stop_all)
p_target = cluster("start", primary)
# The replica: a base backup of the primary, streaming from it.
r_target = cluster("start", replica, primary)
# Synchronous: a commit the bot confirms to Telegram is on both servers.
dbtarget.psql(p_target, "ALTER SYSTEM SET synchronous_standby_names = '*'")
dbtarget.psql(p_target, "SELECT pg_reload_conf()")
check(harness.wait_for(lambda: dbtarget.psql(p_target, "SELECT sync_state FROM pg_stat_replication").strip() == "sync",
                       "the replica in sync", 20), "a primary with a synchronous streaming replica")

target = "host=%s,%s user=ensemble dbname=ensemble target_session_attrs=read-write" % (primary, replica)
group = tggroup.Group(TOKEN, GROUP)
API = group.api
bot, log = tggroup.start_bot(binary, tmp, "[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n"
                                             "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\nchat_interval_ms = 20\ngroup_per_minute = 1000\n"
                                             % (target, TOKEN, API))

say, calls, answers = group.say, group.calls, group.answers


say(1, "Ann", "/meetup Picnic; 2026-12-24 12:00; 2026-12-26 12:00")
check(harness.wait_for(lambda: any(m == "sendPoll" for m, _ in calls()), "the proposal's poll", 30),
      "the bot answers at first, on the primary")
sent = []
for user in range(2, 8):
    sent.append(say(user, "User%d" % user, "/vote 1 1"))
check(harness.wait_for(lambda: all(answers().get(m) for m in sent), "the first votes' answers", 30),
      "the first votes are answered")

# The primary crashes during a burst; the replica is promoted 1 s later.
for user in range(2, 8):
    sent.append(say(user, "User%d" % user, "/vote 1 2"))
t_crash = time.monotonic()
cluster("crash", primary)
for user in range(8, 12):
    sent.append(say(user, "User%d" % user, "/vote 1 1"))
time.sleep(1)
t_promote = time.monotonic()
cluster("promote", replica)
after = say(12, "Zoe", "/vote 1 2")
sent.append(after)
check(harness.wait_for(lambda: answers().get(after), "the answer after the failover", 60),
      "the bot answers on the promoted replica")
t_back = time.monotonic()
print("server failover: the first answer %.2f s after the crash, %.2f s after the promotion"
      % (t_back - t_crash, t_back - t_promote))
check(harness.wait_for(lambda: all(answers().get(m) for m in sent), "every vote's answer", 30),
      "every vote is answered")
time.sleep(2)
tggroup.check_each_once(answers(), sent)
votes = dbtarget.query(r_target, "SELECT count(*) FROM votes")
check(votes == [["11"]], "the eleven voters' votes stored on the new primary (%s)" % votes)
polls = sum(1 for m, _ in calls() if m == "sendPoll")
check(polls == 1, "the proposal's poll sent once (%d)" % polls)
check(bot.poll() is None, "the bot is still running")
text = open(log).read()
check("lost the connection to PostgreSQL" in text and "connected again to PostgreSQL" in text,
      "the lost and the new connections are logged")
check("Sanitizer" not in text, "no sanitizer report")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=20) == 0, "the bot stops cleanly")
group.kill()
harness.finish(text[-4000:])
