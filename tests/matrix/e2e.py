#!/usr/bin/env python3
"""End to end on Matrix: the real binary, configured with a homeserver, a
user and a password, against the fake homeserver (fake_homeserver.py) on
loopback.  The scenario of the Matrix issue: the backlog of the first start
is skipped; an invite is accepted and the room greeted; !meetup with three
slots becomes an MSC3381 poll; users answer it (one changes their answer,
one withdraws, one spoils, one answers in the stable form), partly across a
sync gap that the bot recounts from /relations; the meetup is closed (poll
end, announcement with reactions); RSVP by reaction and its redaction; a
token that expires mid-run; a 429 storm; the bot killed and restarted
without a duplicate message; the reminder, once.  Prints "N passed, N
failed".

Usage: e2e.py ENSEMBLE"""
import datetime, json, os, re, signal, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # harness.py
import dbtarget, harness
from harness import check, free_port, post_json, start_fake, wait_for

binary = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
tmp = harness.tempdir("ensemble-mx-")
DB = dbtarget.fresh(tmp, "m.db")
BOT = "@ensemble:test.local"
ALICE, BOB, CHLOE, DAN, ERIN = ("@%s:test.local" % n for n in ("alice", "bob", "chloe", "dan", "erin"))

port = free_port()
fake = start_fake([sys.executable, os.path.join(here, "fake_homeserver.py"), str(port)])
base = "http://127.0.0.1:%d" % port

def control(path, payload=None):
    return post_json(base + path, payload, timeout=10)

def events(room):
    return control("/control/events", {"room": room})["events"]

def bot_events(room, etype=None):
    return [e for e in events(room) if e["sender"] == BOT and (etype is None or e["type"] == etype)]

def messages(room):
    """The bot's messages in room (m.notice, or m.text when they mention people), edits aside."""
    return [e for e in bot_events(room, "m.room.message") if e["content"].get("msgtype") in ("m.notice", "m.text")
            and e["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"]

def edits(room, target):
    return [e for e in bot_events(room, "m.room.message")
            if e["content"].get("m.relates_to") == {"rel_type": "m.replace", "event_id": target}]

def say(room, sender, body, extra=None):
    content = {"msgtype": "m.text", "body": body}
    content.update(extra or {})
    return control("/control/send", {"room": room, "sender": sender, "type": "m.room.message",
                                     "content": content})["event_id"]

def answer(room, sender, start, answers, stable=False):
    if stable:
        content = {"m.relates_to": {"rel_type": "m.reference", "event_id": start}, "m.selections": answers}
        etype = "m.poll.response"
    else:
        content = {"m.relates_to": {"rel_type": "m.reference", "event_id": start},
                   "org.matrix.msc3381.poll.response": {"answers": answers}}
        etype = "org.matrix.msc3381.poll.response"
    return control("/control/send", {"room": room, "sender": sender, "type": etype, "content": content})["event_id"]

def replies_to(room, event_id):
    return [e for e in messages(room)
            if e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id]

conf = os.path.join(tmp, "ensemble.conf")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n"
            "[matrix]\nhomeserver = %s/\nuser = %s\npassword = bot-pass\nsync_timeout = 2\nroom_interval_ms = 0\n"
            "invite_from = @alice:test.local, :friends.example\n"
            % (DB, base, BOT))
