#!/usr/bin/env bash
# Cross-check: the same fixed-rate fan-out measured by confab-load and by an
# independent client, against a fresh server each time, alternating
# (A B A B ...) so drift on the shared machine hits both alike.
#
#   bench/crosscheck/run.sh socketio [ROUNDS]   # socket.io-client 4.8.4 (Node) vs confab-load --proto socketio
#   bench/crosscheck/run.sh django [ROUNDS]     # Python websockets vs confab-load --proto seed
#   bench/crosscheck/run.sh raw|confab [ROUNDS] # the same on the seed route of the Rust servers
#   SCENARIO=rooms bench/crosscheck/run.sh PEER # 500 rooms x 4, all publishing 1 msg/s for 10 s
#
# Env: BENCH_WORK (as bench/run.sh: the anchors' node_modules / venv must be
# there, i.e. run bench/run.sh --only socketio,django once), MEMBERS (1000),
# PUBLISHERS (4), RATES (socketio: 1.3333,4,12,40; django: 1.3333,4; raw,
# confab: 1.3333,4,12),
# SECS (6), SERVER_CPU / LOAD_CPU (0 / 1). Raw JSON: $BENCH_WORK/crosscheck/;
# the comparison table: bench/results/crosscheck/PEER[-rooms].md (and stdout).
set -euo pipefail
if [ -z "${CONFAB_BENCH_SESSION:-}" ]; then
  export CONFAB_BENCH_SESSION=1
  exec setsid --wait "$0" "$@"
fi
echo "${BENCH_AUTOGROUP_NICE:--5}" > /proc/self/autogroup 2>/dev/null || true

PEER="${1:?usage: run.sh socketio|django [ROUNDS]}"
ROUNDS="${2:-2}"
SCENARIO="${SCENARIO:-fanout}"
case "$SCENARIO" in fanout) NAME="$PEER" ;; rooms) NAME="$PEER-rooms" ;; *) echo "SCENARIO: fanout or rooms" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/crosscheck"
WORK="${BENCH_WORK:-/tmp/confab-bench}"
OUT="$WORK/crosscheck"
MEMBERS="${MEMBERS:-1000}"
PUBLISHERS="${PUBLISHERS:-4}"
SECS="${SECS:-6}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
mkdir -p "$OUT"
cd "$ROOT"
cargo build --release -q -p confab-bench -p confab-server
BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"

case "$PEER" in
  socketio)
    PORT=18102; RATES="${RATES:-1.3333,4,12,40}"
    [ -d "$HERE/node_modules/socket.io-client" ] || (cd "$HERE" && npm ci --silent --no-audit --no-fund)
    ;;
  django|raw|confab)
    case "$PEER" in django) PORT=18103; RATES="${RATES:-1.3333,4}" ;; raw) PORT=18101 ;; confab) PORT=18100 ;; esac
    RATES="${RATES:-1.3333,4,12}"
    if [ ! -x "$WORK/wsvenv/bin/python" ]; then
      python3 -m venv "$WORK/wsvenv" && "$WORK/wsvenv/bin/pip" install -q -r "$HERE/requirements.txt"
    fi
    ;;
  *) echo "unknown peer $PEER" >&2; exit 2 ;;
esac

SERVER_PID=""
start() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then echo "port $PORT in use" >&2; exit 1; fi
  case "$PEER" in
    socketio) (cd "$WORK/socketio_chat" && PORT=$PORT exec taskset -c "$SERVER_CPU" node server.js) >"$OUT/server.log" 2>&1 & ;;
    django) (cd "$WORK/django_chat" && exec taskset -c "$SERVER_CPU" "$WORK/venv/bin/daphne" -b 127.0.0.1 -p $PORT project.asgi:application) >"$OUT/server.log" 2>&1 & ;;
    raw) RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN/raw-broadcast" --bind "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 & ;;
    confab) RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN/confab-server" --bind "127.0.0.1:$PORT" --rate-per-sec 1000000 --rate-burst 1000000 --max-connections-per-ip 0 --in-memory >"$OUT/server.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then sleep 0.3; return 0; fi
    sleep 0.05
  done
  echo "server did not start" >&2; exit 1
}
stop() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop EXIT

