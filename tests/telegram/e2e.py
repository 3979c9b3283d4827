#!/usr/bin/env python3
"""End to end on Telegram: the real binary, configured with a token, against
the fake Bot API (fake_botapi.py) on loopback.  A group plays /start,
/meetup, native poll answers (one withdrawn), /poll, /meetup close (stopPoll
and the announcement with RSVP buttons), a button press, /cmd@Bot
addressing, a 429 with retry_after, and a restart that must not replay
handled updates; updates jansson alone cannot read (\u0000, a lone
surrogate, one that is no JSON) among good ones; anonymous administrators
and a linked channel; and, against the fake's reading of HTML as Telegram
reads it, a reminder and an announcement for 80 people with long names,
and a message refused as HTML sent again as plain text.  Prints "N passed,
N failed".

Usage: e2e.py ENSEMBLE"""
import json, re, os, signal, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # harness.py
import dbtarget, harness
from harness import check, free_port, post_json, start_fake

def wait_for(pred, what, timeout=10):
    return harness.wait_for(pred, what, timeout)

binary = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
TOKEN = "123456:TEST-token-abcdef"
tmp = harness.tempdir("ensemble-tg-")
DB = dbtarget.fresh(tmp, "t.db")

port = free_port()
fake = start_fake([sys.executable, os.path.join(here, "fake_botapi.py"), str(port), TOKEN])
base = "http://127.0.0.1:%d" % port

def control(path, payload=None):
    """GET path, or POST payload to it."""
    if payload is None:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return json.loads(r.read())
    return post_json(base + path, payload, timeout=10)

def calls(method=None):
    return [b for m, b in control("/control/calls") if method is None or m == method]

GROUP = -1001234567890
def user(uid, name, lang="fr"):
    return {"id": uid, "is_bot": False, "first_name": name, "language_code": lang}
msgid = [0]
def msg(uid, name, text, chat=None, **extra):
    """A message update from uid (or, with from_=..., another sender)."""
    chat = GROUP if chat is None else chat
    msgid[0] += 1
    ent = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
    m = {"message_id": msgid[0], "date": int(time.time()),
         "chat": {"id": chat, "type": "supergroup" if chat < 0 else "private"},
         "from": user(uid, name), "text": text, "entities": ent}
    if "from_" in extra:
        m["from"] = extra.pop("from_")
    m.update(extra)
    return {"message": m}
def say(uid, name, text, chat=None, **extra):
    control("/control/update", msg(uid, name, text, chat, **extra))

def texts_to(chat, since=0):
    return [b["text"] for b in calls("sendMessage")[since:] if str(b["chat_id"]) == str(chat)]

conf = os.path.join(tmp, "ensemble.conf")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\ntimezone = Europe/Paris\n[telegram]\ntoken = %s\napi_url = %s\n"
            "poll_timeout = 2\nchat_interval_ms = 20\n" % (DB, TOKEN, base))
