#!/usr/bin/env bash
# Creates examples/django/.venv with the pinned requirements.txt (idempotent:
# does nothing when the venv already has exactly these).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$here/.venv
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$venv/requirements.installed"; then
  exit 0
fi
echo "[django example] python venv $venv with requirements.txt" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$venv/requirements.installed"
