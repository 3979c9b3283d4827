#!/usr/bin/env python3
"""Telegram in webhook mode: the real binary with [telegram] mode = webhook
and its HTTP listener, the fake Bot API for its calls, and this script
playing Telegram's side of the webhook.  Checks setWebhook (URL, a secret of
the allowed characters, allowed_updates), 401 for a missing or wrong
secret with nothing processed, 400 for malformed JSON, 413 for an oversized
body, an accepted update answered through the Bot API, an update accepted
just before a SIGKILL handled after the restart, and deleteWebhook when the
configuration goes back to polling.  On PostgreSQL (tests/dbtarget.py) the
update's store is committed on a thread and the post answered once it
has: with the table it is stored in locked by another session, the post
waits while the listener goes on answering /healthz at once, and is
answered 200 once the lock is gone (were the store done on the loop's
thread, /healthz would not answer until then).  Prints "N passed, N
failed".

Usage: webhook.py ENSEMBLE"""
import json, os, signal, subprocess, sys, time, urllib.error, urllib.request
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # harness.py, dbtarget.py
import dbtarget, harness
from harness import check, free_port, start_fake

def wait_for(pred, what, timeout=10):
    return harness.wait_for(pred, what, timeout)

binary = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
TOKEN = "123456:TEST-token-webhook"
tmp = harness.tempdir("ensemble-wh-")

api_port, hook_port = free_port(), free_port()
fake = start_fake([sys.executable, os.path.join(here, "fake_botapi.py"), str(api_port), TOKEN])
api = "http://127.0.0.1:%d" % api_port
hook = "http://127.0.0.1:%d/tg/hook" % hook_port
db = dbtarget.fresh(tmp, "w.db")

def calls(method=None):
    with urllib.request.urlopen(api + "/control/calls", timeout=10) as r:
        return [b for m, b in json.loads(r.read()) if method is None or m == method]

