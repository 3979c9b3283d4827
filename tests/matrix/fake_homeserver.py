#!/usr/bin/env python3
"""A fake Matrix homeserver for the tests: the client-server API endpoints
that Ensemble uses, as the specification (v1.x) defines them.

- v3 paths under /_matrix/client/v3/, relations under /_matrix/client/v1/;
- errors are {"errcode": "M_...", "error": "..."} with the matching HTTP
  status (401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN with soft_logout, 403
  M_FORBIDDEN, 404 M_NOT_FOUND, 429 M_LIMIT_EXCEEDED with retry_after_ms and
  a Retry-After header, 400 M_BAD_JSON / M_NOT_JSON / M_INVALID_PARAM);
- the access token only as "Authorization: Bearer";
- POST /login (m.login.password, identifier m.id.user, device_id kept);
- POST /user/{userId}/filter, and /sync?filter=ID (or the filter's JSON
  inline) honouring the timeline types and limit of the filter;
- /sync long-polls up to `timeout` ms, `since` / `next_batch` stream tokens,
  `limited` timelines (more events than the limit, or a forced gap) whose
  `prev_batch` leads /messages to the events left out, state of a newly
  joined room, invites with stripped state (m.room.encryption among it, as
  Synapse's room_prejoin_state has it), room summaries only when the
  filter's state asks for lazy_load_members (otherwise `{}`, as Synapse);
- GET /rooms/{roomId}/messages with from, dir (b: newest first), limit and
  a RoomEventFilter's types; `end` is left out at the start of the room;
- PUT /rooms/{roomId}/send/{type}/{txnId}: the same txnId from the same
  device within 24 hours (across logins, as Synapse keeps them) returns
  the first event_id and posts nothing, whatever the new content;
- POST /rooms/{roomId}/join and /leave, /join/{roomIdOrAlias},
  /rooms/{roomId}/invite, POST /createRoom (with a name);
- GET /rooms/{roomId}/event/{eventId}, /rooms/{roomId}/joined_members;
- a room just joined comes with its recent history, and a state event that
  replaces another carries unsigned.prev_content;
- GET /rooms/{roomId}/relations/{eventId}/{relType}[/{eventType}] with
  dir, limit and from paging;
- PUT /rooms/{roomId}/redact/{eventId}/{txnId} (room version 10: `redacts`
  at the top level);
- what a client such as matrix-js-sdk asks when it starts: GET
  /_matrix/client/versions, /capabilities, /pushrules/ (the specification's
  predefined rules), /account/whoami and GET /user/{userId}/filter/{filterId}.

The test acts as several users through /control/*: /control/room creates a
room, /control/send posts an event as anyone (at an origin_server_ts of
its own with "ts"), /control/invite invites the
bot, /control/events reads a room's timeline, /control/repeat sends an
event again, /control/expire invalidates
the bot's tokens, /control/gap makes the next sync of a room limited,
/control/fail makes the next matching requests fail (status, errcode,
retry_after_ms, times, or "hang"/"garbage"/"truncate", or "slow": answered
as usual but "seconds" later, the request taking effect at once; with seconds_window,
only for that long: a server that is down), /control/user gives
a user a password, so that a real client can log in as them.

Usage: fake_homeserver.py PORT"""
import json, re, secrets, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER = "test.local"
lock = threading.Condition()
users = {"@ensemble:" + SERVER: "bot-pass"}
tokens = {}          # token -> (user, device)
txns = {}            # (user, device, txn) -> (event_id, time)
TXN_TTL = 24 * 3600  # how long Synapse remembers a device's transaction ids
filters = {}         # (user, id) -> filter
rooms = {}           # room id -> {"state": {(type, key): ev}, "timeline": [ev]}
stream = []          # (pos, room, event) in order
events_by_id = {}
gaps = set()         # rooms whose next sync is limited
fails = []           # [{"path": re, "status", "errcode", "retry_after_ms", "times", "mode"}]
requests = []        # (method, path, body) of every authenticated request
pos = [0]

def err(status, code, msg, **extra):
    body = {"errcode": code, "error": msg}
    body.update(extra)
    return status, body

