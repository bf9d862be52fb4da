"""docs/costs.md quotes docs/costs/sensitivity.json (the output of docs/costs/sensitivity.py), not retyped numbers."""

from __future__ import annotations

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _tables(text: str, header_start: str) -> dict[str, list[str]]:
    start = text.index(header_start)
    rows = text[start:].split("\n\n")[0].splitlines()[2:]
    out = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        out[cells[0].split(" ")[0]] = cells[1:]
    return out


def test_optimum_tables_are_the_script_output() -> None:
    text = (DOCS / "costs.md").read_text(encoding="utf-8")
    data = json.loads((DOCS / "costs" / "sensitivity.json").read_text(encoding="utf-8"))
    inference = _tables(text, "| model | N | n_ctx 1k |")
    assert set(inference) == {n for n in data["inference_optimum"] if n != "codellama-7b"}
    for name, cells in inference.items():
        ours = data["inference_optimum"][name]
        assert cells[0] == f"{ours['non_embedding_params'] / 1e9:.3f}B", name
        assert cells[1:] == [v for k, v in ours.items() if k != "non_embedding_params"], name
    memory = _tables(text, "| model | B1 S1k |")
    assert set(memory) == {n for n in data["memory_optimum"] if n != "codellama-7b"}
    for name, cells in memory.items():
        assert cells == list(data["memory_optimum"][name].values()), name


def test_quoted_single_figures_are_in_the_output() -> None:
    text = " ".join((DOCS / "costs.md").read_text(encoding="utf-8").split())
    data = json.loads((DOCS / "costs" / "sensitivity.json").read_text(encoding="utf-8"))
    sanity, refit, bpt = data["sanity"], data["refit"], data["bytes_per_token"]
    points = list(sanity["7b memory optimum (points)"].values())
    assert f"we get {sanity['1.5b 256k vs 32k FLOPs/byte (fit)']}% (fit) and {sanity['1.5b 256k vs 32k FLOPs/byte (points)']}% (points)" in text
    assert "the points " + " / ".join([points[0].lstrip("≤")] + points[1:]) in text
    fp32 = sanity["7b memory optimum fp32 KV (fit)"]
    assert f"fp32 KV would give {fp32['B64 S1k']} / {fp32['B1 S100k']} with the fit" in text
    assert f"0.524 GB" in text and sanity["7b KV GB, 1000 tokens, bf16"] == 0.524
    small, large = sanity["7b effective context kB at 32k (Llama 2, NSL 1) and 128k"]
    assert f"{large} kB vs {small} kB" in text
    for label in ("all 11 points", "without 10k"):
        r = refit[label]
        assert f"a = {r['a']}, b = {r['b']}, c = {r['c']}" in text, label
    assert f"RMSE {refit['all 11 points']['rmse']} against {refit['documented fit rmse']}" in text
    assert f"NSL(32k) = {refit['NSL(32k) documented fit']}" in text
    assert f"bpt_ref = **{bpt['llama2']}**" in text and f"({bpt['text kB']} kB" in text
    assert (f"cl100k gives {bpt['cl100k']}, Llama 3 {bpt['llama3']}, StarCoder {bpt['starcoder']}, GPT-2 {bpt['gpt2']}"
            in text)