os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")
def start_bot(*extra):
    return subprocess.Popen([binary, "--config", conf, "-v", *extra], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
bot = start_bot()

# Start-up: getMe, the command menus in English and French, no webhook.
wait_for(lambda: calls("getUpdates"), "the first getUpdates")
wait_for(lambda: len(calls("setMyCommands")) == 2, "the command menus")
check([m for m, b in control("/control/calls")].index("deleteWebhook") <
      [m for m, b in control("/control/calls")].index("getUpdates"), "deleteWebhook before polling")
menus = calls("setMyCommands")
check(len(menus) == 2, "two command menus")
fr = [m for m in menus if m.get("language_code") == "fr"]
check(fr and any(c["command"] == "aide" for c in fr[0]["commands"]), "the French menu has /aide")
check(fr and any(c["command"] == "rencontre" for c in fr[0]["commands"]), "the French menu has /rencontre")
check(fr and any(c["command"] == "oublier" for c in fr[0]["commands"]) and
      not any(c["command"] == "forget" for c in fr[0]["commands"]), "the French menu has /oublier, not /forget")
check(all(re.match(r"^[a-z0-9_]{1,32}$", c["command"]) for m in menus for c in m["commands"]),
      "every menu name is one Telegram takes")
check(calls("deleteWebhook"), "deleteWebhook called when polling")
gu = calls("getUpdates")[0]
check(gu.get("timeout") == 2 and "poll_answer" in gu.get("allowed_updates", []), "getUpdates with timeout and allowed_updates")

# Alice is the group's administrator on Telegram.
control("/control/admins", {"chat_id": GROUP, "user_ids": [1]})
# A French client starts the chat: it speaks French, replies to the command.
say(1, "Alice", "/start")
t = wait_for(lambda: texts_to(GROUP), "the answer to /start")
check(t and "Bonjour" in t[0], "the new chat speaks its first user's language")
sm = calls("sendMessage")[-1]
check(sm.get("parse_mode") == "HTML", "HTML parse mode")
check(sm.get("reply_parameters", {}).get("message_id") == msgid[0], "the answer replies to the command")

# Another bot's command is ignored; ours, in any case, is answered.
n = len(calls("sendMessage"))
say(1, "Alice", "/aide@OtherBot")
say(1, "Alice", "/aide@ensemblebot")
wait_for(lambda: len(calls("sendMessage")) > n, "the answer to /aide@ensemblebot")
time.sleep(0.5)
check(len(calls("sendMessage")) == n + 1, "only our /aide answered")

# Admin rights are Telegram's: Bob (not an admin) is refused, Alice is not;
# the list is asked once and cached.
n = len(calls("sendMessage"))
say(2, "Bob", "/fuseau Asia/Tokyo")
t = wait_for(lambda: texts_to(GROUP, n), "Bob's refusal")
check(t and "Seuls les admins" in t[0], "a member is refused an admin command")
n = len(calls("sendMessage"))
say(1, "Alice", "/fuseau Europe/Brussels")
t = wait_for(lambda: texts_to(GROUP, n), "Alice's change")
check(t and "Europe/Brussels" in t[0], "the chat's Telegram admin may")
check(len(calls("getChatAdministrators")) == 1, "administrators asked once, then cached")

# Updates jansson alone refuses, in one getUpdates answer with good ones (in
# a group of their own: a group gets 20 messages a minute): a name with a
# lone surrogate escape, a text with \u0000, and one that is no JSON at all.
# The first two are answered, the third is skipped (and logged), the one
# after them answered, and the offset moves past them all.
G9 = -1005550009
n = len(calls("sendMessage"))
bad = control("/control/updates", [
    msg(5, "Zo\ud800é", "/apropos", chat=G9),
    msg(6, "Léa", "/apropos \u0000 \udc00", chat=G9),
    {"raw": '{"update_id":0,"message":{"message_id":9000,"chat":{"id":%d,"type":"supergroup"},'
            '"from":{"id":7,"first_name":"Max"},"text":"/apropos \\q"}}' % G9},
    msg(2, "Bob", "/apropos", chat=G9)])["update_ids"]
wait_for(lambda: len(texts_to(G9, n)) >= 3, "the answers around updates jansson refuses")
time.sleep(0.5)
check(len(texts_to(G9, n)) == 3, "three of the four answered, the unreadable one skipped (%d)" % len(texts_to(G9, n)))
check(wait_for(lambda: any(b.get("offset", 0) > bad[-1] for b in calls("getUpdates")), "the offset past them"),
      "the offset moves past an unreadable update")

# A meetup with two dates: the details, then a native poll.
say(1, "Alice", "/rencontre Apéro <b>& co</b>; demain 19h; après-demain 19h; lieu: Café")
poll_msg = wait_for(lambda: calls("sendPoll"), "the native poll")
if poll_msg:
    p = poll_msg[0]
    check(p.get("is_anonymous") is False and p.get("allows_multiple_answers") is True, "poll flags")
    check(len(p["options"]) == 2 and "19 h 00" in p["options"][0]["text"], "one option per date, in French")
check(any("Apéro &lt;b&gt;&amp; co&lt;/b&gt;" in x for x in texts_to(GROUP)), "user text escaped in HTML")
time.sleep(0.3)
poll_id = "5000000000000000"
# Three users answer the native poll; one withdraws.
for uid, name, opts in ((2, "Bob", [0, 1]), (3, "Chloé", [1]), (2, "Bob", []), (4, "Dan", [1])):
    control("/control/update", {"poll_answer": {"poll_id": poll_id, "user": user(uid, name), "option_ids": opts}})
time.sleep(1)
n = len(calls("sendMessage"))
say(1, "Alice", "/sondage")
t = wait_for(lambda: texts_to(GROUP, n), "the tally")
check(t and "oui (2) : Chloé, Dan" in t[0], "the tally counts native answers, withdrawn ones out")

# An anonymous administrator posts as the group itself (from is
# GroupAnonymousBot, on no list of administrators): admin commands are
# theirs, but a vote is refused with the reason, since all of them share one
# sender, and they are not among those asked to vote.  A linked channel
# posting in the group is no administrator.  (A group of their own.)
ANON = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
GA = -1005550010
AS_GROUP = {"id": GA, "type": "supergroup", "title": "Les Amis"}
control("/control/admins", {"chat_id": GA, "user_ids": [1]})
n_polls = len(calls("sendPoll"))
say(1, "Alice", "/rencontre Jeux; demain 19h; après-demain 19h", chat=GA)
wait_for(lambda: len(calls("sendPoll")) > n_polls, "the poll of the anonymous admins' group")
n = len(calls("sendMessage"))
say(0, "", "/fuseau Europe/Brussels", chat=GA, from_=ANON, sender_chat=AS_GROUP)
t = wait_for(lambda: texts_to(GA, n), "the anonymous admin's change")
check(t and "Europe/Brussels" in t[0] and "Seuls les admins" not in t[0], "an anonymous admin may use admin commands: %s"
      % (t[:1] if t else None,))
n = len(calls("sendMessage"))
say(0, "", "/vote 1 2", chat=GA, from_=ANON, sender_chat=AS_GROUP)
t = wait_for(lambda: texts_to(GA, n), "the anonymous vote's refusal")
check(t and "au nom du groupe" in t[0] and "Vote enregistré" not in t[0], "an anonymous admin's vote is refused with the reason: %s"
      % (t[:1] if t else None,))
n = len(calls("sendMessage"))
say(1, "Alice", "/sondage", chat=GA)
t = wait_for(lambda: texts_to(GA, n), "the tally after the anonymous admin")
check(t and "Pas encore voté" in t[0] and "Les Amis" not in t[0] and "Group" not in t[0],
      "the anonymous admins are not asked to vote: %s" % (t[:1] if t else None,))
n = len(calls("sendMessage"))
say(0, "", "/fuseau Asia/Tokyo", chat=GA, from_={"id": 136817688, "is_bot": True, "first_name": "Channel"},
    sender_chat={"id": -1009990001, "type": "channel", "title": "Le canal"})
t = wait_for(lambda: texts_to(GA, n), "the linked channel's refusal")
check(t and "Seuls les admins" in t[0], "a linked channel is no administrator")

# Closing: stopPoll on the poll's message, the announcement with buttons.
# Its answer reaches the bot 1.5 s after it was posted, and a member
# presses a button meanwhile: the press's edit waits for that answer, which
# says which message to edit, rather than being lost.
n = len(calls("sendMessage"))
control("/control/slow", {"method": "sendMessage", "seconds": 1.5})
say(1, "Alice", "/rencontre clore")
sp = wait_for(lambda: calls("stopPoll"), "stopPoll")
check(sp and str(sp[0]["chat_id"]) == str(GROUP), "stopPoll names the chat and message")
ann = wait_for(lambda: [b for b in calls("sendMessage")[n:] if "reply_markup" in b], "the announcement")
if ann:
    kb = ann[0]["reply_markup"]["inline_keyboard"][0]
    check([b["text"] for b in kb] == ["Oui", "Peut-être", "Non"], "RSVP buttons in French")
    check(all(len(b["callback_data"].encode()) <= 64 for b in kb), "callback data within 64 bytes")
    # A button press: answered by its toast and the announcement's edit; it
    # posts nothing in the group.
    def press(cb, uid, name, data, chat=GROUP, message_id=999):
        control("/control/update", {"callback_query": {"id": cb, "chat_instance": "x", "from": user(uid, name),
                "data": data, "message": {"message_id": message_id, "date": 1,
                "chat": {"id": chat, "type": "supergroup" if chat < 0 else "private"}}}})
        return wait_for(lambda: [b for b in calls("answerCallbackQuery") if b.get("callback_query_id") == cb],
                        "the answer to press " + cb)
    n, n_edits = len(calls("sendMessage")), len(calls("editMessageText"))
    ac = press("cb1", 5, "Eve", kb[0]["callback_data"])
    check(ac and "Eve vient" in ac[0].get("text", ""), "the press is answered by a toast saying what was noted")
    ed = wait_for(lambda: calls("editMessageText")[n_edits:], "the announcement edited")
    check(ed and "Eve" in ed[0]["text"] and ed[0].get("reply_markup", {}).get("inline_keyboard"),
          "the announcement is edited to show the new count, keeping its buttons")
    posted = [m for m in control("/control/sent") if m.get("reply_markup") and str(m["chat"]["id"]) == str(GROUP)]
    check(ed and posted and ed[0]["message_id"] == posted[-1]["message_id"] and
          str(ed[0]["chat_id"]) == str(GROUP),
          "the edit names the announcement, though the press came before Telegram's answer to its send: %r"
          % ((ed[0].get("message_id"), posted[-1]["message_id"]) if ed and posted else None,))
    time.sleep(0.5)
    check(len(calls("editMessageText")) == n_edits + 1, "one press, one edit")
    check(len(calls("sendMessage")) == n, "a press posts nothing in the group")
    # The same press again: its toast, and neither an edit nor a message.
    ac = press("cb2", 5, "Eve", kb[0]["callback_data"])
    check(ac and "déjà" in ac[0].get("text", ""), "a repeated press is answered by a toast: %r" % ac[:1])
    # Stale or forged data: a toast says the button is no longer valid.
    ac = press("cb3", 5, "Eve", "rsvp:987654:y")
    check(ac and ac[0].get("text") == "Ce bouton n'est plus valable.", "a stale button's toast: %r" % ac[:1])
    ac = press("cb4", 5, "Eve", "n'importe quoi")
    check(ac and ac[0].get("text") == "Ce bouton n'est plus valable.", "garbage data's toast: %r" % ac[:1])
    time.sleep(0.5)
    check(len(calls("editMessageText")) == n_edits + 1, "an identical press, or a stale one, edits nothing")
    check(len(calls("sendMessage")) == n, "nor posts anything")
    # A text /rsvp refreshes the announcement the same way (with its reply).
    say(2, "Bob", "/rsvp peut-être")
    ed = wait_for(lambda: calls("editMessageText")[n_edits + 1:], "the edit after a text /rsvp")
    check(ed and "Bob" in ed[0]["text"], "a text /rsvp edits the announcement's counts")
    time.sleep(0.5)
    check(len(calls("editMessageText")) == n_edits + 2, "once")

# A 429 with retry_after: the message waits and goes once.
control("/control/fail", {"method": "sendMessage", "code": 429, "retry_after": 1, "times": 1})
n = len(calls("sendMessage"))
t0 = time.time()
say(1, "Alice", "/apropos")
wait_for(lambda: len(calls("sendMessage")) >= n + 2, "the retried message", 15)
check(time.time() - t0 >= 1.0, "the retry waited retry_after")
time.sleep(0.5)
check(len(calls("sendMessage")) == n + 2, "one failed try and one delivery, no more")

# The group became a supergroup: the answer goes to the new id, and the
# chat's data (its meetup) is found there.
NEW = -1009876543210
control("/control/admins", {"chat_id": NEW, "user_ids": [1]})
control("/control/fail", {"method": "sendMessage", "code": 400, "migrate_to": NEW, "times": 1})
n = len(calls("sendMessage"))
say(1, "Alice", "/rencontre liste")
t = wait_for(lambda: texts_to(NEW, n), "the answer at the new id")
check(t and "Apéro" in t[0], "the answer follows the supergroup, with the chat's meetups")
n = len(calls("sendMessage"))
say(1, "Alice", "/rencontre liste", chat=NEW)
t = wait_for(lambda: texts_to(NEW, n), "an answer in the supergroup")
check(t and "Apéro" in t[0], "the supergroup keeps the group's data")
GROUP = NEW

# Stop, restart: nothing handled is handled again.  (A message still in
# flight at the stop would be sent again: let the last one land first.)
time.sleep(0.5)
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=15) == 0, "SIGTERM stops the bot with 0")
n = len(calls("sendMessage"))
last_offset = calls("getUpdates")[-1].get("offset")
bot = start_bot("-s", "telegram.group_per_minute=3", "-s", "telegram.admin_recheck_s=1")
wait_for(lambda: len(calls("getUpdates")) and calls("getUpdates")[-1].get("offset", 0) >= last_offset, "polling again")
time.sleep(1)
check(len(calls("sendMessage")) == n, "no update replayed after a restart")

