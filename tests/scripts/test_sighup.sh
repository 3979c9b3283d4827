#!/usr/bin/env bash
# SIGHUP reads the configuration again, on the console and on Matrix (tests/reload.py).
exec python3 "$(dirname "$0")/../reload.py" "$1"
