"""The educational oracle: worked examples, its rules (ties, max length, min frequency), and tiktoken agreement."""

from __future__ import annotations

import tiktoken

from toksmith.bpe import reference
from toksmith.pretokenize import PRESETS


def test_wikipedia_aaabdaaabac():
    # https://en.wikipedia.org/wiki/Byte_pair_encoding: aa -> Z, ab -> Y, ZY -> X; minbpe's test expects these ids.
    merges = reference.train(["aaabdaaabac"], None, 3)
    assert merges == [b"aa", b"ab", b"aaab"]
    assert reference.encode("aaabdaaabac", merges, None) == [258, 100, 258, 97, 99]


def test_tie_is_reported_and_broken_by_smallest_bytes():
    # Step 1 of the Wikipedia example: (aa, a) and (a, b) both occur twice; (b"a", b"b") < (b"aa", b"a").
    assert reference.merge_ties(["aaabdaaabac"], None, 3) == [1]
    steps = reference.train_steps(reference.count_pieces(["aaabdaaabac"], None), 3)
    assert [(pair, count, tied) for pair, count, tied in steps] == [
        ((b"a", b"a"), 4, 1),
        ((b"a", b"b"), 2, 2),
        ((b"aa", b"ab"), 2, 1),
    ]


def test_min_frequency_stops_training():
    # "abab": (a,b) twice -> merged; then (ab, ab) occurs once < 2.
    assert reference.train(["abab"], None, 10, min_frequency=2) == [b"ab"]
    assert reference.train(["abab"], None, 10, min_frequency=1) == [b"ab", b"abab"]


def test_max_token_length_skips_long_merges(train_texts):
    texts = train_texts[:3]
    limited = reference.train(texts, PRESETS["gpt4"], 150, max_token_length=3)
    free = reference.train(texts, PRESETS["gpt4"], 150, max_token_length=128)
    assert max(map(len, limited)) == 3
    assert max(map(len, free)) > 3
    assert len(limited) == 150  # a too-long pair is skipped, training goes on with the next best


def test_pieces_never_cross_the_pattern():
    merges = reference.train(["a b a b a b"], r" ?\w+|\s+", 5)
    assert b"a b" not in merges and b" b" in merges
    # identity: the whole text is one piece, merges cross spaces
    assert reference.train(["a b a b a b"], None, 2) == [b" b", b"a b"]


def test_encode_piece_keeps_a_token_whole_and_stops_when_nothing_merges():
    ranks = reference.ranks_from_merges([b"aa", b"aaa"])
    assert reference.encode_piece(b"aaa", ranks) == [257]
    assert reference.encode_piece(b"aaaa", ranks) == [256, 256]  # aa+aa is not a token


def test_encode_equals_tiktoken_on_heldout(train_texts, heldout_texts):
    pattern = PRESETS["gpt4"]
    merges = reference.train(train_texts[:4], pattern, 200)
    ranks = reference.ranks_from_merges(merges)
    enc = tiktoken.Encoding("ref", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    for text in heldout_texts[:5]:
        assert reference.encode(text, ranks, pattern) == enc.encode_ordinary(text)


def test_docstring_examples_run():
    import doctest

    from toksmith import formats

    for module in (reference, formats):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
