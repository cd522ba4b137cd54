#!/usr/bin/env bash
# Prints the gzipped (gzip -9) size of the npm build: the .wasm plus its JS
# glue (and snippets), for both wasm-pack targets. Builds them first unless
# --no-build is given.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT/client-sdk"
[[ "${1:-}" == "--no-build" ]] || "$ROOT/client-sdk/scripts/build.sh" >/dev/null 2>&1
gz() { gzip -9c "$@" | wc -c; }
for out in pkg pkg-web; do
  wasm="$out/confab_client_bg.wasm"
  mapfile -t js < <(find "$out" -name '*.js' | sort)
  w=$(wc -c <"$wasm"); wg=$(gz "$wasm")
  j=$(cat "${js[@]}" | wc -c); jg=0
  for f in "${js[@]}"; do jg=$((jg + $(gz "$f"))); done
  printf '%-8s wasm %7d B (gzip %6d B)   js glue %6d B (gzip %5d B)   total gzip %6d B = %.1f KB\n' \
    "$out" "$w" "$wg" "$j" "$jg" "$((wg + jg))" "$(echo "($wg + $jg) / 1024" | bc -l)"
done
