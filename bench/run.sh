#!/usr/bin/env bash
# Side-by-side benchmark harness: starts each server (raw-broadcast ceiling,
# Confab, Socket.IO, Django Channels + daphne) pinned to one core, runs the
# confab-load scenarios from the other core, stops the server, and writes
# bench/results/latest.md + latest.json (raw per-scenario JSON in
# bench/results/latest/).
#
#   bench/run.sh --quick           # small N, a few minutes: validation
#   bench/run.sh                   # issue-6 sizes (1000 subscribers, 500x4 rooms,
#                                  # 10,000 idle, 5,000-client storm); < 20 min
#   bench/run.sh --only raw,confab # a subset of servers
#
# Env: BENCH_WORK (scratch dir for the Python venv and the Node copy, default
# /tmp/confab-bench), SERVER_CPU / LOAD_CPU (cores, default 0 / 1),
# CONFAB_SERVER_ARGS (extra confab-server flags, e.g. a Redis URL).
set -euo pipefail

# Linux groups processes by session ("autogroup") and shares the CPU between
# groups before it looks at nice values, so per-process nice cannot lift the
# benchmark above other people's compilers. Run in a session of our own and
# give that group a higher weight (BENCH_AUTOGROUP_NICE, default -5: about
# 3x a nice-0 group; needs root, else it is left at 0 and noted).
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
# Per-process nice inside the benchmark's group (0: server and load generator equal).
NICE="${BENCH_NICE:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
MODE=full
ONLY="raw,confab,socketio,django"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --only) ONLY="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

OUT="$BENCH/results/latest"
LOGS="$WORK/logs"
rm -rf "$OUT"
mkdir -p "$OUT" "$LOGS"
# 10,000 idle sockets need 10,000 descriptors in the server and in the client.
ulimit -n "$(ulimit -Hn)"

TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/release"
# Everything below runs from the repository root, so the commands recorded in
# the results name the binaries relative to it (target/release/...), not by
# this machine's paths (report.py also rewrites $BENCH_WORK and the root).
cd "$ROOT"
case "$BIN" in "$ROOT"/*) BIN="${BIN#"$ROOT"/}" ;; esac

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }

# --- build and set up ------------------------------------------------------
log "building release binaries"
(cd "$ROOT" && cargo build --release -q -p confab-bench)
if want confab; then (cd "$ROOT" && cargo build --release -q -p confab-server); fi

if want django; then
  if [ ! -x "$WORK/venv/bin/daphne" ]; then
    log "creating the Django venv in $WORK/venv"
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q -r "$ANCHORS/django_chat/requirements.txt"
  fi
  rm -rf "$WORK/django_chat" && cp -r "$ANCHORS/django_chat" "$WORK/" && chmod -R u+w "$WORK/django_chat"
fi
if want socketio; then
  if [ ! -d "$WORK/socketio_chat/node_modules/socket.io" ]; then
    log "npm ci for the Socket.IO anchor in $WORK/socketio_chat"
    rm -rf "$WORK/socketio_chat" && cp -r "$ANCHORS/socketio_chat" "$WORK/" && chmod -R u+w "$WORK/socketio_chat"
    (cd "$WORK/socketio_chat" && npm ci --silent --no-audit --no-fund)
  fi
fi

# --- servers -----------------------------------------------------------------
declare -A PORT=([raw]=18101 [confab]=18100 [socketio]=18102 [django]=18103)
declare -A PROTO=([raw]=seed [confab]=seed [socketio]=socketio [django]=seed)
# Confab's per-connection rate limit (50 frames/s by default) would throttle
# the few fan-out publishers; the other servers have none, so lift it.
# Every load client connects from 127.0.0.1: lift the per-address limit too.
CONFAB_ARGS=(--rate-per-sec 1000000 --rate-burst 1000000 --max-connections-per-ip 0 ${CONFAB_SERVER_ARGS:-})

server_cmd() { # name -> the command line that runs it in the foreground
  local p="${PORT[$1]}"
  case "$1" in
    raw) echo nice -n "$NICE" taskset -c "$SERVER_CPU" "$BIN/raw-broadcast" --bind "127.0.0.1:$p" ;;
    confab) echo nice -n "$NICE" taskset -c "$SERVER_CPU" "$BIN/confab-server" --bind "127.0.0.1:$p" "${CONFAB_ARGS[@]}" ;;
  esac
}

SERVER_PID=""
start_server() { # name scenario
  local name="$1" p="${PORT[$1]}" logf="$LOGS/$1-$2.log"
  # A stale server left on the port would be measured in place of this one
  # (and --server-pid would point at a process that exited at once).
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    log "port $p is already in use: not starting $name"; return 1
  fi
  case "$name" in
    raw) RUST_LOG=warn $(server_cmd "$name") >"$logf" 2>&1 & ;;
    # History in memory, as the other servers keep theirs.
    confab) RUST_LOG=warn $(server_cmd "$name") --in-memory >"$logf" 2>&1 & ;;
    socketio) (cd "$WORK/socketio_chat" && PORT="$p" exec nice -n "$NICE" taskset -c "$SERVER_CPU" node server.js) >"$logf" 2>&1 & ;;
    django) (cd "$WORK/django_chat" && exec nice -n "$NICE" taskset -c "$SERVER_CPU" "$WORK/venv/bin/daphne" -b 127.0.0.1 -p "$p" project.asgi:application) >"$logf" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      sleep 0.3
      kill -0 "$SERVER_PID" 2>/dev/null && return 0
      log "$name exited after it started listening; see $logf"; return 1
    fi
    sleep 0.05
  done
  log "$name did not start; see $logf"; kill "$SERVER_PID" 2>/dev/null || true; return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

load() { # name scenario args...
  local name="$1" scen="$2"; shift 2
  nice -n "$NICE" taskset -c "$LOAD_CPU" "$BIN/confab-load" --url "ws://127.0.0.1:${PORT[$name]}" --proto "${PROTO[$name]}" \
    --server-pid "$SERVER_PID" --label "$name" --json "$OUT/$name-$scen.json" "$scen" "$@" \
    2> >(tee "$LOGS/$name-$scen.load.log" >&2) || log "$name $scen failed (see $LOGS/$name-$scen.load.log)"
}

# --- scenario sizes ------------------------------------------------------------
if [ "$MODE" = quick ]; then
  FANOUT=(--subscribers 100 --publishers 2 --fixed-rates 10,40 --fixed-secs 2 --warmup-secs 1 --start-rate 5 --factor 2 --step-secs 2 --max-steps 14 --drain-secs 1.5)
  ROOMS=(--rooms 50 --per-room 4 --rate-per-client 2 --secs 3)
  IDLE=(--conns 1000)
  STORM=(--clients 500 --per-room 50)
else
  # Fixed rates 4/3, 4, 12, 40 msg/s into the room (1,333 to 40,000
  # deliveries/s; 6 s each, so each of the 4 publishers sends a whole number
  # of messages): latency and server CPU per delivery below the peers'
  # ceilings. A rate that overloads a server ends its fixed phases.
  FANOUT=(--subscribers 1000 --publishers 4 --fixed-rates 1.3333,4,12,40 --fixed-secs 6 --warmup-secs 2 --start-rate 1 --factor 1.5 --step-secs 3 --max-steps 20 --drain-secs 2)
  ROOMS=(--rooms 500 --per-room 4 --rate-per-client 1 --secs 10)
  IDLE=(--conns 10000)
  STORM=(--clients 5000 --per-room 50)
fi

# --- machine state -----------------------------------------------------------
versions_json() { # the peers' versions as this run used them
  python3 - "$WORK" <<'PY'
import json, subprocess, sys
work = sys.argv[1]
def out(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""
py = f"{work}/venv/bin/python"
mod = lambda m: out([py, "-c", f"import {m}; print({m}.__version__)"])
print(json.dumps({
    "node": out(["node", "--version"]),
    "socket.io": out(["node", "-p", 'require("socket.io/package.json").version'], cwd=f"{work}/socketio_chat"),
    "python": out([py, "-c", "import sys; print(sys.version.split()[0])"]),
    "django": mod("django"), "channels": mod("channels"), "daphne": mod("daphne"),
}))
PY
}
{
  echo "{"
  echo "\"mode\": \"$MODE\","
  echo "\"started\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "\"commit\": \"$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' ':!README.md' || echo '+uncommitted')\","
  echo "\"cpus\": $(nproc),"
  echo "\"server_cpu\": $SERVER_CPU, \"load_cpu\": $LOAD_CPU, \"nice\": $NICE, \"autogroup_nice\": \"$AUTOGROUP_NICE\","
  echo "\"confab_args\": \"${CONFAB_ARGS[*]}\","
  echo "\"versions\": $(versions_json),"
  echo "\"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo "\"busy_start\": $(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | python3 -c 'import json,sys; print(json.dumps([l.strip() for l in sys.stdin]))')"
  echo "}"
} > "$OUT/meta.json"

# --- run ---------------------------------------------------------------------
T0=$(date +%s)
for name in raw confab socketio django; do
  want "$name" || continue
  for scen in idle fanout rooms; do
    log "== $name $scen"
    start_server "$name" "$scen" || continue
    case "$scen" in
      idle) load "$name" idle "${IDLE[@]}" ;;
      fanout) load "$name" fanout "${FANOUT[@]}" ;;
      rooms) load "$name" rooms "${ROOMS[@]}" ;;
    esac
    stop_server
  done
done
if want confab; then
  # confab-load starts, restarts and stops the server itself: once with
  # durable history (--data-dir: the restarted server keeps epoch and
  # offsets, so `since` can fill the gap) and once in memory (new epoch).
  for variant in durable memory; do
    log "== confab reconnect storm ($variant history)"
    extra=(--in-memory)
    if [ "$variant" = durable ]; then
      rm -rf "$WORK/confab-data" && mkdir -p "$WORK/confab-data"
      extra=(--data-dir "$WORK/confab-data")
    fi
    nice -n "$NICE" taskset -c "$LOAD_CPU" "$BIN/confab-load" --url "ws://127.0.0.1:${PORT[confab]}" --proto confab \
      --label "confab-$variant" --json "$OUT/confab-reconnect-$variant.json" reconnect "${STORM[@]}" \
      -- $(server_cmd confab) "${extra[@]}" \
      2> >(tee "$LOGS/confab-reconnect-$variant.load.log" >&2) || log "confab reconnect ($variant) failed"
  done
fi
python3 - "$OUT/meta.json" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(( $(date +%s) - T0 ))" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
path, ended, secs, load = sys.argv[1:]
m = json.load(open(path))
m.update(ended=ended, duration_secs=int(secs), loadavg_end=load)
json.dump(m, open(path, "w"), indent=1)
PY

# SDK size hook (scenario 5 is built elsewhere): gzip sizes of the npm build if present.
if [ -d "$ROOT/client-sdk/pkg" ]; then
  python3 - "$ROOT/client-sdk/pkg" > "$OUT/sdk.json" <<'PY'
import gzip, json, os, sys
pkg = sys.argv[1]
files = {f: os.path.getsize(os.path.join(pkg, f)) for f in os.listdir(pkg) if f.endswith((".wasm", ".js"))}
gz = {f: len(gzip.compress(open(os.path.join(pkg, f), "rb").read(), 9)) for f in files}
print(json.dumps({"files": files, "gzip": gz, "gzip_total": sum(gz.values())}, indent=1))
PY
fi

# The demo's transfer size: every file of the release build (`trunk build
# --release`, as scripts/demo.sh and e2e/run.sh make it) as a browser fetches
# it on a first visit: raw, gzip -9, and brotli as confab-server sends it
# (the build's precompressed NAME.br, scripts/precompress.mjs; a file
# without one is sent as it is). The .br/.gz variants are not files of
# their own.
if [ -f "$ROOT/dist/index.html" ]; then
  python3 - "$ROOT/dist" > "$OUT/demo.json" <<'PY'
import gzip, json, os, sys
root = sys.argv[1]
files = {}
for d, _, names in os.walk(root):
    for n in names:
        if n.endswith((".br", ".gz")):
            continue
        p = os.path.join(d, n)
        files[os.path.relpath(p, root)] = p
size = {f: os.path.getsize(p) for f, p in files.items()}
gz = {f: len(gzip.compress(open(p, "rb").read(), 9)) for f, p in files.items()}
br = {f: os.path.getsize(p + ".br") if os.path.exists(p + ".br") else size[f] for f, p in files.items()}
print(json.dumps({"files": size, "gzip": gz, "br": br, "total": sum(size.values()),
                  "gzip_total": sum(gz.values()), "br_total": sum(br.values())}, indent=1))
PY
fi

# Lighthouse on the demo as the release server serves it (bench/lighthouse.sh).
if [ -f "$ROOT/dist/index.html" ] && [ -x "$BIN/confab-server" ]; then
  if ! bash "$BENCH/lighthouse.sh" "$BIN/confab-server" > "$OUT/lighthouse.json"; then
    log "lighthouse FAILED: no scores in this report"
    rm -f "$OUT/lighthouse.json"
  fi
fi

python3 "$BENCH/scripts/report.py" --root "$ROOT" --work "$WORK" --readme "$ROOT/README.md" "$OUT" "$BENCH/results"
log "wrote $BENCH/results/latest.md and latest.json"
