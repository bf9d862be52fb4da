"""The training stream: determinism, interleaving, shares, held-out exclusion, dedup, streaming, config errors."""

from __future__ import annotations

import dataclasses
import logging
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from toksmith.config import dumps_toml, from_dict, load_config, save_config, to_dict
from toksmith.corpus import (
    CorpusConfig,
    CorpusStats,
    DigestSet,
    SourceConfig,
    heldout_documents,
    is_heldout,
    iter_files,
    iter_training_documents,
    iter_training_texts,
    text_digest,
)
from toksmith.errors import ToksmithError


def stream(cfg: CorpusConfig) -> list[tuple[str, str]]:
    return [(d.subset, d.text) for d in iter_training_documents(cfg)]


def test_same_seed_same_stream_other_seed_other_order(mixed_corpus: CorpusConfig) -> None:
    a, b = stream(mixed_corpus), stream(mixed_corpus)
    assert a == b and len(a) > 50
    c = stream(dataclasses.replace(mixed_corpus, seed=1))
    assert c != a
    assert Counter(s for s, _ in c) == pytest.approx(Counter(s for s, _ in a), abs=3)  # same budget, new order


def test_interleaved_not_chained(mixed_corpus: CorpusConfig) -> None:
    first = [s for s, _ in stream(mixed_corpus)[:10]]
    assert set(first) == {"python", "go", "c", "en", "de"}


def test_shares_honoured_on_the_char_budget(mixed_corpus: CorpusConfig) -> None:
    stats = CorpusStats()
    docs = list(iter_training_documents(mixed_corpus, stats))
    by_domain = Counter()
    for d in docs:
        by_domain[d.domain] += len(d.text)
    total = mixed_corpus.total_chars
    assert sum(by_domain.values()) == pytest.approx(total, rel=0.01)
    for domain, share in mixed_corpus.mix.items():
        assert by_domain[domain] == pytest.approx(share * total, rel=0.02)
    # evenly across the three code subsets, and the stats agree with the stream
    code = [stats.subsets[f"code/{s}"].chars for s in ("python", "go", "c")]
    assert max(code) - min(code) <= 0.02 * total
    assert sum(s.chars for s in stats.subsets.values()) == sum(by_domain.values())
    assert sum(s.docs for s in stats.subsets.values()) == len(docs)
    assert stats.planned_chars == {"code/python": 6000, "code/go": 6000, "code/c": 6000, "english/en": 9000,
                                   "multilingual/de": 3000}


def test_dry_source_gives_its_budget_to_its_domain(tmp_path: Path, caplog, make_docs) -> None:
    make_docs(tmp_path / "small", "small", 3)
    make_docs(tmp_path / "big", "big", 80)
    make_docs(tmp_path / "en", "en", 80)
    cfg = CorpusConfig(
        sources=(SourceConfig(tmp_path / "small", "code", "c"), SourceConfig(tmp_path / "big", "code", "go"),
                 SourceConfig(tmp_path / "en", "english", "en")),
        mix={"code": 0.5, "english": 0.5}, total_chars=20_000, heldout_fraction=0.0,
    )
    stats = CorpusStats()
    with caplog.at_level("INFO", logger="toksmith.corpus.mix"):
        list(iter_training_documents(cfg, stats))
    small, big = stats.subsets["code/c"].chars, stats.subsets["code/go"].chars
    assert small < 2_000 and small + big == pytest.approx(10_000, rel=0.01)
    assert stats.dry_sources == [f"code/c:{tmp_path / 'small'}"]
    assert "ran dry" in caplog.text


def test_heldout_never_in_training_and_stable_across_mix(mixed_corpus: CorpusConfig) -> None:
    held = heldout_documents(mixed_corpus, use_cache=False)
    assert set(held) == {("code", "python"), ("code", "go"), ("code", "c"), ("english", "en"), ("multilingual", "de")}
    held_texts = {d.text for docs in held.values() for d in docs}
    assert 5 <= len(held_texts) <= 40  # ~10% of 200 documents
    assert all(is_heldout(text_digest(t), 0.1) for t in held_texts)
    big = dataclasses.replace(mixed_corpus, total_chars=10**9)  # read every source to the end
    trained = set(iter_training_texts(big))
    assert not trained & held_texts
    other = dataclasses.replace(mixed_corpus, mix={"code": 0.1, "english": 0.1, "multilingual": 0.8}, seed=7)
    assert heldout_documents(other, use_cache=False) == held
    # held-out covers a domain with a 0 share too
    zero = dataclasses.replace(mixed_corpus, mix={"code": 0.7, "english": 0.3, "multilingual": 0.0})
    assert {d.subset for d in iter_training_documents(zero)} == {"python", "go", "c", "en"}
    assert heldout_documents(zero, use_cache=False)[("multilingual", "de")] == held[("multilingual", "de")]


