#!/usr/bin/env bash
# Multi-node benchmark (issue 17): N Confab nodes (1, 2, 3) × M Redis shards
# (1, 2, 3), the rooms spread over the shards by Confab's jump hash and every
# room's clients spread over the nodes (client k of room r on node
# (r + k) mod N), so deliveries cross Redis; then Django Channels +
# channels_redis (one and two daphne processes on one Redis) on the same
# rooms. `confab-load multinode` measures deliveries/s, p99, lost, the
# nodes' CPU and the redis-server processes' CPU (per delivered message) at a
# few fixed rates. Writes bench/results/multinode.json and
# bench/results/MULTINODE.md (with a projection to larger deployments).
#
#   bench/multinode.sh            # 200 rooms × 4 clients, 0.5/2/4/8/16 msg/s per client, 5 s each
#   bench/multinode.sh --quick    # 50 rooms × 4, 2 s phases: validation
#   bench/multinode.sh --no-django
#
# Everything on 127.0.0.1, ports picked free by the kernel; redis-server
# without persistence in a temporary directory. Every server process (nodes,
# daphne, redis) pinned to SERVER_CPU (default 0), the load generator to
# LOAD_CPU (default 1). Env: BENCH_WORK (Django venv, default
# /tmp/confab-bench, shared with run.sh; the last run's logs go to
# $BENCH_WORK/multinode-logs), NODES / SHARDS (default "1 2 3"),
# DAPHNES (default "1 2"), MULTINODE_RESULTS (default bench/results).
set -euo pipefail

# Own session and autogroup weight, as run.sh (see there).
if [ -z "${CONFAB_BENCH_SESSION:-}" ]; then
  export CONFAB_BENCH_SESSION=1
  exec setsid --wait "$0" "$@"
fi
AUTOGROUP_NICE="${BENCH_AUTOGROUP_NICE:--5}"
echo "$AUTOGROUP_NICE" > /proc/self/autogroup 2>/dev/null || AUTOGROUP_NICE="unchanged"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/bench"
ANCHORS="${ANCHORS:-$ROOT/../shared/anchors}"
WORK="${BENCH_WORK:-/tmp/confab-bench}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
NODES="${NODES:-1 2 3}"
SHARDS="${SHARDS:-1 2 3}"
DAPHNES="${DAPHNES:-1 2}"
MODE=full
DJANGO=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --no-django) DJANGO=0 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$MODE" = quick ]; then
  LOAD_ARGS=(--rooms 50 --per-room 4 --rates-per-client 0.5,2 --secs 2 --warmup-secs 0.5 --drain-secs 2)
else
  LOAD_ARGS=(--rooms 200 --per-room 4 --rates-per-client 0.5,2,4,8,16 --secs 5 --warmup-secs 1 --drain-secs 3)
fi

