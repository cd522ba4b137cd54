#!/usr/bin/env bash
# Prints the gzipped (gzip -9) size of the npm package's default entry: the
# .wasm plus every .js it loads (index.js, the glue, the snippet), and what
# the package adds to a Vite 8 production build (scripts/size-vite.mjs, the
# figure a user sees). Builds the package first unless --no-build is given.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT/client-sdk"
[[ "${1:-}" == "--no-build" ]] || "$ROOT/client-sdk/scripts/build.sh" >/dev/null 2>&1
gz() { gzip -9c "$@" | wc -c; }
out=pkg
wasm="$out/confab_client_bg.wasm"
# node.js is the Node-only entry: not downloaded by browsers.
mapfile -t js < <(find "$out" -name '*.js' ! -name node.js | sort)
w=$(wc -c <"$wasm"); wg=$(gz "$wasm")
j=$(cat "${js[@]}" | wc -c); jg=0
for f in "${js[@]}"; do jg=$((jg + $(gz "$f"))); done
printf '%-8s wasm %7d B (gzip %6d B)   js %6d B (gzip %5d B)   total gzip %6d B = %.1f KB\n' \
  "$out" "$w" "$wg" "$j" "$jg" "$((wg + jg))" "$(echo "($wg + $jg) / 1024" | bc -l)"
node "$ROOT/client-sdk/scripts/size-vite.mjs"