def test_heldout_cap_and_cache(mixed_corpus: CorpusConfig, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOKSMITH_CACHE", str(tmp_path / "cache"))
    capped = dataclasses.replace(mixed_corpus, heldout_fraction=0.5, heldout_max_docs=3)
    held = heldout_documents(capped)
    assert all(len(v) == 3 for v in held.values())
    files = list((tmp_path / "cache").glob("heldout-*.jsonl.gz"))
    assert len(files) == 1
    from toksmith.corpus import heldout

    heldout._MEMO.clear()
    assert heldout_documents(capped) == held  # read back from the disk cache
    # editing a corpus file changes the key, so a stale cache is not used
    victim = next((capped.sources[0].path).iterdir())
    victim.write_text("a brand new document\n")
    heldout_documents(capped)
    assert len(list((tmp_path / "cache").glob("heldout-*.jsonl.gz"))) == 2


def test_dedup_on_and_off(tmp_path: Path, make_docs) -> None:
    texts = make_docs(tmp_path / "a", "a", 20)
    for i, t in enumerate(texts[:10]):  # 10 exact copies
        (tmp_path / "a" / f"copy_{i}.txt").write_text(t)
    base = CorpusConfig(sources=(SourceConfig(tmp_path / "a", "code", "c"),), total_chars=10**9, heldout_fraction=0.0)
    stats = CorpusStats()
    assert len(list(iter_training_texts(base, stats))) == 20 and stats.duplicates == 10
    off = CorpusStats()
    assert len(list(iter_training_texts(dataclasses.replace(base, dedup=False), off))) == 30 and off.duplicates == 0


def test_digest_set_grows_and_stays_exact() -> None:
    s = DigestSet(capacity=8)
    digests = [text_digest(str(i)) for i in range(5000)]
    assert all(s.add(d) for d in digests)
    assert not any(s.add(d) for d in digests)
    assert len(s) == 5000 and len(s._table) == 16384  # 8 bytes a slot, load <= 1/2


def test_stream_is_lazy(tmp_path: Path, make_docs) -> None:
    make_docs(tmp_path / "many", "m", 300, size=100)
    cfg = CorpusConfig(sources=(SourceConfig(tmp_path / "many", "code", "c"),), heldout_fraction=0.0)
    stats = CorpusStats()
    it = iter_training_documents(cfg, stats)
    next(it)
    assert stats.files <= 40  # the shuffle buffer (32 documents), not the 300 files
    it.close()


def test_memory_does_not_grow_with_corpus_size(tmp_path: Path, make_docs) -> None:
    def peak_for(n: int) -> tuple[int, int]:
        written = sum(map(len, make_docs(tmp_path / f"gen{n}", "g", n, size=10_000)))
        cfg = CorpusConfig(sources=(SourceConfig(tmp_path / f"gen{n}", "code", "c"),), total_chars=10**9,
                           heldout_fraction=0.0)
        # pathlib interns every path part; keeping the paths alive while measuring stops a resize of the
        # interpreter-wide interned-string table (a one-off 2 MB allocation after many tests) from counting here
        paths = list(iter_files(cfg.sources[0]))
        logging.disable(logging.CRITICAL)  # measure the corpus code, not whatever log handlers earlier tests set up
        tracemalloc.start()
        try:
            chars = sum(len(t) for t in iter_training_texts(cfg))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            logging.disable(logging.NOTSET)
        assert chars == written and paths
        return chars, peak

    small_chars, small_peak = peak_for(100)
    big_chars, big_peak = peak_for(400)
    assert big_chars > 3.5 * small_chars
    assert big_peak < 1.5 * small_peak, (small_peak, big_peak)
    assert big_peak < big_chars / 2


def test_mix_errors(tmp_path: Path) -> None:
    src = (SourceConfig(tmp_path, "code", "c"), SourceConfig(tmp_path, "english", "en"))
    with pytest.raises(ToksmithError, match=r"add up to 0.9, not 1 \(code=0.6, english=0.3\)"):
        CorpusConfig(sources=src, mix={"code": 0.6, "english": 0.3})
    with pytest.raises(ToksmithError, match=r"mix names domain\(s\) multilingual that no source has.*code, english"):
        CorpusConfig(sources=src, mix={"code": 0.5, "english": 0.3, "multilingual": 0.2})
    with pytest.raises(ToksmithError, match=r"CorpusConfig.sources is empty"):
        CorpusConfig(sources=())
    with pytest.raises(ToksmithError, match=r"heldout_fraction"):
        CorpusConfig(sources=src, heldout_fraction=1.5)
    assert CorpusConfig(sources=src).shares() == {"code": 0.5, "english": 0.5}


def test_empty_corpus_error(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00" * 64)
    (tmp_path / "empty.txt").write_text("")
    cfg = CorpusConfig(sources=(SourceConfig(tmp_path, "code", "c"),))
    with pytest.raises(ToksmithError, match=r"no training documents after filtering \(2 files read, 1 binary"):
        list(iter_training_texts(cfg))


def test_config_round_trips_through_toml(mixed_corpus: CorpusConfig, tmp_path: Path) -> None:
    assert from_dict(CorpusConfig, to_dict(mixed_corpus)) == mixed_corpus
    path = save_config(mixed_corpus, tmp_path / "corpus.toml")
    assert load_config(CorpusConfig, path) == mixed_corpus
    assert "[[sources]]" in dumps_toml(mixed_corpus)


def test_docstring_examples() -> None:
    import doctest

    from toksmith.corpus import mix

    assert doctest.testmod(mix).failed == 0