def post(body, secret=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    req = urllib.request.Request(hook, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (ConnectionError, urllib.error.URLError):
        return -1

conf = os.path.join(tmp, "ensemble.conf")
def write_conf(mode):
    with open(conf, "w") as f:
        f.write("[general]\ndb = %s\nlang = en\n[http]\nlisten = 127.0.0.1:%d\nmax_body = 65536\n"
                "[telegram]\ntoken = %s\napi_url = %s\nmode = %s\nwebhook_url = https://bot.example.org/tg/hook\n"
                "webhook_path = /tg/hook\npoll_timeout = 1\nchat_interval_ms = 0\n"
                % (db, hook_port, TOKEN, api, mode))
    os.chmod(conf, 0o600)
log = open(os.path.join(tmp, "bot.log"), "w")
def start_bot():
    return subprocess.Popen([binary, "--config", conf, "-v"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)

GROUP = -1001234500000
uid = [500]
def update(text, chat=GROUP):
    uid[0] += 1
    return {"update_id": uid[0], "message": {"message_id": uid[0], "date": int(time.time()),
            "chat": {"id": chat, "type": "supergroup"}, "from": {"id": 7, "is_bot": False, "first_name": "Zoé"},
            "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}}

def texts():
    return [b["text"] for b in calls("sendMessage")]

write_conf("webhook")
bot = start_bot()
sw = wait_for(lambda: calls("setWebhook"), "setWebhook")
secret = ""
if sw:
    secret = sw[0].get("secret_token", "")
    check(sw[0].get("url") == "https://bot.example.org/tg/hook", "setWebhook with the configured URL")
    check(len(secret) >= 32 and all(c.isalnum() or c in "_-" for c in secret), "a generated secret of allowed characters")
    check("poll_answer" in sw[0].get("allowed_updates", []), "setWebhook with allowed_updates")
check(not calls("getUpdates"), "no getUpdates in webhook mode")
time.sleep(0.3)

check(post(update("/help")) == 401, "no secret: 401")
check(post(update("/help"), "x" * len(secret)) == 401, "a wrong secret of the same length: 401")
check(post(update("/help"), secret[:-1]) == 401, "a prefix of the secret: 401")
time.sleep(0.5)
check(not texts(), "nothing processed from refused requests")
check(post(None, secret, raw=b'{"update_id": 1, "message": {') == 400, "malformed JSON: 400")
check(post(None, secret, raw=b'{"update_id":2,"message":{"text":"' + b"a" * 70000 + b'"}}') == 413, "oversized body: 413")
check(post(update("/start"), secret) == 200, "the right secret: 200")
t = wait_for(lambda: texts(), "the answer to a webhook update")
check(t and "Ensemble" in t[0], "the update is handled and answered")
# Updates jansson alone refuses: one with \u0000 and a lone surrogate
# escape is read and answered; one that is no JSON at all but names its
# update_id is taken (200) and skipped with a log line, rather than refused
# for Telegram to send again and again.
n = len(texts())
check(post(None, secret, raw=json.dumps(update("/start \u0000 \ud800")).encode()) == 200,
      "an update with \\u0000 and a lone surrogate: 200")
check(wait_for(lambda: len(texts()) > n, "its answer"), "an update with \\u0000 and a lone surrogate is answered")
uid[0] += 1
check(post(None, secret, raw=b'{"update_id": %d, "message": {"text": "\\q"}}' % uid[0]) == 200,
      "an update that is no JSON, with its update_id: 200")
with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % hook_port, timeout=5) as r:
    check(r.status == 200, "the listener's health check")
# Telegram posts only when there is something to post: the bot asks
# getWebhookInfo every poll_timeout (1 s here) to hear from the Bot API,
# which /healthz reads.
check(wait_for(lambda: len(calls("getWebhookInfo")) >= 2, "getWebhookInfo, twice"),
      "webhook mode asks getWebhookInfo")

if dbtarget.PG:
    # The table the update is stored in, locked for 4 s by another session:
    # the post waits for its store, the loop does not.
    import threading
    sys.path.insert(0, os.path.join(os.path.dirname(here), "pg"))
    import slowlock
    n = len(texts())
    holder = slowlock.lock(db, "kv", 4)
    t_lock, got = time.monotonic(), {}
    poster = threading.Thread(target=lambda: got.update(status=post(update("/about"), secret),
                                                        after=time.monotonic() - t_lock))
    poster.start()
    slowlock.check_healthy(slowlock.healthy_while(t_lock, 4, hook_port), "a post's store waits for the lock")
    check("status" not in got, "the post is not answered before its update is stored (%r)" % got)
    holder.join()
    poster.join(15)
    check(got.get("status") == 200 and got.get("after", 0) >= 3.5,
          "the post is answered 200 once its update is stored, after the lock (%r)" % got)
    check(wait_for(lambda: [x for x in texts()[n:] if "Ensemble 0.1" in x], "the answer to the waiting post"),
          "and the update is handled")

# Accepted, then the bot is killed at once: the update is handled after
# the restart (it was stored before the 200).
n = len(texts())
check(post(update("/about"), secret) == 200, "accepted before the kill")
bot.send_signal(signal.SIGKILL)
bot.wait()
bot = start_bot()
wait_for(lambda: len(calls("setWebhook")) >= 2, "setWebhook after the restart")
sw2 = calls("setWebhook")[-1]
check(sw2.get("secret_token") != secret, "a new secret after a restart")
wait_for(lambda: [x for x in texts()[n:] if "Ensemble 0.1" in x], "the stored update answered after the restart")
# Killed right after the answer may have left: Telegram has no idempotent
# send, so one in-flight duplicate per crash is the most there may be.
time.sleep(0.5)
check(1 <= len([x for x in texts()[n:] if "Ensemble 0.1" in x]) <= 2, "answered, at most one in-flight duplicate")
# The old secret no longer works.
check(post(update("/help"), secret) == 401, "the previous run's secret: 401")

# Back to polling: deleteWebhook first, then getUpdates.
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=10) == 0, "a clean stop")
write_conf("polling")
bot = start_bot()
wait_for(lambda: calls("getUpdates"), "polling again")
names = [m for m in [c for c in json.loads(urllib.request.urlopen(api + "/control/calls").read())]]
order = [m for m, b in names]
check(order.index("deleteWebhook") < order.index("getUpdates"), "deleteWebhook before polling")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=10) == 0, "a clean stop in polling mode")
# TLS from the listener itself: a certificate file and its key.
import ssl
cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
write_conf("webhook")
with open(conf, "a") as f:
    f.write("[http]\ntls_cert = %s\ntls_key = %s\n" % (cert, key))
n_hooks = len(calls("setWebhook"))
bot = start_bot()
wait_for(lambda: len(calls("setWebhook")) > n_hooks, "setWebhook with TLS")
secret3 = calls("setWebhook")[-1]["secret_token"]
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
n = len(texts())
req = urllib.request.Request(hook.replace("http://", "https://"), data=json.dumps(update("/about")).encode(),
                             headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret3},
                             method="POST")
try:
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        check(r.status == 200, "the webhook over TLS from the listener's own certificate")
except Exception as e:
    check(False, "the webhook over TLS: %s" % e)
check(wait_for(lambda: texts()[n:], "the answer to an update over TLS"), "answered")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=10) == 0, "a clean stop with TLS")
log.close()
text = open(os.path.join(tmp, "bot.log")).read()
check(secret not in text and TOKEN not in text, "neither the token nor the secret is logged")
fake.kill()
check("cannot be read" in text, "the unreadable update is logged")
harness.finish(text[-4000:])
