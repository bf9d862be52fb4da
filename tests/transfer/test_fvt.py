"""FVT token mapping and row initialisation: hand-checked rows, byte-level and SentencePiece old tokenizers."""

from __future__ import annotations

import pytest
import torch

from toksmith.errors import ToksmithError
from toksmith.references import load_tokenizer
from toksmith.transfer.fvt import check_roles, init_rows, roles_by_name, token_map


def test_init_rows_hand_checked():
    E = torch.tensor([[0.0, 0.0], [2.0, 4.0], [4.0, 8.0], [1.0, 1.0]])
    mapping = {0: [2], 1: [1, 2], 2: [0, 1, 3], 3: []}
    out = init_rows(E, mapping, "fvt", num_rows=5)
    assert torch.equal(out[0], torch.tensor([4.0, 8.0]))  # copied
    assert torch.equal(out[1], torch.tensor([3.0, 6.0]))  # (E1 + E2) / 2
    assert torch.allclose(out[2], torch.tensor([1.0, 5.0 / 3.0]))  # (E0 + E1 + E3) / 3
    mean = E.mean(0)
    assert torch.equal(out[3], mean) and torch.equal(out[4], mean)  # empty mapping / padding row


def test_mean_and_random_baselines():
    torch.manual_seed(0)
    E = torch.randn(50, 16) + 3.0
    mapping = {i: [i % 50] for i in range(80)}
    m = init_rows(E, mapping, "mean", noise=0.01)
    assert m.shape == (80, 16)
    assert (m - E.mean(0)).abs().max() < 0.1 * E.std()  # mean + small noise
    assert not torch.equal(m[0], m[1])
    r = init_rows(E, mapping, "random", std=0.02, seed=3)
    assert abs(r.std().item() - 0.02) < 0.003 and abs(r.mean().item()) < 0.003
    assert torch.equal(r, init_rows(E, mapping, "random", std=0.02, seed=3))  # seeded
    with pytest.raises(ToksmithError, match="unknown initialisation method"):
        init_rows(E, mapping, "fvtt")


def test_token_map_bytelevel(old_tok_dir, new_tok_dir):
    old, new = load_tokenizer(old_tok_dir), load_tokenizer(new_tok_dir)
    mapping, stats = token_map(old, new)
    assert set(mapping) == set(range(new.vocab_size))
    special = set(new.special_tokens.values())
    old_index = {old.token_bytes(i): i for i in range(old.vocab_size) if i not in old.special_tokens.values()}
    for i in range(new.vocab_size):
        if i in special:
            continue
        b = new.token_bytes(i)
        if b in old_index:
            assert mapping[i] == [old_index[b]]  # same bytes -> the row is kept
        else:
            assert len(mapping[i]) >= 2 and old.decode_bytes(mapping[i]) == b  # composed of old tokens, by bytes
    # byte tokens map by byte: the new token for byte 0xE2 (not valid UTF-8 alone) -> the old 0xE2 token
    new_byte = next(i for i in range(new.vocab_size) if new.token_bytes(i) == b"\xe2")
    assert old.token_bytes(mapping[new_byte][0]) == b"\xe2"
    assert stats.exact + stats.composed + stats.special_by_role + stats.special_by_text == new.vocab_size
    assert stats.approximate == 0 and 0 < stats.overlap < 1


def test_special_tokens_by_role(old_tok_dir, new_tok_dir):
    old, new = load_tokenizer(old_tok_dir), load_tokenizer(new_tok_dir)
    old_roles = {"bos": 1, "eos": 2, "pad": 0}
    new_roles = roles_by_name(new.special_tokens)
    assert new_roles == {"bos": 0, "eos": 1, "pad": 2, "fim_prefix": 3, "fim_middle": 4, "fim_suffix": 5}
    mapping, _ = token_map(old, new, old_roles, new_roles)
    assert mapping[0] == [1] and mapping[1] == [2] and mapping[2] == [0]
    # the old model has no FIM tokens: FVT of the token's text
    assert old.decode_bytes(mapping[3]) == b"<|fim_prefix|>"


def test_missing_role_is_a_clear_error():
    with pytest.raises(ToksmithError, match="no special token for role.*eos"):
        check_roles(["eos", "bos"], {"bos": 0}, "my-tok")


def test_sentencepiece_old_tokenizer(new_tok_dir):
    """Llama 2 (SentencePiece, ▁ and <0xXX>, dummy prefix) as the old side: every mapping reproduces the bytes."""
    old, new = load_tokenizer("llama2"), load_tokenizer(new_tok_dir)
    mapping, stats = token_map(old, new, {"bos": 1, "eos": 2})
    special = set(new.special_tokens.values())
    for i in range(new.vocab_size):
        if i not in special:
            assert old.decode_bytes(mapping[i]) == new.token_bytes(i), (i, new.token_bytes(i))
    # a leading-space token keeps Llama's '▁' piece; a bare word loses the dummy prefix
    spaced = next(i for i in range(new.vocab_size) if new.token_bytes(i) == b" return")
    assert [old.sp.id_to_piece(j) for j in mapping[spaced]] == ["▁return"]
    bare = next(i for i in range(new.vocab_size) if new.token_bytes(i) == b"heap")
    assert not old.sp.id_to_piece(mapping[bare][0]).startswith("▁")
    byte_id = next(i for i in range(new.vocab_size) if new.token_bytes(i) == b"\xe2")
    assert old.sp.id_to_piece(mapping[byte_id][0]) == "<0xE2>"
    assert stats.approximate == 0 and mapping[0] == [1] and mapping[1] == [2]


def test_token_map_skips_unused_ids(new_tok_dir):
    """cl100k has no id 100256 (its special tokens start after a gap): as the old tokenizer the hole is skipped,
    as the new one it maps to nothing (its row gets the mean)."""
    from toksmith.references import load_tokenizer
    from toksmith.transfer.fvt import token_map

    cl100k, small = load_tokenizer("cl100k"), load_tokenizer(new_tok_dir)
    assert cl100k.vocab_size == 100277
    mapping, stats = token_map(cl100k, small)
    assert stats.exact > 600 and all(100256 not in ids for ids in mapping.values())
    mapping, stats = token_map(small, cl100k)
    assert mapping[100256] == [] and stats.empty >= 1
    assert mapping[cl100k.special_tokens["<|endoftext|>"]] == [small.special_tokens["<|end_of_text|>"]]  # by role
