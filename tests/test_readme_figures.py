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
