#!/usr/bin/env bash
# Crash-restart with Telegram and Matrix at once (tests/crash_platforms.py);
# CI kills it 15 times, `python3 tests/crash_platforms.py BIN 100` is the full run.
exec python3 "$(dirname "$0")/../crash_platforms.py" "$1" "${CRASH_KILLS:-15}"
