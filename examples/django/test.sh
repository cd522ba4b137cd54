#!/usr/bin/env bash
# End-to-end test of the Django example: Django's dev server + a real
# confab-server + a Python WebSocket client in place of the browser
# (e2e_test.py says what it checks). Loopback only, free ports, a
# throwaway database; about 10 s once built.
#
#   examples/django/test.sh       # CONFAB_SERVER=path/to/confab-server to skip the build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

bash "$here/setup.sh"
if [ -z "${CONFAB_SERVER:-}" ]; then
  (cd "$root" && timeout 900 cargo build -q -p confab-server)
  export CONFAB_SERVER="$root/target/debug/confab-server"
fi
exec timeout 120 "$here/.venv/bin/python" "$here/e2e_test.py"
