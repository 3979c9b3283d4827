#!/usr/bin/env bash
# A bot on PostgreSQL whose server is slow (a table locked for seconds by
# another session): the loop goes on serving /healthz and sending while the
# batch waits on its thread (tests/pg/slow_server.py).
exec python3 "$(dirname "$0")/slow_server.py" "$1"
