#!/usr/bin/env python3
"""The calendar feeds end to end: the real binary on the console with
[http] listen and [web] public_url, meetups proposed, confirmed, moved and
cancelled in the chat, and the feeds fetched over HTTP and read by three
independent parsers: libical (ics_check: icalparser and
icalrestriction_check), Python's icalendar (Debian's python3-icalendar) and
Mozilla's ical.js (npm, pinned in tests/web).  What a subscriber would
notice is checked: which meetups a feed holds, their time as a UTC instant
(the week of the change to summer time included), a move's higher SEQUENCE
and new time, a cancellation's STATUS:CANCELLED, a personal feed with only
the person's meetups (across chats and zones) and an alarm, the
conditional requests' 304s, and a forged, revoked or forgotten link's 404.

    feeds.py ENSEMBLE ICS_CHECK
"""
import datetime, json, os, re, subprocess, sys, urllib.error, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, free_port, tempdir  # noqa: E402

import icalendar  # noqa: E402  (Debian's python3-icalendar)

BIN, ICS_CHECK = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
PUBLIC = "https://cal.example.org"
tmp = tempdir("ensemble-cal-")
port = free_port()
errlog = open(os.path.join(tmp, "stderr"), "w+")
bot = subprocess.Popen(
    [BIN, "--console", "--clock=sim", "--now=2027-03-22T10:00", "--db", os.path.join(tmp, "t.db"),
     "--set", "lang=en", "--set", "timezone=Europe/Paris", "--set", "console.marks=1",
     "--set", "http.listen=127.0.0.1:%d" % port, "--set", "web.public_url=" + PUBLIC + "/"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, text=True)
MARK = re.compile(r"#done ([0-9]+)$")
typed = 0


def say(line):
    """Types line in the console; returns what the bot printed for it
    (all it printed before the console's mark "#done N" of that line)."""
    global typed
    typed += 1
    bot.stdin.write(line + "\n")
    bot.stdin.flush()
    out = []
    while True:
        got = bot.stdout.readline()
        if not got:
            raise SystemExit("the bot ended: " + open(errlog.name).read())
        m = MARK.match(got.rstrip("\n"))
        if m and int(m.group(1)) == typed:
            return "".join(out)
        if not m:
            out.append(got)


def link(text, what):
    m = re.search(re.escape(PUBLIC) + r"(/cal/[A-Za-z0-9_-]{22}(?:/[0-9]+)?\.ics)", text)
    check(m is not None, "%s gives a link: %r" % (what, text))
    return m.group(1) if m else "/cal/none.ics"


def get(path, headers=None):
    """(status, headers, body) of GET path on the listener."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


nfile = 0


def parse3(body, what):
    """The three parsers' reading of body: {uid: event} from each, checked
    to agree on every event's UID, UTC start and end, SEQUENCE, STATUS and
    alarms.  Returns ical.js's events by UID, and the calendar's name."""
    global nfile
    nfile += 1
    path = os.path.join(tmp, "feed%d.ics" % nfile)
    with open(path, "wb") as f:
        f.write(body)
    lib = subprocess.run([ICS_CHECK, path], capture_output=True, text=True)
    libical = json.loads(lib.stdout)
    check(lib.returncode == 0 and libical["parsed"] and libical["restrictions_ok"] and not libical["errors"],
          "libical accepts %s: %s" % (what, lib.stdout))
    js = subprocess.run(["node", os.path.join(HERE, "icaljs_check.mjs"), path], capture_output=True, text=True)
    icaljs = json.loads(js.stdout or "{}")
    check(js.returncode == 0 and "error" not in icaljs, "ical.js reads %s: %s %s" % (what, js.stdout, js.stderr))
    py = {}
    try:
        cal = icalendar.Calendar.from_ical(body)
        for e in cal.walk("VEVENT"):
            py[str(e["UID"])] = {
                "start": int(e.decoded("DTSTART").timestamp()), "end": int(e.decoded("DTEND").timestamp()),
                "tzid": e["DTSTART"].params.get("TZID", ""), "seq": int(e["SEQUENCE"]),
                "status": str(e["STATUS"]), "alarms": len(e.walk("VALARM"))}
    except Exception as err:  # any failure to read is a failed check
        check(False, "icalendar reads %s: %s" % (what, err))
    js_events = {e["uid"]: e for e in icaljs.get("events", [])}
    lib_events = {e["uid"]: e for e in libical.get("events", [])}
    check(set(js_events) == set(lib_events) == set(py), "the three parsers see the same events in %s" % what)
    for uid, e in js_events.items():
        for key in ("start", "end", "tzid", "seq", "status", "alarms"):
            got = (lib_events.get(uid, {}).get(key), py.get(uid, {}).get(key))
            check(got == (e[key], e[key]), "%s %s: ical.js %r, libical and icalendar %r" % (what, key, e[key], got))
    return js_events, icaljs.get("calname")


def utc(text):
    return int(datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp())


def by_title(events, title):
    return [e for e in events.values() if e["summary"] == title]


# Monday 22 March 2027; Paris goes to summer time on Sunday 28 March.
say("alice: /meetup Book club; 25/3 7pm; 30/3 7pm; place: Library, 2 rue Neuve; max: 4")
say("bob: /vote #1 2")
say("carol: /vote #1 1 2")
card = say("alice: /meetup confirm 1 2")
check("Add to my calendar: " + PUBLIC + "/cal/" in card, "the announcement links to the meetup's .ics: " + card)
say("alice: /meetup Chess; 24/3 6pm")
say("alice: /meetup confirm 2 1")
say("alice: /meetup Picnic; 26/3 noon; 27/3 noon")  # an open poll: no event
# Another chat, in New York (summer time there since 14 March), where bob
# comes too: his own feed spans both chats and both zones.
say("dave@ny: /tz America/New_York")
say("dave@ny: /meetup Brunch; 30/3 11am")
say("bob@ny: /rsvp 1 yes")
chat = link(say("alice: /agenda"), "/agenda")
mine = say("bob: /agenda me")
check("[@bob] bot:" in mine and "privately" in mine, "/agenda me in the group answers privately: " + mine)
bob_link = link(mine, "/agenda me")
check('"personal_calendar_link": true' in say("bob: /export me"), "/export me says bob has a calendar link")
check("personal_calendar_link" not in say("carol: /export me"), "/export me: carol has none")

status, headers, body = get(chat)
check(status == 200, "the chat's feed: %d" % status)
check(headers.get("Content-Type") == "text/calendar; charset=utf-8", "its type: %s" % headers.get("Content-Type"))
check(headers.get("Referrer-Policy") == "no-referrer", "Referrer-Policy: %s" % headers.get("Referrer-Policy"))
check("noindex" in (headers.get("X-Robots-Tag") or ""), "X-Robots-Tag: %s" % headers.get("X-Robots-Tag"))
events, calname = parse3(body, "the chat's feed")
check(calname == "console", "X-WR-CALNAME names the chat: %r" % calname)
check(sorted(e["summary"] for e in events.values()) == ["Book club", "Chess"], "confirmed meetups only: %r"
      % sorted(e["summary"] for e in events.values()))
book, chess = by_title(events, "Book club"), by_title(events, "Chess")
# 30 March, 7 pm in Paris is summer time (UTC+2); 24 March, 6 pm is winter time (UTC+1).
check(book and book[0]["start"] == utc("2027-03-30T17:00"), "after the change to summer time: %r" % book)
check(chess and chess[0]["start"] == utc("2027-03-24T17:00"), "before it: %r" % chess)
check(book and book[0]["tzid"] == "Europe/Paris" and book[0]["location"] == "Library, 2 rue Neuve",
      "in the chat's zone, with its place: %r" % book)
check(book and "bob" in book[0]["description"] and "carol" in book[0]["description"]
      and "2 places left" in book[0]["description"], "who comes and the places left: %r" % book)
check(all(e["alarms"] == 0 for e in events.values()), "no alarm in the chat's feed")
uid = book[0]["uid"] if book else ""
check(re.fullmatch(r"meetup-[0-9]+-1@cal\.example\.org", uid), "a stable UID: %r" % uid)

# Conditional requests: 304 by ETag, and by date alone.
etag, modified = headers.get("ETag"), headers.get("Last-Modified")
status, _, body304 = get(chat, {"If-None-Match": etag})
check(status == 304 and not body304, "If-None-Match: %d" % status)
status, _, _ = get(chat, {"If-Modified-Since": modified})
check(status == 304, "If-Modified-Since: %d" % status)
status, _, _ = get(chat, {"If-None-Match": '"something-else"'})
check(status == 200, "another ETag: %d" % status)

# The meetup's own .ics.
status, _, one = get(chat[:-len(".ics")] + "/1.ics")
single, _ = parse3(one, "meetup #1's .ics")
check(status == 200 and list(single) == [uid], "the single .ics holds #1 alone: %r" % list(single))
check(get(chat[:-len(".ics")] + "/3.ics")[0] == 404, "an open poll has no .ics")

# The personal feed: bob comes to the book club, not to chess.
status, _, body = get(bob_link)
mine, calname = parse3(body, "bob's feed")
check(status == 200 and sorted(e["summary"] for e in mine.values()) == ["Book club", "Brunch"],
      "bob's meetups only, in both his chats: %r" % [e["summary"] for e in mine.values()])
brunch = by_title(mine, "Brunch")
check(brunch and brunch[0]["start"] == utc("2027-03-30T15:00") and brunch[0]["tzid"] == "America/New_York",
      "the other chat's meetup in its own zone: %r" % brunch)
check(all(e["alarms"] == 1 for e in mine.values()), "the personal feed has an alarm")
check(calname == "Ensemble — bob", "named after the person: %r" % calname)

# A move: a new ETag, a higher SEQUENCE, the new time.
say("alice: /meetup move 1 31/3 8pm")
status, _, body = get(chat, {"If-None-Match": etag})
check(status == 200, "a move changes the ETag: %d" % status)
moved, _ = parse3(body, "the feed after a move")
after = moved.get(uid)
check(after and after["seq"] > book[0]["seq"], "a higher SEQUENCE: %r then %r" % (book[0]["seq"], after))
check(after and after["start"] == utc("2027-03-31T18:00"), "the new time: %r" % after)

# A cancellation stays in the feed, cancelled.
say("alice: /meetup cancel 2")
cancelled, _ = parse3(get(chat)[2], "the feed after a cancellation")
check([e["status"] for e in by_title(cancelled, "Chess")] == ["CANCELLED"], "STATUS:CANCELLED: %r"
      % by_title(cancelled, "Chess"))

# Forged links get a plain 404.
token = chat[len("/cal/"):-len(".ics")]
forged = ("B" if token[0] == "A" else "A") + token[1:]
# The last character carries 2 bits and 4 of padding: another spelling of
# the same token is no link either.
respelt = token[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(token[-1]) | 1]
for path in ("/cal/%s.ics" % forged, "/cal/x.ics", "/cal/%s/1.ics" % forged, "/cal/" + "A" * 22 + ".ics",
             "/cal/%s.ics" % respelt, "/cal/%s.ics/" % token, "/cal/%s/01.ics" % token, "/cal/%s/1x.ics" % token):
    status, _, body = get(path)
    check(status == 404 and body == b"not found\n", "%s: %d %r" % (path, status, body))

# /agenda new link (admins) revokes the chat's links.
refused = say("bob: /agenda new link")
check("admins" in refused and get(chat)[0] == 200, "bob is no admin: " + refused)
fresh = link(say("alice: /agenda new link"), "/agenda new link")
check(fresh != chat and get(chat)[0] == 404 and get(fresh)[0] == 200, "the old link is revoked, the new one works")
check(get(chat[:-len(".ics")] + "/1.ics")[0] == 404, "the old link's single .ics too")

# /forget me revokes the personal link.
say("bob: /forget me")
say("bob: /forget me confirm")
check(get(bob_link)[0] == 404, "the personal link is revoked by /forget me")

bot.stdin.close()
rc = bot.wait(timeout=30)
check(rc == 0, "the bot stops cleanly: %d" % rc)
# The links' key, like every file the bot makes, is for its user alone.
key = os.path.join(tmp, "t.db.webkey")
check(os.path.exists(key) and os.stat(key).st_mode & 0o777 == 0o600, "t.db.webkey is 0600")
errlog.seek(0)
log = errlog.read()
check(not re.search(r"runtime error|AddressSanitizer|LeakSanitizer", log), "no sanitizer report")
finish(log)
