"""Where a test's database lives, on either engine.

By default an SQLite file in the test's temporary directory.  With
ENSEMBLE_TEST_PG set to the libpq target of a running cluster (CTest's
`pg` fixture starts one with tests/pg/cluster.sh and sets it), a
PostgreSQL database of its own, made for the test and dropped after it: a
database rather than a schema, because the leadership lock of the hot
standby is an advisory lock, which PostgreSQL scopes to a database, and
tests run side by side.

    with dbtarget.database(tmp, "t.db") as db:
        ... run the bot with --db db (or db = ... in its configuration) ...
        rows = dbtarget.query(db, "SELECT count(*) FROM votes")
"""
import atexit
import contextlib
import itertools
import os
import re
import sqlite3
import subprocess

PG = os.environ.get("ENSEMBLE_TEST_PG", "")
ENGINE = "postgresql" if PG else "sqlite"
_serial = itertools.count()


def is_postgres(target):
    return not target.startswith("/") and ("dbname=" in target or target.startswith("postgres"))


def psql(target, sql):
    """Runs sql on target with psql; its output, one row a line, columns
    separated by |."""
    p = subprocess.run(["psql", target, "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("psql %s: %s" % (sql, p.stderr.strip()))
    return p.stdout


def _with_dbname(target, name):
    return re.sub(r"dbname=\S+", "dbname=" + name, target)


@contextlib.contextmanager
def database(tmp, name):
    """A fresh database for a test: the path tmp/name on SQLite, a new
    PostgreSQL database with ENSEMBLE_TEST_PG set (dropped on exit)."""
    if not PG:
        yield os.path.join(tmp, name)
        return
    db = "t_%s_%d_%d" % (re.sub(r"\W", "_", name), os.getpid(), next(_serial))
    psql(PG, 'CREATE DATABASE "%s"' % db)
    try:
        yield _with_dbname(PG, db)
    finally:
        psql(PG, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)


def fresh(tmp, name):
    """As database(), for a script: the database lasts until it exits."""
    stack = contextlib.ExitStack()
    atexit.register(stack.close)
    return stack.enter_context(database(tmp, name))


def query(target, sql):
    """The rows of sql (a statement both engines accept) on target, as
    lists of strings (None for NULL on SQLite, "" on PostgreSQL)."""
    if is_postgres(target):
        return [line.split("|") for line in psql(target, sql).splitlines()]
    con = sqlite3.connect("file:%s?mode=ro" % target, uri=True)
    try:
        return [[None if v is None else str(v) for v in row] for row in con.execute(sql)]
    finally:
        con.close()
