#!/usr/bin/env python3
"""On time: a reminder due a minute from now, on the real clock, through the
release build; prints how late it was printed.  Takes up to two minutes."""
import subprocess, time, datetime, os, sys
from zoneinfo import ZoneInfo
tz = ZoneInfo("Europe/Paris")
now = datetime.datetime.now(tz)
start = (now + datetime.timedelta(minutes=2)).replace(second=0, microsecond=0)
due = start - datetime.timedelta(minutes=1)
db = os.path.join(__import__("tempfile").mkdtemp(), "o.db")
for e in ("", "-wal", "-shm"):
    try: os.remove(db + e)
    except FileNotFoundError: pass
p = subprocess.Popen([sys.argv[1] if len(sys.argv) > 1 else "build/ensemble", "--console", "--db", db, "-q", "--set", "lang=en"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
p.stdin.write("alice: /remind 1m\nalice: /meetup Ontime; %s\n" % start.strftime("%Y-%m-%d %H:%M"))
p.stdin.flush()
for line in p.stdout:
    if "⏰" in line:
        t = datetime.datetime.now(tz)
        print("due %s, printed %s, late by %.3f s" % (due.time(), t.time(), (t - due).total_seconds()))
        break
p.stdin.close()
p.wait()
