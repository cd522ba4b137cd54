#!/usr/bin/env bash
# The npm path, the way users take it (called by scripts/test.sh, which
# starts the servers and exports CONFAB_TEST_URL, STATIC_PORT and WORK):
#   1. wasm-pack builds (--target web and --target bundler)
#   2. a plain HTML page importing pkg-web/ (no bundler), driven by Playwright
#   3. `npm pack` of pkg/, installed into a scratch project; examples/app.ts
#      type-checked with tsc --noEmit against the installed .d.ts, bundled
#      with esbuild, and driven by Playwright
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SDK="$ROOT/client-sdk"
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
: "${CONFAB_TEST_URL:?}" "${STATIC_PORT:?}" "${WORK:?}"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "wasm-pack build (web, bundler)"
"$SDK/scripts/build.sh"
"$SDK/scripts/size.sh" --no-build

SITE="$WORK/site"
rm -rf "$SITE" && mkdir -p "$SITE"
cp -r "$SDK/pkg-web" "$SITE/pkg-web"
cp "$SDK/tests/js/web.html" "$SDK/tests/js/suite.mjs" "$SDK/tests/js/bundle.html" "$SITE/"

say "npm pack (bundler build) → scratch project"
APP="$WORK/app"
mkdir -p "$APP"
TARBALL=$(cd "$SDK/pkg" && npm pack --silent --pack-destination "$WORK" | tail -1)
(cd "$APP" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund --offline "$WORK/$TARBALL")
cp "$SDK/examples/app.ts" "$SDK/examples/tsconfig.json" "$APP/"

say "tsc --noEmit (examples/app.ts against the installed .d.ts)"
(cd "$APP" && tsc -p tsconfig.json)

say "esbuild bundle"
(cd "$APP" && node "$SDK/tests/js/bundle.mjs" app.ts "$SITE/dist")

python3 -m http.server "$STATIC_PORT" --bind 127.0.0.1 --directory "$SITE" >"$WORK/static.log" 2>&1 &
STATIC_PID=$!
trap 'kill $STATIC_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$STATIC_PORT/web.html" >/dev/null && break; sleep 0.1; done

say "Playwright: plain page with the --target web package"
node "$SDK/tests/js/run-page.mjs" "http://127.0.0.1:$STATIC_PORT/web.html?ws=$CONFAB_TEST_URL"

say "Playwright: esbuild bundle of the npm tarball"
node "$SDK/tests/js/run-page.mjs" "http://127.0.0.1:$STATIC_PORT/bundle.html?ws=$CONFAB_TEST_URL"
