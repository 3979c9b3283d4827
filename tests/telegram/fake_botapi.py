#!/usr/bin/env python3
"""A fake Telegram Bot API server for the tests, following the documented
protocol: POST /bot<TOKEN>/<method> with a JSON body, {"ok":true,"result":...}
or {"ok":false,"error_code":N,"description":...,"parameters":...} with the
HTTP status equal to error_code; getUpdates long-polls up to `timeout`
seconds and an `offset` confirms every update before it.

The test drives it through /control/*: POST /control/update queues an update
(update_id assigned), GET /control/calls lists every call the bot made, POST
/control/fail makes the next calls of a method fail: with an error code
(and retry_after, migrate_to), or with a mode: "hang" (no answer), "truncate"
(the connection closes mid-body), "garbage" (an HTML error page); for
getUpdates also "replay" (the last confirmed updates again) and "reverse"
(the batch in reverse order); a "description" replaces the forced
failure's.  An update posted with its own update_id is queued as given (a
repeat).  POST /control/slow {"method", "seconds", "times"} answers the next
calls of a method that much later, as a busy Bot API does: the call takes
effect (a message is posted, and seen by the chat's members) at once, its
answer reaches the bot afterwards.  GET /control/sent lists the messages
posted, as Telegram keeps them (message_id, chat, text, reply_markup).

Text is checked as Telegram checks it: with parse_mode HTML it is parsed as
Telegram parses it (parse_html: the tags Telegram knows, closed in order, no
'<' that starts no tag), and broken markup gets 400 "Bad Request: can't
parse entities: ..." with the byte offset; the limit of 4096 counts the
parsed text in UTF-16 code units.  (Telegram shows a '&' that starts no
entity as is; the fake refuses it, so that a message cut inside an entity is
caught rather than shown mangled.)

Updates that jansson alone cannot read: an update posted with "\u0000" or
a lone surrogate escape ("\ud800") in its strings is served with those
escapes, as Telegram serves them; POST /control/raw_update {"raw": TEXT}
queues TEXT as the update's JSON text verbatim (its "update_id" is
assigned: write it as "update_id":0), for an update that is no JSON at
all."""
import json, re, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = sys.argv[2] if len(sys.argv) > 2 else "123456:TEST-token"
lock = threading.Condition()
updates = []          # pending updates
history = []          # every update handed out
next_update = 1000
calls = []            # (method, body)
ok_calls = []         # (method, body) of the calls answered with success
fails = {}            # method -> [(code, retry_after)]
slow = {}             # method -> [seconds before the answer]
sent = []             # every message posted
next_message = 100
polls = {}            # poll id -> poll
admins = {}           # chat id (text) -> [user ids]
webhook = [""]        # the URL set by setWebhook, "" when none

def message(chat_id, extra, body=None):
    """A sent message; in a forum topic (message_thread_id in the request)
    it carries the topic, as Telegram's do."""
    global next_message
    with lock:  # concurrent sends get distinct ids
        next_message += 1
        mid = next_message
    m = {"message_id": mid, "date": int(time.time()),
         "chat": {"id": chat_id, "type": "private" if int(chat_id) > 0 else "supergroup"}}
    thread = (body or {}).get("message_thread_id")
    if thread is not None:
        m["chat"]["is_forum"] = True
        m.update({"message_thread_id": thread, "is_topic_message": True})
    if body and "reply_markup" in body:
        m["reply_markup"] = body["reply_markup"]
    m.update(extra)
    with lock:
        sent.append(m)
    return m

TAGS = {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "blockquote",
        "tg-spoiler", "span", "tg-emoji"}
ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

