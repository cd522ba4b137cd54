#!/usr/bin/env bash
# Clippy with warnings as errors on the browser crates, for the target they
# ship to (wasm32: the code behind `cfg(target_arch = "wasm32")`, the wasm
# tests) and natively (the unit tests of the pure modules):
#   cargo clippy -p confab-client -p confab-demo --target wasm32-unknown-unknown --all-targets
#   cargo clippy -p confab-client --all-targets
# Usage: client-sdk/scripts/clippy.sh [wasm|native]...   (default: both)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
STAGES=" ${*:-wasm native} "

if [[ "$STAGES" == *" wasm "* ]]; then
  echo "== clippy (wasm32-unknown-unknown): confab-client, confab-yew, confab-demo" >&2
  cargo clippy -p confab-client -p confab-yew -p confab-demo --target wasm32-unknown-unknown --all-targets -- -D warnings
fi
if [[ "$STAGES" == *" native "* ]]; then
  echo "== clippy (native): confab-client" >&2
  cargo clippy -p confab-client --all-targets -- -D warnings
fi
