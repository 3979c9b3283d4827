#!/usr/bin/env python3
"""The chat's web page and the personal link to vote, end to end, in a
real browser: the real binary on the console with [http] listen and [web]
public_url, a poll voted on and a meetup answered in the chat, and the
pages opened in Debian's Chromium, headless, through playwright-core
(tests/web/browse.mjs).  What a person would notice is checked: the grid
read back from the DOM says what /poll says in the chat (each person's
answers, the totals, the leading date, a date past), the page speaks the
chat's language, fits a phone's 390 px, and axe-core finds no serious or
critical violation; a vote sent through the personal link's form changes
the chat's tally as /poll shows it, and the chat hears nothing of it; a
forged, replaced, forgotten or expired link gets a plain 404, a broken
form a 400.  The screenshots stay in DIR, their paths printed.

    pages.py ENSEMBLE DIR
"""
import json, os, re, subprocess, sys, urllib.error, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, free_port, tempdir  # noqa: E402

BIN, SHOTS = sys.argv[1], os.path.abspath(sys.argv[2])
HERE = os.path.dirname(os.path.abspath(__file__))
PUBLIC = "https://web.example.org"
tmp = tempdir("ensemble-web-")
os.makedirs(SHOTS, exist_ok=True)
port = free_port()
errlog = open(os.path.join(tmp, "stderr"), "w+")
bot = subprocess.Popen(
    [BIN, "--console", "--clock=sim", "--now=2027-03-22T10:00", "--db", os.path.join(tmp, "t.db"),
     "--set", "lang=en", "--set", "timezone=Europe/Paris", "--set", "console.marks=1",
     "--set", "http.listen=127.0.0.1:%d" % port, "--set", "web.public_url=" + PUBLIC],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, text=True)
MARK = re.compile(r"#done ([0-9]+)$")
typed = 0


def say(line):
    """Types line in the console; returns what the bot printed for it."""
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


def link(text, kind, what):
    m = re.search(re.escape(PUBLIC) + r"(/%s/[A-Za-z0-9_-]{22})" % kind, text)
    check(m is not None, "%s gives a link: %r" % (what, text))
    return m.group(1) if m else "/%s/none" % kind


