#!/usr/bin/env python3
"""Idle cost: the release build connected to both platforms (the fake Bot
API and the fake homeserver on loopback), with nothing to do but its long
polls (getUpdates, 50 s; /sync, 30 s).  Over SECONDS (default 60) it
measures the bot's CPU time (/proc/PID/stat), its context switches (all
threads' /proc/PID/task/*/status) as the wake-up count, the long polls the
fakes saw in that window (each answer is a wake-up they explain), and at the
end its memory (/proc/PID/smaps_rollup; shared libraries' RSS from
/proc/PID/smaps).  "Private" is Private_Clean + Private_Dirty: it also
counts clean library pages that no other process maps at the moment, so it
varies with what else runs; the dirty part is given too.  A long poll sent
in the window stands for one answer that woke the bot (an approximation:
the window's first answer may fall before it).  CPU time from /proc/PID/stat
has clock-tick resolution (10 ms); the scheduler's figure (schedstat, all
threads) is printed beside it.  Prints a short report, then one JSON line.

Usage: idle.py BINARY [SECONDS]"""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

if len(sys.argv) < 2 or len(sys.argv) > 3:
    sys.exit("usage: idle.py BINARY [SECONDS]")
binary = os.path.abspath(sys.argv[1])
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "123456:BENCH-token"
BOT = "@ensemble:test.local"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_fake(script, *args):
    p = subprocess.Popen([sys.executable, os.path.join(root, script), *map(str, args)],
                         stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("%s did not start" % script)
    return p


def http(url, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])       # utime, stime


def tasks(pid):
    try:
        return os.listdir("/proc/%d/task" % pid)
    except OSError:
        return []


