#!/usr/bin/env bash
# Builds the npm package `confab-client` into client-sdk/pkg with the
# size-optimised `wasm-release` profile: wasm-pack --target web, then
# scripts/package.mjs adds the entries (index.js: auto-initialising, for
# browsers and bundlers; node.js: the `node` condition) and the exports map.
# `npm pack` in client-sdk/pkg makes the tarball.
# Usage: client-sdk/scripts/build.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
out=client-sdk/pkg

echo "== wasm-pack build --target web → $out" >&2
# wasm-pack leaves files of earlier builds (old snippets) in the out dir.
rm -rf "$out"
# wasm-opt -Oz runs inside wasm-pack (Cargo.toml: package.metadata.wasm-pack).
# small-alloc: lol_alloc instead of dlmalloc in the npm build (src/lib.rs).
wasm-pack --quiet build client-sdk --target web --profile wasm-release --out-dir pkg \
  -- --features small-alloc >&2
# Short names for the wasm ↔ glue imports/exports (hashed __wbg_… names
# are ~5 KB that gzip cannot shrink); the public JS API keeps its names.
node client-sdk/scripts/short-names.mjs "$out"
node client-sdk/scripts/package.mjs "$out"
# Minify the JS in place (esbuild transform: whitespace, syntax, local
# names; exported names, class names and imports stay). The doc comments
# live on in the .d.ts files, which are left as generated.
find "$out" -name '*.js' -print0 | while IFS= read -r -d '' js; do
  # (the glue lists the one snippet module once per imported function:
  # harmless duplicate keys wasm-bindgen writes, not ours.)
  esbuild "$js" --minify --legal-comments=none --log-level=warning \
    --log-override:duplicate-object-key=silent --outfile="$js" --allow-overwrite
done
