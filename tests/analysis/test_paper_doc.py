"""The paper's numbers in the code are the ones docs/paper.md records (read from the document, not retyped)."""

from __future__ import annotations

import re
from pathlib import Path

from toksmith.analysis.paper import PAPER_TABLE1
from toksmith.costs.nsl import PAPER_CODE_FIT, PAPER_CODE_POINTS

PAPER_MD = Path(__file__).resolve().parents[2] / "docs" / "paper.md"


def _section(title_start: str) -> str:
    text = PAPER_MD.read_text(encoding="utf-8")
    start = text.index(f"### {title_start}")
    end = text.find("\n### ", start + 4)
    return text[start:end]


def _table(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]  # skip header and rule


def _k(label: str) -> int:
    return int(float(label.rstrip("k")) * 1000)


def test_table1_rows_match_paper_md() -> None:
    names = {"gpt2": "GPT-2", "cl100k": "GPT-4 (cl100k)", "llama2": "Llama (baseline)"}
    rows = {r[0]: r for r in _table(_section("5.1 Table 1"))}
    assert set(PAPER_TABLE1) == set(names)
    for key, name in names.items():
        avg, code, english, multi = (float(x) for x in rows[name][2:6])
        assert PAPER_TABLE1[key] == {"avg": avg, "code": code, "english": english, "multilingual": multi}, key


def test_code_sweep_points_and_fit_match_paper_md() -> None:
    section = _section("5.3 Vocabulary sweep")
    rows = _table(section)
    sweep = [r for r in rows if r[0].endswith("k") and len(r) == 9]
    assert tuple((_k(r[0]), float(r[1])) for r in sweep) == PAPER_CODE_POINTS
    a, b, c = re.search(r"\* code: a = ([\d.]+), b = ([\d.]+), c = (\d+)k", section).groups()
    assert PAPER_CODE_FIT == (float(a), float(b), float(c) * 1000)
