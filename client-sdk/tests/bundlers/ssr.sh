#!/usr/bin/env bash
# The npm package under Node.js (a server render): the tarball installed
# into a fresh project, app/ssr.mjs run without a WebSocket (import works,
# use throws no_websocket) and with Node's own (connects, welcome, join,
# publish, message); then the READMEs' JS snippets (readme.mjs), each run
# to its end with that WebSocket. Usage: ssr.sh TARBALL WORKDIR WS_URL
set -euo pipefail
tarball=$1 dir=$2/ssr ws=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir" && mkdir -p "$dir"
cp "$here/app/ssr.mjs" "$dir/"
echo '{"name": "ssr-app", "private": true, "type": "module"}' >"$dir/package.json"
(cd "$dir" && npm install --offline --no-audit --no-fund --silent "$tarball")
cd "$dir"
node ssr.mjs no-websocket "$ws"
ws_flag=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || ws_flag=(--experimental-websocket)
node "${ws_flag[@]}" --no-warnings ssr.mjs websocket "$ws"
snippets=$(node "$here/readme.mjs" js "$dir" "$ws")
for snippet in $snippets; do
  node "${ws_flag[@]}" --no-warnings "$snippet" >"$snippet.log" 2>&1 \
    || { cat "$snippet.log" >&2; echo "FAIL $snippet" >&2; exit 1; }
  tail -1 "$snippet.log"
done
