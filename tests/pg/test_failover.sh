#!/usr/bin/env bash
# The failover test (tests/crash_platforms.py --standby): two instances on
# one PostgreSQL database under the vote-and-reminder load of Telegram and
# Matrix, the leader killed with SIGKILL FAILOVER_KILLS times (20): nothing
# lost, no Matrix duplicate, at most one Telegram duplicate a kill, each
# take-over within 10 s (the median and the worst are printed).
exec python3 "$(dirname "$0")/../crash_platforms.py" "$1" "${FAILOVER_KILLS:-20}" "${FAILOVER_SEED:-1}" --standby
