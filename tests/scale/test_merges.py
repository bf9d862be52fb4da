"""Native merges == the pure-Python oracle; the same merges whatever the number of workers or shards."""

from __future__ import annotations

import subprocess
import sys

import pytest

from toksmith.bpe import native, reference
from toksmith.bpe.counts import sum_counts
from toksmith.pretokenize import PRESETS

from .conftest import needs_native, real_texts

pytestmark = needs_native


@pytest.mark.parametrize("name", ["gpt4", "punct", "gpt2", "o200k"])
def test_native_equals_oracle_on_tie_free_prefix(name):
    """Up to the first tie the merge order is unambiguous: every correct BPE must agree there."""
    texts = real_texts(6, 15_000)
    pat = PRESETS[name]
    ties = reference.merge_ties(texts, pat, 200, 16, 2)
    n = ties[0] if ties else 200
    assert n >= 20 and reference.merge_ties(texts, pat, n, 16, 2) == []
    assert native.train_bpe(texts, pattern=pat, n_merges=n, max_token_length=16, min_frequency=2) == reference.train(
        texts, pat, n, 16, 2)


def test_native_equals_oracle_with_ties_and_limits():
    """Same tie rule as the oracle (highest count, then smallest (left, right) bytes), so equal beyond ties too;
    max_token_length (bytes) and min_frequency as the oracle applies them."""
    texts = real_texts(4, 10_000)
    for n, max_len, min_freq in [(300, 4, 2), (400, 128, 5), (50, 2, 1)]:
        assert native.train_bpe(texts, pattern=PRESETS["gpt4"], n_merges=n, max_token_length=max_len,
                                min_frequency=min_freq) == reference.train(texts, PRESETS["gpt4"], n, max_len, min_freq)
    small = ["aaabdaaabac", "aaaa abab", "xyxyxy"]
    assert native.train_bpe(small, pattern=None, n_merges=10, max_token_length=128, min_frequency=1) == \
        reference.train(small, None, 10, 128, 1)


def test_same_merges_whatever_workers_or_shards(tmp_path):
    texts = real_texts()
    pat = PRESETS["gpt4"]
    base = native.train_bpe(texts, pattern=pat, n_merges=500, max_token_length=128, min_frequency=2, workers=1)
    for workers in (2, 3):
        assert native.train_bpe(texts, pattern=pat, n_merges=500, max_token_length=128, min_frequency=2,
                                workers=workers) == base
    counts = native.count_pretokens(texts, pat, workers=3, batch_chars=5_000)  # many small batches
    assert native.merges_from_counts(counts, 500, max_token_length=128, min_frequency=2) == base
    for cut in ([2, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]):
        parts = [texts[a:b] for a, b in zip([0] + cut, cut + [len(texts)])]
        files = [native.count_pretokens(p, pat, workers=2).save(tmp_path / f"{len(cut)}-{i}.counts")
                 for i, p in enumerate(parts)]
        assert native.merges_from_counts(sum_counts(files), 500, max_token_length=128, min_frequency=2) == base


def test_one_count_many_vocabulary_sizes():
    """Merges are a prefix of each other: one counting pass serves every vocabulary size of a sweep."""
    counts = native.count_pretokens(real_texts(), PRESETS["gpt4"])
    big = native.merges_from_counts(counts, 800)
    for n in (100, 400):
        assert native.merges_from_counts(counts, n) == big[:n]


def test_import_works_without_the_extension():
    code = (
        "import sys; sys.modules['toksmith.bpe.native._core'] = None\n"
        "import toksmith\n"
        "from toksmith.bpe import native\n"
        "assert not native.available()\n"
        "try:\n"
        "    native.train_bpe(['ab'], pattern=None, n_merges=1, max_token_length=8, min_frequency=1)\n"
        "except toksmith.ToksmithError as e:\n"
        "    print('ERR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("ERR the toksmith native extension is not built")