say(1, "Alice", "/fuseau")
check(wait_for(lambda: texts_to(GROUP, n), "an answer after the restart"), "answers after the restart")

# A member made admin on Telegram is one at their next command once the
# list is admin_recheck_s old (1 s here): a refusal re-reads it.
n = len(calls("sendMessage"))
say(2, "Bob", "/fuseau Asia/Tokyo")
t = wait_for(lambda: texts_to(GROUP, n), "Bob's refusal in the supergroup")
check(t and "Seuls les admins" in t[0], "not an admin yet: refused")
control("/control/admins", {"chat_id": GROUP, "user_ids": [1, 2]})
time.sleep(1.2)
n = len(calls("sendMessage"))
n_admin_reads = len(calls("getChatAdministrators"))
say(2, "Bob", "/fuseau Asia/Tokyo")
t = wait_for(lambda: texts_to(GROUP, n), "Bob's change as a new admin")
check(t and "Asia/Tokyo" in t[0], "made admin on Telegram: the list is read again and Bob may")
check(len(calls("getChatAdministrators")) > n_admin_reads, "getChatAdministrators asked again for him")

# At most group_per_minute messages a minute in a group (3 here): the
# fourth waits, while a private chat is served at once.
G2 = -1005550001
for i in range(5):
    say(1, "Alice", "/apropos", chat=G2)
