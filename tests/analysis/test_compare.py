"""``compare``: NSL of a tokenizer against itself, Table 1 aggregation on unequal subsets, files, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import toksmith
from toksmith.analysis.compare import CompareConfig, compare, run_compare
from toksmith.cli import main
from toksmith.errors import ToksmithError
from toksmith.references import load_reference

SRC = Path(toksmith.__file__).parent


@pytest.fixture(scope="module")
def data() -> dict[tuple[str, str], list[str]]:
    """Unequal subsets: 3 code subsets of different sizes, 1 English, 2 multilingual."""
    py = [(SRC / f).read_text(encoding="utf-8") for f in ("tokenizer.py", "config.py", "errors.py")]
    return {
        ("code", "python"): py,
        ("code", "toml"): ['[project]\nname = "toksmith"\nversion = "0.1.0"\n' * 20],
        ("code", "c"): ["#include <stdio.h>\nint main(void) {\n    printf(\"%d\\n\", 42);\n    return 0;\n}\n"] * 3,
        ("english", "prose"): ["The quick brown fox jumps over the lazy dog. " * 40, "It's a test, isn't it?"],
        ("multilingual", "de"): ["Über den Wolken muss die Freiheit wohl grenzenlos sein. " * 20],
        ("multilingual", "ru"): ["Съешь же ещё этих мягких французских булок, да выпей чаю. " * 20],
    }


@pytest.fixture(scope="module")
def result(data):
    return compare(["gpt2", "cl100k", "llama2"], data, baseline="llama2", batch_chars=4096)


def test_baseline_first_and_exactly_one(result):
    assert [s.tokenizer for s in result.summaries] == ["llama2", "gpt2", "cl100k"]
    base = result.summary("llama2")
    assert all(v == 1.0 for v in base.nsl.values())
    assert all(r.nsl == 1.0 for r in result.rows if r.tokenizer == "llama2")


def test_nsl_against_itself_is_one(data):
    r = compare(["cl100k"], data, baseline="cl100k")
    assert [s.tokenizer for s in r.summaries] == ["cl100k"]
    assert set(r.summary("cl100k").nsl.values()) == {1.0}


def test_rows_and_aggregation_match_hand_computation(data, result):
    gpt2, llama = load_reference("gpt2"), load_reference("llama2")
    per_subset = {}
    for key, texts in data.items():
        n_t = sum(len(gpt2.encode(t)) for t in texts)
        n_r = sum(len(llama.encode(t)) for t in texts)
        row = next(r for r in result.rows if r.tokenizer == "gpt2" and (r.domain, r.subset) == key)
        assert row.n_tokens == n_t
        assert row.nsl == n_t / n_r
        assert row.n_bytes == sum(len(t.encode()) for t in texts)
        assert row.bytes_per_token == row.n_bytes / n_t
        assert row.tokens_per_word == n_t / sum(len(t.split()) for t in texts)
        per_subset[key] = n_t / n_r
    code = (per_subset["code", "python"] + per_subset["code", "toml"] + per_subset["code", "c"]) / 3
    english = per_subset["english", "prose"]
    multi = (per_subset["multilingual", "de"] + per_subset["multilingual", "ru"]) / 2
    s = result.summary("gpt2")
    assert s.nsl["code"] == pytest.approx(code, rel=1e-12)
    assert s.nsl["english"] == pytest.approx(english, rel=1e-12)
    assert s.nsl["multilingual"] == pytest.approx(multi, rel=1e-12)
    assert s.nsl["avg"] == pytest.approx((code + english + multi) / 3, rel=1e-12)
    assert result.domains == ("code", "english", "multilingual")


def test_vocabulary_use(data, result):
    cl = load_reference("cl100k")
    seen = {i for texts in data.values() for t in texts for i in cl.encode(t)}
    s = result.summary("cl100k")
    assert s.vocab_used == len(seen)
    assert s.vocab_share == len(seen) / cl.vocab_size
    longest = max(len(cl.token_bytes(i)) for i in seen)
    assert len(s.longest_tokens[0].encode()) == longest
    assert 1.0 < s.mean_token_bytes_vocab < 10.0


def test_run_compare_writes_tables_and_plots(tmp_path, data):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "domain": d, "subset": s}) + "\n"
                              for (d, s), texts in data.items() for t in texts), encoding="utf-8")
    out = tmp_path / "out"
    res = run_compare(CompareConfig(tokenizers=("gpt2",), corpus=str(corpus), out_dir=out))
    rows = list(csv.DictReader((out / "subsets.csv").open()))
    assert len(rows) == 2 * len(data)
    assert {r["tokenizer"] for r in rows} == {"llama2", "gpt2"}
    summary = list(csv.DictReader((out / "summary.csv").open()))
    assert float(summary[1]["nsl_avg"]) == pytest.approx(res.summary("gpt2").nsl["avg"], abs=1e-4)
    blob = json.loads((out / "compare.json").read_text())
    assert blob["config"]["tokenizers"] == ["gpt2"] and len(blob["rows"]) == 2 * len(data)
    for name in ("nsl_code.png", "nsl_english.png", "nsl_multilingual.png", "nsl_summary.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_compare(tmp_path, data, capsys):
    root = tmp_path / "corpus"
    for (d, s), texts in data.items():
        (root / d / s).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / d / s / f"{i}.txt").write_text(t, encoding="utf-8")
    out = tmp_path / "cli"
    main(["compare", "gpt2", "cl100k", "--corpus", str(root), "--out", str(out), "--no-plots"])
    printed = capsys.readouterr().out
    assert "NSL vs llama2" in printed and "cl100k" in printed and "multilingual/ru" in printed
    assert (out / "summary.csv").is_file() and not (out / "nsl_code.png").exists()


def test_errors_name_the_input(tmp_path, data):
    with pytest.raises(ToksmithError, match="unknown reference tokenizer"):
        compare(["gpt-5"], data)
    with pytest.raises(ToksmithError, match="at least one tokenizer"):
        CompareConfig(tokenizers=())
    with pytest.raises(SystemExit) as e:
        main(["compare", "gpt2", "--corpus", str(tmp_path / "missing.jsonl")])
    assert e.value.code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(ToksmithError, match=r"bad\.jsonl:1: expected a JSON object with 'text', 'domain' and 'subset'"):
        run_compare(CompareConfig(tokenizers=("gpt2",), corpus=str(bad), out_dir=tmp_path / "o"))


def test_trained_directory_and_files_as_specs(tmp_path, data):
    from toksmith.bpe import TrainConfig, train_from_texts
    from toksmith.references import REFERENCES

    texts = [t for ts in data.values() for t in ts]
    trained = train_from_texts(texts, TrainConfig(vocab_size=400, backend="toksmith", name="tiny"), tmp_path / "tiny")
    mistral_file = str(REFERENCES["mistral"].path)  # a SentencePiece .model file given by path
    r = compare([str(trained), mistral_file], data)
    assert [s.tokenizer for s in r.summaries] == ["llama2", "tiny", "mistral"]
    tiny = toksmith.load_tokenizer(trained)
    assert r.summary("tiny").n_tokens == sum(len(tiny.encode(t)) for t in texts)
    assert r.summary("tiny").vocab_size == 400
    mistral = load_reference("mistral")
    assert r.summary("mistral").n_tokens == sum(len(mistral.encode(t)) for t in texts)
