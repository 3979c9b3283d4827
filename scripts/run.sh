#!/usr/bin/env bash
# The README's first command: installs what is missing (make included, on a
# fresh Debian 12), builds, and starts the bot as a chat in the terminal on
# ensemble.db in the current directory.  Extra arguments go to make.
set -eu
cd "$(dirname "$0")/.."
bash scripts/deps.sh
exec make run "$@"
