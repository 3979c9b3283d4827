#!/usr/bin/env bash
# Kills the bot with SIGKILL at random moments while reminders fall due and
# checks that each was delivered once (see crash.py).  CRASH_RUNS sets the
# number of runs (CI: 40; the Reliability figures in the README used 100).
exec python3 "$(dirname "$0")/crash.py" "$1" "${CRASH_RUNS:-40}"
