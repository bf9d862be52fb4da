"""The files agree: tokenizer.tiktoken, tokenizer.json and transformers encode identically."""

from __future__ import annotations

import pytest

from toksmith.bpe import DEFAULT_SPECIAL_TOKENS, TrainConfig, reference, train_from_texts
from toksmith.formats import build_hf_tokenizer, build_ranks, escape_bytes, hf_merges, producing_pair
from toksmith.pretokenize import PRESETS
from toksmith.tokenizer import HFTokenizer, TiktokenTokenizer, load_trained

K = len(DEFAULT_SPECIAL_TOKENS)


@pytest.fixture(scope="module", params=["gpt4", "punct"])
def trained(request, train_texts, tmp_path_factory):
    cfg = TrainConfig(vocab_size=700, preset=request.param)
    return cfg, train_from_texts(train_texts, cfg, tmp_path_factory.mktemp("tok") / request.param, progress=False)


def test_tiktoken_and_tokenizer_json_encode_identically_on_heldout(trained, heldout_texts):
    _, path = trained
    tt, hf = load_trained(path), HFTokenizer.from_file(path / "tokenizer.json")
    assert isinstance(tt, TiktokenTokenizer)
    for text in heldout_texts:
        assert hf.encode(text) == tt.encode(text)
    assert hf.encode_batch(heldout_texts) == tt.encode_batch(heldout_texts)


@pytest.mark.parametrize("trained", ["gpt4"], indirect=True)
def test_transformers_loads_the_directory(trained, heldout_texts):
    transformers = pytest.importorskip("transformers")
    _, path = trained
    tt = load_trained(path)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(path / "tokenizer.json"), bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>",
        pad_token="<pad>",
    )
    auto = transformers.AutoTokenizer.from_pretrained(str(path))
    assert (auto.bos_token_id, auto.eos_token_id, auto.pad_token_id) == (0, 1, 2)
    assert len(auto) == tt.vocab_size
    for text in heldout_texts[:10]:
        ids = tt.encode(text)
        assert fast.encode(text, add_special_tokens=False) == ids
        assert auto.encode(text, add_special_tokens=False) == ids
        assert auto.decode(ids) == text


def test_pieces_are_the_preset_regex_pieces(trained, heldout_texts):
    """The tokenizer never merges across a pre-token: encoding piece by piece equals encoding the whole."""
    from toksmith.pretokenize import split
    from toksmith.tokenizer import bytelevel_decode

    cfg, path = trained
    tt, hf = load_trained(path), HFTokenizer.from_file(path / "tokenizer.json")
    for text in heldout_texts[:10]:
        pieces = split(text, cfg.pattern)
        assert [i for p in pieces for i in tt.encode(p)] == tt.encode(text)
        hf_pieces = [bytelevel_decode(p) for p, _ in hf.tok.pre_tokenizer.pre_tokenize_str(text)]
        assert hf_pieces == [p.encode("utf-8") for p in pieces]


def test_merges_list_reproduces_rank_based_bpe():
    """Why tokenizer.json lists every split: 'abc' learned as ab+c, but 'bc' ranks before 'ab'.

    tiktoken: x a b c -> x a bc -> x abc (a+bc is the token abc). With only the training merge (ab, c), HF would
    stop at x a bc; with every split (and ignore_merges for whole-token pieces) it matches tiktoken.
    """
    merged = [b"bc", b"ab", b"abc", b"cd", b"abcd"]  # abcd learned as ab+cd
    ranks = build_ranks([], merged)
    assert (b"a", b"bc") in hf_merges(ranks) and (b"ab", b"c") in hf_merges(ranks)
    hf = HFTokenizer("t", build_hf_tokenizer(PRESETS["gpt4"], [], ranks))
    for text in ["xabc", "abcd", "zabcd", "abcabcd bcd"]:
        assert hf.encode(text) == reference.encode(text, ranks, PRESETS["gpt4"])
    assert [hf.token_bytes(i) for i in hf.encode("xabc")] == [b"x", b"abc"]


def test_producing_pair_and_escapes():
    ranks = build_ranks([], [b"ab", b"abc", b"bc"])
    assert producing_pair(b"abc", ranks) == (b"ab", b"c")
    assert escape_bytes(" \t\n\x00\u00e9[\\]".encode() + b"\xff") == " \\t\\n\\u0000\u00e9\\[\\\\\\]\\xff"
