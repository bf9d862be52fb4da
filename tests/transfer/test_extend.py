"""Extension ("Merged"): old ids and rows unchanged, new merges only where they apply, new rows by FVT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transfer_helpers import stdlib_texts

from toksmith.errors import ToksmithError
from toksmith.references import load_tokenizer
from toksmith.tokenizer import bytelevel_decode
from toksmith.transfer.extend import ExtendConfig, extend_tokenizer
from toksmith.transfer.surgery import TransferConfig, transfer


@pytest.fixture(scope="module")
def extended(tmp_path_factory, old_model_dir):
    domain = stdlib_texts(("heapq.py", "bisect.py", "fnmatch.py"))
    return extend_tokenizer(ExtendConfig(tokenizer=old_model_dir, out_dir=tmp_path_factory.mktemp("x") / "ext", n_new=80), domain)


def test_old_ids_unchanged(old_model_dir, extended):
    old_json = json.loads((old_model_dir / "tokenizer.json").read_text())
    new_json = json.loads((extended / "tokenizer.json").read_text())
    old_vocab, new_vocab = old_json["model"]["vocab"], new_json["model"]["vocab"]
    assert all(new_vocab[t] == i for t, i in old_vocab.items())
    assert new_json["model"]["merges"][: len(old_json["model"]["merges"])] == old_json["model"]["merges"]
    assert new_json["added_tokens"] == old_json["added_tokens"]
    new_ids = sorted(set(new_vocab.values()) - set(old_vocab.values()))
    assert new_ids == list(range(400, 480))  # appended after the old ids
    meta = json.loads((extended / "extension.json").read_text())
    assert meta["old_vocab_size"] == 400 and meta["new_vocab_size"] == 480


def test_old_text_encodes_the_same_where_no_new_merge_applies(old_model_dir, extended):
    old, new = load_tokenizer(old_model_dir), load_tokenizer(extended)
    new_json = json.loads((extended / "tokenizer.json").read_text())
    n_old = len(json.loads((old_model_dir / "tokenizer.json").read_text())["model"]["merges"])
    new_merges = {tuple(m) for m in new_json["model"]["merges"][n_old:]}
    spell = {i: t for t, i in new_json["model"]["vocab"].items()}
    pre = old.tok.pre_tokenizer
    text = stdlib_texts(("shlex.py",))[0]  # not part of the domain data
    changed = same = 0
    for piece, _ in pre.pre_tokenize_str(text):
        raw = bytelevel_decode(piece).decode("utf-8", "replace")
        a, b = old.encode(raw), new.encode(raw)
        pairs = {(spell[x], spell[y]) for x, y in zip(a, a[1:])}
        if not pairs & new_merges:
            assert a == b, raw
            same += 1
        else:
            assert len(b) < len(a) and new.decode_bytes(b) == old.decode_bytes(a)
            changed += 1
    assert same > 100 and changed > 10
    assert new.decode(new.encode(text)) == text


def test_transfer_keeps_first_rows_bit_identical(old_model_dir, extended, tmp_path):
    from transformers import AutoModelForCausalLM

    out = transfer(TransferConfig(model=str(old_model_dir), tokenizer=extended, out_dir=tmp_path / "merged", method="fvt"))
    old_m, new_m = AutoModelForCausalLM.from_pretrained(old_model_dir), AutoModelForCausalLM.from_pretrained(out)
    for get in ("get_input_embeddings", "get_output_embeddings"):
        E_old, E_new = getattr(old_m, get)().weight, getattr(new_m, get)().weight
        assert E_new.shape[0] == 480 and torch.equal(E_new[:400], E_old)
    new_tok = load_tokenizer(extended)
    old_tok = load_tokenizer(old_model_dir)
    for i in range(400, 480):  # new rows: FVT over the old encoding of their bytes
        ids = old_tok.encode(new_tok.token_bytes(i).decode("utf-8"))
        assert torch.allclose(new_m.get_input_embeddings().weight[i], old_m.get_input_embeddings().weight[ids].mean(0), atol=1e-6)
    manifest = json.loads((out / "transfer.json").read_text())
    assert manifest["identity_prefix"] == 400
    assert (new_m.config.bos_token_id, new_m.config.eos_token_id) == (1, 2)


def test_sentencepiece_model_is_refused(tmp_path):
    import toksmith

    sp_model = Path(toksmith.__file__).parent / "references_data" / "llama2" / "tokenizer.model"  # shipped
    with pytest.raises(ToksmithError, match="SentencePiece .model files have no merge list"):
        extend_tokenizer(ExtendConfig(tokenizer=sp_model, out_dir=tmp_path / "x", n_new=10), ["def f(): pass"])
    assert not (tmp_path / "x").exists()


def test_learn_merges_uses_the_reference_trainers_merge_and_tie_rule():
    """From a bytes-only byte-level tokenizer and no pre-tokenization, extension learns exactly the merges of the
    oracle trainer (toksmith.bpe.reference), ties included (stdlib text has many tied steps)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    from toksmith.bpe.reference import count_pieces, merge_ties, train_steps
    from toksmith.transfer.extend import learn_merges

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    data = json.loads(tok.to_str())
    texts = ["aaabdaaabac"] + [t[:3000] for t in stdlib_texts(("heapq.py", "bisect.py"))]
    got = learn_merges(data, texts, n_new=150, max_token_length=64)
    want = train_steps(count_pieces(texts, None), len(got), max_token_length=64)
    assert [(bytelevel_decode(a), bytelevel_decode(b)) for a, b in got] == [pair for pair, _, _ in want]
    assert len(got) == 150 and merge_ties(texts, None, 150, 64)  # the tie rule was exercised
