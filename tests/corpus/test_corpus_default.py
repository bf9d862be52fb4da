"""The embedded default corpus: subsets, vendored files (hashes, licenses, size limit), mix, held-out coverage."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import re
import unicodedata
from collections import Counter

import pytest

from toksmith.corpus import (
    CorpusStats,
    default_corpus_config,
    heldout_documents,
    iter_documents,
    iter_files,
    iter_training_documents,
    iter_training_texts,
    vendored_manifest,
)
from toksmith.corpus.default import DATA_DIR, stdlib_source

VENDORED_LIMIT = 25 * 1024 * 1024
NON_LATIN = {"ru": "CYRILLIC", "ja": "HIRAGANA", "zh": "CJK UNIFIED", "ar": "ARABIC"}


def test_default_config_has_the_expected_subsets() -> None:
    cfg = default_corpus_config()
    subsets: dict[str, set[str]] = {}
    for s in cfg.sources:
        subsets.setdefault(s.domain, set()).add(s.subset)
    assert {"python", "c", "go", "rust", "javascript"} <= subsets["code"]
    assert subsets["english"] == {"english-docs", "english-plays"}
    assert len(subsets["multilingual"]) >= 6 and set(NON_LATIN) <= subsets["multilingual"]
    assert cfg.shares() == {"code": 0.7, "english": 0.3, "multilingual": 0.0}
    assert cfg.total_chars == 20_000_000 and default_corpus_config(total_chars=5, seed=3).seed == 3


def test_vendored_files_match_manifest_and_size_limit() -> None:
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert total < VENDORED_LIMIT, f"vendored corpus is {total / 2**20:.1f} MiB"
    readme = (DATA_DIR / "README.md").read_text()
    rows = vendored_manifest()
    assert {r["file"] for r in rows} == {p.name for p in DATA_DIR.glob("*.jsonl.gz")}
    for row in rows:
        path = DATA_DIR / row["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"], row["file"]
        assert f"`{row['file']}`" in readme
    for name in re.findall(r"\(LICENSES/([^)]+)\)", readme):
        assert (DATA_DIR / "LICENSES" / name).stat().st_size > 100, name


def test_vendored_text_is_in_the_right_script() -> None:
    for lang, script in NON_LATIN.items():
        with gzip.open(DATA_DIR / f"{lang}.jsonl.gz", "rt", encoding="utf-8") as fh:
            text = "".join(json.loads(fh.readline())["text"] for _ in range(5))
        letters = [c for c in text if c.isalpha()]
        share = sum(script in unicodedata.name(c, "") for c in letters) / len(letters)
        assert share > 0.3, (lang, share)


def test_stdlib_source_skips_tests_and_site_packages() -> None:
    files = [p.relative_to(stdlib_source().path).as_posix() for p in iter_files(stdlib_source())]
    assert len(files) > 300 and "os.py" in files and "json/decoder.py" in files
    assert not [f for f in files if f.startswith(("site-packages/", "test/")) or "/test/" in f or "/tests/" in f]


def test_default_training_stream_follows_the_mix() -> None:
    cfg = default_corpus_config(total_chars=400_000)
    stats = CorpusStats()
    docs = list(iter_training_documents(cfg, stats))
    chars = Counter()
    for d in docs:
        chars[d.domain] += len(d.text)
    assert set(chars) == {"code", "english"}
    assert chars["code"] == pytest.approx(280_000, rel=0.02) and chars["english"] == pytest.approx(120_000, rel=0.02)
    assert len({d.subset for d in docs[:12]}) >= 5  # interleaved from the first documents
    assert set(stats.subsets) == {f"code/{s}" for s in ("python", "c", "go", "rust", "javascript")} | {
        "english/english-docs", "english/english-plays"}


def test_default_heldout_covers_multilingual_subsets(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TOKSMITH_CACHE", str(tmp_path))
    cfg = default_corpus_config()
    multi = dataclasses.replace(cfg, sources=tuple(s for s in cfg.sources if s.domain == "multilingual"), mix={})
    held = heldout_documents(multi)
    assert len(held) >= 6 and all(len(docs) >= 5 for docs in held.values()), {k: len(v) for k, v in held.items()}
    one = next(s for s in multi.sources if s.subset == "ja")
    assert 0.03 < len(held[("multilingual", "ja")]) / sum(1 for _ in iter_documents(one)) < 0.2  # ~heldout_fraction


@pytest.mark.slow
def test_full_default_heldout_split_is_cached_and_disjoint_from_training(tmp_path, monkeypatch) -> None:
    from toksmith.corpus import heldout as heldout_module

    monkeypatch.setenv("TOKSMITH_CACHE", str(tmp_path))
    monkeypatch.setattr(heldout_module, "_MEMO", {})  # another test may have memoised this split in-process
    total = 2_000_000 if os.environ.get("TOKSMITH_SLOW_SCALE") == "ci" else 20_000_000
    cfg = default_corpus_config(total_chars=total)
    held = heldout_documents(cfg)
    assert set(held) == {s.key for s in cfg.sources} and all(held.values())
    assert len(list(tmp_path.glob("heldout-*.jsonl.gz"))) == 1
    held_texts = {d.text for docs in held.values() for d in docs}
    assert not any(t in held_texts for t in iter_training_texts(cfg))