command -v redis-server >/dev/null || { echo "redis-server is not installed (scripts/install-tools.sh)" >&2; exit 1; }
TMP="$(mktemp -d -t confab-multinode.XXXXXX)"
OUT="$TMP/out"
LOGS="$TMP/logs"
mkdir -p "$OUT" "$LOGS"
ulimit -n "$(ulimit -Hn)"

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
cd "$ROOT"
BIN="$TARGET_DIR/release"
case "$BIN" in "$ROOT"/*) BIN="${BIN#"$ROOT"/}" ;; esac

log "building release binaries"
cargo build --release -q -p confab-bench -p confab-server
if [ "$DJANGO" = 1 ]; then
  if [ ! -x "$WORK/venv/bin/daphne" ] || ! "$WORK/venv/bin/python" -c 'import channels_redis' 2>/dev/null; then
    log "setting up the Django venv in $WORK/venv"
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q -r "$ANCHORS/django_chat/requirements.txt"
  fi
  cp -r "$ANCHORS/django_chat" "$TMP/" && chmod -R u+w "$TMP/django_chat"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port pid name
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { log "$3 exited before listening"; return 1; }
    sleep 0.05
  done
  log "$3 did not listen on $1"; return 1
}

PIDS=()        # every process this script started and has not stopped
REDIS_PIDS=(); REDIS_URLS=()
SERVER_PIDS=(); SERVER_URLS=()
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=(); REDIS_PIDS=(); REDIS_URLS=(); SERVER_PIDS=(); SERVER_URLS=()
}
# The servers' and load generator's logs are kept outside the repository.
cleanup() {
  stop_all
  rm -rf "$WORK/multinode-logs" && mkdir -p "$WORK/multinode-logs" && cp -r "$LOGS/." "$WORK/multinode-logs/" || true
  rm -rf "$TMP"
}
trap cleanup EXIT

start_redis() { # count tag
  local i port dir
  for i in $(seq "$1"); do
    port="$(free_port)"; dir="$TMP/redis-$2-$i"; mkdir -p "$dir"
    taskset -c "$SERVER_CPU" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
      --save "" --appendonly no --logfile "$LOGS/redis-$2-$i.log" >/dev/null 2>&1 &
    PIDS+=($!); REDIS_PIDS+=($!); REDIS_URLS+=("redis://127.0.0.1:$port/")
    wait_port "$port" "$!" "redis-server $2-$i"
  done
}

start_confab() { # count tag
  local i port urls
  urls="$(IFS=,; echo "${REDIS_URLS[*]}")"
  for i in $(seq "$1"); do
    port="$(free_port)"
    # Rate limits lifted as in run.sh: every client comes from 127.0.0.1.
    RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN/confab-server" --bind "127.0.0.1:$port" \
      --redis-url "$urls" --node-id "node$i" \
      --rate-per-sec 1000000 --rate-burst 1000000 --max-connections-per-ip 0 \
      >"$LOGS/confab-$2-$i.log" 2>&1 &
    PIDS+=($!); SERVER_PIDS+=($!); SERVER_URLS+=("ws://127.0.0.1:$port")
    wait_port "$port" "$!" "confab-server $2-$i"
  done
}

start_daphne() { # count tag
  local i port
  for i in $(seq "$1"); do
    port="$(free_port)"
    (cd "$TMP/django_chat" && REDIS_URL="${REDIS_URLS[0]}0" exec taskset -c "$SERVER_CPU" \
      "$WORK/venv/bin/daphne" -b 127.0.0.1 -p "$port" project.asgi:application) \
      >"$LOGS/django-$2-$i.log" 2>&1 &
    PIDS+=($!); SERVER_PIDS+=($!); SERVER_URLS+=("ws://127.0.0.1:$port")
    wait_port "$port" "$!" "daphne $2-$i"
  done
}

load() { # label
  local urls pids lpids
  urls="$(IFS=,; echo "${SERVER_URLS[*]}")"
  pids="$(IFS=,; echo "${SERVER_PIDS[*]}")"
  lpids="$(IFS=,; echo "${REDIS_PIDS[*]}")"
  sleep 0.5
  taskset -c "$LOAD_CPU" "$BIN/confab-load" --url "$urls" --proto seed \
    --server-pid "$pids" --layer-pid "$lpids" --label "$1" --json "$OUT/$1.json" \
    multinode "${LOAD_ARGS[@]}" 2> >(tee "$LOGS/$1.load.log" >&2) \
    || log "$1 failed (see its log)"
}

machine_json() {
  echo "{\"cpus\": $(nproc), \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"busy\": $(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | python3 -c 'import json,sys; print(json.dumps([l.strip() for l in sys.stdin]))')}"
}
machine_json > "$OUT/machine-start.json"
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
T0=$(date +%s)

for m in $SHARDS; do
  for n in $NODES; do
    label="confab-n$n-m$m"
    log "== $label: $n node(s), $m redis shard(s)"
    start_redis "$m" "$label" && start_confab "$n" "$label" && load "$label" || log "$label: could not start"
    stop_all
  done
done
if [ "$DJANGO" = 1 ]; then
  for d in $DAPHNES; do
    label="django-n$d-m1"
    log "== $label: $d daphne process(es), channels_redis on 1 redis"
    start_redis 1 "$label" && start_daphne "$d" "$label" && load "$label" || log "$label: could not start"
    stop_all
  done
fi
machine_json > "$OUT/machine-end.json"

{
  echo "{"
  echo "\"mode\": \"$MODE\","
  echo "\"started\": \"$STARTED\", \"ended\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"duration_secs\": $(( $(date +%s) - T0 )),"
  echo "\"commit\": \"$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' || echo '+uncommitted')\","
  echo "\"server_cpu\": $SERVER_CPU, \"load_cpu\": $LOAD_CPU, \"autogroup_nice\": \"$AUTOGROUP_NICE\","
  echo "\"redis\": \"$(redis-server --version | head -1)\","
  echo "\"load_args\": \"${LOAD_ARGS[*]}\","
  echo "\"versions\": $(if [ "$DJANGO" = 1 ]; then "$WORK/venv/bin/python" -c 'import json, django, channels, channels_redis, daphne, sys; print(json.dumps({"python": sys.version.split()[0], "django": django.__version__, "channels": channels.__version__, "channels_redis": channels_redis.__version__, "daphne": daphne.__version__}))'; else echo '{}'; fi)"
  echo "}"
} > "$OUT/meta.json"

RESULTS="${MULTINODE_RESULTS:-$BENCH/results}"
mkdir -p "$RESULTS"
python3 "$BENCH/scripts/multinode_report.py" --root "$ROOT" --work "$WORK" --tmp "$TMP" "$OUT" "$RESULTS"
log "wrote multinode.json and MULTINODE.md in $RESULTS"