def cpu_ns(pid):
    """Run time of all live threads in ns (schedstat), None when unavailable."""
    total = 0
    for t in tasks(pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    return total


def ctx_switches(pid):
    """Voluntary + involuntary switches, summed over the threads: the
    process's own status line counts its main thread only."""
    total = 0
    for t in tasks(pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def memory(pid):
    roll = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                roll[parts[0][:-1]] = int(parts[1])
    shlib = 0
    is_lib = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if not parts[0].endswith(":"):            # a mapping's header line
                path = parts[5] if len(parts) >= 6 else ""
                is_lib = path.endswith(".so") or ".so." in path
            elif parts[0] == "Rss:" and is_lib:
                shlib += int(parts[1])
    return {"rss_kb": roll.get("Rss", 0), "pss_kb": roll.get("Pss", 0),
            "private_kb": roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0),
            "private_dirty_kb": roll.get("Private_Dirty", 0),
            "shared_kb": roll.get("Shared_Clean", 0) + roll.get("Shared_Dirty", 0),
            "shlib_rss_kb": shlib}


def mb(kb):
    return "%.1f MB" % (kb / 1024.0)


tmp = tempfile.mkdtemp(prefix="ensemble-idle-")
procs = []
bot = None
status = 0
try:
    tg_port, mx_port = free_port(), free_port()
    procs.append(start_fake("tests/telegram/fake_botapi.py", tg_port, TOKEN))
    procs.append(start_fake("tests/matrix/fake_homeserver.py", mx_port))
    tg = "http://127.0.0.1:%d" % tg_port
    mx = "http://127.0.0.1:%d" % mx_port

    def getupdates():
        return sum(1 for m, b in http(tg + "/control/calls") if m == "getUpdates")

    def syncs():
        return sum(1 for r in http(mx + "/control/requests", {})["requests"]
                   if r[1].split("?")[0].endswith("/sync"))

    conf = os.path.join(tmp, "ensemble.conf")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)   # it holds secrets: 600
    with os.fdopen(fd, "w") as f:
        f.write("[general]\ndb = %s\nlang = en\n"
                "[telegram]\ntoken = %s\napi_url = %s\npoll_timeout = 50\n"
                "[matrix]\nhomeserver = %s\nuser = %s\npassword = bot-pass\nsync_timeout = 30\n"
                % (os.path.join(tmp, "i.db"), TOKEN, tg, mx, BOT))
    os.chmod(conf, 0o600)
    log_path = os.path.join(tmp, "bot.log")
    log = open(log_path, "w")
    bot = subprocess.Popen([binary, "--config", conf, "-q"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    # Connected: a getUpdates on Telegram and a /sync on Matrix; then let the
    # start-up (first sync at timeout 0, command menus...) settle.
    end = time.time() + 30
    while not (getupdates() and syncs()):
        if bot.poll() is not None:
            raise RuntimeError("the bot exited with %d during start-up" % bot.returncode)
        if time.time() > end:
            raise RuntimeError("the bot did not connect to both fakes within 30 s")
        time.sleep(0.1)
    time.sleep(3)

    pid = bot.pid
    gu0, sy0 = getupdates(), syncs()
    cpu0, ns0, cs0 = cpu_ticks(pid), cpu_ns(pid), ctx_switches(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    cpu1, ns1, cs1 = cpu_ticks(pid), cpu_ns(pid), ctx_switches(pid)
    elapsed = time.monotonic() - t0
    if bot.poll() is not None:
        raise RuntimeError("the bot exited with %d during the measure" % bot.returncode)
    mem = memory(pid)
    threads = len(tasks(pid))
    gu1, sy1 = getupdates(), syncs()

    bot.send_signal(signal.SIGTERM)
    try:
        rc = bot.wait(timeout=15)
    except subprocess.TimeoutExpired:
        bot.kill()
        bot.wait()
        raise RuntimeError("the bot did not exit within 15 s of SIGTERM")
    if rc != 0:
        raise RuntimeError("the bot exited with %d after SIGTERM" % rc)

    res = {"cpu_ms": (cpu1 - cpu0) * 1000 // TICK,
           "ctx_switches": cs1 - cs0,
           "getupdates": gu1 - gu0,
           "syncs": sy1 - sy0,
           "rss_kb": mem["rss_kb"],
           "private_kb": mem["private_kb"],
           "shlib_rss_kb": mem["shlib_rss_kb"],
           "pss_kb": mem["pss_kb"],
           "shared_kb": mem["shared_kb"],
           "private_dirty_kb": mem["private_dirty_kb"],
           "cpu_us": (ns1 - ns0) // 1000 if ns0 is not None and ns1 is not None else None,
           "threads": threads,
           "seconds": round(elapsed, 1)}
    polls = res["getupdates"] + res["syncs"]
    print("idle %g s, Telegram + Matrix long polls: CPU %d ms, %d context switches "
          "(Telegram getUpdates: %d, Matrix /sync: %d), RSS %s (shared libraries %s), private %s"
          % (seconds, res["cpu_ms"], res["ctx_switches"], res["getupdates"], res["syncs"],
             mb(res["rss_kb"]), mb(res["shlib_rss_kb"]), mb(res["private_kb"])))
    if res["cpu_us"] is not None:
        print("  CPU by the scheduler's clock: %.2f ms (%d thread%s)"
              % (res["cpu_us"] / 1000.0, threads, "" if threads == 1 else "s"))
    print("  the long polls explain %d of the %d wake-ups (one per answer); %d come from elsewhere"
          % (min(polls, res["ctx_switches"]), res["ctx_switches"], max(0, res["ctx_switches"] - polls)))
    print("  private %s = %s dirty (heap, stacks, libraries' data) + %s clean (file pages no other "
          "process maps right now, mostly library code); PSS %s, shared %s"
          % (mb(res["private_kb"]), mb(res["private_dirty_kb"]), mb(res["private_kb"] - res["private_dirty_kb"]),
             mb(res["pss_kb"]), mb(res["shared_kb"])))
    print(json.dumps(res))
except Exception as e:
    print("idle.py: %s" % e, file=sys.stderr)
    try:
        with open(os.path.join(tmp, "bot.log")) as f:
            tail = f.read()[-2000:]
        if tail:
            print("--- bot log ---\n" + tail, file=sys.stderr)
    except OSError:
        pass
    status = 1
finally:
    if bot is not None and bot.poll() is None:
        bot.kill()
        bot.wait()
    for p in procs:
        p.kill()
        p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(status)
