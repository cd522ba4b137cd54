#!/usr/bin/env bash
# Runs every Confab test: native unit + integration tests (protocol, server,
# SDK pure parts, benchmark smoke), the SDK in headless Chromium, and the
# Yew demo end to end. Installs what it needs first (scripts/install-tools.sh).
#
#   scripts/test.sh            # everything
#   scripts/test.sh native     # only the cargo tests
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$root/tools/node_modules/.bin:$PATH"
export CARGO_TERM_COLOR=never

bash scripts/install-tools.sh

passed=0
failed=0
failures=()
suite() {
  local name=$1; shift
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

# One real redis-server for the whole run: the Redis layer tests
# (server/tests/redis*.rs) use it and fail in CI without it.
if [ -z "${CONFAB_TEST_REDIS_URL:-}" ]; then
  redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis_dir=$(mktemp -d /tmp/confab-redis.XXXXXX)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$redis_dir" --logfile "$redis_dir/redis.log" --daemonize no &
  redis_pid=$!
  trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$redis_dir"' EXIT
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  export CONFAB_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/"
fi

what=${1:-all}
suite fmt cargo fmt --all -- --check
# First, before anything builds other feature sets into target/: doctests
# get confused by several builds of one crate. `cargo test` also builds the
# confab-server binary the bench smoke test drives.
suite native cargo test --workspace --exclude confab-demo
if [ "$what" = all ]; then
  suite sdk-browser bash client-sdk/scripts/test.sh
  suite demo-e2e bash e2e/run.sh
fi

echo
((failed == 0)) || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
((failed == 0))
