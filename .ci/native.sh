#!/usr/bin/env bash
# CI: the native boundary (toksmith.bpe.native._core), in three steps:
#   1. compile _core.cpp with -Wall -Wextra -Werror (a new warning fails CI);
#   2. run the native tests once against a build with AddressSanitizer + UBSan (any memory error or undefined
#      behaviour aborts the run);
#   3. run tests/bpe and tests/scale with TOKSMITH_NO_NATIVE=1, so the pure-Python fallbacks run too (tests that
#      need the extension skip).
# Builds go to a temporary directory; the in-place extension of the checkout is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
PY=.venv/bin/python
"$PY" -c "import pybind11" 2>/dev/null || "$PY" -m pip install -q "pybind11>=2.12"
CXX=${CXX:-g++}
SRC=src/toksmith/bpe/native/_core.cpp
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
read -r PYBIND_INC PY_INC SUFFIX < <("$PY" -c 'import pybind11, sysconfig
print(pybind11.get_include(), sysconfig.get_paths()["include"], sysconfig.get_config_var("EXT_SUFFIX"))')
FLAGS=(-std=c++17 -shared -fPIC -fvisibility=hidden -I"$PYBIND_INC" -I"$PY_INC" -Wall -Wextra -Werror)

echo "== 1/3 build with -Wall -Wextra -Werror"
"$CXX" "${FLAGS[@]}" -O2 "$SRC" -o "$TMP/warnings$SUFFIX"

echo "== 2/3 native tests under AddressSanitizer + UBSan"
mkdir -p "$TMP/src"
cp -r src/toksmith "$TMP/src/"
find "$TMP/src" -name "_core*.so" -delete
"$CXX" "${FLAGS[@]}" -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  "$SRC" -o "$TMP/src/toksmith/bpe/native/_core$SUFFIX"
# Python itself is not built with ASan: preload its runtime (and libstdc++, so operator new/delete are seen);
# leak checking is off because the interpreter keeps memory until exit by design.
PRELOAD="$("$CXX" -print-file-name=libasan.so) $("$CXX" -print-file-name=libstdc++.so)"
export LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
PYTHONPATH="$TMP/src" "$PY" -c "import sys, toksmith.bpe.native as n
sys.exit(None if n.available() and n._core.__file__.startswith('$TMP') else 'the sanitized extension was not imported')"
PYTHONPATH="$TMP/src" PYTHONHASHSEED=0 "$PY" -m pytest -q -p no:cacheprovider -m "not slow" \
  tests/scale/test_native_boundary.py tests/scale/test_split.py tests/scale/test_counts.py tests/scale/test_merges.py
unset LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS

echo "== 3/3 tests/bpe and tests/scale without the extension (pure-Python fallbacks)"
TOKSMITH_NO_NATIVE=1 PYTHONHASHSEED=0 "$PY" -m pytest -q -p no:cacheprovider -m "not slow" tests/bpe tests/scale