os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")
# The bot's clock runs from 17:59:20 on 1 December, Paris time: the
# reminder of a 19:00 meetup (one hour before) falls due 40 s in.
VSTART = datetime.datetime(2026, 12, 1, 17, 59, 20)
real_start = time.time()
def start_bot():
    now = VSTART + datetime.timedelta(seconds=int(time.time() - real_start))
    return subprocess.Popen([binary, "--config", conf, "--clock=real", "--now", now.strftime("%Y-%m-%dT%H:%M:%S"), "-v"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)

# A room the bot is already in, with a command from before its first start.
old = control("/control/room", {"creator": ALICE, "members": [BOT]})["room_id"]
old_cmd = say(old, ALICE, "!help")
# The community's room: Alice is its admin (power 100).
room = control("/control/room", {"creator": ALICE, "members": [BOB, CHLOE, DAN, ERIN]})["room_id"]

bot = start_bot()
wait_for(lambda: any(r[1].endswith("/sync") for r in control("/control/requests")["requests"]), "the first sync")
reqs = control("/control/requests")["requests"]
filt = control("/control/filters")["filters"]
check(filt and "m.reaction" in filt[0]["room"]["timeline"]["types"] and filt[0]["presence"]["types"] == [],
      "a filter limits the timeline's types and drops presence")
time.sleep(1)
check(not messages(old), "the backlog of the first start is not answered")

# Invite -> join -> greeting.  What was said before the bot came (its join
# sync carries the room's recent history) is not a command to it.
before = say(room, ALICE, "!about")
control("/control/invite", {"room": room, "sender": ALICE, "target": BOT})
greet = wait_for(lambda: messages(room), "the greeting after the invite")
if greet:
    g = greet[0]["content"]
    check("Ensemble" in g["body"] and "!help" in g["body"], "the greeting is /start's text, with '!' commands")
    check(g.get("format") == "org.matrix.custom.html" and "<b>Ensemble</b>" in g.get("formatted_body", ""),
          "HTML formatting")
    check("m.mentions" in g, "m.mentions always present")
    check(g["msgtype"] == "m.notice", "a message that mentions nobody is an m.notice")
time.sleep(0.5)
check(not replies_to(room, before), "a command from before the bot joined is not answered")

# A plain conversation and a notice are not answered; a mention is.
n = len(messages(room))
say(room, BOB, "hello everyone")
control("/control/send", {"room": room, "sender": DAN, "type": "m.room.message",
                          "content": {"msgtype": "m.notice", "body": "!help"}})
mention = say(room, BOB, "Ensemble: help", {"m.mentions": {"user_ids": [BOT]}})
wait_for(lambda: replies_to(room, mention), "the answer to a mention")
time.sleep(0.5)
check(len(messages(room)) == n + 1, "conversation and m.notice ignored, the mention answered")

# A command with user text that needs escaping, from a member: refused.
n = len(messages(room))
refused = say(room, BOB, "!tz Asia/Tokyo")
r = wait_for(lambda: replies_to(room, refused), "the refusal of a member's admin command")
check(r and "Only the chat's admins" in r[0]["content"]["body"], "power level < 50: not an admin")
allowed = say(room, ALICE, "!tz Europe/Brussels")
r = wait_for(lambda: replies_to(room, allowed), "the admin's change")
check(r and "Europe/Brussels" in r[0]["content"]["body"], "power level 100: admin")

# The meetup: details, then an MSC3381 poll with three answers.
cmd = say(room, ALICE, "!meetup Apéro <b>& co</b>; 2026-12-01 19:00; 2026-12-02 19:00; 2026-12-03 19:00; place: Café")
polls = wait_for(lambda: bot_events(room, "org.matrix.msc3381.poll.start"), "the poll start")
details = [e for e in messages(room) if "Apéro" in e["content"]["body"]]
check(details and "Apéro &lt;b&gt;&amp; co&lt;/b&gt;" in details[0]["content"]["formatted_body"],
      "user text escaped in formatted_body")
start = None
if polls:
    p = polls[0]["content"]["org.matrix.msc3381.poll.start"]
    start = polls[0]["event_id"]
    check(p["kind"] == "org.matrix.msc3381.poll.disclosed" and p["max_selections"] == 3 and len(p["answers"]) == 3,
          "a disclosed poll, one answer per slot, max_selections = 3")
    check("org.matrix.msc1767.text" in polls[0]["content"] and "Apéro" in p["question"]["body"],
          "the question and a text fallback")
    ids = [a["id"] for a in p["answers"]]
    # Bob: slots 1 and 2.  Chloé: 2, then changes to 1.  Dan: 2 and 3, then
    # withdraws.  Erin: an unknown answer spoils her vote.  Bob's first
    # answer and Chloé's first come in a gap the bot recounts.
    control("/control/gap", {"room": room})
    answer(room, BOB, start, [ids[0], ids[1]])
    answer(room, CHLOE, start, [ids[1]])
    time.sleep(1.0)
    answer(room, CHLOE, start, [ids[0]], stable=True)
    answer(room, DAN, start, [ids[1], ids[2]])
    answer(room, DAN, start, [])
    answer(room, ERIN, start, [ids[2], "nonsense"])
    time.sleep(1.5)
    reqs = control("/control/requests")["requests"]
    check(any("/relations/" in r[1] for r in reqs), "a limited timeline makes the bot read /relations")

# The tally's "not voted yet" names members, never the bot itself.
tally = say(room, ALICE, "!poll 1")
r = wait_for(lambda: replies_to(room, tally), "the tally")
check(r and "nsemble" not in r[0]["content"]["body"] and "Alice" in r[0]["content"]["body"],
      "the bot is not one of the members who have not voted")

# The token expires: the bot logs in again with the same device.
logins_before = [r for r in control("/control/requests")["requests"]]
control("/control/expire", {"user": BOT})
ping = say(room, BOB, "!about")
wait_for(lambda: replies_to(room, ping), "an answer after the token expired", 20)

# Close: poll end, then the announcement of slot 1 (Bob and Chloé).
close = say(room, ALICE, "!meetup close 1")
end = wait_for(lambda: bot_events(room, "org.matrix.msc3381.poll.end"), "the poll end")
if end:
    check(end[0]["content"]["m.relates_to"] == {"rel_type": "m.reference", "event_id": start},
          "the end refers to the start")
    check("Date chosen: Tuesday 1 December, 7:00 PM" in end[0]["content"].get("org.matrix.msc1767.text", "")
          and "(2 yes)" in end[0]["content"]["org.matrix.msc1767.text"],
          "the end's text says the date chosen and its yes: %s" % end[0]["content"])
ann = wait_for(lambda: [e for e in messages(room) if "Tuesday 1 December, 7:00 PM" in e["content"]["body"]
                        and "will take place" in e["content"]["body"]],
               "the announcement of slot 1")
check(ann and "Coming (2): Bob, Chloe" in ann[-1]["content"]["body"],
      "slot 1 wins: Bob's answer from the gap and Chloé's changed one count, Dan's and Erin's do not")
conf_ev = None
if ann:
    conf_ev = ann[-1]["event_id"]
    rxs = lambda: [e for e in bot_events(room, "m.reaction") if e["content"]["m.relates_to"]["event_id"] == conf_ev]
    wait_for(lambda: len(rxs()) >= 3, "the bot's reactions")
    rx = rxs()
    check(rx and sorted(e["content"]["m.relates_to"]["key"] for e in rx) == sorted(["✅", "❔", "❌"]),
          "the three RSVP reactions under the announcement")

# Replies name commands in the room's language, with Matrix's '!'.
fr = say(room, ALICE, "!langue fr")
wait_for(lambda: replies_to(room, fr), "the change of language")
again = say(room, ALICE, "!rencontre clore 1")
r = wait_for(lambda: replies_to(room, again), "the reply to closing a confirmed meetup")
check(r and "#1 est déjà confirmée" in r[0]["content"]["body"]
      and "Pour la changer : !rencontre déplacer 1 QUAND" in r[0]["content"]["body"],
      "a French reply names the French command with '!': %s" % (r and r[0]["content"]["body"]))
en = say(room, ALICE, "!lang en")
wait_for(lambda: replies_to(room, en), "the change of language back")

# RSVP by reaction: the announcement's edit is the answer, no notice; a
# reaction taken back leaves the person's other reaction standing, or no
# answer at all (not a "no").
def react(room_id, sender, target, key):
    return control("/control/send", {"room": room_id, "sender": sender, "type": "m.reaction", "content": {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}}})["event_id"]
