#!/usr/bin/env bash
# Bounded fuzzing of Confab's parsers with cargo-fuzz (libFuzzer, nightly):
#   decode_client  confab_protocol::decode_client + room/name rules (every /ws text frame)
#   decode_server  confab_protocol::decode_server (native clients, tests, bench)
#   compat_frame   confab_server::endpoints::compat::compat_payload + valid_compat_room
#   token          confab_server::auth::verify (JWT check of every handshake with a token)
# Each target first replays fuzz/regressions/<target>/ (saved crashes must
# stay fixed), then fuzzes for FUZZ_SECS seconds from fuzz/seeds/<target>/
# plus the (gitignored) working corpus fuzz/corpus/<target>/. A crash is
# copied to fuzz/regressions/<target>/ and the script exits 1.
#
# Usage: scripts/fuzz.sh [target...]
# Env:   FUZZ_SECS (default 60 per target), FUZZ_MAX_LEN (default 8192),
#        FUZZ_JOBS (parallel fuzzing processes per target, default 1)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
SECS=${FUZZ_SECS:-60}
MAX_LEN=${FUZZ_MAX_LEN:-8192}
JOBS=${FUZZ_JOBS:-1}
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(decode_client decode_server compat_frame token)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || { echo "needs the nightly toolchain (rustup toolchain install nightly)" >&2; exit 2; }

echo "== cargo +nightly fuzz build -O" >&2
cargo +nightly fuzz build -O >&2
# Run the built binaries directly: one build, even if sources change meanwhile.
BIN_DIR="$ROOT/fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

LOGS=$(mktemp -d /tmp/confab-fuzz.XXXXXX)
summary=()
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" "regressions/$t"
  if compgen -G "regressions/$t/*" >/dev/null; then
    echo "== $t: replaying fuzz/regressions/$t" >&2
    "$BIN_DIR/$t" -runs=0 "regressions/$t" >&2
  fi
  echo "== $t: fuzzing ${SECS}s (max_len $MAX_LEN, jobs $JOBS)" >&2
  log="$LOGS/$t.log"
  set +e
  "$BIN_DIR/$t" "corpus/$t" "seeds/$t" \
    -artifact_prefix="artifacts/$t/" -max_total_time="$SECS" -max_len="$MAX_LEN" -timeout=10 -rss_limit_mb=2048 \
    -dict="$ROOT/fuzz/envelope.dict" -print_final_stats=1 \
    $( [[ $JOBS -gt 1 ]] && echo "-fork=$JOBS" ) >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  corp=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  if [[ $rc -ne 0 ]]; then
    status=1
    tail -40 "$log" >&2
    for a in artifacts/"$t"/crash-* artifacts/"$t"/oom-* artifacts/"$t"/timeout-*; do
      [[ -e "$a" ]] || continue
      cp "$a" "regressions/$t/"
      echo "!! $t: $a saved to fuzz/regressions/$t/ (commit it; it is replayed on every run)" >&2
    done
  fi
  summary+=("$(printf '%-14s %4ss  %12s execs  %8s exec/s  cov %6s  ft %6s  corpus %5s  %s' \
    "$t" "$SECS" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$([[ $rc -eq 0 ]] && echo ok || echo "FAILED (rc $rc)")")")
done
echo
echo "target         time        executions     speed     coverage (edges, features)  result"
printf '%s\n' "${summary[@]}"
echo "(logs: $LOGS)"
exit $status