wait_for(lambda: len(texts_to(G2)) >= 3, "three answers in the limited group")
say(1, "Alice", "/apropos", chat=42)
check(wait_for(lambda: texts_to(42), "the private answer"), "a private chat is not held back by a group's limit")
time.sleep(1.5)
check(len(texts_to(G2)) == 3, "the fourth message in a minute waits")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=15) == 0, "the restarted bot stops with 0 too")
# The deadline closes a native poll: three users answer it, one withdraws,
# the deadline passes (the clock runs from 10:00:50, the deadline is 10:01),
# the bot calls stopPoll and announces the right date.
bot = start_bot("--clock=real", "--now=2026-12-01T10:00:50")
wait_for(lambda: len(calls("getMe")) >= 3, "the bot back")
G3 = -1005550003
n_polls = len(calls("sendPoll"))
n_stop = len(calls("stopPoll"))
control("/control/admins", {"chat_id": G3, "user_ids": [1]})
say(1, "Alice", "/rencontre Échéance; 2026-12-05 19:00; 2026-12-06 19:00; limite: 2026-12-01 10:01", chat=G3)
wait_for(lambda: len(calls("sendPoll")) > n_polls, "the poll with a deadline")
time.sleep(0.5)
pid = str(5000000000000000 + n_polls)
# Saturday 5: Bob, Eve.  Sunday 6: Chloé, Dan, Fred, until Fred withdraws:
# a tie, which goes to the earlier date.
for uid, name, opts in ((2, "Bob", [0]), (5, "Eve", [0]), (3, "Chloé", [1]), (4, "Dan", [1]), (6, "Fred", [1]),
                        (6, "Fred", [])):
    control("/control/update", {"poll_answer": {"poll_id": pid, "user": user(uid, name), "option_ids": opts}})