for r in $(seq "$ROUNDS"); do
  start
  echo "== round $r: confab-load" >&2
  case "$PEER" in socketio) proto=socketio ;; *) proto=seed ;; esac
  if [ "$SCENARIO" = rooms ]; then
    scen=(rooms --rooms 500 --per-room 4 --rate-per-client 1 --secs 10 --warmup-secs 1 --drain-secs 3)
    ind=(--rooms 500 --members 2000 --publishers 4 --rates 2000 --secs 10 --warmup 1 --drain 3)
  else
    scen=(fanout --subscribers "$MEMBERS" --publishers "$PUBLISHERS" --fixed-rates "$RATES" --fixed-secs "$SECS" --warmup-secs 2 --max-steps 0)
    ind=(--members "$MEMBERS" --publishers "$PUBLISHERS" --rates "$RATES" --secs "$SECS" --warmup 2)
  fi
  taskset -c "$LOAD_CPU" "$BIN/confab-load" --url "ws://127.0.0.1:$PORT" --proto "$proto" --server-pid "$SERVER_PID" \
    --json "$OUT/$NAME-confab-load-$r.json" "${scen[@]}"
  stop
  start
  case "$PEER" in
    socketio)
      echo "== round $r: socket.io-client" >&2
      taskset -c "$LOAD_CPU" node "$HERE/socketio-fanout.js" --url "http://127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
        "${ind[@]}" --json "$OUT/$NAME-independent-$r.json" ;;
    *)
      echo "== round $r: websockets" >&2
      taskset -c "$LOAD_CPU" "$WORK/wsvenv/bin/python" "$HERE/seed_fanout.py" --url "ws://127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
        "${ind[@]}" --json "$OUT/$NAME-independent-$r.json" ;;
  esac
  stop
done

mkdir -p "$ROOT/bench/results/crosscheck"
python3 - "$OUT" "$NAME" "$ROUNDS" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git rev-parse --short HEAD)" "$MEMBERS" "$PUBLISHERS" "$RATES" "$SECS" "$SCENARIO" <<'PY' | tee "$ROOT/bench/results/crosscheck/$NAME.md"
import json, sys, time
out, name, rounds, load, commit, members, pubs, rates, secs, scenario = sys.argv[1:]
peer = name.removesuffix("-rooms")
rounds = int(rounds)
tool = {"socketio": "node bench/crosscheck/socketio-fanout.js", "django": "python bench/crosscheck/seed_fanout.py"}.get(peer, "python bench/crosscheck/seed_fanout.py")
print(f"# Cross-check: {peer} {scenario}, confab-load vs an independent client")
print()
what = (f"1 room × {members} members, {pubs} publishers spread evenly, {secs} s per rate after a 2 s warm-up, 2 s drain"
        if scenario == "fanout" else "500 rooms × 4 members, every member publishing 1 msg/s (spread evenly), 10 s after a 1 s warm-up, 3 s drain")
print(f"`{'SCENARIO=rooms ' if scenario == 'rooms' else ''}bench/crosscheck/run.sh {peer} {rounds}` at commit `{commit}`, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; "
      f"load average at the end {load}. {what}; "
      f"a fresh server for every client run, alternating; server pinned to core 0, client to core 1. "
      f"Independent client: `{tool}`. Server CPU: every server thread's scheduler runtime over the phase and its drain, read by each client itself. "
      "Latency includes each client's own time to read 1,000 sockets on one thread (Python's is the slowest).")
print()
print("| round | client | msg/s in | deliveries/s | lost | p50 / p99 ms | server CPU | µs server CPU per delivery | client CPU |")
print("|---|---|---|---|---|---|---|---|---|")
f = lambda x: "?" if x is None else (f"{x:.1f}" if x < 100 else f"{x:,.0f}")
for r in range(1, rounds + 1):
    res = json.load(open(f"{out}/{name}-confab-load-{r}.json"))["result"]
    cl = res["fixed"] if scenario == "fanout" else [res["phase"]]
    ind = json.load(open(f"{out}/{name}-independent-{r}.json"))
    for p in cl:
        print(f"| {r} | confab-load | {p['target_rate']:g} | {p['deliveries_per_sec']:,.0f} | {p['lost']:,} | {f(p['latency']['p50_ms'])} / {f(p['latency']['p99_ms'])} | "
              f"{p['server_cpu'] * 100:.0f}% | {f(p['server_cpu_us_per_delivery'])} | {p['loadgen_cpu'] * 100:.0f}% |")
    for p in ind["phases"]:
        print(f"| {r} | {ind['tool']} {ind['version']} | {p['target_rate']:g} | {p['deliveries_per_sec']:,.0f} | {p['lost']:,} | {f(p['p50_ms'])} / {f(p['p99_ms'])} | "
              f"{p['server_cpu'] * 100:.0f}% | {f(p['server_cpu_us_per_delivery'])} | {p['client_cpu_secs'] / p['wall_secs'] * 100:.0f}% |")
PY
