#!/usr/bin/env bash
# Back up a running bot, stop it, restore the backup, start it again: no
# message lost, none sent twice (see tests/telegram/backup.py).
exec python3 "$(dirname "$0")/../telegram/backup.py" "$1"
