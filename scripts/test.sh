#!/usr/bin/env bash
# The README's second command: installs what is missing (make included, on
# a fresh Debian 12), builds with ASan and UBSan, and runs every test.
set -eu
cd "$(dirname "$0")/.."
bash scripts/deps.sh
exec make test "$@"
