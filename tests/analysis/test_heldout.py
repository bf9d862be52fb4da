"""Evaluation corpora: a .jsonl of records, a <domain>/<subset>/ directory, a corpus config's held-out split."""

from __future__ import annotations

import gzip
import json

import pytest

from toksmith.analysis.heldout import load_heldout
from toksmith.config import save_config
from toksmith.corpus import CorpusConfig, SourceConfig, heldout_documents
from toksmith.errors import ToksmithError


def test_jsonl_and_gzip(tmp_path):
    recs = [{"text": "a b", "domain": "code", "subset": "py"}, {"text": "c", "domain": "english", "subset": "en"},
            {"text": "d", "domain": "code", "subset": "py"}]
    blob = "".join(json.dumps(r) + "\n" for r in recs)
    (tmp_path / "c.jsonl").write_text(blob, encoding="utf-8")
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(blob.encode()))
    for name in ("c.jsonl", "c.jsonl.gz"):
        assert load_heldout(tmp_path / name) == {("code", "py"): ["a b", "d"], ("english", "en"): ["c"]}
    assert load_heldout(tmp_path / "c.jsonl", max_docs_per_subset=1)[("code", "py")] == ["a b"]


def test_directory_layout(tmp_path):
    (tmp_path / "code" / "go").mkdir(parents=True)
    (tmp_path / "code" / "go" / "a.go").write_text("package main\n", encoding="utf-8")
    (tmp_path / "code" / "go" / ".hidden").write_text("skip me", encoding="utf-8")
    (tmp_path / "english" / "en" / "deep").mkdir(parents=True)
    (tmp_path / "english" / "en" / "deep" / "b.txt").write_text("Hello.", encoding="utf-8")
    assert load_heldout(tmp_path) == {("code", "go"): ["package main\n"], ("english", "en"): ["Hello."]}


def test_corpus_config_file_gives_its_heldout_split(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(60):
        (src / f"{i}.txt").write_text(f"document number {i} " * (i + 3), encoding="utf-8")
    cfg = CorpusConfig(sources=(SourceConfig(src, "english", "numbers"),), total_chars=10_000, heldout_fraction=0.3)
    save_config(cfg, tmp_path / "corpus.toml")
    expected = {k: [d.text for d in v] for k, v in heldout_documents(cfg).items()}
    assert expected[("english", "numbers")]
    assert load_heldout(tmp_path / "corpus.toml") == expected


def test_errors(tmp_path):
    with pytest.raises(ToksmithError, match="neither a file nor a directory"):
        load_heldout(tmp_path / "nope")
    (tmp_path / "x.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(ToksmithError, match="unsupported file type"):
        load_heldout(tmp_path / "x.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ToksmithError, match="holds no documents"):
        load_heldout(tmp_path / "empty")
