#!/usr/bin/env bash
# Lighthouse (tools/node_modules, pinned; the system Chromium) on the built
# demo as confab-server serves it: mobile form factor with Lighthouse's
# default simulated slow 4G and 4x slower CPU, performance and accessibility
# categories. Prints one JSON object: the two scores, FCP, LCP, total
# blocking time and the bytes transferred on a first visit. Issue #18's
# targets: performance >= 95, accessibility 100. Not part of CI (the score
# depends on the machine); bench/run.sh runs it when dist/ is built.
#
#   trunk build --release && cargo build --release -p confab-server
#   bash bench/lighthouse.sh [SERVER_BINARY]      # default target/release/confab-server
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
server=${1:-$root/target/release/confab-server}
[ -f "$root/dist/index.html" ] || { echo "no dist/index.html: run trunk build --release" >&2; exit 2; }
[ -x "$server" ] || { echo "no server binary at $server" >&2; exit 2; }
lighthouse="$root/tools/node_modules/.bin/lighthouse"
[ -x "$lighthouse" ] || { echo "no $lighthouse: run (cd tools && npm ci)" >&2; exit 2; }

work=$(mktemp -d /tmp/confab-lighthouse.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$server" --bind "127.0.0.1:$port" --static-dir "$root/dist" --in-memory >"$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

CHROME_PATH=/usr/bin/chromium "$lighthouse" "http://127.0.0.1:$port/" \
  --quiet --only-categories=performance,accessibility \
  --chrome-flags="--headless=new --no-sandbox --disable-gpu" \
  --output=json --output-path="$work/report.json" >&2

python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["audits"]
print(json.dumps({
    "lighthouse": r["lighthouseVersion"],
    "form_factor": r["configSettings"]["formFactor"],
    "performance": round(r["categories"]["performance"]["score"] * 100),
    "accessibility": round(r["categories"]["accessibility"]["score"] * 100),
    "fcp_ms": round(a["first-contentful-paint"]["numericValue"]),
    "lcp_ms": round(a["largest-contentful-paint"]["numericValue"]),
    "tbt_ms": round(a["total-blocking-time"]["numericValue"]),
    "transfer_bytes": round(a["total-byte-weight"]["numericValue"]),
    "failed_accessibility_audits": [
        k for k in (ref["id"] for ref in r["categories"]["accessibility"]["auditRefs"])
        if a[k].get("score") is not None and a[k]["score"] < 1
    ],
}, indent=1))
PY
