#!/usr/bin/env bash
# Machina `energy clear` vs ASSUME pay_as_clear. Makes the venv on first use.
# Usage: bench/assume/run.sh [compare.py options], e.g. --sizes 500,5000 or --assume-only
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import assume' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet 'assume-framework==0.6.0'
fi
exec .venv/bin/python compare.py "$@"
