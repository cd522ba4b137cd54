#!/usr/bin/env bash
# Server soak: a release confab-server, N native clients chatting in rooms of
# 4 for M minutes (bench's confab-load `rooms` scenario, run in rounds of
# SOAK_ROUND_SECS so every client also disconnects and reconnects each
# round), server RSS sampled from /proc/PID/status every SOAK_SAMPLE_SECS.
# Prints the RSS series, per-round delivery figures and the drift (mean of
# the last third of the samples after the warm-up round vs the first third).
# Exits 1 when the drift exceeds SOAK_MAX_DRIFT_PCT percent AND
# SOAK_MAX_DRIFT_MB, or when a round lost messages or failed to connect.
#
# Usage: scripts/soak.sh
# Env:   SOAK_CLIENTS (200), SOAK_MINUTES (2, at most 60), SOAK_ROUND_SECS (30),
#        SOAK_RATE (messages/s per client, 1), SOAK_SAMPLE_SECS (3),
#        SOAK_HISTORY (messages kept per room, 100: history fills during the
#        warm-up round, so what stays is steady-state memory),
#        SOAK_MAX_DRIFT_PCT (10), SOAK_MAX_DRIFT_MB (8), SOAK_OUT (result dir)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CLIENTS=${SOAK_CLIENTS:-200}
MINUTES=${SOAK_MINUTES:-2}
ROUND=${SOAK_ROUND_SECS:-30}
RATE=${SOAK_RATE:-1}
SAMPLE=${SOAK_SAMPLE_SECS:-3}
HISTORY=${SOAK_HISTORY:-100}
MAX_PCT=${SOAK_MAX_DRIFT_PCT:-10}
MAX_MB=${SOAK_MAX_DRIFT_MB:-8}
OUT=${SOAK_OUT:-$(mktemp -d /tmp/confab-soak.XXXXXX)}
mkdir -p "$OUT"
python3 - "$MINUTES" <<'PY' || { echo "SOAK_MINUTES must be a number in (0, 60]" >&2; exit 2; }
import sys; m = float(sys.argv[1]); sys.exit(0 if 0 < m <= 60 else 1)
PY
PER_ROOM=4
ROOMS=$(( (CLIENTS + PER_ROOM - 1) / PER_ROOM ))
TOTAL_SECS=$(python3 -c "print(int(float('$MINUTES') * 60))")
ROUNDS=$(( (TOTAL_SECS + ROUND - 1) / ROUND ))
(( ROUNDS >= 2 )) || ROUNDS=2

echo "== cargo build --release -p confab-server -p confab-bench" >&2
cargo build --release -q -p confab-server -p confab-bench
SERVER=$ROOT/target/release/confab-server
LOAD=$ROOT/target/release/confab-load
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

"$SERVER" --bind "127.0.0.1:$PORT" --static-dir /nonexistent-confab-soak --in-memory --max-connections-per-ip 0 \
  --history-size "$HISTORY" >"$OUT/server.log" 2>&1 &
SPID=$!
SAMPLER=
cleanup() {
  [[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null || true
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$OUT/server.log" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status"; }
START=$(date +%s.%N)
echo "t_secs rss_kib round" >"$OUT/rss.txt"
echo 0 >"$OUT/round"
( while kill -0 "$SPID" 2>/dev/null; do
    printf '%.1f %s %s\n' "$(echo "$(date +%s.%N) - $START" | bc)" "$(rss_kib)" "$(cat "$OUT/round")" >>"$OUT/rss.txt"
    sleep "$SAMPLE"
  done ) &
SAMPLER=$!
sleep "$SAMPLE"; sleep "$SAMPLE"   # idle samples before the load

echo "== soak: $CLIENTS clients ($ROOMS rooms × $PER_ROOM), $RATE msg/s each, $ROUNDS rounds × ${ROUND}s, history $HISTORY/room, server pid $SPID" >&2
for r in $(seq 1 "$ROUNDS"); do
  echo "$r" >"$OUT/round"
  "$LOAD" --url "ws://127.0.0.1:$PORT" --proto confab --server-pid "$SPID" --label "soak round $r" \
    --json "$OUT/round-$r.json" rooms --rooms "$ROOMS" --per-room "$PER_ROOM" \
    --rate-per-client "$RATE" --secs "$ROUND" --warmup-secs 0 --drain-secs 2 \
    --connect-timeout-secs 30 >"$OUT/round-$r.log" 2>&1 || { tail -20 "$OUT/round-$r.log" >&2; exit 1; }
  echo "round $r done" >&2
done
echo "$((ROUNDS + 1))" >"$OUT/round"
sleep "$SAMPLE"
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=
curl -fs "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt" || true

python3 - "$OUT" "$ROUNDS" "$MAX_PCT" "$MAX_MB" "$CLIENTS" <<'PY'
import json, sys, statistics as st
out, rounds, max_pct, max_mb, clients = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rows = [l.split() for l in open(f"{out}/rss.txt").read().splitlines()[1:] if len(l.split()) == 3 and l.split()[1].isdigit()]
series = [(float(t), int(k) / 1024, int(r)) for t, k, r in rows]
print("RSS series (seconds, MiB, round; round 0 = idle before load, last = idle after):")
for i in range(0, len(series), 8):
    print("  " + "  ".join(f"{t:6.1f}s {m:6.1f}" for t, m, _ in series[i:i + 8]))
bad = False
print("\nround  connected  failed  published  delivered  lost  dups  acks  errors  p99_ms")
for r in range(1, rounds + 1):
    j = json.load(open(f"{out}/round-{r}.json"))
    res = j.get("result", j)
    ph = res["phase"]
    lat = ph.get("latency", {})
    p99 = lat.get("p99_ms", lat.get("p99", "?"))
    print(f"{r:5}  {res['connected']:9}  {res['failed']:6}  {ph['published']:9}  {ph['delivered']:9}  "
          f"{ph['lost']:4}  {ph['dups']:4}  {ph['acks']:4}  {ph['errors']:6}  {p99}")
    if res["failed"] or ph["lost"] or res["connected"] < clients:
        bad = True
steady = [m for _, m, r in series if 2 <= r <= rounds]
if len(steady) < 6:
    print("too few samples after the warm-up round to judge drift"); sys.exit(1)
third = len(steady) // 3
first, last = st.mean(steady[:third]), st.mean(steady[-third:])
drift, pct = last - first, (last - first) / first * 100
idle = [m for _, m, r in series if r == 0]
after = [m for _, m, r in series if r == rounds + 1]
print(f"\nRSS idle before: {idle[0] if idle else float('nan'):.1f} MiB; under load (after warm-up round): "
      f"min {min(steady):.1f}, max {max(steady):.1f} MiB; idle after: {after[-1] if after else float('nan'):.1f} MiB")
print(f"drift (mean of last third vs first third of {len(steady)} steady samples): "
      f"{first:.1f} → {last:.1f} MiB = {drift:+.2f} MiB ({pct:+.1f}%); limit: > {max_pct}% and > {max_mb} MiB")
if pct > max_pct and drift > max_mb:
    print("FAIL: RSS grows"); bad = True
print("result:", "FAIL" if bad else "ok", f"(files in {out})")
sys.exit(1 if bad else 0)
PY
