"""Small in-process corpora for the BPE tests: Python stdlib source (train / held-out never overlap) and a
synthetic corpus on which BPE has no merge ties, so every backend must equal the reference oracle."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def stdlib_files() -> list[Path]:
    return sorted(p for p in STDLIB.glob("*.py") if p.stat().st_size > 2000)


def read_files(files: list[Path], budget: int) -> list[str]:
    texts, total = [], 0
    for p in files:
        if total >= budget:
            break
        text = p.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
    return texts


@pytest.fixture(scope="session")
def train_texts() -> list[str]:
    """About 300 KB of stdlib Python, the first files in sorted order."""
    return read_files(stdlib_files()[:60], 300_000)


@pytest.fixture(scope="session")
def heldout_texts() -> list[str]:
    """About 60 KB of other stdlib files (from the end of the sorted list): never trained on."""
    return read_files(stdlib_files()[::-1][:30], 60_000)


def prefix_corpus(seed: int, n_strings: int = 6, length: int = 14, alphabet: str = "abcdefghij", max_count: int = 300) -> list[str]:
    """Every prefix (2..length letters) of a few random strings, each repeated a distinct random number of times.

    Each adjacent pair is shared by a different set of words, so pair counts are sums of different random
    counts and ties are rare; tests still assert ``reference.merge_ties(...) == []`` for the seed they use.
    """
    rng = random.Random(seed)
    bases = ["".join(rng.choice(alphabet) for _ in range(length)) for _ in range(n_strings)]
    words = sorted({b[:i] for b in bases for i in range(2, length + 1)})
    counts = rng.sample(range(1, max_count), len(words))
    return [w for w, c in zip(words, counts) for _ in range(c)]


@pytest.fixture(scope="session")
def tie_free_texts() -> list[str]:
    return prefix_corpus(seed=1)  # ~12k texts; seed 0 has a tie within 60 merges at this size
