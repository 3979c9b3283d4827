#!/usr/bin/env python3
"""A bot on PostgreSQL whose server is slow to answer: the loop must not
wait for it.  The real binary, one instance, against the fake Bot API, on a
database of its own (tests/dbtarget.py, ENSEMBLE_TEST_PG).

Another session holds a lock on the table every batch writes (kv, where
the getUpdates offset is stored) for a few seconds, and someone votes on a
meetup's native poll and writes to the bot meanwhile (the vote names only
the poll, which the adapter remembers: no read of kv on the loop).  The batch that handles the message runs on a thread of
the loop's pool (bot/bot.c, storage/db_async.c), so while its statement
waits for the lock the loop goes on: the HTTP listener answers /healthz at
once, and the replies of the commands handled before the lock keep
leaving, one after another at the chat's pace.  The new command's reply
leaves only once its transaction has committed, after the lock is gone, and
exactly once.  Were the batch run on the loop's thread, /healthz would not
answer until the lock was released (checked: it then fails).  A calendar
feed asked for during the lock waits for the database without holding the
loop (its route is served only when no thread holds the database), and is
served once the lock is gone; so is one whose own reads wait for a lock,
made on a thread while the loop goes on; and so is a vote sent from the
web page while the table of votes is locked.  The page's refusals (a
broken form, an unknown link, a body too long, no form, a closed poll)
are the same on this engine as on SQLite.  After a restart, a vote on a
poll the new run does not remember has its poll read on a thread while
kv is locked, the loop answering meanwhile.

Usage: slow_server.py ENSEMBLE   (prints "N passed, N failed")"""
import os, re, sys, threading, time, urllib.error, urllib.request
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # tests/: harness.py, dbtarget.py
import dbtarget, harness, slowlock, tggroup
from harness import check, free_port, post_json

binary = sys.argv[1]
if not dbtarget.PG:
    print("set ENSEMBLE_TEST_PG to a cluster's target (ctest runs this with the fixture pg)")
    sys.exit(1)
TOKEN = "123456:SLOWSERVER-token"
GROUP = -1001000000778
LOCK_S = 4
tmp = harness.tempdir("ensemble-slow-")
db = dbtarget.fresh(tmp, "slow")
http_port = free_port()
group = tggroup.Group(TOKEN, GROUP)
API = group.api
# One message every 400 ms in the group: the replies to a burst leave
# over a few seconds, during the lock.
bot, log = tggroup.start_bot(binary, tmp, "[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n"
                                             "[http]\nlisten = 127.0.0.1:%d\n[web]\npublic_url = http://127.0.0.1:%d\n"
                                             "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\nchat_interval_ms = 400\n"
                                             "group_per_minute = 1000\n" % (db, http_port, http_port, TOKEN, API))

say, calls, replies_to = group.say, group.calls, group.replies_to

def sent_count():
    return sum(1 for m, _ in calls() if m == "sendMessage")

def healthz():
    return slowlock.healthz(http_port)

first = say(1, "Ann", "/help")
check(harness.wait_for(lambda: replies_to(first), "the answer to /help", 20), "the bot answers at first")
# A meetup whose native poll is voted on during the lock: the vote names
# only the poll, which the adapter remembers (no read on the loop).
say(1, "Ann", "/meetup Picnic; 2026-12-24 12:00; 2026-12-26 12:00")
check(harness.wait_for(lambda: any(m == "sendPoll" for m, _ in calls()), "the poll", 20), "the meetup's poll is sent")
POLL_ID = "5000000000000000"  # the fake's first poll
check(harness.wait_for(lambda: healthz() is not None, "/healthz", 10), "/healthz answers")
ask = say(1, "Ann", "/agenda")
feed = harness.wait_for(lambda: [u for b in replies_to(ask) for u in re.findall(r"http://[^\s\"<]+\.ics", b["text"])],
                        "the calendar's link", 20)
check(feed, "/agenda gives the calendar's link")
agenda = [u for b in replies_to(ask) for u in re.findall(r"http://[^\s\"<]+/agenda/[A-Za-z0-9_-]+", b["text"])]
check(agenda, "/agenda gives the chat's page")