def parse_html(text):
    """Telegram's reading of parse_mode HTML (after tdlib's parse_html):
    the text with tags dropped and entities decoded, or ValueError with
    what Telegram says is wrong, at a byte offset."""
    out, stack, i, n = [], [], 0, len(text)
    def at(k):
        return len(text[:k].encode("utf-8", "surrogatepass"))
    while i < n:
        c = text[i]
        if c == "&":
            m = re.match(r"&(?:([a-zA-Z]+)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));", text[i:])
            if not m or (m.group(1) and m.group(1) not in ENTITIES):
                raise ValueError("Unescaped \"&\" at byte offset %d" % at(i))
            if m.group(1):
                out.append(ENTITIES[m.group(1)])
            else:
                out.append(chr(int(m.group(2), 10) if m.group(2) else int(m.group(3), 16)))
            i += m.end()
        elif c == "<":
            j = i + 1
            if text.startswith("/", j):
                if not stack:
                    raise ValueError("Unexpected end tag at byte offset %d" % at(i))
                m = re.match(r"/([^\s>]*)\s*>", text[j:])
                if not m:
                    raise ValueError("Unclosed end tag at byte offset %d" % at(i))
                name = m.group(1).lower()
                if name and name != stack[-1]:
                    raise ValueError('Unmatched end tag at byte offset %d, expected "</%s>", found "</%s>"'
                                     % (at(i), stack[-1], name))
                stack.pop()
                i = j + m.end()
            else:
                m = re.match(r"([^\s>]*)((?:\s+[a-zA-Z-]+(?:=(?:\"[^\"]*\"|'[^']*'|[^\s>'\"]+))?)*)\s*>", text[j:])
                name = re.match(r"[^\s>]*", text[j:]).group(0).lower()
                if name not in TAGS:
                    raise ValueError('Unsupported start tag "%s" at byte offset %d' % (name, at(i)))
                if not m:
                    raise ValueError("Unclosed start tag at byte offset %d" % at(i))
                if name == "a" and "href=" not in m.group(2):
                    raise ValueError("Can't find href in the a tag at byte offset %d" % at(i))
                stack.append(name)
                i = j + m.end()
        elif c == ">":
            out.append(c)   # Telegram takes a lone '>' as text
            i += 1
        else:
            out.append(c)
            i += 1
    if stack:
        raise ValueError('Can\'t find end tag corresponding to start tag "%s"' % stack[-1])
    return "".join(out)

def utf16_len(s):
    return len(s.encode("utf-16-le", "surrogatepass")) // 2

def bad_text(body):
    """Telegram's checks of a message's text (and parse_mode): its 400, or
    None."""
    text = body.get("text") or ""
    if body.get("parse_mode") == "HTML":
        try:
            text = parse_html(text)
        except ValueError as e:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities: %s" % e}
    if not text.strip():
        return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
    if utf16_len(text) > 4096:
        return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
    return None

def bad_thread(body):
    """A message_thread_id that is not a topic's: Telegram's 400."""
    t = body.get("message_thread_id")
    if t is not None and (not isinstance(t, int) or t <= 0):
        return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message thread not found"}
    return None