n = len(calls("sendMessage"))
wait_for(lambda: len(calls("stopPoll")) > n_stop, "stopPoll at the deadline", 25)
sp = calls("stopPoll")[n_stop:]
ann = wait_for(lambda: [t for t in texts_to(G3, n) if "aura lieu" in t], "the announcement at the deadline", 10)
check(sp and str(sp[-1]["chat_id"]) == str(G3), "stopPoll on the deadline's poll")
check(ann and "samedi 5 décembre" in ann[0], "the withdrawn answer does not count: Saturday 5 wins the tie")
# A date fixed by hand while the poll runs closes the native poll too.
n_polls, n_stop = len(calls("sendPoll")), len(calls("stopPoll"))
say(1, "Alice", "/rencontre Fixée; 2026-12-07 19:00; 2026-12-08 19:00", chat=G3)
wait_for(lambda: len(calls("sendPoll")) > n_polls, "the poll of a date fixed by hand")
time.sleep(0.3)
n = len(calls("sendMessage"))
say(1, "Alice", "/rencontre confirmer 2 2", chat=G3)
ann = wait_for(lambda: [t for t in texts_to(G3, n) if "aura lieu" in t], "the announcement of a date fixed by hand")
check(ann and "mardi 8 décembre" in ann[0], "/rencontre confirmer fixes the date asked")
sp = wait_for(lambda: calls("stopPoll")[n_stop:], "stopPoll after /rencontre confirmer")
check(sp and str(sp[-1]["chat_id"]) == str(G3), "fixing a date by hand stops the native poll")