def unreact(room_id, sender, reaction):
    control("/control/send", {"room": room_id, "sender": sender, "type": "m.room.redaction",
                              "content": {"redacts": reaction}})
def shown(target):
    ed = edits(room, target)
    return ed[-1]["content"]["m.new_content"]["body"] if ed else ""
def settle(target, count, what):
    """Waits for the target's count-th edit, then a moment for any other."""
    wait_for(lambda: len(edits(room, target)) >= count, what)
    time.sleep(0.8)
    return len(edits(room, target))
# The room has a name: a private reminder says it.
control("/control/send", {"room": room, "sender": ALICE, "type": "m.room.name", "state_key": "",
                          "content": {"name": "Book lovers"}})
if conf_ev:
    n, ne = len(messages(room)), len(edits(room, conf_ev))
    d1 = react(room, DAN, conf_ev, "✅")
    ne1 = settle(conf_ev, ne + 1, "the announcement edited after Dan's ✅")
    ed = edits(room, conf_ev)
    check(ne1 == ne + 1 and "Dan" in shown(conf_ev) and ed[-1]["content"]["m.new_content"]["body"].startswith("✅")
          and ed[-1]["content"]["body"].startswith("* "), "a ✅ reaction is a yes: one m.replace edit, with a fallback")
    check(len(messages(room)) == n, "a reaction posts no notice")
    d2 = react(room, DAN, conf_ev, "❔")
    ne2 = settle(conf_ev, ne1 + 1, "the edit after Dan's ❔")
    check(ne2 == ne1 + 1 and "Maybe: Dan" in shown(conf_ev), "the latest reaction counts: maybe")
    unreact(room, DAN, d2)
    ne3 = settle(conf_ev, ne2 + 1, "the edit after Dan takes ❔ back")
    check(ne3 == ne2 + 1 and "Maybe" not in shown(conf_ev) and "Coming (3): Bob, Chloe, Dan" in shown(conf_ev),
          "taking ❔ back leaves the ✅ that stands: yes again (%r)" % shown(conf_ev))
    unreact(room, DAN, d1)
    ne4 = settle(conf_ev, ne3 + 1, "the edit after Dan takes ✅ back")
    check(ne4 == ne3 + 1 and "Dan" not in shown(conf_ev), "no reaction left: no answer, not a no (%r)" % shown(conf_ev))
    # Bob is already counted in (he voted for the date): his ✅ changes
    # nothing and edits nothing; taking it back leaves him with no answer,
    # never a "no".
    b1 = react(room, BOB, conf_ev, "✅")
    time.sleep(1.5)
    check(len(edits(room, conf_ev)) == ne4, "a redundant ✅ edits nothing")
    unreact(room, BOB, b1)
    ne5 = settle(conf_ev, ne4 + 1, "the edit after Bob takes his ✅ back")
    check("Not coming" not in shown(conf_ev), "a redundant ✅ taken back is not a no (%r)" % shown(conf_ev))
    check(len(messages(room)) == n, "reactions and their redactions post no notice")
    # Bob comes after all, and wants his reminders privately.
    bob_yes = say(room, BOB, "!rsvp 1 yes")
    wait_for(lambda: replies_to(room, bob_yes), "Bob's !rsvp")
    ne6 = settle(conf_ev, ne5 + 1, "the edit after a !rsvp")
    check(ne6 == ne5 + 1 and "Bob" in shown(conf_ev), "!rsvp edits the announcement, once")
    bob_dm = say(room, BOB, "!remind me")
    wait_for(lambda: replies_to(room, bob_dm), "Bob's !remind me")
    chl = say(room, CHLOE, "!rsvp 1 yes")
    wait_for(lambda: replies_to(room, chl), "Chloé's !rsvp")
    time.sleep(0.8)
    check(len(edits(room, conf_ev)) == ne6, "a !rsvp that changes nothing edits nothing")

