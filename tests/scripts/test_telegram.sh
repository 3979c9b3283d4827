#!/usr/bin/env bash
# The Telegram adapter end to end against the fake Bot API (tests/telegram).
exec python3 "$(dirname "$0")/../telegram/e2e.py" "$1"
