"""What the PostgreSQL scripts on Telegram share (connection_lost.py,
slow_server.py, server_failover.py): the fake Bot API started for a token,
one supergroup in which people write to the bot, and what the bot sent."""
import atexit, json, os, subprocess, sys, time, urllib.request
from harness import check, free_port, post_json, start_fake

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Group:
    def __init__(self, token, chat_id, title="Club"):
        """Starts tests/telegram/fake_botapi.py for token on a free port;
        self.api is its base URL (the bot's api_url)."""
        port = free_port()
        self.fake = start_fake([sys.executable, os.path.join(TESTS, "telegram", "fake_botapi.py"), str(port), token])
        self.api = "http://127.0.0.1:%d" % port
        self.chat_id, self.title = chat_id, title
        self.last = 0

    def say(self, user, name, text):
        """Posts a message from user (an id) in the group, a command when
        text starts with one; its message id."""
        self.last += 1
        post_json(self.api + "/control/update", {"message": {"message_id": self.last, "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "supergroup", "title": self.title},
            "from": {"id": user, "is_bot": False, "first_name": name},
            "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}})
        return self.last

    def calls(self):
        """The Bot API calls the fake answered with success: [method, body]."""
        with urllib.request.urlopen(self.api + "/control/ok", timeout=10) as r:
            return json.loads(r.read())

    def replies_to(self, mid):
        """The bodies of the messages sent in reply to message mid."""
        return [b for m, b in self.calls()
                if m == "sendMessage" and b.get("reply_parameters", {}).get("message_id") == mid]

    def answers(self):
        """How many replies each message got: {message id: count}."""
        n = {}
        for method, body in self.calls():
            mid = body.get("reply_parameters", {}).get("message_id") if method == "sendMessage" else None
            if mid:
                n[mid] = n.get(mid, 0) + 1
        return n

    def kill(self):
        self.fake.kill()


def start_bot(binary, tmp, conf_text):
    """Writes conf_text as tmp/ensemble.conf (0600, as the bot requires)
    and starts binary on it (-v with VERBOSE set), killed at exit: the
    process and the path of its log."""
    conf = os.path.join(tmp, "ensemble.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    os.chmod(conf, 0o600)
    log = os.path.join(tmp, "bot.log")
    bot = subprocess.Popen([binary, "--config", conf] + (["-v"] if os.environ.get("VERBOSE") else []),
                           stdin=subprocess.DEVNULL, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    atexit.register(bot.kill)
    return bot, log


def check_each_once(answers, sent):
    """Checks that each message of sent got exactly one reply (answers:
    Group.answers' counts)."""
    twice = [m for m in sent if answers.get(m, 0) != 1]
    check(not twice, "each of the %d votes answered exactly once (%s)"
          % (len(sent), {m: answers.get(m, 0) for m in twice}))
