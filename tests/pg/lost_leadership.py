#!/usr/bin/env python3
"""The hot standby seen from outside: two instances of the real binary on
one PostgreSQL database (tests/dbtarget.py's, ENSEMBLE_TEST_PG) against the
fake Bot API.

- The second one stands by: it tells systemd READY=1 with "STATUS=standing
  by: another instance leads", logs it, answers /healthz 200 and /readyz 503
  with the status "standby", and /metrics has ensemble_leader 0 (1 on the
  leader); a message is answered once, by the leader.
- The leader's session is ended (pg_terminate_backend) while it is frozen
  (SIGSTOP): the standby takes the leadership (its /readyz 200, STATUS=
  running: telegram, ensemble_leader 1, a log line) within a few seconds.
- The old leader thawed: at its next write it finds another instance
  leading, logs that it lost the leadership and exits with status 3,
  without a word to Telegram: the message sent meanwhile is answered once,
  by the new leader.

Usage: lost_leadership.py ENSEMBLE   (prints "N passed, N failed")"""
import atexit, json, os, re, signal, subprocess, sys, time, urllib.error, urllib.request
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # tests/: harness.py, dbtarget.py, notify_socket.py
import dbtarget, harness
from harness import check, free_port, post_json, start_fake
from notify_socket import NotifySocket

binary = sys.argv[1]
if not dbtarget.PG:
    print("set ENSEMBLE_TEST_PG to a cluster's target (ctest runs this with the fixture pg)")
    sys.exit(1)
TOKEN = "123456:LOST-token"
GROUP = -1001000000555
tmp = harness.tempdir("ensemble-lost-")
db = dbtarget.fresh(tmp, "lost")
api_port = free_port()
fake = start_fake([sys.executable, os.path.join(os.path.dirname(here), "telegram", "fake_botapi.py"), str(api_port),
                   TOKEN])
API = "http://127.0.0.1:%d" % api_port
conf = os.path.join(tmp, "ensemble.conf")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\n[http]\nmetrics = on\n"
            "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\n" % (db, TOKEN, API))
os.chmod(conf, 0o600)
ports = [free_port(), free_port()]
logs = [os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")]

def start(i, env=None):
    """Starts instance i, killed when the script exits, however it exits."""
    p = subprocess.Popen([binary, "--config", conf, "--set", "http.listen=127.0.0.1:%d" % ports[i]],
                         stdin=subprocess.DEVNULL, stdout=open(logs[i], "a"), stderr=subprocess.STDOUT, env=env)
    atexit.register(p.kill)
    return p

def get(i, path):
    """(status, body) of GET path on instance i; JSON bodies parsed."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (ports[i], path), timeout=5) as r:
            status, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    except OSError:
        return None, None
    return status, json.loads(body) if body.startswith("{") else body

def leader_gauge(i):
    m = re.search(r"^ensemble_leader ([0-9.]+)$", get(i, "/metrics")[1] or "", re.M)
    return m and float(m.group(1))

msg = [0]
def say(text):
    msg[0] += 1
    post_json(API + "/control/update", {"message": {"message_id": msg[0], "date": int(time.time()),
        "chat": {"id": GROUP, "type": "supergroup"}, "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
        "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})
    return msg[0]

def replies(mid):
    with urllib.request.urlopen(API + "/control/ok", timeout=10) as r:
        return sum(1 for m, b in json.loads(r.read())
                   if m == "sendMessage" and b.get("reply_parameters", {}).get("message_id") == mid)

a = start(0)
check(harness.wait_for(lambda: get(0, "/readyz")[0] == 200, "the first instance leading"), "the first instance leads")
sock = NotifySocket(tmp)
b = start(1, dict(os.environ, **sock.environment()))
ready = sock.wait_for("READY")
check(ready and ready[1].get("STATUS") == "standing by: another instance leads",
      "the second one: READY=1 with STATUS=standing by (%s)" % (ready,))
check(get(1, "/healthz") == (200, {"status": "standby", "database": "ok", "adapters": {}}),
      "the standby's /healthz: 200, standby (%s)" % (get(1, "/healthz"),))
check(get(1, "/readyz") == (503, {"status": "standby", "database": "ok"}),
      "the standby's /readyz: 503, standby (%s)" % (get(1, "/readyz"),))
check(leader_gauge(0) == 1 and leader_gauge(1) == 0, "ensemble_leader: 1 on the leader, 0 on the standby")
check("standing by: another instance leads" in open(logs[1]).read(), "the standby says so in its log")
first = say("/help")
check(harness.wait_for(lambda: replies(first) == 1, "the answer to /help"), "the leader answers")
# ... and has recorded its delivery (a row of outbox_acks), so that the
# next leader has nothing to send again.
harness.wait_for(lambda: dbtarget.query(db, "SELECT count(*) FROM outbox WHERE id NOT IN "
                                            "(SELECT id FROM outbox_acks)") == [["0"]], "the delivery recorded")

# The leader frozen, its session ended: the standby takes over.
a.send_signal(signal.SIGSTOP)
n = sock.count()
dbname = re.search(r"dbname=(\S+)", db).group(1)
ended = time.monotonic()
dbtarget.psql(db, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                  "AND database = (SELECT oid FROM pg_database WHERE datname = '%s')" % dbname)
took = harness.wait_for(lambda: get(1, "/readyz")[0] == 200, "the standby taking over", 15)
took = took and time.monotonic() - ended
check(took and took < 5, "the standby leads %.2f s after the leader's session ended" % (took or -1))
running = sock.wait_for("READY", after=n)
check(running and running[1].get("STATUS") == "running: telegram", "STATUS=running: telegram (%s)" % (running,))
check(leader_gauge(1) == 1, "ensemble_leader 1 on the new leader")
check(harness.wait_for(lambda: "took over after" in open(logs[1]).read(), "the take-over logged"),
      "the take-over is logged")

# The old leader thawed: it must find out at its next write and stop.
a.send_signal(signal.SIGCONT)
second = say("/help")
try:
    code = a.wait(timeout=20)
except subprocess.TimeoutExpired:
    code = None
check(code == 3, "the old leader exits with status 3 (%s)" % code)
check("lost the leadership" in open(logs[0]).read(), "... and says it lost the leadership")
check(harness.wait_for(lambda: replies(second) >= 1, "the answer after the take-over", 20) and
      (time.sleep(2) or replies(second) == 1), "the message sent meanwhile is answered once (%d)" % replies(second))
check(replies(first) == 1, "the first one still once")

b.send_signal(signal.SIGTERM)
check(b.wait(timeout=20) == 0, "the new leader stops cleanly")
sock.close()
fake.kill()
harness.finish(open(logs[0]).read()[-3000:] + "\n----\n" + open(logs[1]).read()[-3000:])
