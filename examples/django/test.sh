#!/usr/bin/env bash
# End-to-end test of the Django example: Django's dev server + a real
# confab-server, driven by a Python WebSocket client and by the real page in
# headless Chromium (e2e_test.py says what it checks). Loopback only, free
# ports, a throwaway database; about 20 s once built.
#
#   examples/django/test.sh       # CONFAB_SERVER=path/to/confab-server to skip the build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

bash "$here/setup.sh"
# The browser half (browser_check.mjs): Playwright from tools/, Debian's Chromium.
command -v /usr/bin/chromium >/dev/null || { echo "no /usr/bin/chromium (scripts/install-tools.sh installs it)" >&2; exit 1; }
[ -d "$root/tools/node_modules/playwright-core" ] || (cd "$root/tools" && npm ci --no-audit --no-fund --silent)
if [ -z "${CONFAB_SERVER:-}" ]; then
  (cd "$root" && timeout 900 cargo build -q -p confab-server)
  export CONFAB_SERVER="$root/target/debug/confab-server"
fi
exec timeout 120 "$here/.venv/bin/python" "$here/e2e_test.py"
