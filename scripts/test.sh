#!/usr/bin/env bash
# Run the test suite (sets up .venv first if needed). Extra arguments go to pytest.
# With CI=true the slow end-to-end tests also run once, in reduced size (TOKSMITH_SLOW_SCALE=ci).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONHASHSEED=0
.venv/bin/python -m pytest -q -m "not slow" "$@"
if [ "${CI:-}" = "true" ]; then
  TOKSMITH_SLOW_SCALE=ci .venv/bin/python -m pytest -q -m slow "$@"
fi