# A meetup fixed at once while the homeserver is slow to answer: its
# announcement is in the room, seen by all, 1.5 s before the bot learns its
# event id, and Dan answers with !rsvp meanwhile.  The edit waits for that
# answer and replaces the announcement, rather than being lost.
park = control("/control/room", {"creator": ALICE, "members": [BOT, DAN], "room_id": "!park:test.local"})["room_id"]
time.sleep(0.5)
control("/control/fail", {"path": r"park.*/send/m\.room\.message/", "method": "PUT", "mode": "slow",
                          "seconds": 1.5, "times": 2})
picnic = say(park, ALICE, "!meetup Picnic; 2026-12-20 12:00")
pa = wait_for(lambda: [e for e in messages(park) if "Picnic" in e["content"]["body"]
                       and "will take place" in e["content"]["body"]], "the picnic's announcement")
num = re.search(r"!rsvp (\d+)", pa[-1]["content"]["body"]) if pa else None
if pa and num:
    dan = say(park, DAN, "!rsvp %s yes" % num.group(1))
    pe = wait_for(lambda: edits(park, pa[-1]["event_id"]), "the picnic's announcement edited after Dan's !rsvp")
    check(pe and "Dan" in pe[-1]["content"]["m.new_content"]["body"],
          "an !rsvp typed before the homeserver answered the announcement's send edits it: %r"
          % (pe[-1]["content"]["m.new_content"]["body"] if pe else None))
