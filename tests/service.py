#!/usr/bin/env python3
"""The bot as systemd runs it: the real binary with Telegram against the fake
Bot API, NOTIFY_SOCKET pointing at a socket this script reads
(tests/notify_socket.py), WATCHDOG_USEC set, and JOURNAL_STREAM naming the
file its standard error goes to.  Checks READY=1 once /healthz answers,
WATCHDOG=1 at half the interval, RELOADING=1 then READY=1 on SIGHUP,
STOPPING=1 and exit 0 on SIGTERM, log lines with the journal's priority
prefixes and no timestamp; /healthz 503 while the fake platform does not
answer (/readyz staying 200) and 200 once it does again, on Telegram and
on Matrix (a second bot against the fake homeserver); /healthz and
/readyz 503 while the database file is moved away, 200 once it is back.
Prints "N passed, N failed".

Usage: service.py ENSEMBLE"""
import json, os, re, signal, subprocess, sys, time, urllib.error, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py, notify_socket.py
import harness
from harness import check, free_port, start_fake
from notify_socket import NotifySocket

binary = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
TOKEN = "123456:TEST-token-service"
WATCHDOG_USEC = 2000000
tmp = harness.tempdir("ensemble-svc-")

out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
check("systemd notification (sd_notify): built in" in out,
      "built with libsystemd (scripts/deps.sh installs libsystemd-dev): --version says %r" % out)

api_port, http_port = free_port(), free_port()
fake = start_fake([sys.executable, os.path.join(here, "telegram", "fake_botapi.py"), str(api_port), TOKEN])
# A second bot, on Matrix, for its side of /healthz.
hs_port, mx_http_port = free_port(), free_port()
hs = start_fake([sys.executable, os.path.join(here, "matrix", "fake_homeserver.py"), str(hs_port)])
mconf = os.path.join(tmp, "matrix.conf")
with open(mconf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\n[http]\nlisten = 127.0.0.1:%d\n[matrix]\nhomeserver = "
            "http://127.0.0.1:%d\nuser = @ensemble:test.local\npassword = bot-pass\nsync_timeout = 1\n"
            % (os.path.join(tmp, "m.db"), mx_http_port, hs_port))
os.chmod(mconf, 0o600)
mlog = open(os.path.join(tmp, "matrix.log"), "w")
mbot = subprocess.Popen([binary, "--config", mconf], stdin=subprocess.DEVNULL, stdout=mlog, stderr=mlog)
db = os.path.join(tmp, "s.db")
conf = os.path.join(tmp, "ensemble.conf")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\n[http]\nlisten = 127.0.0.1:%d\n"
            "[telegram]\ntoken = %s\napi_url = http://127.0.0.1:%d\npoll_timeout = 1\n"
            % (db, http_port, TOKEN, api_port))
os.chmod(conf, 0o600)

