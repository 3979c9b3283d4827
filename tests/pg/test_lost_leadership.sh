#!/usr/bin/env bash
# The hot standby seen from outside (tests/pg/lost_leadership.py): a
# standby's /healthz, /readyz, /metrics and systemd status, its taking over
# when the leader's session ends, and the old leader's exit with status 3.
exec python3 "$(dirname "$0")/lost_leadership.py" "$1"
