#!/usr/bin/env bash
# The npm package under Node.js (a server render): the tarball installed
# into a fresh project, app/ssr.mjs run without a WebSocket (import works,
# use throws no_websocket) and with Node's own (connects, welcome, join,
# publish, message). Usage: ssr.sh TARBALL WORKDIR WS_URL
set -euo pipefail
tarball=$1 dir=$2/ssr ws=$3
rm -rf "$dir" && mkdir -p "$dir"
cp "$(dirname "$0")/app/ssr.mjs" "$dir/"
echo '{"name": "ssr-app", "private": true, "type": "module"}' >"$dir/package.json"
(cd "$dir" && npm install --offline --no-audit --no-fund --silent "$tarball")
cd "$dir"
node ssr.mjs no-websocket "$ws"
ws_flag=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || ws_flag=(--experimental-websocket)
node "${ws_flag[@]}" --no-warnings ssr.mjs websocket "$ws"