def get(path, port=http_port):
    """(status, parsed JSON body) of GET path on the listener; (None, None)
    when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except (OSError, ValueError):
        return None, None

sock = NotifySocket(tmp)
log_path = os.path.join(tmp, "bot.log")
log = open(log_path, "w")
st = os.fstat(log.fileno())
env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino), **sock.environment(WATCHDOG_USEC))
bot = subprocess.Popen([binary, "--config", conf], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)

# READY=1 once the bot serves: the listener answers the moment it comes.
ready = sock.wait_for("READY")
check(ready is not None, "READY=1")
status, body = get("/healthz") if ready else (None, None)
check(status == 200 and body == {"status": "ok", "database": "ok", "adapters": {"telegram": "ok"}},
      "/healthz answers 200 when READY=1 comes: %s %s" % (status, body))
check(ready and ready[1].get("STATUS") == "running: telegram", "a STATUS= line with READY=1: %s" % (ready,))
check(get("/readyz") == (200, {"status": "ok", "database": "ok"}), "/readyz: 200")
check(sock.index("STOPPING") < 0 and sock.index("RELOADING") < 0, "nothing but READY and pings so far")

# SIGHUP: RELOADING=1 (dated), then READY=1 again.
n = sock.count()
bot.send_signal(signal.SIGHUP)
reloading = sock.wait_for("RELOADING", after=n)
check(reloading is not None and re.fullmatch(r"[0-9]+", reloading[1].get("MONOTONIC_USEC", "")),
      "RELOADING=1 with MONOTONIC_USEC on SIGHUP: %s" % (reloading,))
i = sock.index("RELOADING", after=n)
check(i >= 0 and sock.wait_for("READY", after=i + 1, timeout=5) is not None, "READY=1 after the reload")

# The platforms stop answering (the fakes are frozen): /healthz turns 503
# once poll_timeout (1 s) and the margin (15 s) have passed without a word,
# naming Telegram, while /readyz stays 200; they answer again: 200.  The
# same on Matrix, with sync_timeout.
check(harness.wait_for(lambda: get("/healthz", mx_http_port)[0] == 200, "the Matrix bot's /healthz"),
      "the Matrix bot is healthy")
fake.send_signal(signal.SIGSTOP)
hs.send_signal(signal.SIGSTOP)
stopped = time.monotonic()
readyz_during = []
def platform_down():
    readyz_during.append(get("/readyz")[0])
    status, body = get("/healthz")
    return status == 503 and body or None
down = harness.wait_for(platform_down, "/healthz 503 while the platform does not answer", timeout=40)
waited = time.monotonic() - stopped
check(down and down.get("status") == "unhealthy" and down.get("database") == "ok" and
      re.fullmatch(r"no answer from the platform for [0-9]+ s", down.get("adapters", {}).get("telegram", "")),
      "/healthz names the silent platform: %s" % (down,))
check(14 <= waited <= 25, "unhealthy after the long poll's window and the margin: %.1f s" % waited)
check(readyz_during and all(s == 200 for s in readyz_during), "/readyz stays 200 while the platform is down")
mx_status, mx_body = harness.wait_for(lambda: get("/healthz", mx_http_port)[0] == 503 and
                                     get("/healthz", mx_http_port), "the Matrix bot's /healthz 503") or (None, {})
check(mx_status == 503 and re.fullmatch(r"no answer from the platform for [0-9]+ s",
                                        mx_body.get("adapters", {}).get("matrix", "")),
      "the Matrix bot's /healthz names the silent homeserver: %s %s" % (mx_status, mx_body))
fake.send_signal(signal.SIGCONT)
hs.send_signal(signal.SIGCONT)
check(harness.wait_for(lambda: get("/healthz")[0] == 200, "/healthz 200 once the platform answers", timeout=40),
      "/healthz healthy again")
check(harness.wait_for(lambda: get("/healthz", mx_http_port)[0] == 200, "the Matrix bot's /healthz 200 again",
                       timeout=40), "the Matrix bot healthy again")
mbot.send_signal(signal.SIGTERM)
check(mbot.wait(timeout=15) == 0, "the Matrix bot: exit 0 after SIGTERM")
mlog.close()

# The database file moved away (a restart would find none): both 503
# within a probe's period, naming the database; back in place: 200.
os.rename(db, db + ".away")
gone = harness.wait_for(lambda: get("/readyz")[0] == 503 and get("/healthz"), "/readyz 503 without the database",
                        timeout=15)
check(gone and gone[0] == 503 and gone[1].get("database") == "unable to open database file",
      "/healthz names the database: %s" % (gone,))
os.rename(db + ".away", db)
check(harness.wait_for(lambda: get("/healthz")[0] == 200, "/healthz 200 with the database back", timeout=15),
      "healthy with the database back")

# The watchdog: pings at half of WATCHDOG_USEC, from the start on,
# through the platform's silence.
pings = sock.seen("WATCHDOG")
gaps = [b - a for a, b in zip(pings, pings[1:])]
check(len(pings) >= 20, "WATCHDOG=1 all along: %d pings" % len(pings))
check(gaps and all(0.6 <= g <= 1.8 for g in gaps), "a ping about every second (2 s / 2): %s" %
      ", ".join("%.2f" % g for g in gaps))

# SIGTERM: STOPPING=1, and a clean exit.
n = sock.count()
bot.send_signal(signal.SIGTERM)
check(sock.wait_for("STOPPING", after=n, timeout=10) is not None, "STOPPING=1 on SIGTERM")
check(bot.wait(timeout=15) == 0, "exit 0 after SIGTERM")
sock.close()
log.close()

# The journal's format: each line starts with its priority, without a
# timestamp of its own.
text = open(log_path).read()
lines = text.splitlines()
check(lines and all(re.match(r"<[3467]>(error|warn |info |debug) \[", l) for l in lines),
      "every log line has a priority prefix")
check(not re.search(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z", text), "no timestamp of the bot's own")
check(any(l.startswith("<6>info  [main] ensemble ") for l in lines), "info lines are <6>")
check(any(l.startswith("<4>warn  [telegram] getUpdates failed") for l in lines) or
      any(l.startswith("<3>error [health] the database does not answer") for l in lines), "warnings and errors too")
check(TOKEN not in text, "the token is not logged")
fake.kill()
hs.kill()
harness.finish(text[-4000:])
