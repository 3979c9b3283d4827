#!/usr/bin/env bash
# A bot on PostgreSQL whose sessions the server ends five times during a
# burst of votes (tests/pg/connection_lost.py): it connects again, takes the
# leadership again, and answers every command exactly once.
exec python3 "$(dirname "$0")/connection_lost.py" "$1"
