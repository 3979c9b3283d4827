"""systemd's side of sd_notify(3), for the tests: a unix datagram socket whose
path goes in NOTIFY_SOCKET, and the notifications read from it.  Each
datagram is one notification, newline-separated VARIABLE=VALUE assignments
("READY=1\\nSTATUS=running: telegram").

    sock = NotifySocket(directory)
    env = dict(os.environ, **sock.environment(watchdog_usec=2000000))
    ... start the bot with env ...
    ready = sock.wait_for("READY", timeout=15)   # (when, {"READY": "1", ...}) or None
    pings = sock.seen("WATCHDOG")                # the times of those received so far
    sock.close()

A thread reads the socket as datagrams arrive, as systemd does: the
sender's sd_notify blocks once the kernel's queue (net.unix.max_dgram_qlen,
10 datagrams here) is full, and the times are those of arrival
(time.monotonic()).  A bot run as another user (the package's test starts
the installed one as the ensemble user) must be able to reach the socket:
it is made writable by all, and its directory must be one that user may
enter."""
import os, socket, threading, time


class NotifySocket:
    def __init__(self, directory, name="notify.sock"):
        self.path = os.path.join(directory, name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.1)
        self.messages = []  # (when, {VARIABLE: VALUE}), in the order received
        self.lock = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closing:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            with self.lock:
                self.messages.append((time.monotonic(), fields))
                self.lock.notify_all()

    def environment(self, watchdog_usec=None):
        """The variables systemd gives a Type=notify service: NOTIFY_SOCKET,
        and WATCHDOG_USEC when a watchdog interval is given (WATCHDOG_PID is
        left out: the process's id is not known before it starts)."""
        env = {"NOTIFY_SOCKET": self.path}
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        return env

    def count(self):
        """How many notifications have come so far."""
        with self.lock:
            return len(self.messages)

    def index(self, variable, value="1", after=0):
        """The index of the first notification from index `after` on that
        sets variable to value, or -1."""
        with self.lock:
            for i in range(after, len(self.messages)):
                if self.messages[i][1].get(variable) == value:
                    return i
        return -1

    def wait_for(self, variable, value="1", timeout=15.0, after=0):
        """The first notification from index `after` on (come already or
        within timeout seconds) that sets variable to value, as (when,
        fields); None when none came."""
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                for when, fields in self.messages[after:]:
                    if fields.get(variable) == value:
                        return when, fields
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)

    def seen(self, variable, value="1"):
        """The times of the notifications come so far that set variable to
        value."""
        with self.lock:
            return [when for when, fields in self.messages if fields.get(variable) == value]

    def close(self):
        self.closing = True
        self.thread.join()
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
