#!/usr/bin/env bash
# Runs the example: confab-server on 127.0.0.1:8000 and Django's dev server
# on 127.0.0.1:8001 (CONFAB_PORT, DJANGO_PORT to change them), with fresh
# secrets shared by the two, a seeded SQLite database (db.sqlite3 here) and
# confab.toml. Open the printed URL; Ctrl-C stops both.
#
#   examples/django/run.sh     # CONFAB_SERVER=path/to/confab-server to skip the build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
CONFAB_PORT=${CONFAB_PORT:-8000}
DJANGO_PORT=${DJANGO_PORT:-8001}

bash "$here/setup.sh"
if [ -z "${CONFAB_SERVER:-}" ]; then
  echo "[django example] cargo build -p confab-server" >&2
  (cd "$root" && cargo build -q -p confab-server)
  CONFAB_SERVER="$root/target/debug/confab-server"
fi

# One set of secrets per run, given to both processes through the environment.
secret() { "$here/.venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))'; }
export CONFAB_URL="http://127.0.0.1:$CONFAB_PORT"
export CONFAB_TOKEN_SECRET=$(secret) CONFAB_BACKEND_SECRET=$(secret) CONFAB_API_KEY=$(secret)

cd "$here"
.venv/bin/python manage.py migrate -v0
.venv/bin/python manage.py seed_demo
mkdir -p .run
sed "s/127\.0\.0\.1:8001/127.0.0.1:$DJANGO_PORT/" confab.toml >.run/confab.toml

"$CONFAB_SERVER" --in-memory --bind "127.0.0.1:$CONFAB_PORT" --config .run/confab.toml \
  --allowed-origins "http://127.0.0.1:$DJANGO_PORT,http://localhost:$DJANGO_PORT" >.run/confab.log 2>&1 &
confab_pid=$!
trap 'kill "$confab_pid" 2>/dev/null || true' EXIT
sleep 0.5
kill -0 "$confab_pid" 2>/dev/null || { cat .run/confab.log; exit 1; }

echo
echo "  Open http://127.0.0.1:$DJANGO_PORT/ and log in as alice, bob or carol (password confab-demo)."
echo "  confab-server on $CONFAB_URL (log: examples/django/.run/confab.log); Ctrl-C stops both."
echo
.venv/bin/python manage.py runserver "127.0.0.1:$DJANGO_PORT" --noreload
