#!/usr/bin/env python3
"""GET /metrics end to end: the real binary on Telegram (the fake Bot API)
with [http] metrics = on.  The answer must parse with the Prometheus text
parser of Debian's python3-prometheus-client, and its figures must move as
the bot works: updates received, commands by canonical name (an alias
counts as its command), replies sent, a 429 counted as a rate limit, a
4xx failure and a retry, a reminder sent with its scheduler lag, pending
jobs and the outbox read from the database; the process metrics must be
there and plausible.  A peer outside metrics_allow gets 403, and with
metrics off /metrics is 404.  --check-config names a bad allow entry.
Prints "N passed, N failed".

Usage: metrics.py ENSEMBLE"""
import http.client, json, os, signal, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py
import harness
from harness import check, free_port, post_json, start_fake, wait_for
from prometheus_client.parser import text_string_to_metric_families

binary = sys.argv[1]
root = os.path.dirname(os.path.abspath(__file__))
tmp = harness.tempdir("ensemble-metrics-")
TOKEN = "123456:METRICS-token"
GROUP = -1001000000077

tg_port, http_port = free_port(), free_port()
fake = start_fake([sys.executable, os.path.join(root, "telegram", "fake_botapi.py"), str(tg_port), TOKEN])
TG = "http://127.0.0.1:%d" % tg_port

def ok_calls():
    with urllib.request.urlopen(TG + "/control/ok", timeout=10) as r:
        return json.loads(r.read())

