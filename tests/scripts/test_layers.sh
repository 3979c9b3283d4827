#!/usr/bin/env bash
# Folders are layers (README, "Layout"): every include of the daemon's
# sources points to its own layer or one below, and no folder includes
# another's private *_internal.h.  scripts/check_layers.py holds the order;
# it is first shown to catch both mistakes on a small tree of its own.
set -u
src=${ENSEMBLE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
check=$src/scripts/check_layers.py
command -v python3 > /dev/null || { echo "SKIP: python3 is missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

mkdir -p "$tmp/lib" "$tmp/bot" "$tmp/adapters" "$tmp/web" "$tmp/daemon"
printf '#include "lib/log.h"\n#include "adapters/adapter.h"\n' > "$tmp/bot/up.c"
printf '#include "adapters/telegram_internal.h"\n' > "$tmp/daemon/private.c"
printf '#include "adapters/telegram_internal.h"\n#include "bot/bot.h"\n' > "$tmp/adapters/telegram.c"
printf '#include "adapters/http_server.h"\n#include "adapters/adapter.h"\n' > "$tmp/web/feed.c"
out=$(python3 "$check" "$tmp")
rc=$?
[ "$rc" = 1 ] || fail "a tree with wrong includes passes the check (exit $rc)"
grep -q '^bot/up.c:2: includes "adapters/adapter.h", a layer above bot/' <<< "$out" ||
	fail "the include upward is not reported: $out"
grep -q '^daemon/private.c:1: includes "adapters/telegram_internal.h", private to adapters/' <<< "$out" ||
	fail "the private header is not reported: $out"
grep -q '^web/feed.c:2: includes "adapters/adapter.h": web/ uses only adapters/http_server.h of adapters/' <<< "$out" ||
	fail "web/ using an adapter is not reported: $out"
[ "$(wc -l <<< "$out")" = 3 ] || fail "what is allowed is reported too: $out"

out=$(python3 "$check" "$src")
rc=$?
[ "$rc" = 0 ] || fail "an include crosses a layer upward:
$out"

[ "$failed" = 0 ] && echo "layers: every include points down" && exit 0
exit 1
