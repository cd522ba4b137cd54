#!/usr/bin/env bash
# Benchmark-tool tests in one command: unit and doc tests of confab-bench and
# the smoke test (tests/smoke.rs), which runs confab-load against
# raw-broadcast and against confab-server, so build that first (debug, same
# target dir). No Django, Node or network needed; about 30 s once built.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p confab-server
cargo test -q -p confab-bench
