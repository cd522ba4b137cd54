#!/usr/bin/env bash
# Runs every Confab test: native unit + integration tests (protocol, server,
# SDK pure parts, benchmark smoke), the SDK in headless Chromium, and the
# Yew demo end to end. Installs what it needs first (scripts/install-tools.sh).
#
#   scripts/test.sh            # everything
#   scripts/test.sh native     # only lint and the cargo tests
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$root/tools/node_modules/.bin:$PATH"
export CARGO_TERM_COLOR=never
# One clean build per run: incremental caches only cost disk here.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

bash scripts/install-tools.sh

passed=0
failed=0
failures=()
suite() {
  local name=$1; shift
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

what=${1:-all}
# Formatting, clippy (native, and wasm32 for the SDK and the demo) and the
# import-cycle check: the habits every change keeps.
lint() {
  cargo fmt --all -- --check &&
    cargo clippy -q --workspace --all-targets -- -D warnings &&
    bash client-sdk/scripts/clippy.sh wasm &&
    python3 scripts/check-imports.py server client-sdk protocol demo-app bench
}
suite lint lint
# Before anything builds other feature sets into target/: doctests get
# confused by several builds of one crate. `cargo test` also builds the
# confab-server binary the bench smoke test drives. Tests that need Redis or
# nginx start their own (server/tests/common/process.rs) and fail, never
# skip, when one is missing.
suite native cargo test --workspace --exclude confab-demo
if [ "$what" = all ]; then
  suite sdk-browser bash client-sdk/scripts/test.sh
  suite demo-e2e bash e2e/run.sh
fi

echo
((failed == 0)) || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
((failed == 0))