else:
    check(False, "the picnic's announcement names its !rsvp: %r" % (pa[-1]["content"]["body"] if pa else None))

# A vote on a poll the bot sent a moment ago, while another room's reply
# is still out (its PUT hangs for 3 s): what the poll is waits to be stored
# with others until the queue empties, yet the next sync stores it before
# reading the vote, which counts.
busy = control("/control/room", {"creator": ALICE, "members": [BOT], "room_id": "!busyroom:test.local"})["room_id"]
time.sleep(0.5)
control("/control/fail", {"path": "busyroom.*/send/", "method": "PUT", "mode": "hang", "seconds": 3, "times": 1})
slow = say(busy, ALICE, "!about")
quiz = say(room, ALICE, "!meetup Quiz; 2026-12-05 19:00; 2026-12-06 19:00")
qpoll = wait_for(lambda: [e for e in bot_events(room, "org.matrix.msc3381.poll.start")
                          if "Quiz" in e["content"]["org.matrix.msc3381.poll.start"]["question"]["body"]],
                 "the second poll")
if qpoll:
    qids = [a["id"] for a in qpoll[0]["content"]["org.matrix.msc3381.poll.start"]["answers"]]
    answer(room, BOB, qpoll[0]["event_id"], [qids[1]])
    time.sleep(1.0)
    check(not replies_to(busy, slow), "the other room's reply is still out when the vote is read")
    t2 = say(room, ALICE, "!poll 2")
    r = wait_for(lambda: replies_to(room, t2), "the second poll's tally")
    check(r and "yes (1): Bob" in r[0]["content"]["body"], "a vote right after the poll was sent counts")
    # Fixing a date by hand while the poll runs ends the native poll.
    fix = say(room, ALICE, "!meetup confirm 2 2")
    qend = wait_for(lambda: [e for e in bot_events(room, "org.matrix.msc3381.poll.end")
                             if e["content"]["m.relates_to"]["event_id"] == qpoll[0]["event_id"]],
                    "the second poll's end after !meetup confirm")
    check(qend and "Date chosen: Sunday 6 December" in qend[0]["content"]["org.matrix.msc1767.text"]
          and "(1 yes)" in qend[0]["content"]["org.matrix.msc1767.text"],
          "!meetup confirm ends the native poll with the date fixed")
    # Cancelled: the announcement says so; a reaction under it gets a short
    # reply there.
    qann = wait_for(lambda: [e for e in messages(room) if "#2 · Quiz will take place" in e["content"]["body"]],
                    "the second announcement")
    if qann:
        qev = qann[-1]["event_id"]
        wait_for(lambda: len([e for e in bot_events(room, "m.reaction")
                              if e["content"]["m.relates_to"]["event_id"] == qev]) >= 3, "its reactions")
        cancel = say(room, ALICE, "!meetup cancel 2")
        wait_for(lambda: [e for e in messages(room) if "Quiz" in e["content"]["body"] and "cancelled" in e["content"]["body"]],
                 "the cancellation")
        ce = wait_for(lambda: [e for e in edits(room, qev) if "cancelled" in e["content"]["m.new_content"]["body"]],
                      "the announcement edited as cancelled")
        check(ce and "Coming?" not in ce[-1]["content"]["m.new_content"]["body"], "a cancelled announcement says so")
        react(room, ERIN, qev, "✅")
        r = wait_for(lambda: replies_to(room, qev), "the reply to a reaction under a cancelled meetup")
        check(r and "cancelled" in r[0]["content"]["body"] and "Quiz" in r[0]["content"]["body"],
              "a reaction under a cancelled meetup's announcement gets a short reply")
