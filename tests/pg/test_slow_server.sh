#!/usr/bin/env bash
# A bot on PostgreSQL whose server is slow (a table locked for seconds by
# another session): the loop goes on serving /healthz and sending while the
# batch waits on its thread: on Telegram (tests/pg/slow_server.py), then on
# Matrix (tests/pg/slow_server_matrix.py).
python3 "$(dirname "$0")/slow_server.py" "$1" || exit 1
exec python3 "$(dirname "$0")/slow_server_matrix.py" "$1"
