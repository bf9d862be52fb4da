"""decode(encode(x)) == x for a trained tokenizer of every preset, through both of its files.

One tokenizer per preset is trained once per module on ~200 KB of stdlib Python (vocab 500, HF backend), then
loaded twice: from ``tokenizer.tiktoken`` (``TiktokenTokenizer``) and from ``tokenizer.json`` (``HFTokenizer``).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from toksmith.bpe import TrainConfig, train_from_texts
from toksmith.pretokenize import PRESETS
from toksmith.formats import read_manifest
from toksmith.tokenizer import IDENTITY_TIKTOKEN_PATTERN, HFTokenizer, TiktokenTokenizer, read_tiktoken_ranks

LOADS = ["tiktoken", "tokenizer.json"]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:40]
    texts, total = [], 0
    for p in files:
        text = p.read_text(encoding="utf-8", errors="replace")
        # identity trains on whole documents, so keep them short (each is one BPE word)
        texts += [text[i : i + 3000] for i in range(0, len(text), 3000)]
        total += len(text)
        if total > 200_000:
            break
    return texts


@pytest.fixture(scope="module")
def trained_dirs(corpus, tmp_path_factory):
    out = {}

    def get(preset: str) -> Path:
        if preset not in out:
            cfg = TrainConfig(vocab_size=500, preset=preset, max_token_length=32 if preset == "identity" else 128)
            out[preset] = train_from_texts(corpus, cfg, tmp_path_factory.mktemp(preset) / "tok", progress=False)
        return out[preset]

    return get


def load(path: Path, how: str):
    if how == "tokenizer.json":
        return HFTokenizer.from_file(path / "tokenizer.json")
    m = read_manifest(path)
    pattern = m["pattern"] if m["pattern"] is not None else IDENTITY_TIKTOKEN_PATTERN
    return TiktokenTokenizer(
        m["name"], pattern=pattern, mergeable_ranks=read_tiktoken_ranks(path / "tokenizer.tiktoken"),
        special_tokens=m["special_tokens"],
    )


# Runs of whitespace, CRLF, tabs, NUL, contractions, digits, emoji and joiners, glued in any order.
FRAGMENTS = [" ", "  ", "\t", "\r\n", "\n", "\r", "\x00", "a", "Z", "1", "'s", "é", "中", "😀", "\u200d", "#", "_", "(", "<pad>"]
HARD = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)


@pytest.mark.parametrize("how", LOADS)
@pytest.mark.parametrize("preset", list(PRESETS))
def test_roundtrip(preset, how, trained_dirs):
    tok = load(trained_dirs(preset), how)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=st.one_of(st.text(max_size=80), HARD))
    @example(text="")
    @example(text="\t" * 5 + "\n" * 5 + "\t" * 5)
    @example(text="def f(x):\r\n\treturn  x   \n\n\n    # 😀 \x00 end")
    @example(text="],\n\t.site .site")
    @example(text="<filename>" + "".join(map(chr, range(50, 150))) + "".join(map(chr, range(200, 300))))
    @example(text="<|end_of_text|> <pad> 👩‍👩‍👧 \U0010ffff")
    def check(text):
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        assert tok.decode_bytes(ids) == text.encode("utf-8")

    check()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_both_loads_agree(preset, trained_dirs, corpus):
    path = trained_dirs(preset)
    a, b = (load(path, how) for how in LOADS)
    text = "class A:\n\tdef f(self, x=12345):\r\n        return x  # it's 😀\n\n"
    assert a.encode(text) == b.encode(text)
    assert a.vocab_size == b.vocab_size == 500


@pytest.mark.parametrize("preset", [p for p in PRESETS if PRESETS[p] is not None])
def test_tokens_never_cross_a_pretoken(preset, trained_dirs):
    """Held-out text (not stdlib source): encoding piece by piece equals encoding the whole, in both files."""
    from toksmith.pretokenize import split
    from toksmith.tokenizer import bytelevel_decode

    text = "Ünïcode prose, it's 2024!\r\n\tx_1 = [a+b for a,b in zip(xs, ys)]  # ok\n\n\n   12345678 中文 😀\x00"
    path = trained_dirs(preset)
    pieces = split(text, PRESETS[preset])
    for how in LOADS:
        tok = load(path, how)
        assert [i for p in pieces for i in tok.encode(p)] == tok.encode(text)
    hf = load(path, "tokenizer.json")
    assert [bytelevel_decode(p) for p, _ in hf.tok.pre_tokenizer.pre_tokenize_str(text)] == [p.encode() for p in pieces]
