#!/bin/sh
# The demo: everything on the embedded defaults, no Telegram account, no network.
set -eu
PY=${DEMO_PYTHON:-.venv/bin/python}
CQ="$(dirname "$PY")/civicquant"

echo "== civicquant db migrate"
"$CQ" db migrate
echo "== civicquant health"
"$CQ" health || true
