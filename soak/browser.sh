#!/usr/bin/env bash
# SDK reconnect soak in a real browser: builds the JS SDK (wasm-pack --target
# web, wasm-release profile) into soak/pkg/ (gitignored), starts a release
# confab-server that also serves soak/ as its static directory (same origin),
# then runs soak/driver.mjs: SOAK_CYCLES (1000) connect/close cycles and as
# many forced reconnects, JS heap after GC sampled via CDP per batch.
# Usage: soak/browser.sh            Env: SOAK_CYCLES, SOAK_BATCH (100), SOAK_NO_BUILD=1
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
CYCLES=${SOAK_CYCLES:-1000}
BATCH=${SOAK_BATCH:-100}
if [[ -z "${SOAK_NO_BUILD:-}" || ! -f soak/pkg/confab_client_bg.wasm ]]; then
  echo "== wasm-pack build client-sdk --target web → soak/pkg" >&2
  wasm-pack --quiet build client-sdk --target web --profile wasm-release --no-opt --out-dir "$ROOT/soak/pkg" >&2
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    soak/pkg/confab_client_bg.wasm -o soak/pkg/confab_client_bg.wasm.opt
  mv soak/pkg/confab_client_bg.wasm.opt soak/pkg/confab_client_bg.wasm
fi
echo "== cargo build --release -p confab-server" >&2
cargo build --release -q -p confab-server
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp /tmp/confab-browser-soak.XXXXXX.log)
# Rate limits are per connection; the sticky client sends a ping + join +
# publish per reconnect, far below them.
target/release/confab-server --bind "127.0.0.1:$PORT" --static-dir "$ROOT/soak" --in-memory >"$LOG" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
node soak/driver.mjs "http://127.0.0.1:$PORT/index.html" "$CYCLES" "$BATCH"
echo "server RSS at the end: $(awk '/^VmRSS:/ {print $2, $3}' /proc/$SPID/status)"
