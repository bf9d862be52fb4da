"""Small real corpora written to tmp_path for the corpus tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from toksmith.corpus import CorpusConfig, SourceConfig


def write_docs(root: Path, prefix: str, n: int, size: int = 400, seed: int = 0, ext: str = ".txt") -> list[str]:
    """``n`` distinct text files of about ``size`` chars under ``root``; returns their texts."""
    rng = random.Random(f"{prefix}/{seed}")
    root.mkdir(parents=True, exist_ok=True)
    texts = []
    for i in range(n):
        words = [f"{prefix}{rng.randrange(10_000)}" for _ in range(size // 8)]
        text = f"# {prefix} document {i}\n" + "\n".join(" ".join(words[j : j + 8]) for j in range(0, len(words), 8)) + "\n"
        (root / f"{prefix}_{i:04d}{ext}").write_text(text, encoding="utf-8")
        texts.append(text)
    return texts


@pytest.fixture()
def make_docs():
    """The :func:`write_docs` helper, as a fixture (test modules here are not a package)."""
    return write_docs


@pytest.fixture()
def mixed_corpus(tmp_path: Path) -> CorpusConfig:
    """Three domains, five sources of text files (40 documents each, ~400 chars)."""
    sources = []
    for domain, subset in [("code", "python"), ("code", "go"), ("code", "c"), ("english", "en"), ("multilingual", "de")]:
        write_docs(tmp_path / subset, subset, 40)
        sources.append(SourceConfig(path=tmp_path / subset, domain=domain, subset=subset))
    return CorpusConfig(sources=tuple(sources), mix={"code": 0.6, "english": 0.3, "multilingual": 0.1},
                        total_chars=30_000, seed=0, heldout_fraction=0.1)
