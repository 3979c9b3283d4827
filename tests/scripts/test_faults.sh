#!/usr/bin/env bash
# Fault injection against both fake servers at once (tests/faults.py).
exec python3 "$(dirname "$0")/../faults.py" "$1"
