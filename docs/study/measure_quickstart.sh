#!/usr/bin/env bash
# Measure the README's first command on a fresh clone: set-up, then `toksmith run configs/quickstart.toml`.
# Usage: bash docs/study/measure_quickstart.sh [REPO (default: this checkout)]
# Writes docs/study/quickstart_time.json (wall seconds: set-up, run, each stage), docs/study/report.md + figures
# and the headless-Chromium screenshot docs/study/report.png. A fresh TOKSMITH_CACHE makes the model conversion
# part of the measured run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=${1:-$(cd "$here/../.." && pwd)}
work=$(mktemp -d /tmp/toksmith-quickstart.XXXXXX)
git clone -q "$repo" "$work/toksmith"
cd "$work/toksmith"
export TOKSMITH_CACHE="$work/cache"
t0=$(date +%s.%N)
bash scripts/setup.sh
t1=$(date +%s.%N)
.venv/bin/toksmith run configs/quickstart.toml 2>&1 | tee "$work/run.log" | tail -30
t2=$(date +%s.%N)
cp "$work/run.log" "$here/quickstart_run.log"
.venv/bin/python - "$t0" "$t1" "$t2" "$here" "$(git rev-parse HEAD)" "$work" <<'PY'
import json, os, platform, shutil, sys
from pathlib import Path
t0, t1, t2 = map(float, sys.argv[1:4])
here, commit, work = Path(sys.argv[4]), sys.argv[5], Path(sys.argv[6])
run = Path("runs/quickstart")
stages = {}
for p in run.glob("*/*/result.json"):
    d = json.loads(p.read_text())
    stages[d["stage"]] = d["seconds"]
order = ["tokenizers", "compare", "costs", "transfer", "finetune", "codegen", "speed", "report"]
out = {"commit": commit, "setup_s": round(t1 - t0, 1), "run_s": round(t2 - t1, 1),
       "stages_s": {k: stages.get(k) for k in order}, "cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg(),
       "machine": platform.platform()}
(here / "quickstart_time.json").write_text(json.dumps(out, indent=2) + "\n")
shutil.copyfile(run / "report.md", here / "report.md")
shutil.rmtree(here / "report_files", ignore_errors=True)
shutil.copytree(run / "report_files", here / "report_files")
shutil.copyfile(run / "report.html", here / "report.html")
print(json.dumps(out, indent=2))
PY
.venv/bin/python scripts/render_report.py runs/quickstart/report.html --png "$here/report.png" || true
