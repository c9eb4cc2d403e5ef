#!/usr/bin/env bash
# The reference clients' tests: each against docs/vectors.json and a live dev node started from
# the workspace's debug binary (`cargo build -p machina` first; MACHINA_BIN overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
export MACHINA_BIN="${MACHINA_BIN:-$PWD/target/debug/machina}"
[ -x "$MACHINA_BIN" ] || { echo "no machina binary at $MACHINA_BIN: run cargo build -p machina" >&2; exit 1; }
venv="$PWD/target/clients-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check ./clients/python
(cd clients/python/tests && "$venv/bin/python" -m unittest -v)
(cd clients/ts && npm ci --no-audit --no-fund --loglevel=error && npm test)