def fetch(url, out, form=None, ctype="application/x-www-form-urlencoded"):
    """GETs url (POSTs form, a text of type ctype, when given) into out:
    its status (a refusal's too), type, body and the seconds it took."""
    t = time.monotonic()
    req = urllib.request.Request(url, data=form.encode() if form else None,
                                 headers={"Content-Type": ctype} if form else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            out.update(status=r.status, type=r.headers.get("Content-Type", ""), body=r.read().decode())
    except urllib.error.HTTPError as e:
        out.update(status=e.code, type=e.headers.get("Content-Type", ""), body=e.read().decode())
    except Exception as e:
        out.update(status=None, error=str(e))
    out["took"] = time.monotonic() - t

# A burst whose replies leave one every 400 ms: several are still to leave
# seconds after the lock is taken.
burst = [say(10 + i, "User%d" % i, "/help") for i in range(12)]
check(harness.wait_for(lambda: replies_to(burst[0]), "the burst's first reply", 20), "the burst is handled")

holder = slowlock.lock(db, "kv", LOCK_S)
t_lock = time.monotonic()
post_json(API + "/control/update", {"poll_answer": {"poll_id": POLL_ID, "option_ids": [0],
                                                    "user": {"id": 3, "is_bot": False, "first_name": "Cleo"}}})
slow = say(2, "Bob", "/help")
time.sleep(0.5)  # its batch is waiting for the lock on the thread
page = {}
reader = threading.Thread(target=fetch, args=(feed[0] if feed else "http://127.0.0.1:%d/cal/x.ics" % http_port, page))
reader.start()

# While the lock is held: the loop answers and keeps sending, a calendar's
# request waiting meanwhile.
slowlock.watch(t_lock, LOCK_S, healthz, sent_count)
check("status" not in page, "the calendar waits for the database, not the loop: %r" % page)
check(not replies_to(slow), "the reply to the command in the blocked batch waits for its commit")
holder.join()
check(harness.wait_for(lambda: replies_to(slow), "the blocked command's answer", 20),
      "the command is answered once the lock is gone")
reader.join(30)
check(page.get("status") == 200 and page.get("type", "").startswith("text/calendar")
      and "BEGIN:VCALENDAR" in page.get("body", ""), "the calendar is served once the lock is gone: %r"
      % {k: v for k, v in page.items() if k != "body"})
time.sleep(1)
check(len(replies_to(slow)) == 1, "it is answered exactly once (%d)" % len(replies_to(slow)))
check(all(len(replies_to(m)) == 1 for m in burst), "each command of the burst is answered exactly once")
check(dbtarget.query(db, "SELECT count(*) FROM votes") == [["1"]], "the vote on the poll, given during the lock, is stored")
check(bot.poll() is None, "the bot is still running")

# A calendar whose own reads wait for a lock (on the table of meetups,
# which every feed reads) is made on a thread: the loop answers meanwhile,
# and the calendar comes once the lock is gone.  (Made on the loop's
# thread, it held /healthz until the lock's end: checked, it then fails.)
def during_lock(table, url, what, form=None):
    """Asks url (fetch) while another session locks table for LOCK_S
    seconds: /healthz answers at once meanwhile, and the request waits for
    the lock.  Its answer, once the lock is gone."""
    holder = slowlock.lock(db, table, LOCK_S)
    t_lock, out = time.monotonic(), {}
    reader = threading.Thread(target=fetch, args=(url, out, form))
    reader.start()
    slowlock.check_healthy(slowlock.healthy_while(t_lock, LOCK_S, http_port), what)
    check("status" not in out, "it waits for the lock while %s: %r" % (what, out))
    holder.join()
    reader.join(30)
    return out

cal = during_lock("meetups", feed[0] if feed else "http://127.0.0.1:%d/cal/x.ics" % http_port,
                  "a calendar's reads wait for a lock")
check(cal.get("status") == 200 and "BEGIN:VCALENDAR" in cal.get("body", "") and cal.get("took", 0) >= LOCK_S - 1,
      "the calendar is served once the lock is gone: %r" % {k: v for k, v in cal.items() if k != "body"})
# The chat's page, made on a thread too.
html = {}
fetch(agenda[0] if agenda else "http://127.0.0.1:%d/agenda/x" % http_port, html)
check(html.get("status") == 200 and html.get("type", "").startswith("text/html") and "Picnic" in html.get("body", ""),
      "the chat's page is served, with its meetup: %r" % {k: v for k, v in html.items() if k != "body"})

# A vote sent from the web page while the table of votes is locked: its
# reads, the vote (a batch of the core) and the page after it are made on
# threads, the answer promised: the loop answers meanwhile, and the page
# comes, saying that the vote is saved, once the lock is gone.  (Run on the
# loop's thread, it held /healthz until the lock's end: checked, it then
# fails.)
ask = say(5, "Eve", "/vote web")
vote = harness.wait_for(lambda: [u for m, b in calls() if m == "sendMessage"
                                 for u in re.findall(r"http://[^\s\"<]+/vote/[A-Za-z0-9_-]{22}", b.get("text", ""))],
                        "the link to vote on the page", 20)
check(vote, "/vote web sends a link to vote on the page")
token = vote[0].rsplit("/", 1)[1] if vote else "x"
voted = during_lock("votes", vote[0] if vote else "http://127.0.0.1:%d/vote/x" % http_port,
                    "a vote from the page waits for a lock", "t=%s&p=1&d1=y&d2=n" % token)
check(voted.get("status") == 200 and "Your vote is saved" in voted.get("body", "") and voted.get("took", 0) >= LOCK_S - 1,
      "the vote is saved once the lock is gone, and the page says so: %r"
      % {k: v for k, v in voted.items() if k != "body"})
check(dbtarget.query(db, "SELECT v.answers FROM votes v JOIN users u ON u.id = v.user_id WHERE u.name = 'Eve'")
      == [["yn"]], "Eve's vote from the page is stored")

# The page's refusals on this engine too (web/pages covers them on
# SQLite, where the same function runs in place): a broken form, an
# unknown link, a body too long, a POST that is no form; then, the poll
# closed, a vote that comes too late is not recorded and the page says so.
vote_url = vote[0] if vote else "http://127.0.0.1:%d/vote/x" % http_port

def post(body, ctype="application/x-www-form-urlencoded"):
    out = {}
    fetch(vote_url, out, body, ctype)
    return out.get("status"), out.get("body", "")

for body, want in (("t=%s&p=1&d1=%%FF" % token, 400), ("t=%s&p=1&d99=y" % token, 400), ("p=1&d1=y", 400),
                   ("t=%s&p=1&d1=y" % ("A" * 22), 404), ("t=%s&p=1&d1=y&x=%s" % (token, "a" * 5000), 413)):
    got = post(body)[0]
    check(got == want, "POST %s...: %s, not %d" % (body[:40], got, want))
check(post("t=%s&p=1&d1=y" % token, "text/plain")[0] == 415, "a POST that is no form: 415")
say(1, "Ann", "/meetup close 1")
check(harness.wait_for(lambda: any(m == "stopPoll" for m, _ in calls()), "the poll's closing", 20),
      "Ann closes the poll")
late = post("t=%s&p=1&d1=n&d2=y" % token)
check(late[0] == 200 and "This poll is closed: your vote was not recorded." in late[1],
      "a vote after the poll closed is refused by the page: %r" % (late[0], ))
check(dbtarget.query(db, "SELECT v.answers FROM votes v JOIN users u ON u.id = v.user_id WHERE u.name = 'Eve'")
      == [["yn"]], "Eve's vote stays as it was")

def sends_settled():
    """Whether nothing more left for a while: the closing's messages, at
    the chat's pace, are all out before the stop below."""
    n = sent_count()
    time.sleep(1.5)
    return sent_count() == n

harness.wait_for(sends_settled, "the closing's messages to leave", 30)

# A second poll, voted on after a restart (below).
say(1, "Ann", "/meetup Dinner; 2026-12-27 19:00; 2026-12-28 19:00")
check(harness.wait_for(lambda: sum(1 for m, _ in calls() if m == "sendPoll") == 2, "the second poll", 20),
      "the second meetup's poll is sent")
DINNER_POLL = str(5000000000000000 + 1)  # the fake's second poll
harness.wait_for(sends_settled, "the new meetup's messages to leave", 30)

# A stop asked while a batch waits on its thread: the batch ends first, on
# its thread, once; the bot then stops cleanly and the reply still leaves.
holder = slowlock.lock(db, "kv", LOCK_S)
last = say(4, "Dan", "/help")
time.sleep(1.5)  # taken, its batch waiting for the lock on the thread
rc = harness.stop(bot)
holder.join()
check(rc == 0, "a stop during a blocked batch ends cleanly once the batch has committed (exit %s)" % rc)
check(len(replies_to(last)) == 1, "the blocked command's reply leaves exactly once (%d)" % len(replies_to(last)))
text = open(log).read()
check("Sanitizer" not in text, "no sanitizer report")

# A vote on a poll the new run does not remember (sent before the
# restart): its poll is read on a thread before the batch is made, so
# while kv is locked the loop answers; the vote is stored once the lock is
# gone.  (Read on the loop's thread, as before, /healthz did not answer
# during the lock: checked, it then fails.)
bot, log = tggroup.start_bot(binary, tmp, open(os.path.join(tmp, "ensemble.conf")).read())
check(harness.wait_for(lambda: healthz() is not None, "/healthz after the restart", 20), "the bot starts again")
hello = say(6, "Fay", "/help")
check(harness.wait_for(lambda: replies_to(hello), "the restarted bot's answer", 20), "the restarted bot answers")
holder = slowlock.lock(db, "kv", LOCK_S)
t_lock = time.monotonic()
post_json(API + "/control/update", {"poll_answer": {"poll_id": DINNER_POLL, "option_ids": [1],
                                                    "user": {"id": 6, "is_bot": False, "first_name": "Fay"}}})
slowlock.check_healthy(slowlock.healthy_while(t_lock, LOCK_S, http_port),
                       "a vote's poll, not remembered since the restart, waits for a lock")
holder.join()
fay = "SELECT v.answers FROM votes v JOIN users u ON u.id = v.user_id JOIN meetups m ON m.id = v.meetup_id " \
      "WHERE u.name = 'Fay' AND m.title = 'Dinner'"
check(harness.wait_for(lambda: dbtarget.query(db, fay) == [["ny"]], "Fay's vote", 20),
      "the vote on the poll sent before the restart is stored once the lock is gone: %r" % dbtarget.query(db, fay))
rc = harness.stop(bot)
check(rc == 0, "the restarted bot stops cleanly (exit %s)" % rc)
text += open(log).read()
check("Sanitizer" not in text, "no sanitizer report after the restart")
harness.finish(text[-4000:])