def new_event(room, sender, etype, content, state_key=None, extra=None, ts=None):
    pos[0] += 1
    ev = {"type": etype, "sender": sender, "content": content, "room_id": room,
          "event_id": "$" + secrets.token_urlsafe(18),
          "origin_server_ts": ts if ts is not None else int(time.time() * 1000)}
    if state_key is not None:
        ev["state_key"] = state_key
        prev = rooms[room]["state"].get((etype, state_key))
        if prev:
            # What a homeserver adds to a state event that replaces another.
            ev["unsigned"] = {"prev_content": prev["content"], "replaces_state": prev["event_id"]}
        rooms[room]["state"][(etype, state_key)] = ev
    if extra:
        ev.update(extra)
    rooms[room]["timeline"].append(ev)
    stream.append((pos[0], room, ev))
    events_by_id[ev["event_id"]] = ev
    lock.notify_all()
    return ev

def membership(room, user):
    ev = rooms.get(room, {}).get("state", {}).get(("m.room.member", user))
    return ev["content"].get("membership") if ev else None

def joined(room):
    return [k for (t, k), e in rooms[room]["state"].items() if t == "m.room.member" and e["content"].get("membership") == "join"]

def invited(room):
    return [k for (t, k), e in rooms[room]["state"].items() if t == "m.room.member" and e["content"].get("membership") == "invite"]

def display_name(user):
    """The name a user shows: the bot is "Ensemble", anyone else their capitalised localpart."""
    return "Ensemble" if user == "@ensemble:" + SERVER else user[1:].split(":")[0].capitalize()

def push_rules(user):
    """The specification's predefined push rules for user (v1.7 and later:
    mentions by m.mentions; the deprecated body-matching rules left out).
    The first override rule that matches decides: an m.notice never
    notifies, a mention in m.mentions highlights."""
    def rule(rule_id, conditions, actions, enabled=True):
        return {"rule_id": rule_id, "default": True, "enabled": enabled, "conditions": conditions,
                "actions": actions}
    def is_(key, pattern):
        return {"kind": "event_match", "key": key, "pattern": pattern}
    sound = {"set_tweak": "sound", "value": "default"}
    highlight = {"set_tweak": "highlight"}
    return {
        "override": [
            rule(".m.rule.master", [], [], enabled=False),
            rule(".m.rule.suppress_notices", [is_("content.msgtype", "m.notice")], []),
            rule(".m.rule.invite_for_me", [is_("type", "m.room.member"), is_("content.membership", "invite"),
                                           is_("state_key", user)], ["notify", sound]),
            rule(".m.rule.member_event", [is_("type", "m.room.member")], []),
            rule(".m.rule.is_user_mention", [{"kind": "event_property_contains",
                                              "key": "content.m\\.mentions.user_ids", "value": user}],
                 ["notify", sound, highlight]),
            rule(".m.rule.is_room_mention", [{"kind": "event_property_is", "key": "content.m\\.mentions.room",
                                              "value": True},
                                             {"kind": "sender_notification_permission", "key": "room"}],
                 ["notify", highlight]),
            rule(".m.rule.tombstone", [is_("type", "m.room.tombstone"), is_("state_key", "")], ["notify", highlight]),
            rule(".m.rule.reaction", [is_("type", "m.reaction")], []),
            rule(".m.rule.room.server_acl", [is_("type", "m.room.server_acl"), is_("state_key", "")], []),
            rule(".m.rule.suppress_edits", [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type",
                                             "value": "m.replace"}], []),
        ],
        "content": [], "room": [], "sender": [],
        "underride": [
            rule(".m.rule.call", [is_("type", "m.call.invite")], ["notify", {"set_tweak": "sound", "value": "ring"}]),
            rule(".m.rule.encrypted_room_one_to_one", [{"kind": "room_member_count", "is": "2"},
                                                       is_("type", "m.room.encrypted")], ["notify", sound]),
            rule(".m.rule.room_one_to_one", [{"kind": "room_member_count", "is": "2"}, is_("type", "m.room.message")],
                 ["notify", sound]),
            rule(".m.rule.message", [is_("type", "m.room.message")], ["notify"]),
            rule(".m.rule.encrypted", [is_("type", "m.room.encrypted")], ["notify"]),
        ],
    }