def handle(method, body):
    """Returns (status, payload)."""
    global next_update
    with lock:
        calls.append((method, body))
        order = None
        if fails.get(method):
            code, retry, migrate, mode, description = fails[method].pop(0)
            if mode in ("replay", "reverse"):
                order = mode
            elif mode:
                return code, {"__mode__": mode}
            err = {"ok": False, "error_code": code, "description": description or "Forced failure %d" % code}
            if retry:
                err["parameters"] = {"retry_after": retry}
            if migrate:
                err["description"] = "Bad Request: group chat was upgraded to a supergroup chat"
                err["parameters"] = {"migrate_to_chat_id": migrate}
            if not order:
                return code, err
    if method == "getMe":
        return 200, {"ok": True, "result": {"id": 4242, "is_bot": True, "first_name": "Ensemble",
                                            "username": "EnsembleBot", "can_join_groups": True}}
    if method == "getUpdates" and webhook[0]:
        return 409, {"ok": False, "error_code": 409, "description": "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
    if method == "getUpdates":
        offset = int(body.get("offset", 0) or 0)
        deadline = time.time() + min(int(body.get("timeout", 0) or 0), 50)
        with lock:
            updates[:] = [u for u in updates if u["update_id"] >= offset]
            while not updates and time.time() < deadline:
                lock.wait(deadline - time.time())
                updates[:] = [u for u in updates if u["update_id"] >= offset]
            batch = updates[:int(body.get("limit", 100) or 100)]
            if order == "replay":      # updates already confirmed, sent again
                batch = history[-5:] + batch
            elif order == "reverse":   # the batch out of order
                batch = batch[::-1]
            for u in batch:
                if u not in history:
                    history.append(u)
            return 200, {"ok": True, "result": batch}
    if method == "sendMessage":
        return bad_text(body) or bad_thread(body) or (200, {"ok": True, "result": message(body["chat_id"], {"text": body["text"]}, body)})
    if method == "sendPoll":
        opts = body.get("options", [])
        if len(opts) < 2 or len(opts) > 12:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: poll must have 2-12 options"}
        if bad_thread(body):
            return bad_thread(body)
        pid = str(5000000000000000 + len(polls))
        poll = {"id": pid, "question": body["question"], "is_closed": False, "total_voter_count": 0,
                "is_anonymous": body.get("is_anonymous", True), "type": "regular",
                "allows_multiple_answers": body.get("allows_multiple_answers", False),
                "options": [{"text": o["text"] if isinstance(o, dict) else o, "voter_count": 0} for o in opts]}
        polls[pid] = poll
        return 200, {"ok": True, "result": message(body["chat_id"], {"poll": poll}, body)}
    if method == "editMessageText":
        if "message_id" not in body:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"}
        if bad_text(body):
            return bad_text(body)
        return 200, {"ok": True, "result": {"message_id": body["message_id"], "date": int(time.time()),
                     "chat": {"id": int(body["chat_id"]), "type": "supergroup"}, "text": body["text"]}}
    if method == "stopPoll":
        for p in polls.values():
            p["is_closed"] = True
        return 200, {"ok": True, "result": next(iter(polls.values()), {})}
    if method == "getChatAdministrators":
        ids = admins.get(str(body.get("chat_id")), [])
        return 200, {"ok": True, "result": [{"status": "administrator", "user": {"id": i, "is_bot": False,
                     "first_name": "admin%d" % i}} for i in ids]}
    if method == "setWebhook":
        url, secret = body.get("url", ""), body.get("secret_token")
        if not url.startswith("https://"):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: bad webhook: HTTPS url must be provided for webhook"}
        if secret is not None and not re.match(r"^[A-Za-z0-9_-]{1,256}$", secret):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: secret token contains unallowed characters"}
        with lock:
            webhook[0] = url
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}
    if method == "deleteWebhook":
        with lock:
            webhook[0] = ""
        return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
    if method == "getWebhookInfo":
        with lock:
            return 200, {"ok": True, "result": {"url": webhook[0], "has_custom_certificate": False,
                                                "pending_update_count": len(updates)}}
    if method in ("answerCallbackQuery", "setMyCommands"):
        return 200, {"ok": True, "result": True}
    return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

class RawUpdate(dict):
    """An update served as the JSON text given, verbatim."""
    def __init__(self, update_id, raw):
        super().__init__(update_id=update_id)
        self.raw = raw

answers_written = [0]

