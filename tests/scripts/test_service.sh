#!/usr/bin/env bash
# The bot under systemd's protocols: sd_notify, the watchdog, the journal,
# /healthz and /readyz (tests/service.py).
exec python3 "$(dirname "$0")/../service.py" "$1"
