#!/usr/bin/env bash
# The npm package, the way users take it (called by scripts/test.sh, which
# starts the servers and exports CONFAB_TEST_URL, STATIC_PORT and WORK):
#   1. the package build (scripts/build.sh) and its size, beside the size it
#      adds to a Vite 8 app (scripts/size.sh)
#   2. a plain HTML page importing the `confab-client/web` glue with an
#      explicit init(), running the behaviour suite (tests/js/suite.mjs)
#   3. `npm pack`, installed into scratch projects: examples/app.ts
#      type-checked (strict, no skipLibCheck) under create-vite's tsconfig
#      and `tsc --init`'s, with TypeScript 5.9 and 7; bundled by esbuild
#      (no plugin: the README's line) and run in headless Chromium
#   4. every bundler setup of issue #18 (tests/bundlers/run.mjs: Vite 7/8
#      dev and build, webpack current and 5.99, esbuild, Rollup, a plain
#      <script type="module">), each page joining a room and receiving a
#      message from the real server
#   5. Node.js as a server render imports it, and the READMEs' JS snippets
#      run there against the server (tests/bundlers/ssr.sh, readme.mjs; the
#      TypeScript snippet is type-checked in step 3)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SDK="$ROOT/client-sdk"
BUNDLERS="$ROOT/tools/bundlers/node_modules"
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
: "${CONFAB_TEST_URL:?}" "${STATIC_PORT:?}" "${WORK:?}"
# Each step with the seconds since the start (what this script adds to CI).
say() { printf '\n\033[1m== [%3d s] %s\033[0m\n' "$SECONDS" "$*"; }
# A missing tool is a failure, never a skip.
[[ -x "$BUNDLERS/.bin/tsc" && -d "$BUNDLERS/vite7" ]] \
  || { echo "tools/bundlers is not installed: run scripts/install-tools.sh" >&2; exit 1; }

say "npm package build"
"$SDK/scripts/build.sh"
"$SDK/scripts/size.sh" --no-build

SITE="$WORK/site"
rm -rf "$SITE" && mkdir -p "$SITE"
cp -r "$SDK/pkg" "$SITE/pkg"
cp "$SDK/tests/js/web.html" "$SDK/tests/js/suite.mjs" "$SDK/tests/js/bundle.html" "$SITE/"

say "npm pack → scratch projects"
TARBALL="$WORK/$(cd "$SDK/pkg" && npm pack --silent --pack-destination "$WORK" | tail -1)"
# One project per tsconfig: create-vite's (examples/tsconfig.json) and the
# one `tsc --init` writes, for each TypeScript (tools/: 5.9, tools/bundlers: 7).
for ts in 5 7; do
  tsc_bin="$ROOT/tools/node_modules/.bin/tsc"; [[ $ts == 7 ]] && tsc_bin="$BUNDLERS/.bin/tsc"
  for cfg in create-vite init; do
    dir="$WORK/ts$ts-$cfg"
    mkdir -p "$dir"
    echo '{"name": "ts-app", "private": true, "type": "module"}' >"$dir/package.json"
    (cd "$dir" && npm install --silent --no-audit --no-fund --offline "$TARBALL")
    cp "$SDK/examples/app.ts" "$dir/"
    if [[ $cfg == create-vite ]]; then
      cp "$SDK/examples/tsconfig.json" "$dir/"
    else
      (cd "$dir" && "$tsc_bin" --init >/dev/null)
      sed -i 's/"skipLibCheck": true/"skipLibCheck": false/' "$dir/tsconfig.json"
      grep -q '"skipLibCheck": false' "$dir/tsconfig.json"
    fi
    say "tsc $("$tsc_bin" --version) --noEmit, $cfg's tsconfig, skipLibCheck off"
    (cd "$dir" && "$tsc_bin" -p tsconfig.json --noEmit)
  done
  # client-sdk/README.md's TypeScript snippet, as written there (its
  # example locals are unused: noUnusedLocals off, the rest as create-vite's).
  dir="$WORK/ts$ts-create-vite"
  node "$SDK/tests/bundlers/readme.mjs" ts "$dir" >/dev/null
  echo '{"extends": "./tsconfig.json", "compilerOptions": {"noUnusedLocals": false}, "files": ["readme.ts"]}' >"$dir/readme.tsconfig.json"
  say "tsc $("$tsc_bin" --version) --noEmit: client-sdk/README.md's TypeScript snippet"
  (cd "$dir" && "$tsc_bin" -p readme.tsconfig.json --noEmit)
done

say "esbuild bundle of examples/app.ts (the README's esbuild line)"
(cd "$WORK/ts5-create-vite" && esbuild app.ts --bundle --format=esm --outdir="$SITE/dist" --log-level=warning \
  && cp node_modules/confab-client/confab_client_bg.wasm "$SITE/dist/")

python3 -m http.server "$STATIC_PORT" --bind 127.0.0.1 --directory "$SITE" >"$WORK/static.log" 2>&1 &
STATIC_PID=$!
trap 'kill $STATIC_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$STATIC_PORT/web.html" >/dev/null && break; sleep 0.1; done

say "Playwright: plain page, confab-client/web with init()"
node "$SDK/tests/js/run-page.mjs" "http://127.0.0.1:$STATIC_PORT/web.html?ws=$CONFAB_TEST_URL"

say "Playwright: esbuild bundle of the TypeScript app"
node "$SDK/tests/js/run-page.mjs" "http://127.0.0.1:$STATIC_PORT/bundle.html?ws=$CONFAB_TEST_URL"

say "every bundler setup, in headless Chromium"
node "$SDK/tests/bundlers/run.mjs" "$TARBALL" "$WORK/bundlers" "$CONFAB_TEST_URL"

say "Node.js (server render): import, use without and with a WebSocket"
bash "$SDK/tests/bundlers/ssr.sh" "$TARBALL" "$WORK" "$CONFAB_TEST_URL"

say "npm package: all tests passed"
