#!/usr/bin/env bash
# Builds the npm packages of the SDK with the size-optimised `wasm-release`
# profile:  client-sdk/pkg      (wasm-pack --target bundler; what `npm pack` ships)
#           client-sdk/pkg-web  (wasm-pack --target web; <script type=module> without a bundler)
# Usage: client-sdk/scripts/build.sh [bundler|web]...   (default: both)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

for target in "${@:-bundler web}"; do
  for t in $target; do
    out=pkg; [[ "$t" == web ]] && out=pkg-web
    echo "== wasm-pack build --target $t → client-sdk/$out" >&2
    # wasm-pack leaves files of earlier builds (old snippets) in the out dir.
    rm -rf "client-sdk/$out"
    # wasm-opt -Oz runs inside wasm-pack (Cargo.toml: package.metadata.wasm-pack).
    # small-alloc: lol_alloc instead of dlmalloc in the npm build (src/lib.rs).
    wasm-pack --quiet build client-sdk --target "$t" --profile wasm-release --out-dir "$out" \
      -- --features small-alloc >&2
    # Short names for the wasm ↔ glue imports/exports (hashed __wbg_… names
    # are ~5 KB that gzip cannot shrink); the public JS API keeps its names.
    node client-sdk/scripts/short-names.mjs "client-sdk/$out"
    # Minify the generated JS glue in place (esbuild transform: whitespace,
    # syntax, local names; exported names, class names and imports stay).
    # The doc comments live on in the .d.ts, which is left as generated.
    find "client-sdk/$out" -name '*.js' -print0 | while IFS= read -r -d '' js; do
      # (--target web glue lists the one snippet module once per imported
      # function: harmless duplicate keys wasm-bindgen writes, not ours.)
      esbuild "$js" --minify --legal-comments=none --log-level=warning \
        --log-override:duplicate-object-key=silent --outfile="$js" --allow-overwrite
    done
  done
done
