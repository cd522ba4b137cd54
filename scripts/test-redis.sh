#!/usr/bin/env bash
# Durable history and Redis scale-out tests, against real processes:
# a redis-server started here on a free loopback port, real confab-server
# binaries started by the tests, and a real nginx (deploy/nginx.conf).
#
#   scripts/test-redis.sh            # all of them (< 3 min once built)
#   scripts/test-redis.sh failover   # extra args go to the test binaries
#
# Needs redis-server and nginx (scripts/install-tools.sh installs both).
# In CI (CI=true) the tests fail, rather than skip, if any is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in redis-server nginx; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool not found; run scripts/install-tools.sh" >&2
        exit 1
    }
done

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=$(free_port)
dir=$(mktemp -d /tmp/confab-test-redis.XXXXXX)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" --logfile "$dir/redis.log" --daemonize no &
redis_pid=$!
cleanup() {
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Wait (bounded) for Redis to answer.
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'PING\r\n' >&3 && read -r -t 1 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null; then
        break
    fi
    kill -0 "$redis_pid" 2>/dev/null || { echo "error: redis-server exited:" >&2; cat "$dir/redis.log" >&2; exit 1; }
    sleep 0.1
done

export CONFAB_TEST_REDIS_URL="redis://127.0.0.1:$port/"
echo "redis-server on $CONFAB_TEST_REDIS_URL (pid $redis_pid)"

tests=(--lib --test durable --test redis --test redis_nginx)
# Build first (not timed: a shared machine may be busy compiling), then run
# the tests under a bound; every wait inside them is bounded too.
cargo build -p confab-server --quiet
cargo test -p confab-server --quiet --no-run "${tests[@]}"
timeout 170 cargo test -p confab-server "${tests[@]}" -- "$@"
