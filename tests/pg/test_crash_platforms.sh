#!/usr/bin/env bash
# The crash-restart test of tests/crash_platforms.py on PostgreSQL (its
# database from tests/dbtarget.py, on the fixture's cluster): the same
# guarantees as on SQLite.  CI kills it 15 times; the full run is
# `ENSEMBLE_TEST_PG=... python3 tests/crash_platforms.py BIN 100 7`.
exec python3 "$(dirname "$0")/../crash_platforms.py" "$1" "${CRASH_KILLS:-15}"
