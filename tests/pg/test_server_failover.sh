#!/usr/bin/env bash
# The database server fails over under a bot (tests/pg/server_failover.py):
# a primary with a synchronous streaming replica, started here; the primary
# crashes during a burst of votes and the replica is promoted.  The bot
# finds the new primary and answers every vote exactly once, none lost.
exec python3 "$(dirname "$0")/server_failover.py" "$1"
