#!/usr/bin/env bash
# Telegram's webhook mode: the listener, the secret, stored updates (tests/telegram).
exec python3 "$(dirname "$0")/../telegram/webhook.py" "$1"
