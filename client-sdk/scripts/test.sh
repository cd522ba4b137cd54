#!/usr/bin/env bash
# Every client-sdk test, against real confab-server processes:
#   1. native unit tests of the pure modules (cargo test -p confab-client)
#   2. wasm-bindgen-test in headless Chromium: the crate's own wasm tests
#      (the wire test: every server message through the SDK's decoder) and
#      tests/browser.rs
#   3. the npm package: wasm-pack --target web page driven by Playwright,
#      tsc --noEmit of a .ts sample against the generated .d.ts, and
#      npm pack of the --target bundler build → scratch project → esbuild →
#      Playwright.
# Usage: client-sdk/scripts/test.sh [native|browser|js]...   (default: all)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SDK="$ROOT/client-sdk"
cd "$ROOT"
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
STAGES=("${@:-native browser js}")
STAGES=" ${STAGES[*]} "
want() { [[ "$STAGES" == *" $1 "* ]]; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

WORK=$(mktemp -d /tmp/confab-sdk-test.XXXXXX)
CONTROL_PID=""
STATIC_PID=""
cleanup() {
  local rc=$?
  [[ -n "$CONTROL_PID" ]] && kill "$CONTROL_PID" 2>/dev/null && wait "$CONTROL_PID" 2>/dev/null
  [[ -n "$STATIC_PID" ]] && kill "$STATIC_PID" 2>/dev/null && wait "$STATIC_PID" 2>/dev/null
  if [[ $rc -ne 0 ]]; then
    echo "FAILED (exit $rc); server logs in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT

if want native; then
  say "native unit tests + doctests"
  cargo test -p confab-client
fi

want browser || want js || exit 0

# CONFAB_TEST_SERVER: run against another server binary (e.g. a branch's
# build) instead of this tree's.
if [[ -n "${CONFAB_TEST_SERVER:-}" ]]; then
  SERVER="$CONFAB_TEST_SERVER"
else
  say "build confab-server"
  cargo build -p confab-server
  SERVER="$ROOT/target/debug/confab-server"
fi

read -r CONTROL_PORT MAIN_PORT DURABLE_PORT SCRATCH_PORT STATIC_PORT HOLE_PORT DUP_PORT \
  ACK_PORT REDIS_PORT NODE1_PORT NODE2_PORT ACK1_PORT < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(12)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()
PY
)
SECRET="sdk-test-secret"
TOKEN=$("$SERVER" token --user alice --token-secret "$SECRET")

say "start confab-server instances (control on :$CONTROL_PORT)"
python3 "$SDK/tests/control.py" --port "$CONTROL_PORT" --server "$SERVER" --log-dir "$WORK" \
  --blackhole "$HOLE_PORT" --dup-proxy "$DUP_PORT:$MAIN_PORT" --ack-proxy "$ACK_PORT:$MAIN_PORT" \
  --ack-proxy "$ACK1_PORT:$NODE1_PORT" \
  --token-secret "$SECRET" --redis "$REDIS_PORT" --api-key sdk-test-key \
  --instance "main=$MAIN_PORT:--token-secret=$SECRET:--api-key=sdk-test-key" \
  --instance "durable=$DURABLE_PORT:--data-dir=$WORK/durable" \
  --instance "scratch=$SCRATCH_PORT" \
  --instance "node1=$NODE1_PORT:--redis-url=REDIS" \
  --instance "node2=$NODE2_PORT:--redis-url=REDIS" >"$WORK/control.log" 2>&1 &
CONTROL_PID=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$CONTROL_PORT/health" >/dev/null 2>&1 && break
  kill -0 "$CONTROL_PID" 2>/dev/null || { cat "$WORK/control.log"; exit 1; }
  sleep 0.2
done
curl -fs "http://127.0.0.1:$CONTROL_PORT/health" >/dev/null

export CONFAB_TEST_URL="ws://127.0.0.1:$MAIN_PORT/ws"
export CONFAB_TEST_DURABLE_URL="ws://127.0.0.1:$DURABLE_PORT/ws"
export CONFAB_TEST_SCRATCH_URL="ws://127.0.0.1:$SCRATCH_PORT/ws"
export CONFAB_TEST_CONTROL="http://127.0.0.1:$CONTROL_PORT"
export CONFAB_TEST_TOKEN="$TOKEN"
export CONFAB_TEST_BLACKHOLE_URL="ws://127.0.0.1:$HOLE_PORT/ws"
export CONFAB_TEST_DUP_URL="ws://127.0.0.1:$DUP_PORT/ws"
export CONFAB_TEST_ACK_PROXY_URL="ws://127.0.0.1:$ACK_PORT/ws"
export CONFAB_TEST_NODE1_URL="ws://127.0.0.1:$NODE1_PORT/ws"
export CONFAB_TEST_NODE1_ACK_PROXY_URL="ws://127.0.0.1:$ACK1_PORT/ws"
export CONFAB_TEST_NODE2_URL="ws://127.0.0.1:$NODE2_PORT/ws"

if want browser; then
  say "wasm-bindgen-test in headless Chromium"
  # webdriver.json (in client-sdk/) passes --no-sandbox etc. to Chromium.
  (cd "$SDK" && CHROMEDRIVER=/usr/bin/chromedriver \
     CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
     WASM_BINDGEN_TEST_TIMEOUT=120 \
     timeout 600 cargo test -p confab-client --target wasm32-unknown-unknown --lib --test browser)
fi

if want js; then
  export STATIC_PORT WORK
  bash "$SDK/scripts/test-js.sh"
fi

say "client-sdk: all tests passed"