wait_for(lambda: replies_to(busy, slow), "the hung reply, sent again", 20)
check(len(replies_to(busy, slow)) == 1, "the hung reply is posted once")

# A 429 storm: the next five sends are refused with retry_after_ms.
control("/control/fail", {"path": "/send/", "method": "PUT", "status": 429, "errcode": "M_LIMIT_EXCEEDED",
                          "retry_after_ms": 150, "times": 5})
storm = [say(room, BOB, "!about") for _ in range(3)]
wait_for(lambda: all(replies_to(room, s) for s in storm), "the answers through a 429 storm", 20)
check(all(len(replies_to(room, s)) == 1 for s in storm), "each answered once through the 429 storm")

# Killed and restarted mid-scenario: nothing answered twice, nothing lost.
kills = []
for i in range(4):
    c = say(room, DAN, "!about")
    kills.append(c)
    time.sleep(0.05 * i)
    bot.send_signal(signal.SIGKILL)
    bot.wait()
    bot = start_bot()
wait_for(lambda: all(replies_to(room, k) for k in kills), "the answers to commands sent around kills", 20)
time.sleep(1)
check(all(len(replies_to(room, k)) == 1 for k in kills), "no duplicate and no loss across SIGKILL restarts")
check(len(replies_to(room, old_cmd)) == 0, "the old backlog stays unanswered after restarts")

# The reminder: 18:00 for the 19:00 meetup, exactly once.
rem = wait_for(lambda: [e for e in messages(room) if "in 1 hour" in e["content"]["body"].lower()], "the reminder", 70)
time.sleep(1)
check(rem and len(rem) == 1, "one reminder")
if rem:
    check("chloe" in json.dumps(rem[0]["content"].get("m.mentions", {})), "the reminder mentions who comes")
    check(rem[0]["content"]["msgtype"] == "m.text",
          "the reminder is an m.text, which notifies those it mentions (an m.notice never does)")
# A reaction under the reminder answers its meetup: Erin comes.
if rem and conf_ev:
    rev = rem[0]["event_id"]
    wait_for(lambda: len([e for e in bot_events(room, "m.reaction")
                          if e["content"]["m.relates_to"]["event_id"] == rev]) >= 3, "the reactions under the reminder")
    n, ne = len(messages(room)), len(edits(room, conf_ev))
    react(room, ERIN, rev, "✅")
    settle(conf_ev, ne + 1, "the announcement edited after a reaction under the reminder")
    check("Erin" in shown(conf_ev), "a reaction under a reminder answers its meetup")
    check(len(messages(room)) == n, "and posts no notice")

# Bob's reminder came privately: it names the room and the meetup, and a
# reaction under it, in the direct chat, answers there.
def dm_with(user):
    for r, info in control("/control/rooms")["rooms"].items():
        evs = events(r)
        if evs and evs[0]["sender"] == BOT and any(e["type"] == "m.room.member" and e.get("state_key") == user
                                                   and e["content"].get("is_direct") for e in evs):
            return r
    return None
dm = wait_for(lambda: dm_with(BOB), "Bob's direct chat")
if dm and conf_ev:
    control("/control/join", {"room": dm, "user": BOB})
    pr = wait_for(lambda: [e for e in messages(dm) if "in 1 hour" in e["content"]["body"]], "Bob's private reminder")
    check(pr and "Reminder from Book lovers:" in pr[0]["content"]["body"] and "#1" in pr[0]["content"]["body"]
          and "!rsvp 1" in pr[0]["content"]["body"], "the private reminder names the room and the meetup: %r"
          % (pr[0]["content"]["body"] if pr else None))
    if pr:
        pev = pr[0]["event_id"]
        wait_for(lambda: len([e for e in bot_events(dm, "m.reaction")
                              if e["content"]["m.relates_to"]["event_id"] == pev]) >= 3, "the reactions under it")
        ne = len(edits(room, conf_ev))
        react(dm, BOB, pev, "❔")
        r = wait_for(lambda: replies_to(dm, pev), "the answer in the direct chat")
        check(r and "in book lovers: bob might come to #1" in r[0]["content"]["body"].lower(),
              "a reaction under a private reminder is answered there, naming the room: %r"
              % (r[0]["content"]["body"] if r else None))
        settle(conf_ev, ne + 1, "the room's announcement edited from the direct chat")
        check("maybe: bob" in shown(conf_ev).lower(), "the room's announcement shows it")

