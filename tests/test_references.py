"""Every reference tokenizer loads offline from the shipped files and reproduces llama.cpp's golden vectors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import toksmith
from toksmith.references import ALIASES, DATA_DIR, REFERENCES, load_reference

GOLDEN = Path(__file__).parent / "golden"
# golden folder -> registry name
GOLDEN_FOR = {"r50k": "gpt2", "gpt2": "gpt2-hf", "llama2": "llama2", "llama3": "llama3", "starcoder": "starcoder",
              "deepseek-coder": "deepseek-coder", "qwen2": "qwen2"}


def golden_cases(folder: str) -> list[tuple[str, list[int]]]:
    inputs = (GOLDEN / folder / "golden.inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")[:-1]
    outputs = (GOLDEN / folder / "golden.out").read_text(encoding="utf-8").split("\n")
    return [(text, [int(x) for x in out.split()]) for text, out in zip(inputs, outputs)]


@pytest.mark.parametrize("folder", sorted(GOLDEN_FOR))
def test_golden_vectors(folder):
    tok = load_reference(GOLDEN_FOR[folder])
    cases = golden_cases(folder)
    assert len(cases) == 46
    for text, expected in cases:
        assert tok.encode(text) == expected, f"{folder}: {text!r}"
    # batch encoding gives the same ids as one-by-one
    assert tok.encode_batch([t for t, _ in cases]) == [e for _, e in cases]


# Published "hello world" vectors for the references without llama.cpp golden files (shared/references/README).
KNOWN = {"cl100k": ("hello world", [15339, 1917]), "o200k": ("hello world", [24912, 2375]),
         "gpt2": ("hello world", [31373, 995]), "mistral": ("Hello world", [22557, 1526]),
         "llama2": ("Hello world", [15043, 3186]), "starcoder": ("Hello world", [8302, 5810]),
         "deepseek-coder": ("Hello world", [17535, 1835]), "qwen2": ("Hello world", [9707, 1879])}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_ids(name):
    text, ids = KNOWN[name]
    assert load_reference(name).encode(text) == ids


def test_cl100k_equals_tiktoken_directly():
    """Our cl100k adapter equals tiktoken's own Encoding built from the same file."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    d = DATA_DIR / "cl100k"
    enc = tiktoken.Encoding("cl100k_base", pat_str=(d / "pattern.txt").read_text().strip("\n"),
                            mergeable_ranks=load_tiktoken_bpe(str(d / "cl100k_base.tiktoken")), special_tokens={})
    text = Path(toksmith.__file__).read_text() + "\u00e9t\u00e9 \u4e2d\u6587 \U0001f600\r\n\t 12345"
    assert load_reference("cl100k").encode(text) == enc.encode_ordinary(text)
    # llama3's first 100,256 ranks are cl100k's and it uses the same pattern
    assert load_reference("llama3").encode(text) == enc.encode_ordinary(text)


def test_every_name_loads_with_consistent_bytes():
    text = "def f(x):\n    return x  # caf\u00e9 \u4e2d"
    for name in REFERENCES:
        tok = load_reference(name)
        ids = tok.encode(text)
        assert tok.decode(ids) == text, name
        # token bytes concatenate to the text (SentencePiece adds its dummy-prefix space in front)
        raw = b"".join(tok.token_bytes(i) for i in ids)
        assert raw in (text.encode(), b" " + text.encode()), name
        assert tok.vocab_size >= max(ids) + 1


def test_aliases_resolve():
    for alias, name in ALIASES.items():
        assert load_reference(alias) is load_reference(name)


def test_shipped_files_match_recorded_sha256():
    lines = (DATA_DIR / "SHA256SUMS").read_text().splitlines()
    assert len(lines) >= 10
    for line in lines:
        digest, rel = line.split()
        assert hashlib.sha256((DATA_DIR / rel).read_bytes()).hexdigest() == digest, rel
    for name, ref in REFERENCES.items():
        assert ref.path.is_file(), name
        assert (ref.path.parent / "LICENSE.md").is_file(), name


def test_unknown_reference_lists_known_names():
    with pytest.raises(toksmith.ToksmithError) as e:
        toksmith.load_tokenizer("lama2")
    assert "Did you mean: llama2" in str(e.value)
    assert "cl100k" in str(e.value)
