"""What the end-to-end test scripts share: counting checks ("N passed, N
failed"), a temporary directory (removed on any exit), a free loopback port,
waiting for a condition, starting a fake server (killed on any exit, so a
failing script never leaves one holding the test runner's pipe), and a JSON
POST to it."""
import atexit, json, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

passed = failed = 0

def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)

def tempdir(prefix):
    """A new directory under the system's temporary one, removed with all it
    holds when the script exits, however it exits (but SIGKILL)."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

def wait_for(pred, what, timeout=15):
    """pred's first true value, polled until timeout (a failed check then)."""
    end = time.time() + timeout
    while time.time() < end:
        r = pred()
        if r:
            return r
        time.sleep(0.05)
    check(False, "timed out waiting for " + what)
    return None

def stop(proc, timeout=30):
    """Asks proc to stop (SIGTERM) and waits up to timeout seconds: its exit
    status, or None when it did not stop in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def start_fake(cmd):
    """Starts a fake server that prints one line once it listens."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    atexit.register(p.kill)
    p.stdout.readline()
    return p

def post_json(url, payload=None, timeout=30):
    req = urllib.request.Request(url, data=json.dumps(payload if payload is not None else {}).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=timeout).read())

def finish(log_text=None):
    """Prints the counts (and log_text when something failed) and exits."""
    print("%d passed, %d failed" % (passed, failed))
    if failed and log_text:
        print(log_text)
    sys.exit(1 if failed else 0)