# !forget me leaves nothing that names Dan in the room's data: his
# reaction standing under the announcement (who reacted, and his list of
# reactions there) goes with the rest.  The room's member list, the
# homeserver's own state that tells the bot when it is left alone, is not
# the bot's record of him and is read elsewhere.
if conf_ev:
    react(room, DAN, conf_ev, "❔")
    time.sleep(1.5)
    def traces_of(user):
        assert "'" not in user and "%" not in user
        return dbtarget.query(DB, "SELECT key FROM kv WHERE (key LIKE '%%%s%%' OR value LIKE '%%%s%%') "
                                  "AND key NOT LIKE 'matrix.room.%%'" % (user, user))
    check(len(traces_of(DAN)) >= 2, "the reaction is recorded with who made it: %r" % traces_of(DAN))
    ask = say(room, DAN, "!forget me")
    wait_for(lambda: replies_to(room, ask), "the question of !forget me")
    yes = say(room, DAN, "!forget me confirm")
    r = wait_for(lambda: replies_to(room, yes), "the answer to !forget me confirm")
    check(r and r[0]["content"]["body"].startswith("Done."), "Dan is forgotten: %r" % (r and r[0]["content"]["body"]))
    check(traces_of(DAN) == [], "nothing in the bot's state names Dan after !forget me: %r" % traces_of(DAN))

# Every PUT carried a transaction id, and no bot message is a duplicate.
bodies = [(e["content"].get("body"), e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id"))
          for e in messages(room)]
dups = [b for b in set(bodies) if bodies.count(b) > 1 and b[1]]
check(not dups, "no reply posted twice: %s" % dups[:2])

# Invites: from someone not in invite_from, declined; an encrypted room is
# told once, in plain text, that the bot cannot read it.
evil = control("/control/room", {"creator": "@mallory:evil.example", "members": []})["room_id"]
control("/control/invite", {"room": evil, "sender": "@mallory:evil.example", "target": BOT})
enc = control("/control/room", {"creator": "@eve:friends.example", "members": [], "encrypted": True})["room_id"]
control("/control/invite", {"room": enc, "sender": "@eve:friends.example", "target": BOT})
w = wait_for(lambda: [e for e in messages(enc) if "encrypted" in e["content"]["body"]], "the encrypted room's warning")
check(w and "format" not in w[0]["content"], "the encryption warning is plain text")
time.sleep(1)
check(w and messages(enc)[0]["event_id"] == w[0]["event_id"], "the encryption warning is the bot's first word there")
check(not [e for e in messages(enc) if "!help" in e["content"]["body"]],
      "no greeting lists commands in a room where the bot cannot read them")
control("/control/send", {"room": enc, "sender": "@eve:friends.example", "type": "m.room.encrypted",
                          "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA"}})
time.sleep(1)
check(len([e for e in messages(enc) if "encrypted" in e["content"]["body"]]) == 1, "the warning is given once")
rooms_now = control("/control/rooms")["rooms"]
check(BOT not in rooms_now[evil]["joined"], "an invite from outside invite_from is declined")

# /mygroups names the room by its name, not its id.
control("/control/send", {"room": room, "sender": ALICE, "type": "m.room.name", "state_key": "",
                          "content": {"name": "Reading <club>"}})
