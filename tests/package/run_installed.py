#!/usr/bin/env python3
"""The installed package's bot, started by hand as the service would start
it: /usr/bin/ensemble as the user "ensemble", with a copy of the installed
/etc/ensemble/ensemble.conf (0640 root:ensemble, its database in
/var/lib/ensemble) where only the Telegram keys and the HTTP listener are
set, pointed at the fake Bot API, under the kernel's memory-deny-write-execute,
with NOTIFY_SOCKET and WATCHDOG_USEC as systemd gives them
(tests/notify_socket.py).  READY=1 comes; a message in a group is answered;
WATCHDOG=1 comes about every second; SIGTERM brings STOPPING=1 and stops
the bot with exit 0, and the database it made is the user's own and
private.  Prints "N passed, N failed".

Usage: run_installed.py CONF_COPY   (root; CONF_COPY in a directory the
user "ensemble" may enter)"""
import ctypes, grp, json, os, pwd, signal, subprocess, sys, time, urllib.request
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))  # harness.py
import harness
from harness import check, free_port, post_json, start_fake
from notify_socket import NotifySocket

conf = sys.argv[1]
TOKEN = "123456:TEST-token-package"
port = free_port()
start_fake([sys.executable, os.path.join(here, "..", "telegram", "fake_botapi.py"), str(port), TOKEN])
base = "http://127.0.0.1:%d" % port

# The installed file with the Telegram keys and the listener uncommented:
# the rest (the database in the state directory) is the package's.
text = open("/etc/ensemble/ensemble.conf").read()
http_port = free_port()
for key, value in (("token", TOKEN), ("api_url", base), ("poll_timeout", "2"),
                   ("listen", "127.0.0.1:%d" % http_port)):
    lines = text.split("\n")
    hits = [i for i, l in enumerate(lines) if l.startswith(";%s =" % key)]
    check(len(hits) == 1, "one commented-out %s in the installed configuration" % key)
    if hits:
        lines[hits[0]] = "%s = %s" % (key, value)
    text = "\n".join(lines)
with open(conf, "w") as f:
    f.write(text)
os.chown(conf, 0, grp.getgrnam("ensemble").gr_gid)
os.chmod(conf, 0o640)

def calls(method):
    with urllib.request.urlopen(base + "/control/calls", timeout=10) as r:
        return [b for m, b in json.loads(r.read()) if m == method]

log_path = conf + ".log"
log = open(log_path, "w")
# systemd's side of the notifications (Type=notify, WatchdogSec=): a socket
# beside the configuration, where the user "ensemble" may reach it.
sock = NotifySocket(os.path.dirname(os.path.abspath(conf)))
env = dict({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, **sock.environment(watchdog_usec=2000000))
# The unit's MemoryDenyWriteExecute= is a seccomp filter; the kernel's own
# (prctl PR_SET_MDWE, Linux 6.3 and later, inherited across exec) refuses
# the same: a mapping both writable and executable, or made executable
# later.  The bot must run under it, its libwebsockets plugin loaded.
libc = ctypes.CDLL(None, use_errno=True)
def deny_write_execute():
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        os.write(2, b"(this kernel has no PR_SET_MDWE: the bot runs without it)\n")
bot = subprocess.Popen(["setpriv", "--reuid", "ensemble", "--regid", "ensemble", "--init-groups",
                        "/usr/bin/ensemble", "--config", conf],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd="/",
                       preexec_fn=deny_write_execute)
ready = sock.wait_for("READY", timeout=20)
check(ready is not None, "the installed bot notifies READY=1")
harness.wait_for(lambda: calls("getUpdates"), "the installed bot's first getUpdates", 20)
GROUP = -1001234567890
post_json(base + "/control/update", {"message": {
    "message_id": 1, "date": int(time.time()), "chat": {"id": GROUP, "type": "supergroup"},
    "from": {"id": 42, "is_bot": False, "first_name": "Alice", "language_code": "en"},
    "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}})
sent = harness.wait_for(lambda: [b for b in calls("sendMessage") if str(b["chat_id"]) == str(GROUP)],
                        "the answer to /help", 20)
check(bool(sent) and "/meetup" in sent[0]["text"], "the installed bot answers /help with its commands")
try:
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % http_port, timeout=10) as r:
        health = r.status
except Exception as e:
    health = e
check(health == 200, "the listener (libwebsockets and its libuv plugin) answers /healthz: %s" % health)
# WATCHDOG_USEC is 2 s: a ping about every second, from READY=1 on.
if ready:
    time.sleep(max(0.0, ready[0] + 3.5 - time.monotonic()))
pings = sock.seen("WATCHDOG")
gaps = [b - a for a, b in zip(pings, pings[1:])]
check(len(pings) >= 3 and all(0.6 <= g <= 1.8 for g in gaps),
      "WATCHDOG=1 about every second: %s" % ", ".join("%.2f" % g for g in gaps))
n = sock.count()
bot.send_signal(signal.SIGTERM)
try:
    rc = bot.wait(timeout=20)
except subprocess.TimeoutExpired:
    bot.kill()
    rc = "none (killed after 20 s)"
check(rc == 0, "SIGTERM stops the installed bot with exit 0, not %s" % rc)
check(sock.wait_for("STOPPING", after=n, timeout=1) is not None, "the installed bot notifies STOPPING=1")
sock.close()
db = "/var/lib/ensemble/ensemble.db"
check(os.path.exists(db), "the database is in the state directory")
if os.path.exists(db):
    st = os.stat(db)
    check(pwd.getpwuid(st.st_uid).pw_name == "ensemble" and st.st_mode & 0o777 == 0o600,
          "the database is ensemble's, 0600 (%s, %o)" % (pwd.getpwuid(st.st_uid).pw_name, st.st_mode & 0o777))
log.close()
harness.finish(open(log_path).read())
