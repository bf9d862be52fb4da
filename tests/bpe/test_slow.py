"""End to end at (reduced) paper scale: the default corpus, a 32k vocabulary, every file checked on held-out docs.

Slow: runs in CI once with ``TOKSMITH_SLOW_SCALE=ci`` (4k vocabulary, 2M characters).
"""

from __future__ import annotations

import os

import pytest

from toksmith.bpe import TrainConfig, train_tokenizer
from toksmith.formats import read_manifest
from toksmith.tokenizer import HFTokenizer, load_trained


@pytest.mark.slow
def test_default_corpus_end_to_end(tmp_path):
    from toksmith.corpus import default_corpus_config, heldout_documents

    ci = os.environ.get("TOKSMITH_SLOW_SCALE") == "ci"
    vocab, chars = (4000, 2_000_000) if ci else (32000, 20_000_000)
    cfg = TrainConfig(vocab_size=vocab, corpus=default_corpus_config(total_chars=chars))
    path = train_tokenizer(cfg, tmp_path / "tok", progress=False)
    manifest = read_manifest(path)
    assert manifest["vocab_size"] == vocab and manifest["longest_token_bytes"] <= cfg.max_token_length
    tt, hf = load_trained(path), HFTokenizer.from_file(path / "tokenizer.json")
    checked = 0
    for (domain, subset), docs in heldout_documents(cfg.corpus).items():
        for doc in docs[:10]:
            ids = tt.encode(doc.text)
            assert hf.encode(doc.text) == ids, f"{domain}/{subset}: tokenizer.json and tiktoken differ"
            assert tt.decode(ids) == doc.text
            checked += 1
    assert checked > 50
