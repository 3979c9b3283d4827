#!/usr/bin/env bash
# The Matrix adapter end to end against the fake homeserver (tests/matrix).
exec python3 "$(dirname "$0")/../matrix/e2e.py" "$1"
