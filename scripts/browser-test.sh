#!/usr/bin/env bash
# The browser test of the admin page (CTest browser.admin_page, label browser): installs playwright-core
# from tests/browser/package-lock.json (npm ci, once), starts SERVER (admin_browser_server) on a free
# loopback port, drives Debian's chromium through the page with tests/browser/admin_page.mjs, saves the
# screenshot in OUT_DIR/admin-page.png, and stops the server by its pid.
#
#   scripts/browser-test.sh SERVER OUT_DIR
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server=$(realpath "$1")
out=$(realpath -m "$2")
mkdir -p "$out"
chromium=${STRATA_CHROMIUM:-/usr/lib/chromium/chromium}
[ -x "$chromium" ] || { echo "no chromium at $chromium (scripts/install-deps.sh installs it)" >&2; exit 1; }
command -v node >/dev/null || { echo "no node (scripts/install-deps.sh installs nodejs and npm)" >&2; exit 1; }
cd "$root/tests/browser"
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.strata-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.strata-lock
fi

"$server" >"$out/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$out/server.log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/server.log"; echo "the server exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "${port:-}" ] || { echo "the server did not start" >&2; exit 1; }
STRATA_CHROMIUM="$chromium" node admin_page.mjs "$port" "$out/admin-page.png"
