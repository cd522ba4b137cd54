#!/usr/bin/env bash
# Installs everything Confab's build and tests need on a fresh Debian machine.
# Idempotent: each tool is installed only when missing (or at the wrong version).
#
#   scripts/install-tools.sh           # everything (build + test: Chromium, Redis, nginx, wasm-pack)
#   scripts/install-tools.sh --build   # only what building and serving the demo needs
set -euo pipefail
mode=${1:-all}

WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen version in Cargo.lock
TRUNK_VERSION=0.21.14
WASM_PACK_VERSION=0.15.1
root=$(cd "$(dirname "$0")/.." && pwd)

log() { printf '[install-tools] %s\n' "$*" >&2; }

apt_pkgs=()
if [ "$mode" = all ]; then
command -v chromium >/dev/null || apt_pkgs+=(chromium)
command -v chromedriver >/dev/null || apt_pkgs+=(chromium-driver)
command -v redis-server >/dev/null || apt_pkgs+=(redis-server)
# redis-cli builds the test Redis Cluster; Sentinel runs as `redis-server --sentinel`.
command -v redis-cli >/dev/null || apt_pkgs+=(redis-tools)
# The Redis TLS test signs its certificates with a CA it makes.
command -v openssl >/dev/null || apt_pkgs+=(openssl)
command -v nginx >/dev/null || apt_pkgs+=(nginx)
python3 -c "import ensurepip, venv" 2>/dev/null || apt_pkgs+=(python3-venv)
fi
if ((${#apt_pkgs[@]})); then
  log "apt-get install ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi

rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION"; then
  log "cargo install trunk $TRUNK_VERSION"
  cargo install -q trunk --version "$TRUNK_VERSION" --locked
fi
if [ "$mode" = all ] && ! wasm-pack --version 2>/dev/null | grep -q " $WASM_PACK_VERSION"; then
  log "cargo install wasm-pack $WASM_PACK_VERSION"
  cargo install -q wasm-pack --version "$WASM_PACK_VERSION" --locked
fi

# The Django example's pinned Python packages (examples/django/requirements.txt:
# Django, PyJWT, websockets) in examples/django/.venv, for its end-to-end test.
if [ "$mode" = all ]; then
  bash "$root/examples/django/setup.sh"
fi

# Node tools (wasm-opt that can parse Yew output, playwright-core, typescript, esbuild)
# live in tools/node_modules, pinned by tools/package-lock.json.
if [ -f "$root/tools/package.json" ]; then
  if [ ! -x "$root/tools/node_modules/.bin/wasm-opt" ] || [ "$root/tools/package-lock.json" -nt "$root/tools/node_modules/.package-lock.json" ]; then
    log "npm ci in tools/"
    (cd "$root/tools" && npm ci --no-audit --no-fund --silent)
  fi
fi
# The JS bundlers the npm package is tested with (client-sdk/tests/bundlers:
# Vite 7 and 8, webpack current and 5.99, esbuild, Rollup, TypeScript 7),
# pinned by tools/bundlers/package-lock.json; only the full test run needs them.
if [ "$mode" = all ]; then
  if [ ! -d "$root/tools/bundlers/node_modules/vite7" ] || [ "$root/tools/bundlers/package-lock.json" -nt "$root/tools/bundlers/node_modules/.package-lock.json" ]; then
    log "npm ci in tools/bundlers/"
    (cd "$root/tools/bundlers" && npm ci --no-audit --no-fund --silent)
  fi
fi
# PyJWT for the test that connects with a token minted by a standard JWT
# library (server/tests/interop.rs): a venv in tools/pyenv.
PYJWT_VERSION=2.15.1
if [ "$mode" = all ] && ! "$root/tools/pyenv/bin/python" -c "import jwt, sys; sys.exit(jwt.__version__ != '$PYJWT_VERSION')" 2>/dev/null; then
  log "python venv tools/pyenv with PyJWT $PYJWT_VERSION"
  python3 -m venv "$root/tools/pyenv"
  "$root/tools/pyenv/bin/pip" install -q --disable-pip-version-check "PyJWT==$PYJWT_VERSION"
fi
log "done"