msg = [0]
def say(text):
    msg[0] += 1
    post_json(TG + "/control/update", {"message": {"message_id": msg[0], "date": int(time.time()),
              "chat": {"id": GROUP, "type": "supergroup"}, "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
              "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})
    return msg[0]

def replied(mid):
    return [b for m, b in ok_calls() if m == "sendMessage" and b.get("reply_parameters", {}).get("message_id") == mid]

def get(path, source="127.0.0.1"):
    """(status, content type, body) of GET path, from the address source."""
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10, source_address=(source, 0))
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()

def scrape():
    """{(name, ((label, value), ...)): value} of every sample, and the
    families' types, as the Prometheus parser reads /metrics."""
    status, ctype, body = get("/metrics")
    samples, types = {}, {}
    for fam in text_string_to_metric_families(body):
        types[fam.name] = fam.type
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, types

def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)

conf = os.path.join(tmp, "e.conf")
with open(conf, "w") as f:
    f.write("[general]\ndb = %s\nlang = en\nremind = 1h\n"
            "[http]\nlisten = 127.0.0.1:%d\nmetrics = on\nmetrics_allow = 127.0.0.1/32\n"
            "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 1\nchat_interval_ms = 0\n"
            % (os.path.join(tmp, "e.db"), http_port, TOKEN, TG))
os.chmod(conf, 0o600)

# --check-config names a bad entry of the allow list, with its line.
bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("[http]\nlisten = 127.0.0.1:8080\nmetrics = on\nmetrics_allow = 127.0.0.1 10.0.0.0/33\n")
p = subprocess.run([binary, "--check-config", bad], capture_output=True, text=True)
check(p.returncode == 1 and "bad.conf:4: http.metrics_allow must be IPv4 or IPv6 addresses" in p.stderr
      and "not '10.0.0.0/33': the prefix length must be 0 to 32" in p.stderr, "--check-config: " + p.stderr)

# Real time from 17:59:40 (Paris) on the day of the meetup below: its
# reminder, an hour before 19:00, falls due 20 s after the start.
log = open(os.path.join(tmp, "bot.log"), "w")
started = time.time()
bot = subprocess.Popen([binary, "--config", conf, "--clock=real", "--now=2027-01-10T17:59:40"],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)
wait_for(lambda: any(m == "getUpdates" for m, b in ok_calls()), "Telegram polling")

status, ctype, body = get("/metrics")
check(status == 200, "GET /metrics: %d" % status)
check(ctype == "text/plain; version=0.0.4; charset=utf-8", "Content-Type: %s" % ctype)
samples, types = scrape()
for name, kind in (("ensemble_updates_received", "counter"), ("ensemble_commands", "counter"),
                   ("ensemble_reminders_sent", "counter"), ("ensemble_reminders_late", "counter"),
                   ("ensemble_reminders_dropped", "counter"), ("ensemble_scheduler_lag_seconds", "histogram"),
                   ("ensemble_outbox_messages", "gauge"), ("ensemble_outbox_oldest_age_seconds", "gauge"),
                   ("ensemble_jobs_pending", "gauge"), ("ensemble_database_size_bytes", "gauge"),
                   ("process_cpu_seconds", "counter"), ("process_resident_memory_bytes", "gauge"),
                   ("process_virtual_memory_bytes", "gauge"), ("process_open_fds", "gauge"),
                   ("process_max_fds", "gauge"), ("process_start_time_seconds", "gauge")):
    check(types.get(name) == kind, "%s is a %s: %s" % (name, kind, types.get(name)))

# Commands, one of them by its French alias; then a 429 on a reply.
for text in ("/help", "/about", "/aide", "/start"):
    mid = say(text)
    wait_for(lambda: replied(mid), "the answer to " + text)
post_json(TG + "/control/fail", {"method": "sendMessage", "code": 429, "retry_after": 1})
mid = say("/about")
wait_for(lambda: replied(mid), "the answer to /about after a 429")
say("/meetup Metrics night; 2027-01-10 19:00")
wait_for(lambda: [b for m, b in ok_calls() if m == "sendMessage" and "Metrics night" in b.get("text", "")],
         "the meetup's announcement")

samples, types = scrape()
check(value(samples, "ensemble_updates_received_total", platform="telegram") == 6,
      "6 updates received: %s" % value(samples, "ensemble_updates_received_total", platform="telegram"))
for cmd, n in (("help", 2), ("about", 2), ("start", 1), ("meetup", 1)):
    got = value(samples, "ensemble_commands_total", command=cmd)
    check(got == n, "ensemble_commands_total{command=%s} = %s, want %d" % (cmd, got, n))
check(not any(k[0] == "ensemble_commands_total" and ("command", "aide") in k[1] for k in samples),
      "an alias is counted as its command")
# A reply is counted when the bot reads its answer, just after the fake
# recorded it.
def sent_and_taken():
    queued = [m for m, b in ok_calls() if m not in ("getMe", "getUpdates", "getChatAdministrators", "deleteWebhook")]
    return value(scrape()[0], "ensemble_replies_sent_total", platform="telegram"), len(queued)
check(wait_for(lambda: (lambda n: n[0] == n[1] >= 7)(sent_and_taken()), "replies sent = what the fake took"),
      "replies sent: %s, the fake took %s" % sent_and_taken())
check(value(samples, "ensemble_rate_limited_total", platform="telegram") == 1, "one 429 counted")
check(value(samples, "ensemble_send_retries_total", platform="telegram") == 1, "one retry counted")
check(value(samples, "ensemble_send_failures_total", platform="telegram", **{"class": "4xx"}) == 1,
      "the 429 is a 4xx failure")
check(value(samples, "ensemble_send_failures_total", platform="telegram", **{"class": "5xx"}) == 0, "no 5xx")

# The database's figures, read every 5 s: the meetup's reminder waits.
wait_for(lambda: value(scrape()[0], "ensemble_jobs_pending") == 1, "ensemble_jobs_pending = 1", 12)
samples, types = scrape()
check(value(samples, "ensemble_outbox_messages") == 0, "nothing waits in the outbox")
check(value(samples, "ensemble_outbox_oldest_age_seconds") == 0, "so nothing is old")
check(value(samples, "ensemble_database_size_bytes") >= 4096, "the database has a size")

# The reminder falls due and is sent, on time; its lag is observed.
wait_for(lambda: value(scrape()[0], "ensemble_reminders_sent_total") == 1, "the reminder", 40)
samples, types = scrape()
check(value(samples, "ensemble_reminders_late_total") == 0, "the reminder is not late")
check(value(samples, "ensemble_reminders_dropped_total") == 0, "no reminder dropped")
count = value(samples, "ensemble_scheduler_lag_seconds_count")
check(count >= 1 and value(samples, "ensemble_scheduler_lag_seconds_bucket", le="+Inf") == count,
      "the scheduler's lag observed: %s" % count)
check(value(samples, "ensemble_scheduler_lag_seconds_bucket", le="1") == count, "within a second")
wait_for(lambda: value(scrape()[0], "ensemble_jobs_pending") == 0, "ensemble_jobs_pending = 0", 12)

# The process, as the client libraries report it.
now = time.time()
rss = value(samples, "process_resident_memory_bytes")
check(1e6 < rss < 2e9, "process_resident_memory_bytes %s" % rss)
check(value(samples, "process_virtual_memory_bytes") >= rss, "virtual memory holds the resident")
fds = value(samples, "process_open_fds")
check(5 <= fds <= value(samples, "process_max_fds"), "process_open_fds %s" % fds)
start = value(samples, "process_start_time_seconds")
check(started - 2 <= start <= started + 2, "process_start_time_seconds %s, started at %s" % (start, started))
cpu = value(samples, "process_cpu_seconds_total")
check(0 < cpu < now - started + 1, "process_cpu_seconds_total %s" % cpu)

# Only metrics_allow's peers: 127.0.0.2 is refused, the listener still
# serves it the rest.
status, ctype, body = get("/metrics", source="127.0.0.2")
check(status == 403 and "ensemble_" not in body, "a peer outside metrics_allow: %d" % status)
check(get("/healthz", source="127.0.0.2")[0] == 200, "/healthz for that peer")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=20) == 0, "a clean stop")

# With metrics off (the default), /metrics is not found.
bot = subprocess.Popen([binary, "--config", conf, "--set", "http.metrics=off"],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)
def listening():
    try:
        return get("/healthz")[0] == 200
    except OSError:
        return False
wait_for(listening, "the listener, metrics off")
check(get("/metrics")[0] == 404, "metrics off: /metrics is 404")
bot.send_signal(signal.SIGTERM)
check(bot.wait(timeout=20) == 0, "a clean stop, metrics off")
log.close()
text = open(os.path.join(tmp, "bot.log")).read()
check("GET /metrics refused" in text, "the refusal is logged")
check(TOKEN not in text, "no secret in the log")
check("AddressSanitizer" not in text and "runtime error" not in text, "no sanitizer report")
harness.finish(text[-4000:])
