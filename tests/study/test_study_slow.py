"""The quickstart study end to end (TOKSMITH_SLOW_SCALE=ci: small corpus slice, 2 steps, two problems), its
report in headless Chromium, a no-work re-run, and a run killed in the middle of fine-tuning that resumes."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toksmith.study import ci_scaled, load_study

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
EXE = Path(sys.executable).with_name("toksmith")


def _config(tmp_path: Path) -> Path:
    from toksmith.config import save_config

    cfg = load_study(ROOT / "configs" / "quickstart.toml")
    if os.environ.get("TOKSMITH_SLOW_SCALE", "ci") == "ci":
        cfg = ci_scaled(cfg)
    cfg = dataclasses.replace(cfg, runs_dir=tmp_path / "runs")
    return save_config(cfg, tmp_path / "study.toml")


def _run(cfg_path: Path, timeout: int = 3000) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), "run", str(cfg_path)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def _png_not_blank(path: Path) -> float:
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(path).convert("L"), dtype=float)
    return float((a < 200).mean())  # share of non-white pixels


def test_quickstart_end_to_end_report_rerun_and_resume(tmp_path):
    cfg_path = _config(tmp_path)
    # kill the run in the middle of fine-tuning: wait for the first checkpoint of the original model
    proc = subprocess.Popen([str(EXE), "run", str(cfg_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 2400
    ft_root = tmp_path / "runs" / "quickstart" / "finetune"
    while time.time() < deadline and proc.poll() is None:
        if list(ft_root.glob("*/original/checkpoints/step-*/checkpoint.json")):
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.5)
    proc.wait()
    ckpts = list(ft_root.glob("*/original/checkpoints/step-*"))
    assert ckpts, "the run finished or failed before its first fine-tuning checkpoint"
    r = _run(cfg_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming from" in r.stderr + r.stdout  # fine-tuning went on from the checkpoint
    metrics = [json.loads(x) for x in (ckpts[0].parents[1] / "metrics.jsonl").read_text().splitlines()]
    steps = [m["step"] for m in metrics if "loss" in m]
    assert steps == sorted(set(steps))  # no step trained twice in the log

    run_dir = tmp_path / "runs" / "quickstart"
    md = (run_dir / "report.md").read_text()
    for section in ("## The question and the answer", "## Compression", "## Vocabulary economics", "## Switching",
                    "## Code generation", "## Generation speed"):
        assert section in md
    res = {p.parent.parent.name: json.loads(p.read_text())["result"] for p in run_dir.glob("*/*/result.json")}
    fin = res["finetune"]["variants"]
    assert set(fin) == {"original", "freq", "fvt", "random"}
    assert f"{fin['original']['bpb_end']:.3f}" in md and f"{fin['fvt']['bpb_end']:.3f}" in md
    assert f"{res['costs']['shapes'][0]['inference_optimal_v']:,}" in md
    cg = res["codegen"]["variants"]["fvt"]["solution_bpb"]
    assert f"{cg['humaneval']['bpb']:.3f}" in md
    # the original model beats random init on solution bits/byte (FVT keeps knowledge; random does not)
    orig = res["codegen"]["variants"]["original"]["solution_bpb"]["humaneval"]["bpb"]
    rand = res["codegen"]["variants"]["random"]["solution_bpb"]["humaneval"]["bpb"]
    assert orig < rand

    html = run_dir / "report.html"
    assert "http://" not in html.read_text() and "https://" not in html.read_text()  # self-contained
    if shutil.which("chromium") is None:
        pytest.skip("no chromium: the browser check needs Debian's chromium (.ci/run installs it)")
    shot = tmp_path / "report.png"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_report.py"), str(html), "--png", str(shot)],
                       capture_output=True, text=True, timeout=300)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0 and out["ok"], (r.stdout, r.stderr[-2000:])
    assert out["images"] == "7/7"
    assert _png_not_blank(shot) > 0.02

    # a finished study re-runs with no work
    t0 = time.time()
    r = _run(cfg_path)
    assert r.returncode == 0 and "ran" not in [line.split("│")[2].strip() for line in r.stdout.splitlines()
                                               if line.count("│") > 3 and "stage" not in line]
    assert time.time() - t0 < 120
    # deleting one stage's output re-runs that stage and the ones after it only
    (next((run_dir / "speed").iterdir()) / "result.json").unlink()
    r = _run(cfg_path)
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in r.stdout.splitlines() if line.count("│") > 3}
    assert rows["speed"] == "ran" and rows["report"] == "ran" and rows["finetune"] == "reused"
    assert rows["codegen"] == "reused" and rows["tokenizers"] == "reused"