# A forum group: what is said in a topic is answered in that topic, each
# topic has meetups of its own, and the group's admins are the topic's.
FORUM = -1005550007
control("/control/admins", {"chat_id": FORUM, "user_ids": [1]})
def say_topic(uid, name, text, thread):
    msgid[0] += 1
    control("/control/update", {"message": {"message_id": msgid[0], "date": int(time.time()),
            "chat": {"id": FORUM, "type": "supergroup", "is_forum": True}, "message_thread_id": thread,
            "is_topic_message": True, "from": user(uid, name), "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})
def to_forum(since):
    return [b for b in calls("sendMessage")[since:] if str(b["chat_id"]) == str(FORUM)]
n, n_polls = len(calls("sendMessage")), len(calls("sendPoll"))
say_topic(1, "Alice", "/rencontre Sortie vélo; 2026-12-12 10:00; 2026-12-13 10:00", 7)
wait_for(lambda: len(calls("sendPoll")) > n_polls, "the poll in a topic")
details = to_forum(n)
check(details and all(b.get("message_thread_id") == 7 for b in details), "the details go to the topic")
fp = calls("sendPoll")[-1]
check(str(fp["chat_id"]) == str(FORUM) and fp.get("message_thread_id") == 7, "the native poll goes to the topic")
time.sleep(0.5)
control("/control/update", {"poll_answer": {"poll_id": str(5000000000000000 + n_polls), "user": user(2, "Bob"),
                                            "option_ids": [1]}})
time.sleep(0.5)
n = len(calls("sendMessage"))
say_topic(2, "Bob", "/sondage", 7)
t = wait_for(lambda: to_forum(n), "the topic's tally")
check(t and t[0].get("message_thread_id") == 7 and "Sortie vélo" in t[0]["text"] and "oui (1) : Bob" in t[0]["text"],
      "the tally is in the topic and counts the native vote: %s" % (t[0] if t else None))
n = len(calls("sendMessage"))
say_topic(2, "Bob", "/sondage", 9)
t = wait_for(lambda: to_forum(n), "another topic's answer")
check(t and t[0].get("message_thread_id") == 9 and "Sortie vélo" not in t[0]["text"], "another topic has its own meetups")
check(any(str(b.get("chat_id")) == str(FORUM) for b in calls("getChatAdministrators")),
      "a topic's admins are read from its group")
# A topic first used after the group's settings changed starts from them.
n = len(calls("sendMessage"))
say(1, "Alice", "/fuseau America/New_York", chat=FORUM)
wait_for(lambda: to_forum(n), "the group's new time zone")
n = len(calls("sendMessage"))
say_topic(2, "Bob", "/fuseau", 11)
t = wait_for(lambda: to_forum(n), "a new topic's time zone")
check(t and t[0].get("message_thread_id") == 11 and "America/New_York" in t[0]["text"],
      "a new topic takes its group's settings: %s" % (t[0]["text"] if t else None))

# Two bursts of 60 updates in one getUpdates each, over 12 groups, with a
# meetup proposal in each group: large batches are parsed and committed on
# a thread, and the polls' ids stored together.  Every command is answered
# once, every poll's id is stored, and a vote on the last one counts.
burst_groups = [-1005560000 - k for k in range(12)]
for g in burst_groups:
    control("/control/admins", {"chat_id": g, "user_ids": [1]})
n_msgs, n_polls = len(calls("sendMessage")), len(calls("sendPoll"))
def burst(round_):
    ups = []
    for k in range(60):
        g = burst_groups[k % 12]
        if k < 12:
            text = "/rencontre Rafale %d-%d; 2026-12-1%d 19:00; 2026-12-2%d 19:00" % (round_, k, k % 9 + 1, k % 9 + 1)
        else:
            text = "/apropos"
        msgid[0] += 1
        ups.append({"message": {"message_id": msgid[0], "date": int(time.time()),
                    "chat": {"id": g, "type": "supergroup"}, "from": user(1, "Alice"), "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})
    control("/control/updates", ups)
burst(1)
burst(2)
# 24 proposals (a message and a poll each) and 96 /apropos: 120 messages,
# paced by the limiter (30 a second).
wait_for(lambda: len(calls("sendPoll")) >= n_polls + 24 and len(calls("sendMessage")) >= n_msgs + 120,
         "the answers to two bursts", 30)
time.sleep(1.5)
check(len(calls("sendPoll")) == n_polls + 24, "one poll for each of the 24 proposals of the bursts")
check(len(calls("sendMessage")) == n_msgs + 120, "one message for each proposal and each of the 96 other commands (%d)"
      % (len(calls("sendMessage")) - n_msgs))
stored = int(dbtarget.query(DB, "SELECT count(*) FROM kv WHERE key LIKE 'telegram.poll.%'")[0][0])
check(stored >= n_polls + 24, "every poll's id stored (%d)" % stored)
last_poll = str(5000000000000000 + len(calls("sendPoll")) - 1)
n = len(calls("sendMessage"))
control("/control/update", {"poll_answer": {"poll_id": last_poll, "user": user(2, "Bob"), "option_ids": [0]}})
g_last = calls("sendPoll")[-1]["chat_id"]
time.sleep(0.5)
say(1, "Alice", "/sondage 2", chat=int(g_last))  # the second round's meetup, #2 there
t = wait_for(lambda: texts_to(g_last, n), "the poll's state after a native vote")
check(t and "Bob" in t[0], "a vote on a poll sent in a burst counts: %r" % (t[:1] if t else None))
# A private reminder: Bob asks for them in a group whose title the bot
# learns from its messages, and comes to a meetup on 9 December.
G10 = -1005550020
control("/control/admins", {"chat_id": G10, "user_ids": [1]})
def say_titled(uid, name, text):
    msgid[0] += 1
    control("/control/update", {"message": {"message_id": msgid[0], "date": int(time.time()),
            "chat": {"id": G10, "type": "supergroup", "title": "Club d'échecs"}, "from": user(uid, name),
            "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})
n = len(calls("sendMessage"))
say_titled(1, "Alice", "/rencontre Tournoi; 2026-12-09 20:00")
say_titled(2, "Bob", "/rappel moi")
say_titled(2, "Bob", "/rsvp oui")
wait_for(lambda: len(texts_to(G10, n)) >= 3, "the meetup, Bob's private reminders and his RSVP")
time.sleep(0.5)
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=15) == 0, "the third run stops with 0")

# Long messages, against the fake's reading of HTML as Telegram's: the
# clock starts 25 s before the 1-hour reminder of a meetup for 80 people
# with long names.
bot = start_bot("--clock=real", "--now=2026-12-02T09:59:35")
wait_for(lambda: len(calls("getMe")) >= 4, "the fourth run")
G4 = -1005550004
control("/control/admins", {"chat_id": G4, "user_ids": [1]})
def ok_to(chat, method="sendMessage"):
    return [b for m, b in control("/control/ok") if m == method and str(b.get("chat_id")) == str(chat)]
# Telegram refuses a message's HTML: it goes again as plain text.
control("/control/fail", {"method": "sendMessage", "code": 400, "times": 1,
                          "description": "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 12"})
n = len(calls("sendMessage"))
say(1, "Alice", "/apropos", chat=G4)
t = wait_for(lambda: ok_to(G4), "the message sent again")
check(t and "parse_mode" not in t[0] and "<b>" not in t[0]["text"] and len(calls("sendMessage")) == n + 2,
      "a message refused as HTML is sent again as plain text: %s" % (t[:1] if t else None,))
n_polls = len(calls("sendPoll"))
say(1, "Alice", "/rencontre Grande fête; 2026-12-02 11:00; 2026-12-03 11:00", chat=G4)
wait_for(lambda: len(calls("sendPoll")) > n_polls, "the big meetup's poll")
time.sleep(0.3)
pid = str(5000000000000000 + n_polls)
NAMES = ["Participant%02d %s" % (k, "Longname" * 7) for k in range(80)]
control("/control/updates", [{"poll_answer": {"poll_id": pid, "user": user(3000 + k, NAMES[k]), "option_ids": [0]}}
                             for k in range(80)])
time.sleep(1)
n = len(calls("sendMessage"))
say(1, "Alice", "/rencontre confirmer 1", chat=G4)
ann = wait_for(lambda: [b for b in ok_to(G4)[1:] if "reply_markup" in b], "the announcement for 80 people")
if ann:
    a = ann[0]["text"]
    shown = sum(1 for k in range(80) if NAMES[k].split()[0] + " " in a)
    m = re.search(r"… et (\d+) de plus", a)
    check(m and int(m.group(1)) + shown == 80 and "/rsvp" in a, "the announcement is one message, shortened with "
          "'… et N de plus' (%d shown, %s)" % (shown, m.group(0) if m else None))
    time.sleep(0.5)  # the bot has stored which message it is
    control("/control/update", {"callback_query": {"id": "cb-big", "chat_instance": "y", "from": user(4000, "Yann"),
            "data": ann[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
            "message": {"message_id": 1, "date": 1, "chat": {"id": G4, "type": "supergroup"}}}})
    ed = wait_for(lambda: ok_to(G4, "editMessageText"), "the announcement's edit")
    check(ed and re.search(r"… et \d+ de plus", ed[0]["text"]) and "Yann" not in ed[0]["text"][:200],
          "an edit too long says what it leaves out, and Telegram takes it")
# The reminder calls all 80 by name: 5,000 characters of text, more in
# tags: cut between two people into parts Telegram takes, none lost.
rem = wait_for(lambda: [b["text"] for b in ok_to(G4) if "⏰" in b["text"]], "the reminder", 45)
time.sleep(2)
parts = [b["text"] for b in ok_to(G4)]
parts = parts[parts.index(rem[0]):] if rem else []
names = re.findall(r">(Participant\d\d) ", "".join(parts))
check(rem and len(parts) >= 2, "the reminder goes in several parts (%d)" % len(parts))
check(names == ["Participant%02d" % k for k in range(80)], "every one of the 80 is called, in order (%d)" % len(names))
refused = [b for m, b in control("/control/calls") if m == "sendMessage" and str(b.get("chat_id")) == str(G4)]
check(len(refused) == len(ok_to(G4)) + 1, "Telegram took every part (only the forced failure was refused)")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=15) == 0, "the fourth run stops with 0")

# The day before, the reminder reaches Bob privately: it names the group and
# the meetup, and its buttons answer it there; the group's announcement is
# edited, nothing is posted.
n, n_edits = len(calls("sendMessage")), len(calls("editMessageText"))
bot = start_bot("--clock=real", "--now=2026-12-08T21:00")
dm = wait_for(lambda: [b for b in calls("sendMessage")[n:] if str(b["chat_id"]) == "2"], "Bob's private reminder")
check(dm and "Club d'échecs" in dm[0]["text"] and "#1" in dm[0]["text"] and "Tournoi" in dm[0]["text"],
      "the private reminder names the group and the meetup: %r" % (dm[0]["text"] if dm else None))
kb = dm[0].get("reply_markup", {}).get("inline_keyboard", [[]])[0] if dm else []
check([b["text"] for b in kb] == ["Oui", "Peut-être", "Non"], "the private reminder has the RSVP buttons")
if kb:
    n = len(calls("sendMessage"))
    ac = press("cb5", 2, "Bob", kb[2]["callback_data"], chat=2, message_id=dm[0].get("message_id", 1))
    check(ac and "Club d'échecs" in ac[0].get("text", "") and "ne vient pas" in ac[0].get("text", ""),
          "the press in the private chat is answered, naming the group: %r" % ac[:1])
    ed = wait_for(lambda: calls("editMessageText")[n_edits:], "the group's announcement edited from the private chat")
    check(ed and str(ed[0]["chat_id"]) == str(G10) and "Bob" not in ed[0]["text"],
          "the group's announcement shows the answer given privately: %r" % (ed[0] if ed else None))
    time.sleep(0.5)
    check(len(calls("sendMessage")) == n, "the private press posts nothing")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=15) == 0, "the fifth run stops with 0")
fake.terminate()
log.close()
text = open(os.path.join(tmp, "bot.log")).read()
check(TOKEN not in text and "TEST-token" not in text, "the token never appears in the log")
check("cannot be read" in text, "the unreadable update is logged")
check("byte offset 12" in text and "plain text" in text, "the HTML refused is logged with its method and offset")
check("AddressSanitizer" not in text and "runtime error" not in text and "LeakSanitizer" not in text,
      "no sanitizer report")
harness.finish(text[-3000:])
