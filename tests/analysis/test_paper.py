"""Paper check: our Table 1 rows next to the paper's, with differences and a data-based explanation."""

from __future__ import annotations

import json

import pytest

from toksmith.analysis.paper import PAPER_TABLE1, PaperCheckConfig, data_profile, paper_table, run_paper_check
from toksmith.cli import main


@pytest.fixture()
def small_corpus(tmp_path):
    """Code and English only (no multilingual), subsets of different sizes."""
    records = [
        {"domain": "code", "subset": "python", "text": "def f(x):\n    if x:\n        return x + 1\n    return 0\n" * 30},
        {"domain": "code", "subset": "python", "text": "class A:\n    def __init__(self):\n        self.v = []\n" * 10},
        {"domain": "code", "subset": "go", "text": "func main() {\n\tfmt.Println(\"hi\")\n}\n" * 20},
        {"domain": "english", "subset": "prose", "text": "It was the best of times, it was the worst of times. " * 30},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_paper_check_rows_and_explanation(tmp_path, small_corpus):
    check = run_paper_check(PaperCheckConfig(corpus=str(small_corpus), out_dir=tmp_path / "pc"))
    rows = {r.tokenizer: r for r in check.rows}
    assert list(rows) == ["llama2", "gpt2", "cl100k"]
    for name in ("gpt2", "cl100k"):
        r = rows[name]
        assert r.paper == PAPER_TABLE1[name]
        s = check.compare.summary(name)
        assert r.ours["code"] == s.nsl["code"]
        assert r.diff("code") == pytest.approx(s.nsl["code"] - PAPER_TABLE1[name]["code"])
        assert r.ours["multilingual"] is None and r.diff("multilingual") is None
    assert rows["llama2"].diff("avg") == pytest.approx(0.0)
    text = check.explanation
    assert "code: 2 subsets" in text and "python (2 docs" in text
    assert "no multilingual subsets" in text
    assert "in common by name: go, python" in text
    blob = json.loads((tmp_path / "pc" / "paper_check.json").read_text())
    assert blob["rows"][1]["paper_code"] == 1.19
    assert (tmp_path / "pc" / "compare" / "nsl_code.png").is_file()
    assert paper_table(check).row_count == 3 + 3 + 3


def test_data_profile_by_hand():
    prof = data_profile(["  ab\n", "é"])  # 6 chars: 3 whitespace, 2 indentation; 7 bytes, 2 of them non-ASCII
    assert prof["whitespace"] == pytest.approx(3 / 6)
    assert prof["indentation"] == pytest.approx(2 / 6)
    assert prof["non_ascii_bytes"] == pytest.approx(2 / 7)


def test_cli_paper_check_with_extra_tokenizer(tmp_path, small_corpus, capsys):
    main(["paper-check", "--corpus", str(small_corpus), "--out", str(tmp_path / "o"), "-t", "starcoder"])
    out = capsys.readouterr().out
    assert "GPT-2 (50k)" in out and "starcoder" in out and "paper" in out and "diff" in out
