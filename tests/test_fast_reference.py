"""References encoded through tiktoken ranks give their own library's ids.

Byte-level ``tokenizer.json`` references (``RankedHFTokenizer``) and SentencePiece BPE models
(``RankedSentencePieceTokenizer``). The oracle is the HF ``tokenizers`` encoder or the SentencePiece processor of
the same file (``oracle_encode``): on held-out
documents of every embedded corpus file (not those checked at load), on llama.cpp's golden vectors (see
``test_references.py``) and on arbitrary text (hypothesis). A tokenizer tiktoken cannot reproduce stays on HF.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toksmith
from toksmith.analysis.counting import count_tokens
from toksmith.references import REFERENCES, load_reference
from toksmith.tokenizer import (
    HFTokenizer, RankedHFTokenizer, RankedSentencePieceTokenizer, bytes_to_unicode, fast_hf_tokenizer,
)

HF_REFS = sorted(n for n, r in REFERENCES.items() if r.kind in ("hf", "sentencepiece"))
CORPUS = Path(toksmith.__file__).parent / "corpus" / "data"


def heldout_docs(per_file: int = 2, skip: int = 10, max_chars: int = 30_000) -> list[str]:
    """Documents ``skip`` .. ``skip + per_file`` of each corpus file (load-time verification reads the first 3)."""
    docs = []
    for f in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as lines:
            for i, line in enumerate(lines):
                if i >= skip + per_file:
                    break
                if i >= skip:
                    docs.append(json.loads(line)["text"][:max_chars])
    return docs


@pytest.fixture(scope="module")
def heldout():
    docs = heldout_docs()
    assert len(docs) >= 30
    return docs


@pytest.mark.parametrize("name", HF_REFS)
def test_fast_path_is_used_and_equals_hf_on_heldout_text(name, heldout):
    tok = load_reference(name)
    assert isinstance(tok, (RankedHFTokenizer, RankedSentencePieceTokenizer)), f"{name} fell back to its library"
    expected = [tok.oracle_encode(d) for d in heldout]
    assert tok.encode_batch(heldout) == expected
    assert [tok.encode(d) for d in heldout[:5]] == expected[:5]
    # the counting path (numpy ids per document) gives the same total and histogram
    counts = count_tokens(tok, heldout, batch_chars=50_000)
    assert counts.n_tokens == sum(map(len, expected))
    ids = [i for e in expected for i in e]
    assert dict(zip(counts.ids.tolist(), counts.freqs.tolist())) == {i: ids.count(i) for i in set(ids)}


@pytest.mark.parametrize("name", HF_REFS)
@settings(max_examples=80, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
       | st.lists(st.sampled_from(list(" \t\n\r0123456789aé.,;'\"_-:!?中üõ") + ["'s", "'LL", "  ", "\n\n"]),
                  max_size=30).map("".join))
def test_fast_path_equals_hf_on_any_text(name, text):
    tok = load_reference(name)
    ids = tok.encode(text)
    assert ids == tok.oracle_encode(text)
    if isinstance(tok, RankedHFTokenizer):  # some byte-level vocabularies lack bytes: such text cannot round-trip
        covered = {t[0] for t in map(tok.token_bytes, range(tok.vocab_size)) if len(t) == 1}
        if not set(text.encode()) <= covered:
            return
    assert tok.decode(ids) == text


def _toy(merges: list[tuple[str, str]], pre_tokenizer: dict | None = None) -> HFTokenizer:
    from tokenizers import Tokenizer

    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    spec = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": pre_tokenizer or {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                                "use_regex": True},
            "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                                "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]}}
    return HFTokenizer("toy", Tokenizer.from_str(json.dumps(spec)))


def test_falls_back_when_tiktoken_would_merge_differently():
    """Merges b+c, a+b, ab+c: HF leaves 'abc' as [a, bc] (no merge a+bc); tiktoken would find 'abc' in its ranks."""
    tok = _toy([("b", "c"), ("a", "b"), ("ab", "c")])
    assert tok.encode("abc") == [ord("a"), 256]
    assert type(fast_hf_tokenizer(tok, ["abc"])) is HFTokenizer
    ok = fast_hf_tokenizer(tok, ["ab cab"])  # text that does not show the difference: accepted
    assert isinstance(ok, RankedHFTokenizer) and ok.encode("ab cab") == tok.encode("ab cab")


def test_falls_back_for_a_pre_tokenizer_without_a_regex():
    tok = _toy([("a", "b")], {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True})
    assert type(fast_hf_tokenizer(tok, ["ab"])) is HFTokenizer


def test_sentencepiece_leftover_partial_character_becomes_byte_pieces():
    """A character without a piece whose first bytes start a character that has one: byte pieces, as SentencePiece."""
    tok = load_reference("llama2")
    assert isinstance(tok, RankedSentencePieceTokenizer)
    text = "\u4e2d\u4e2e\U0001f9ec x"  # 中 has a piece; U+4E2E and the emoji do not
    assert tok.encode(text) == tok.oracle_encode(text)
    assert any(tok.sp.is_byte(i) for i in tok.encode(text))
