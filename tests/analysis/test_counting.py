"""Token counts from toksmith's fast path equal those of tiktoken / sentencepiece / tokenizers called directly."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

import toksmith
from toksmith.analysis.counting import batches, count_tokens, subset_stats
from toksmith.errors import ToksmithError
from toksmith.references import REFERENCES, load_reference

GOLDEN = Path(__file__).parents[1] / "golden"
SRC = Path(toksmith.__file__).parent


def hard_texts() -> list[str]:
    """Real source files, the llama.cpp golden inputs, and strings that stress pre-tokenizers."""
    files = [SRC / "tokenizer.py", SRC / "pretokenize.py", SRC / "references.py", SRC / "config.py"]
    texts = [f.read_text(encoding="utf-8") for f in files]
    texts += (GOLDEN / "gpt2" / "golden.inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")[:-1]
    texts += [
        "    x.append(self._val)\n    return 12345 # it's ok\n",
        "\t\t\n\r\n   \n",
        "Grüße, 世界! Привет мир. مرحبا 🦙🦙🦙 " * 3,
        "".join(chr(c) for c in range(50, 300)),
        "x" * 5000,
        "<|endoftext|> special strings are text here <s> </s>",
        "",
    ]
    return texts


def _direct_tiktoken(name: str):
    import tiktoken

    ref = REFERENCES[name]
    pattern = (ref.path.parent / "pattern.txt").read_text(encoding="utf-8").strip("\n")
    ranks = toksmith.tokenizer.read_tiktoken_ranks(ref.path)
    enc = tiktoken.Encoding(f"direct-{name}", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    return lambda t: enc.encode_ordinary(t)


def _direct_sentencepiece(name: str):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(REFERENCES[name].path))
    return lambda t: sp.encode(t)


def _direct_hf(name: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(gzip.decompress(REFERENCES[name].path.read_bytes()).decode("utf-8"))
    tok.encode_special_tokens = True  # the Tokenizer protocol: special-token strings in text are text
    return lambda t: tok.encode(t, add_special_tokens=False).ids


DIRECT = {"gpt2": _direct_tiktoken, "cl100k": _direct_tiktoken, "llama2": _direct_sentencepiece,
          "mistral": _direct_sentencepiece, "starcoder": _direct_hf, "gpt2-hf": _direct_hf}


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_counts_equal_library_called_directly(name):
    texts = hard_texts()
    direct = DIRECT[name](name)
    expected = Counter()
    total = 0
    for t in texts:
        ids = direct(t)
        expected.update(ids)
        total += len(ids)
    # small batches force the streaming path through many encode calls
    tc = count_tokens(load_reference(name), texts, batch_chars=3000)
    assert tc.n_tokens == total
    assert dict(zip(tc.ids.tolist(), tc.freqs.tolist())) == dict(expected)
    assert tc.ids.tolist() == sorted(expected)


@pytest.mark.parametrize("folder,name", [("r50k", "gpt2"), ("llama2", "llama2"), ("starcoder", "starcoder")])
def test_counts_equal_golden_vectors(folder, name):
    inputs = (GOLDEN / folder / "golden.inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")[:-1]
    outputs = (GOLDEN / folder / "golden.out").read_text(encoding="utf-8").split("\n")[: len(inputs)]
    expected = Counter(int(x) for line in outputs for x in line.split())
    tc = count_tokens(load_reference(name), inputs)
    assert tc.n_tokens == sum(expected.values())
    assert dict(zip(tc.ids.tolist(), tc.freqs.tolist())) == dict(expected)


def test_batches_cover_every_text_in_order():
    texts = ["a" * n for n in (5, 1, 7, 2, 2, 9)]
    groups = list(batches(texts, batch_chars=6))
    assert [t for g in groups for t in g] == texts
    assert all(sum(map(len, g)) >= 6 for g in groups[:-1])
    assert list(batches([], 10)) == []


def test_subset_stats_and_surrogates():
    st = subset_stats(["héllo wörld", "a b c"])
    assert (st.n_docs, st.n_bytes, st.n_chars, st.n_words) == (2, 18, 16, 5)
    with pytest.raises(ToksmithError, match="document 1 contains a lone surrogate"):
        subset_stats(["fine", "bad \ud800 text"], where="code/python")