def dumps(payload):
    """The answer's JSON text, raw updates written as given.  The Bot API
    writes its answers compactly ({"ok":true,"result":...}), and the bot
    reads a send's answer in that form where it lies, without parsing it
    whole; but JSON's spacing is the writer's choice, and an answer in any
    other form is parsed.  So every other answer here is written with
    spaces, and both ways are taken by every test."""
    result = payload.get("result") if isinstance(payload, dict) else None
    if isinstance(result, list) and any(isinstance(u, RawUpdate) for u in result):
        items = [u.raw if isinstance(u, RawUpdate) else json.dumps(u) for u in result]
        return '{"ok": true, "result": [%s]}' % ", ".join(items)
    answers_written[0] += 1
    return json.dumps(payload, separators=(",", ":") if answers_written[0] % 2 else (", ", ": "))

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, status, payload):
        data = dumps(payload).encode("utf-8", "surrogatepass")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        return json.loads(raw or b"{}")
    def do_GET(self):
        if self.path == "/control/calls":
            with lock:
                return self.reply(200, [[m, b] for m, b in calls])
        if self.path == "/control/sent":
            with lock:
                return self.reply(200, sent)
        if self.path == "/control/pending":  # forced failures not yet used
            with lock:
                return self.reply(200, {"pending": sum(len(v) for v in fails.values())})
        if self.path == "/control/ok":       # only the calls that succeeded
            with lock:
                return self.reply(200, [[m, b] for m, b in ok_calls])
        self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
    def do_POST(self):
        global next_update
        if self.path == "/control/updates":   # several, in one batch
            with lock:
                ids = []
                for u in self.body():
                    next_update += 1
                    if set(u) == {"raw"}:
                        u = RawUpdate(next_update, u["raw"].replace('"update_id":0', '"update_id":%d' % next_update, 1))
                    u["update_id"] = next_update
                    updates.append(u)
                    ids.append(next_update)
                lock.notify_all()
            return self.reply(200, {"update_ids": ids})
        if self.path == "/control/update":
            u = self.body()
            with lock:
                if "update_id" in u:      # a repeated update, as given
                    updates.append(u)
                    lock.notify_all()
                    return self.reply(200, {"update_id": u["update_id"]})
                next_update += 1
                u["update_id"] = next_update
                updates.append(u)
                lock.notify_all()
            return self.reply(200, {"update_id": next_update})
        if self.path == "/control/raw_update":
            raw = self.body()["raw"]
            with lock:
                next_update += 1
                updates.append(RawUpdate(next_update, raw.replace('"update_id":0', '"update_id":%d' % next_update, 1)))
                lock.notify_all()
            return self.reply(200, {"update_id": next_update})
        if self.path == "/control/admins":
            b = self.body()
            with lock:
                admins[str(b["chat_id"])] = b["user_ids"]
            return self.reply(200, {})
        if self.path == "/control/slow":
            b = self.body()
            with lock:
                slow.setdefault(b["method"], []).extend([b["seconds"]] * b.get("times", 1))
            return self.reply(200, {})
        if self.path == "/control/fail":
            b = self.body()
            with lock:
                fails.setdefault(b["method"], []).extend([(b["code"], b.get("retry_after"), b.get("migrate_to"),
                                                           b.get("mode"), b.get("description"))] * b.get("times", 1))
            return self.reply(200, {})
        parts = self.path.split("/")
        if len(parts) != 3 or not parts[1].startswith("bot"):
            return self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if parts[1][3:] != TOKEN:
            return self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        try:
            body = self.body()
        except ValueError:
            return self.reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse JSON"})
        with lock:
            delay = slow[parts[2]].pop(0) if slow.get(parts[2]) else 0
        status, payload = handle(parts[2], body)
        if delay:
            time.sleep(delay)
        if status == 200 and not (isinstance(payload, dict) and "__mode__" in payload):
            with lock:
                ok_calls.append((parts[2], body))
        mode = payload.get("__mode__") if isinstance(payload, dict) else None
        if mode == "hang":          # no answer for 40 s, then the connection closes
            time.sleep(40)
            self.close_connection = True
            return
        if mode == "truncate":      # a body cut short: the connection closes mid-way
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"ok":true,"result":[{"update_id":')
            self.close_connection = True
            return
        if mode == "garbage":       # a proxy's error page, not JSON
            data = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.reply(status, payload)

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
