"""What tests/pg/slow_server.py and slow_server_matrix.py share: a table of
the bot's database locked by another session for a few seconds, and the
watch over the bot's loop while it is."""
import subprocess, threading, time, urllib.request
import dbtarget, harness
from harness import check


def lock(db, table, seconds):
    """Locks table on db from another session for seconds; returns the
    thread that holds it (join it to wait for the end), once the server
    says the lock is granted."""
    def hold():
        p = subprocess.Popen(["psql", db, "-v", "ON_ERROR_STOP=1", "-Atq"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        p.communicate("BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT;\n"
                      % (table, seconds))
    holder = threading.Thread(target=hold)
    holder.start()
    check(harness.wait_for(lambda: dbtarget.psql(db, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = "
                                                     "l.relation WHERE c.relname = '%s' AND l.granted AND l.mode = "
                                                     "'AccessExclusiveLock'" % table).strip() == "1", "the lock", 5),
          "another session locks the table %s" % table)
    return holder


def watch(t_lock, seconds, healthz, sent):
    """While the lock taken at t_lock (time.monotonic()) lasts, asks
    /healthz (healthz(): its answer's time in seconds, None without one)
    every 0.2 s and counts the bot's messages (sent()) a second into the
    lock and 1.5 s before its end; checks that every /healthz answered
    within 0.5 s and that messages kept leaving in between."""
    waits, mid = [], None
    while time.monotonic() - t_lock < seconds - 1.5:
        waits.append(healthz())
        if mid is None and time.monotonic() - t_lock >= 1:
            mid = sent()
        time.sleep(0.2)
    during, t_during = sent(), time.monotonic() - t_lock
    check(waits and all(w is not None and w < 0.5 for w in waits),
          "/healthz answers at once while the database waits for the lock (%s)" %
          ", ".join("-" if w is None else "%.0f ms" % (w * 1000) for w in waits))
    check(mid is not None and during > mid and t_during < seconds - 0.3,
          "the replies handled before keep leaving while the database waits (%s sent a second into the lock, "
          "%d at %.1f s, the lock ending at %d s)" % (mid, during, t_during, seconds))


def healthz(port):
    """Seconds the listener on port took to answer /healthz, or None when
    it did not within 1 s."""
    t = time.monotonic()
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1) as r:
            r.read()
        return time.monotonic() - t
    except Exception:
        return None


def healthy_while(t_lock, seconds, port):
    """/healthz every 0.25 s until a second before the lock taken at
    t_lock (time.monotonic()) for seconds ends: the answers' times."""
    waits = []
    while time.monotonic() - t_lock < seconds - 1:
        time.sleep(0.25)
        waits.append(healthz(port))
    return waits


def shown(waits):
    return ", ".join("-" if w is None else "%.0f ms" % (w * 1000) for w in waits)


def check_healthy(waits, what):
    """Checks that every /healthz of waits answered within 0.5 s while
    what (a text: "a sync waits for the lock") went on."""
    check(waits and all(w is not None and w < 0.5 for w in waits),
          "/healthz answers at once while %s (%s)" % (what, shown(waits)))
