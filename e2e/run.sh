#!/usr/bin/env bash
# End-to-end test of the Yew chat demo: builds the release demo with trunk
# and a real confab-server, then drives three browsers (Alice, Bob, Carol)
# in headless Chromium with Playwright (e2e/chat.mjs), including a server
# kill + restart (with --data-dir, so the restarted server keeps history and
# its guest-token key: guests keep their ids), then the #14 part
# (e2e/permissions.mjs: a server with the documented permission policy,
# user tokens with and without a grant). Screenshots land in
# e2e/screenshots/ (printed at the end).
#
#   bash e2e/run.sh            # needs scripts/install-tools.sh to have run
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$root/tools/node_modules/.bin:$PATH"

pidfile=$(mktemp)
datadir=$(mktemp -d /tmp/confab-e2e-data.XXXXXX)
cleanup() {
  # Only the server processes this run started (listed by chat.mjs).
  while read -r pid; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done <"$pidfile"
  rm -f "$pidfile"
  rm -rf "$datadir"
}
trap cleanup EXIT INT TERM

echo "[e2e] unit tests of the demo's state (native)"
timeout 600 cargo test -q -p confab-demo

echo "[e2e] trunk build --release"
timeout 900 trunk build --release

echo "[e2e] cargo build -p confab-server"
timeout 900 cargo build -q -p confab-server

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
shots="$root/e2e/screenshots"
rm -f "$shots"/failure-*
echo "[e2e] playwright: server on 127.0.0.1:$port, screenshots in $shots"
CONFAB_SERVER="$root/target/debug/confab-server" CONFAB_PORT="$port" STATIC_DIR="$root/dist" \
  SHOTS="$shots" PIDFILE="$pidfile" DATA_DIR="$datadir" timeout 300 node e2e/chat.mjs
echo "[e2e] #14: the documented policy (docs/PERMISSIONS.md) and tokens from confab-server token"
CONFAB_SERVER="$root/target/debug/confab-server" STATIC_DIR="$root/dist" SHOTS="$shots" PIDFILE="$pidfile" \
  CONFAB_POLICY_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" \
  timeout 180 node e2e/permissions.mjs
echo "[e2e] screenshots: $shots"