def make_room(creator, members=(), power=None, encrypted=False, room_id=None):
    room = room_id or "!" + secrets.token_urlsafe(10) + ":" + SERVER
    rooms[room] = {"state": {}, "timeline": []}
    new_event(room, creator, "m.room.create", {"creator": creator, "room_version": "10"}, "")
    new_event(room, creator, "m.room.member", {"membership": "join", "displayname": display_name(creator)}, creator)
    new_event(room, creator, "m.room.power_levels",
              power or {"users": {creator: 100}, "users_default": 0, "events_default": 0, "state_default": 50,
                        "ban": 50, "kick": 50, "redact": 50, "invite": 0}, "")
    if encrypted:
        new_event(room, creator, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}, "")
    for m in members:
        new_event(room, m, "m.room.member", {"membership": "join", "displayname": display_name(m)}, m)
    return room

def client_event(ev):
    out = {k: v for k, v in ev.items() if k != "room_id"}
    return out

def stripped(ev):
    return {k: ev[k] for k in ("type", "state_key", "sender", "content")}

def txn_seen(key):
    """The event id a transaction id already made, if it is still remembered."""
    hit = txns.get(key)
    if hit and time.time() - hit[1] < TXN_TTL:
        return hit[0]
    return None

def room_events(room):
    """(position, event) of room's events in order, each event once."""
    seen, out = set(), []
    for p, r, e in stream:
        if r == room and e["event_id"] not in seen:
            seen.add(e["event_id"])
            out.append((p, e))
    return out

def messages(room, query):
    """GET /rooms/{room}/messages: a token "tN" stands between the events
    before position N and those from N on; a next_batch "sN" comes after
    position N."""
    tok = query.get("from")
    d = query.get("dir", "b")
    if d not in ("b", "f"):
        return err(400, "M_INVALID_PARAM", "dir must be b or f")
    try:
        limit = max(1, min(int(query.get("limit", "10")), 1000))
        f = json.loads(query["filter"]) if "filter" in query else {}
    except ValueError:
        return err(400, "M_INVALID_PARAM", "bad limit or filter")
    evs = room_events(room)
    if tok is None:
        bound = pos[0] + 1 if d == "b" else 0
    elif re.match(r"^t\d+$", tok):
        bound = int(tok[1:])
    elif re.match(r"^s\d+$", tok):
        bound = int(tok[1:]) + 1
    else:
        return err(400, "M_INVALID_PARAM", "Invalid from token")
    types = f.get("types")
    if d == "b":
        pick = [(p, e) for p, e in reversed(evs) if p < bound]
    else:
        pick = [(p, e) for p, e in evs if p >= bound]
    pick = [(p, e) for p, e in pick if types is None or e["type"] in types]
    page = pick[:limit]
    out = {"chunk": [client_event(e) for p, e in page], "start": tok or ("t%d" % bound)}
    if len(pick) > limit:
        out["end"] = "t%d" % page[-1][0] if d == "b" else "t%d" % (page[-1][0] + 1)
    return 200, out

def event_passes(f, ev):
    tl = (f or {}).get("room", {}).get("timeline", {})
    types = tl.get("types")
    return types is None or ev["type"] in types

def state_passes(f, ev):
    st = (f or {}).get("room", {}).get("state", {})
    types = st.get("types")
    return types is None or ev["type"] in types

