#!/usr/bin/env bash
# Builds the npm packages of the SDK with the size-optimised `wasm-release`
# profile:  client-sdk/pkg      (wasm-pack --target bundler; what `npm pack` ships)
#           client-sdk/pkg-web  (wasm-pack --target web; <script type=module> without a bundler)
# Usage: client-sdk/scripts/build.sh [bundler|web]...   (default: both)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
WASM_OPT_FLAGS=(-Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)

for target in "${@:-bundler web}"; do
  for t in $target; do
    out=pkg; [[ "$t" == web ]] && out=pkg-web
    echo "== wasm-pack build --target $t → client-sdk/$out" >&2
    wasm-pack --quiet build client-sdk --target "$t" --profile wasm-release --no-opt --out-dir "$out" >&2
    wasm="client-sdk/$out/confab_client_bg.wasm"
    wasm-opt "${WASM_OPT_FLAGS[@]}" "$wasm" -o "$wasm.opt"
    mv "$wasm.opt" "$wasm"
  done
done