def request(path, data=None, ctype="application/x-www-form-urlencoded"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 headers={"Content-Type": ctype} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def poll(num, chat=""):
    """/poll NUM in the chat, read: per date, the names that said yes and
    those that said if need be."""
    text = say("alice%s: /poll %d" % (chat, num))
    dates = []
    for line in text.splitlines():
        if re.match(r"\s+\d+\. ", line):
            dates.append({"yes": [], "maybe": []})
            continue
        for part in line.strip().split(" · "):
            m = re.match(r"(yes|if need be|oui|si besoin) \((\d+)\) ?: (.*)$", part)
            if m and dates:
                key = "yes" if m.group(1) in ("yes", "oui") else "maybe"
                dates[-1][key] = sorted(n.strip() for n in m.group(3).split(","))
    return dates, text


def browse(pages):
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump({"dir": SHOTS, "pages": pages}, f)
    r = subprocess.run(["node", os.path.join(HERE, "browse.mjs"), job], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "the browser ran: %s" % r.stderr[-2000:])
    return json.loads(r.stdout or "{}")


def grid_answers(g, name):
    return ["y" if a in ("Yes", "Oui") else "m" if a in ("If need be", "Si besoin") else "n" for a in g["rows"][name]]


def same_as_poll(g, dates, what):
    """The grid's rows and totals against /poll's per-date names."""
    check(len(g["dates"]) == len(dates), "%s: %d dates, /poll %d" % (what, len(g["dates"]), len(dates)))
    for i, d in enumerate(dates):
        yes = sorted(n for n in g["rows"] if grid_answers(g, n)[i] == "y")
        maybe = sorted(n for n in g["rows"] if grid_answers(g, n)[i] == "m")
        check(yes == d["yes"] and maybe == d["maybe"], "%s date %d: grid %r %r, /poll %r" % (what, i + 1, yes, maybe, d))
        check(g["totals"]["yes"][i] == len(d["yes"]) and g["totals"]["maybe"][i] == len(d["maybe"]),
              "%s date %d totals: %r" % (what, i + 1, g["totals"]))


def no_serious(violations, what):
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    check(not bad, "axe-core on %s: %r" % (what, bad))
    return "%d violation(s), none serious or critical" % len(violations) if not bad else "FAILED"


# Monday 22 March 2027.  A poll whose first date passes (Tuesday), a
# meetup with one place and a waiting list, a group, and a title that
# needs escaping.
posted = say("alice: /meetup Book <club> & co; 23/3 7pm; 30/3 7pm; 31/3 7pm; place: Library \"Neuve\"")
check("/vote web" in posted, "the poll's announcement points at /vote web: " + posted)
say("bob: /vote 1 2?")
say("carol: /vote 2 3")
say("dave: /vote 3?")
say("alice: /meetup Chess; 26/3 6pm; max: 1")
say("bob: /rsvp 2 yes")
say("carol: /rsvp 2 yes")
say("alice: /group new Runners")
say("ana@paris: /lang fr")
say("ana@paris: /meetup Pique-nique; 27/3 12h; 28/3 12h")
say("ana@paris: /vote 1 2?")
say("~ 2027-03-24T10:00")
page = link(say("alice: /agenda"), "agenda", "/agenda")
page_fr = link(say("ana@paris: /agenda"), "agenda", "/agenda in French")
sent = say("bob: /vote web")
vote = link(sent, "vote", "/vote web")
check("[@bob] bot:" in sent and "privately" in sent, "/vote web answers privately: " + sent)
dates_before, _ = poll(1)

seen = browse([{"name": "agenda", "url": "http://127.0.0.1:%d%s" % (port, page)},
               {"name": "agenda-fr", "url": "http://127.0.0.1:%d%s" % (port, page_fr)},
               {"name": "vote", "url": "http://127.0.0.1:%d%s" % (port, vote),
                "vote": {"poll": 1, "answers": {"d2": "n", "d3": "y"}}}])
agenda, fr, mine = seen.get("agenda", {}), seen.get("agenda-fr", {}), seen.get("vote", {})
check(agenda.get("status") == 200 and agenda.get("lang") == "en", "the chat's page: %r" % agenda.get("status"))
g = agenda.get("grids", {}).get("1", {"rows": {}, "dates": [], "totals": {}})
same_as_poll(g, dates_before, "the chat's page")
check(g.get("lead") == 1 and g.get("past") == [True, False, False], "date 2 leads, date 1 is past: %r %r"
      % (g.get("lead"), g.get("past")))
check(fr.get("lang") == "fr" and "Oui" in json.dumps(fr.get("grids")), "the French chat's page is French: %r" % fr)
for name, p in seen.items():
    check(p.get("narrow", {}).get("scroll", 999) <= 390, "%s fits 390 px: %r" % (name, p.get("narrow")))
verdicts = {name: no_serious(p.get("axe", [{"impact": "critical"}]), name) for name, p in seen.items()}
verdicts["vote, after the vote"] = no_serious(mine.get("voted", {}).get("axe", [{"impact": "critical"}]), "voted")

# The personal page: bob's row is the form, with his vote chosen.
check(mine.get("status") == 200 and mine["grids"]["1"]["mine"] == ["y", "m", "n"] and
      "bob" not in mine["grids"]["1"]["rows"], "bob's own row is his form: %r" % mine.get("grids"))
voted = mine.get("voted", {})
check(voted.get("status") == 200 and "saved" in (voted.get("note") or ""), "the vote is saved: %r" % voted)
after, text = poll(1)
check(after[1]["maybe"] == [] and "bob" in after[2]["yes"] and "bob" in after[0]["yes"],
      "/poll in the chat shows bob's web vote: %r" % after)
check("Vote recorded" not in text and "bob" not in text.split("\n")[0], "the chat heard nothing more: %r" % text)
gv = voted.get("grids", {}).get("1", {"rows": {}, "dates": [], "totals": {}})
gv["rows"]["bob"] = ["Yes" if a == "y" else "If need be" if a == "m" else "No" for a in gv.get("mine") or []]
same_as_poll(gv, after, "the page after the vote")

# A broken form is refused; the page's headers.
status, headers, _ = request(vote)
csp = headers.get("Content-Security-Policy") or ""
check("default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
      and "script-src" not in csp, "a strict Content-Security-Policy: %r" % csp)
check(headers.get("Referrer-Policy") == "no-referrer" and "noindex" in headers.get("X-Robots-Tag", ""),
      "Referrer-Policy and X-Robots-Tag")
token = vote[len("/vote/"):]
for body, want in (("t=%s&p=1&d1=%%FF" % token, 400), ("t=%s&p=1&d1=x" % token, 400), ("t=%s&p=1&d1=%%" % token, 400),
                   ("t=%s&p=1&d99=y" % token, 400), ("p=1&d1=y", 400), ("t=%s&p=1&d1=y" % ("A" * 22), 404),
                   ("t=%s&p=1&d1=y&x=%s" % (token, "a" * 5000), 413)):
    status, _, _ = request(vote, body.encode())
    check(status == want, "POST %s...: %d, not %d" % (body[:40], status, want))
check(request(vote, b"t=%s&p=1&d1=y" % token.encode(), "text/plain")[0] == 415, "a POST that is no form: 415")

status, _, body = request("/robots.txt")
check(status == 200 and body == b"User-agent: *\nDisallow: /\n", "robots.txt turns robots away: %d %r" % (status, body))

# Forged, replaced, forgotten and expired links get a plain 404.
forged = ("B" if token[0] == "A" else "A") + token[1:]
for path in ("/vote/" + forged, "/agenda/" + forged, "/agenda/" + token, "/vote/" + page[len("/agenda/"):],
             "/cal/%s.ics" % token, "/vote/x", "/vote/%s/" % token):
    status, _, body = request(path)
    check(status == 404 and body == b"not found\n", "%s: %d %r" % (path, status, body))
again = link(say("bob: /vote web"), "vote", "/vote web again")
check(again != vote and request(vote)[0] == 404 and request(again)[0] == 200, "a new link replaces the old one")
fresh = link(say("alice: /agenda new link"), "agenda", "/agenda new link")
check(request(page)[0] == 404 and request(fresh)[0] == 200, "/agenda new link revokes the chat's page")
check(request(again)[0] == 404, "... and the links to vote on it")
carol = link(say("carol: /vote web"), "vote", "carol's /vote web")
say("carol: /forget me")
say("carol: /forget me confirm")
check(request(carol)[0] == 404, "/forget me revokes the link to vote")
dave = link(say("dave: /vote web"), "vote", "dave's /vote web")
check(request(dave)[0] == 200, "dave's link opens")
say("~ +6d23h")
check(request(dave)[0] == 200, "a link opens for 7 days")
say("~ +2h")
check(request(dave)[0] == 404, "and not after")

for name, p in seen.items():
    for key in ("narrow", "wide"):
        if p.get(key):
            print("screenshot (%s, %s px): %s" % (name, 390 if key == "narrow" else 1280, p[key]["shot"]))
if voted.get("wide"):
    print("screenshot (after the vote, 1280 px): %s" % voted["wide"]["shot"])
for name, v in verdicts.items():
    print("axe-core, %s: %s" % (name, v))

bot.stdin.close()
rc = bot.wait(timeout=30)
check(rc == 0, "the bot stops cleanly: %d" % rc)

# [web] show_names = no: initials in the grid, no name.
bot = subprocess.Popen(
    [BIN, "--console", "--clock=sim", "--now=2027-03-25T10:00", "--db", os.path.join(tmp, "t.db"),
     "--set", "console.marks=1", "--set", "http.listen=127.0.0.1:%d" % port, "--set", "web.public_url=" + PUBLIC,
     "--set", "web.show_names=no"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, text=True)
typed = 0
say("~ +1m")  # the listener is up once the console has answered
status, _, body = request(fresh)
body = body.decode()
check(status == 200 and '<th scope="row">d.</th>' in body and '<th scope="row">b.</th>' in body
      and "bob" not in body and "dave" not in body, "show_names = no: initials only: %d" % status)
bot.stdin.close()
rc = bot.wait(timeout=30)
check(rc == 0, "the bot stops cleanly again: %d" % rc)
errlog.seek(0)
log = errlog.read()
check(not re.search(r"runtime error|AddressSanitizer|LeakSanitizer", log), "no sanitizer report")
finish(log)