def sync(user, since, timeout_ms, f):
    """The /sync answer for user since the stream position `since`."""
    deadline = time.time() + timeout_ms / 1000.0
    limit = (f or {}).get("room", {}).get("timeline", {}).get("limit", 10)
    with lock:
        while True:
            start = since if since is not None else 0
            fresh = [(p, r, e) for p, r, e in stream if p > start]
            invites = {}
            for room in rooms:
                if membership(room, user) == "invite" and (since is None or any(
                        p > start and r == room and e["type"] == "m.room.member" and e.get("state_key") == user
                        for p, r, e in fresh)):
                    invites[room] = {"invite_state": {"events": [stripped(e) for (t, k), e in rooms[room]["state"].items()
                                                                  if t in ("m.room.create", "m.room.name", "m.room.encryption", "m.room.member") and (t != "m.room.member" or k == user)]}}
            join = {}
            for room in rooms:
                if membership(room, user) != "join":
                    continue
                pevs = [(p, e) for p, r, e in fresh if r == room]
                newly = since is None or any(e["type"] == "m.room.member" and e.get("state_key") == user
                                             and e["content"].get("membership") == "join" for p, e in pevs)
                if newly:
                    # A room just joined comes with its recent history, from
                    # before the join too (history visibility "shared", the
                    # default), as a homeserver sends it.
                    pevs = room_events(room)
                if not pevs and not newly and room not in gaps:
                    continue
                visible = [(p, e) for p, e in pevs if event_passes(f, e)]
                limited = len(visible) > limit or room in gaps
                if room in gaps:
                    visible = visible[-1:]
                    gaps.discard(room)
                ptl = visible[-limit:] if limit else []
                tl = [e for p, e in ptl]
                # prev_batch stands just before the timeline's first event:
                # /messages from it reaches what the limit left out.
                prev_batch = "t%d" % (ptl[0][0] if ptl else pos[0] + 1)
                state = []
                if newly or limited:
                    # The state at the start of the timeline (here: the room's current state, minus what the
                    # timeline itself carries).
                    in_tl = {e["event_id"] for e in tl}
                    state = [client_event(e) for e in rooms[room]["state"].values()
                             if e["event_id"] not in in_tl and state_passes(f, e)]
                # Synapse fills the summary only for a filter that loads
                # members lazily.
                summary = {}
                if (f or {}).get("room", {}).get("state", {}).get("lazy_load_members"):
                    summary = {"m.joined_member_count": len(joined(room)),
                               "m.invited_member_count": len(invited(room))}
                join[room] = {"timeline": {"events": [client_event(e) for e in tl], "limited": limited,
                                           "prev_batch": prev_batch},
                              "state": {"events": state},
                              "summary": summary,
                              "ephemeral": {"events": []}, "account_data": {"events": []},
                              "unread_notifications": {}}
            if join or invites or time.time() >= deadline:
                return {"next_batch": "s%d" % pos[0], "rooms": {"join": join, "invite": invites, "leave": {}},
                        "presence": {"events": []}, "account_data": {"events": []}}
            lock.wait(max(0.01, deadline - time.time()))

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    delay = 0  # seconds before the answer ("slow")

    def reply(self, status, body, headers=None):
        if self.delay:
            time.sleep(self.delay)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self): self.route("GET")
    def do_POST(self): self.route("POST")
    def do_PUT(self): self.route("PUT")

    def route(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        if path.startswith("/control/"):
            return self.reply(*control(method, path, json.loads(raw or b"null"), query))
        if method in ("POST", "PUT"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self.reply(*err(400, "M_NOT_JSON", "Content not JSON."))
            if not isinstance(body, dict):
                return self.reply(*err(400, "M_BAD_JSON", "Content must be a JSON object."))
        else:
            body = None
        # Forced failures, for the fault tests.
        with lock:
            for fl in fails:
                if fl.get("until") is not None and time.time() >= fl["until"]:
                    continue
                if fl["times"] > 0 and re.search(fl["path"], path) and fl.get("method", method) == method:
                    fl["times"] -= 1
                    break
            else:
                fl = None
        self.delay = fl.get("seconds", 0) if fl and fl.get("mode") == "slow" else 0
        if fl and fl.get("mode") != "slow":
            mode = fl.get("mode")
            if mode == "hang":
                time.sleep(fl.get("seconds", 40))
                self.close_connection = True
                return
            if mode == "garbage":
                data = b"<html>502 Bad Gateway</html>"
                self.send_response(fl.get("status", 502))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if mode == "truncate":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"next_batch":"s1","rooms":{')
                self.close_connection = True
                return
            extra, headers = {}, {}
            if fl.get("retry_after_ms") is not None:
                extra["retry_after_ms"] = fl["retry_after_ms"]
            if fl.get("retry_after_header") is not None:
                headers["Retry-After"] = str(fl["retry_after_header"])
            if fl.get("errcode") == "M_UNKNOWN_TOKEN":
                extra["soft_logout"] = False
            return self.reply(fl["status"], {"errcode": fl.get("errcode", "M_UNKNOWN"), "error": "Forced failure", **extra}, headers)
        if path == "/_matrix/client/versions" and method == "GET":
            # Unauthenticated, like login: what a client asks before anything else.
            return self.reply(200, {"versions": ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6",
                                                 "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"],
                                    "unstable_features": {}})
        m = re.match(r"^/_matrix/client/(v1|v3)/(.*)$", path)
        if not m:
            return self.reply(*err(404, "M_UNRECOGNIZED", "Unrecognized request"))
        version, rest = m.group(1), m.group(2)
        if version == "v3" and rest == "login":
            if method == "GET":
                return self.reply(200, {"flows": [{"type": "m.login.password"}]})
            return self.reply(*login(body))
        auth = self.headers.get("Authorization", "")
        if "access_token" in query:
            return self.reply(*err(401, "M_MISSING_TOKEN", "Query-string tokens are not accepted here"))
        if not auth.startswith("Bearer "):
            return self.reply(*err(401, "M_MISSING_TOKEN", "Missing access token"))
        with lock:
            who = tokens.get(auth[7:])
        if not who:
            return self.reply(*err(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", soft_logout=False))
        with lock:
            requests.append((method, path, body))
        status, out = api(method, version, rest, query, body, who)
        self.reply(status, out, {"Retry-After": "1"} if status == 429 else None)

def login(body):
    if body.get("type") != "m.login.password":
        return err(400, "M_UNKNOWN", "Unknown login type")
    ident = body.get("identifier", {})
    user = ident.get("user", "") if ident.get("type") == "m.id.user" else body.get("user", "")
    if not user.startswith("@"):
        user = "@%s:%s" % (user, SERVER)
    with lock:
        if users.get(user) != body.get("password"):
            return err(403, "M_FORBIDDEN", "Invalid username or password")
        device = body.get("device_id") or "DEV" + secrets.token_hex(4).upper()
        token = "syt_" + secrets.token_urlsafe(24)
        tokens[token] = (user, device)
    return 200, {"user_id": user, "access_token": token, "device_id": device, "home_server": SERVER}

def api(method, version, rest, query, body, who):
    user, device = who
    q = urllib.parse.unquote
    m = re.match(r"^user/([^/]+)/filter$", rest)
    if version == "v3" and m and method == "POST":
        if q(m.group(1)) != user:
            return err(403, "M_FORBIDDEN", "Cannot create filters for other users")
        with lock:
            fid = str(len(filters) + 1)
            filters[(user, fid)] = body
        return 200, {"filter_id": fid}
    if version == "v3" and rest == "sync" and method == "GET":
        f = None
        if query.get("filter", "").startswith("{"):
            # An inline filter: the spec allows a filter's JSON in place of its id.
            try:
                f = json.loads(query["filter"])
            except ValueError:
                return err(400, "M_INVALID_PARAM", "filter is neither an id nor JSON")
        elif "filter" in query:
            f = filters.get((user, query["filter"]))
            if f is None:
                return err(400, "M_INVALID_PARAM", "Unknown filter")
        since = query.get("since")
        if since is not None and not re.match(r"^s\d+$", since):
            return err(400, "M_INVALID_PARAM", "Invalid since token")
        try:
            timeout = int(query.get("timeout", "0"))
        except ValueError:
            return err(400, "M_INVALID_PARAM", "timeout must be an integer")
        return 200, sync(user, int(since[1:]) if since else None, min(timeout, 60000), f)
    if version == "v3" and rest == "capabilities" and method == "GET":
        return 200, {"capabilities": {"m.change_password": {"enabled": False},
                                      "m.room_versions": {"default": "10", "available": {"10": "stable"}}}}
    if version == "v3" and rest == "pushrules/" and method == "GET":
        return 200, {"global": push_rules(user)}
    if version == "v3" and rest == "account/whoami" and method == "GET":
        return 200, {"user_id": user, "device_id": device}
    m = re.match(r"^user/([^/]+)/filter/([^/]+)$", rest)
    if version == "v3" and m and method == "GET":
        f = filters.get((q(m.group(1)), q(m.group(2))))
        if q(m.group(1)) != user or f is None:
            return err(404, "M_NOT_FOUND", "No such filter")
        return 200, f
    m = re.match(r"^rooms/([^/]+)/redact/([^/]+)/([^/]+)$", rest)
    if version == "v3" and m and method == "PUT":
        room, target, txn = q(m.group(1)), q(m.group(2)), q(m.group(3))
        with lock:
            if membership(room, user) != "join":
                return err(403, "M_FORBIDDEN", "User %s not in room %s" % (user, room))
            if target not in events_by_id:
                return err(404, "M_NOT_FOUND", "Event not found")
            key = (user, device, "redact/" + txn)
            if txn_seen(key):
                return 200, {"event_id": txn_seen(key)}
            # Room version 10: "redacts" at the top level of the event.
            ev = new_event(room, user, "m.room.redaction", {k: v for k, v in body.items() if k == "reason"},
                           extra={"redacts": target, "unsigned": {"transaction_id": txn}})
            txns[key] = (ev["event_id"], time.time())
        return 200, {"event_id": ev["event_id"]}
    if version == "v3" and rest == "createRoom" and method == "POST":
        with lock:
            room = make_room(user)
            if isinstance(body.get("name"), str):
                new_event(room, user, "m.room.name", {"name": body["name"]}, "")
            for inv in body.get("invite", []):
                new_event(room, user, "m.room.member", {"membership": "invite", "is_direct": bool(body.get("is_direct"))}, inv)
        return 200, {"room_id": room}
    m = re.match(r"^rooms/([^/]+)/invite$", rest)
    if version == "v3" and m and method == "POST":
        room, target = q(m.group(1)), body.get("user_id")
        if not isinstance(target, str) or not target.startswith("@"):
            return err(400, "M_BAD_JSON", "user_id must be a user id")
        with lock:
            if room not in rooms:
                return err(404, "M_NOT_FOUND", "No such room")
            if membership(room, user) != "join":
                return err(403, "M_FORBIDDEN", "You are not in this room.")
            if membership(room, target) == "join":
                return err(403, "M_FORBIDDEN", "%s is already in the room." % target)
            new_event(room, user, "m.room.member", {"membership": "invite"}, target)
        return 200, {}
    # POST /join/{roomIdOrAlias} (what clients use) and /rooms/{roomId}/join.
    m = re.match(r"^rooms/(?P<room>[^/]+)/(?P<action>join|leave)$", rest) or \
        re.match(r"^(?P<action>join)/(?P<room>[^/]+)$", rest)
    if version == "v3" and m and method == "POST":
        room, action = q(m.group("room")), m.group("action")
        with lock:
            if room not in rooms:
                return err(404, "M_NOT_FOUND", "No such room")
            ms = membership(room, user)
            if action == "join":
                if ms not in ("invite", "join"):
                    return err(403, "M_FORBIDDEN", "You are not invited to this room.")
                if ms != "join":
                    new_event(room, user, "m.room.member", {"membership": "join", "displayname": display_name(user)}, user)
                return 200, {"room_id": room}
            if ms in ("invite", "join"):
                new_event(room, user, "m.room.member", {"membership": "leave"}, user)
            return 200, {}
    m = re.match(r"^rooms/([^/]+)/send/([^/]+)/([^/]+)$", rest)
    if version == "v3" and m and method == "PUT":
        room, etype, txn = q(m.group(1)), q(m.group(2)), q(m.group(3))
        with lock:
            if room not in rooms:
                return err(404, "M_NOT_FOUND", "Unknown room")
            if membership(room, user) != "join":
                return err(403, "M_FORBIDDEN", "User %s not in room %s" % (user, room))
            key = (user, device, txn)
            if txn_seen(key):
                return 200, {"event_id": txn_seen(key)}
            ev = new_event(room, user, etype, body, extra={"unsigned": {"transaction_id": txn}})
            txns[key] = (ev["event_id"], time.time())
        return 200, {"event_id": ev["event_id"]}
    m = re.match(r"^rooms/([^/]+)/state/([^/]+)/?([^/]*)$", rest)
    if version == "v3" and m and method == "GET":
        room, etype, sk = q(m.group(1)), q(m.group(2)), q(m.group(3))
        with lock:
            ev = rooms.get(room, {}).get("state", {}).get((etype, sk))
        return (200, ev["content"]) if ev else err(404, "M_NOT_FOUND", "Event not found.")
    m = re.match(r"^rooms/([^/]+)/event/([^/]+)$", rest)
    if version == "v3" and m and method == "GET":
        room, eid = q(m.group(1)), q(m.group(2))
        with lock:
            if membership(room, user) != "join":
                return err(403, "M_FORBIDDEN", "You are not in this room")
            ev = events_by_id.get(eid)
            if ev is None or ev["room_id"] != room:
                return err(404, "M_NOT_FOUND", "Event not found")
            return 200, client_event(ev)
    m = re.match(r"^rooms/([^/]+)/joined_members$", rest)
    if version == "v3" and m and method == "GET":
        room = q(m.group(1))
        with lock:
            if room not in rooms or membership(room, user) != "join":
                return err(403, "M_FORBIDDEN", "User %s not in room %s" % (user, room))
            return 200, {"joined": {u: {"display_name": display_name(u), "avatar_url": None} for u in joined(room)}}
    m = re.match(r"^rooms/([^/]+)/messages$", rest)
    if version == "v3" and m and method == "GET":
        room = q(m.group(1))
        with lock:
            if room not in rooms:
                return err(404, "M_NOT_FOUND", "Unknown room")
            if membership(room, user) != "join":
                return err(403, "M_FORBIDDEN", "User %s not in room %s" % (user, room))
            return messages(room, query)
    m = re.match(r"^rooms/([^/]+)/relations/([^/]+)/([^/]+)(?:/([^/]+))?$", rest)
    if version == "v1" and m and method == "GET":
        room, eid, rel = q(m.group(1)), q(m.group(2)), q(m.group(3))
        etype = q(m.group(4)) if m.group(4) else None
        with lock:
            if membership(room, user) != "join":
                return err(403, "M_FORBIDDEN", "You are not in this room")
            if eid not in events_by_id:
                return err(404, "M_NOT_FOUND", "Event not found")
            rel_evs = [client_event(e) for e in rooms[room]["timeline"]
                       if e["content"].get("m.relates_to", {}).get("event_id") == eid
                       and e["content"].get("m.relates_to", {}).get("rel_type") == rel
                       and (etype is None or e["type"] == etype)]
        if query.get("dir", "b") == "b":
            rel_evs.reverse()  # most recent first
        start = int(query.get("from", "0"))
        limit = min(int(query.get("limit", "5")), 50)
        page = rel_evs[start:start + limit]
        out = {"chunk": page}
        if start + limit < len(rel_evs):
            out["next_batch"] = str(start + limit)
        return 200, out
    return err(404, "M_UNRECOGNIZED", "Unrecognized request")

def control(method, path, body, query):
    with lock:
        if path == "/control/room":
            room = make_room(body["creator"], body.get("members", []), body.get("power_levels"),
                             body.get("encrypted", False), body.get("room_id"))
            return 200, {"room_id": room}
        if path == "/control/user":
            users[body["user"]] = body["password"]
            return 200, {}
        if path == "/control/join":
            ev = new_event(body["room"], body["user"], "m.room.member", {"membership": "join", "displayname": body.get("name", body["user"][1:].split(":")[0])}, body["user"])
            return 200, {"event_id": ev["event_id"]}
        if path == "/control/leave":
            ev = new_event(body["room"], body["user"], "m.room.member", {"membership": "leave"}, body["user"])
            return 200, {"event_id": ev["event_id"]}
        if path == "/control/invite":
            ev = new_event(body["room"], body["sender"], "m.room.member", {"membership": "invite"}, body["target"])
            return 200, {"event_id": ev["event_id"]}
        if path == "/control/send":
            ev = new_event(body["room"], body["sender"], body["type"], body["content"], body.get("state_key"),
                           ts=body.get("ts"))
            return 200, {"event_id": ev["event_id"]}
        if path == "/control/events":
            room = body["room"]
            return 200, {"events": [client_event(e) for e in rooms.get(room, {}).get("timeline", [])]}
        if path == "/control/rooms":
            return 200, {"rooms": {r: {"joined": joined(r)} for r in rooms}}
        if path == "/control/expire":
            for t in [t for t, (u, d) in tokens.items() if u == body["user"]]:
                del tokens[t]
            return 200, {}
        if path == "/control/repeat":
            # The server sends an event again (as real ones sometimes do).
            ev = events_by_id[body["event_id"]]
            pos[0] += 1
            stream.append((pos[0], ev["room_id"], ev))
            lock.notify_all()
            return 200, {}
        if path == "/control/gap":
            gaps.add(body["room"])
            return 200, {}
        if path == "/control/fail":
            fl = dict(body)
            if fl.get("seconds_window") is not None:
                # Fails for that long (a homeserver that is down), then no more.
                fl["until"] = time.time() + fl["seconds_window"]
            fails.append(fl)
            return 200, {}
        if path == "/control/pending":
            return 200, {"pending": sum(max(0, f["times"]) for f in fails)}
        if path == "/control/requests":
            return 200, {"requests": requests}
        if path == "/control/filters":
            return 200, {"filters": [f for (u, i), f in filters.items()]}
    return 404, {"errcode": "M_UNRECOGNIZED", "error": "no such control"}

if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    print("ready", flush=True)
    srv.serve_forever()