grp = say(room, BOB, "!group new Readers")
wait_for(lambda: replies_to(room, grp), "the new group")
mine = say(room, BOB, "!mygroups")
r = wait_for(lambda: replies_to(room, mine), "Bob's groups")
check(r and "Reading <club>" in r[0]["content"]["body"] and room not in r[0]["content"]["body"]
      and "Reading &lt;club&gt;" in r[0]["content"]["formatted_body"],
      "!mygroups shows the room's name, escaped, not its id: %s" % (r and r[0]["content"]["body"]))

# A private answer: !export me opens a direct chat with the person.
exp = say(room, BOB, "!export me")
wait_for(lambda: replies_to(room, exp), "the public half of !export me")
def dm_rooms():
    out = []
    for r, info in control("/control/rooms")["rooms"].items():
        evs = events(r)
        if evs and evs[0]["sender"] == BOT and any(e["type"] == "m.room.member" and e.get("state_key") == BOB
                                                   and e["content"].get("is_direct") for e in evs):
            out.append(r)
    return out
dms = wait_for(dm_rooms, "a direct chat with Bob")
if dms:
    priv = wait_for(lambda: [e for e in messages(dms[0]) if '"votes"' in e["content"]["body"]], "the private message")
    check(priv, "the export arrives in the direct chat")
    # In the direct chat everything is said to the bot: a plain "help" is
    # the command.
    control("/control/join", {"room": dms[0], "user": BOB})
    plain = say(dms[0], BOB, "help")
    h = wait_for(lambda: replies_to(dms[0], plain), "the answer to a plain 'help' in the direct chat")
    check(h and "!meetup" in h[0]["content"]["body"], "a plain 'help' in a direct chat lists the commands")
    chat = say(dms[0], BOB, "thanks a lot")
    time.sleep(1)
    check(not replies_to(dms[0], chat), "conversation in a direct chat is not taken for a command")

# The bot leaves a room where it is the last member (the homeserver sends
# no room summary to a filter that does not load members lazily, as
# Synapse): it follows who joins, leaves, is kicked or banned.
club = control("/control/room", {"creator": ALICE, "members": [BOT, BOB, CHLOE]})["room_id"]
time.sleep(1)
control("/control/send", {"room": club, "sender": ALICE, "type": "m.room.member", "state_key": CHLOE,
                          "content": {"membership": "leave", "reason": "kicked"}})
control("/control/send", {"room": club, "sender": ALICE, "type": "m.room.member", "state_key": BOB,
                          "content": {"membership": "ban"}})
control("/control/join", {"room": club, "user": DAN})
control("/control/leave", {"room": club, "user": ALICE})
time.sleep(1.5)
check(BOT in control("/control/rooms")["rooms"][club]["joined"], "the bot stays while one member is left")
control("/control/leave", {"room": club, "user": DAN})
wait_for(lambda: BOT not in control("/control/rooms")["rooms"][club]["joined"],
         "the bot leaving once the kicked, the banned and the others are gone")
control("/control/leave", {"room": old, "user": ALICE})
wait_for(lambda: BOT not in control("/control/rooms")["rooms"][old]["joined"], "the bot leaving an empty room")

bot.send_signal(signal.SIGTERM)
rc = bot.wait(timeout=10)
check(rc == 0, "a clean stop on SIGTERM")

# With only an access token, a refused token stops the bot with a clear error.
conf2 = os.path.join(tmp, "token.conf")
with open(conf2, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\n[matrix]\nhomeserver = %s\nuser = %s\naccess_token = syt_not_valid_token\n"
            % (os.path.join(tmp, "t2.db"), base, BOT))
os.chmod(conf2, 0o600)
p2 = subprocess.run([binary, "--config", conf2], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
check(p2.returncode == 1 and "refuses the access token" in p2.stderr, "a refused access token stops the bot (exit 1)")
check("syt_not_valid_token" not in p2.stderr, "the refused token is not logged")
log.close()
text = open(os.path.join(tmp, "bot.log")).read()
check("bot-pass" not in text and "syt_" not in text, "no password or token in the log")
check("logged in" in text, "the login is logged")
if harness.failed:
    for e in messages(room):
        print("NOTICE:", json.dumps(e["content"], ensure_ascii=False)[:600])
harness.finish(text[-3000:])
