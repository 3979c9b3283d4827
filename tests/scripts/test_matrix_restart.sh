#!/usr/bin/env bash
# Matrix end to end where the fake homeserver behaves as Synapse does:
# transaction ids remembered for a day, limited timelines filled from
# /messages, a homeserver that is down (tests/matrix/e2e_restart.py).
exec python3 "$(dirname "$0")/../matrix/e2e_restart.py" "$1"
