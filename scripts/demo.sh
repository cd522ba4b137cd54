#!/usr/bin/env bash
# Builds the Yew demo and starts the Confab server on 127.0.0.1:8000 serving
# it. History and guest identities are kept in ./confab-data (the server's
# default), so a restart resumes every room and returning guests keep their
# ids. Extra arguments go to `confab-server`, e.g.
#   scripts/demo.sh --bind 127.0.0.1:9000
#   scripts/demo.sh --in-memory              # forget everything on restart
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$root/tools/node_modules/.bin:$PATH"
bash scripts/install-tools.sh --build
trunk build --release
cargo build --release -p confab-server
echo "Open the address logged below in two browser windows (default http://127.0.0.1:8000/; Ctrl-C stops the server)."
exec target/release/confab-server --static-dir dist "$@"
