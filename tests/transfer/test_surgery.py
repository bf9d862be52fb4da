"""Model surgery: exact logits for the own tokenizer, FVT rows in embeddings and head, tying, saved directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from toksmith.errors import ToksmithError
from toksmith.references import load_tokenizer
from toksmith.transfer.fvt import token_map
from toksmith.transfer.methods import METHODS
from toksmith.transfer.surgery import TransferConfig, is_tied, swap_vocabulary, transfer


def _load(d):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(d).eval()


def _ids(tok_dir, text="def heappush(heap, item):\n    heap.append(item)\n"):
    return torch.tensor([load_tokenizer(tok_dir).encode(text)])


@pytest.mark.parametrize("fixture", ["old_model_dir", "old_tied_model_dir"])
def test_own_tokenizer_reproduces_logits(request, fixture, old_tok_dir, tmp_path):
    src = request.getfixturevalue(fixture)
    out = transfer(TransferConfig(model=str(src), tokenizer=old_tok_dir, out_dir=tmp_path / "same"))
    before, after = _load(src), _load(out)
    ids = _ids(old_tok_dir)
    with torch.no_grad():
        assert torch.equal(before(ids).logits, after(ids).logits)
    assert is_tied(after) == (fixture == "old_tied_model_dir")
    assert (after.config.bos_token_id, after.config.eos_token_id, after.config.pad_token_id) == (1, 2, 0)


@pytest.mark.parametrize("fixture", ["old_model_dir", "old_tied_model_dir"])
def test_new_rows_are_means_of_old_rows(request, fixture, old_tok_dir, new_tok_dir, tmp_path):
    src = request.getfixturevalue(fixture)
    out = transfer(TransferConfig(model=str(src), tokenizer=new_tok_dir, out_dir=tmp_path / "fvt", pad_to_multiple_of=64, method="fvt"))
    old_m, new_m = _load(src), _load(out)
    old, new = load_tokenizer(old_tok_dir), load_tokenizer(new_tok_dir)
    mapping, _ = token_map(old, new, {"bos": 1, "eos": 2, "pad": 0})
    E_old, E_new = old_m.get_input_embeddings().weight, new_m.get_input_embeddings().weight
    H_old, H_new = old_m.get_output_embeddings().weight, new_m.get_output_embeddings().weight
    assert E_new.shape[0] == 704 == new_m.config.vocab_size  # 700 padded to a multiple of 64
    for i in range(new.vocab_size):
        assert torch.allclose(E_new[i], E_old[mapping[i]].mean(0), atol=1e-6)
        assert torch.allclose(H_new[i], H_old[mapping[i]].mean(0), atol=1e-6)
    assert torch.allclose(E_new[700:], E_old.mean(0).expand(4, -1), atol=1e-6)  # padding rows
    assert is_tied(new_m) == (fixture == "old_tied_model_dir")
    assert new_m.config.bos_token_id == 0 and new_m.config.eos_token_id == 1 and new_m.config.pad_token_id == 2
    manifest = json.loads((out / "transfer.json").read_text())
    assert manifest["config"]["method"] == "fvt" and manifest["rows"] == 704
    assert manifest["stats"]["special_by_role"] == 3 and manifest["roles"]["new"]["eos"] == 1


def test_saved_transfer_reloads_and_generates(old_model_dir, new_tok_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = transfer(TransferConfig(model=str(old_model_dir), tokenizer=new_tok_dir, out_dir=tmp_path / "m", method="mean"))
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<|begin_of_text|>", "<|end_of_text|>", "<pad>")
    assert tok.eos_token_id == model.config.eos_token_id == 1
    enc = tok("def f(x):\n    return", return_tensors="pt")
    assert enc.input_ids[0].tolist() == load_tokenizer(new_tok_dir).encode("def f(x):\n    return")
    gen = model.generate(**enc, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    assert gen.shape[1] > enc.input_ids.shape[1] and int(gen.max()) < len(tok)
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "transfer.json"} <= {
        p.name for p in out.iterdir()}


def test_random_init_uses_model_std(old_model_dir, new_tok_dir, tmp_path):
    out = transfer(TransferConfig(model=str(old_model_dir), tokenizer=new_tok_dir, out_dir=tmp_path / "r", method="random"))
    E = _load(out).get_input_embeddings().weight
    assert abs(E.std().item() - 0.02) < 0.002  # LlamaConfig.initializer_range


def test_model_without_input_embeddings(old_tok_dir):
    from toksmith.models import tiny_llama

    model = tiny_llama(400)
    model.model.embed_tokens = torch.nn.Identity()
    with pytest.raises(ToksmithError, match="no input embedding matrix"):
        swap_vocabulary(model, {0: [0]}, "fvt", 1)


def test_not_a_causal_lm_directory(tmp_path, new_tok_dir):
    from transformers import ViTConfig, ViTModel

    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)).save_pretrained(tmp_path / "vit")
    with pytest.raises(ToksmithError, match="cannot load .* as a causal language model"):
        transfer(TransferConfig(model=str(tmp_path / "vit"), tokenizer=new_tok_dir, out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_tokenizer_without_eos(tmp_path, old_model_dir, texts):
    from transfer_helpers import train_bytelevel

    tok = train_bytelevel(texts[:2], 300, ["<|begin_of_text|>", "<pad>"], tmp_path / "noeos")
    with pytest.raises(ToksmithError, match="no special token for role.*eos"):
        transfer(TransferConfig(model=str(old_model_dir), tokenizer=tok, out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_existing_output_is_not_overwritten(tmp_path, old_model_dir, new_tok_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ToksmithError, match="exists"):
        transfer(TransferConfig(model=str(old_model_dir), tokenizer=new_tok_dir, out_dir=out))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_config_validation():
    with pytest.raises(ToksmithError, match="unknown TransferConfig.method"):
        TransferConfig(model="m", tokenizer="t", out_dir="o", method="fast")
    with pytest.raises(ToksmithError, match="pad_to_multiple_of"):
        TransferConfig(model="m", tokenizer="t", out_dir="o", pad_to_multiple_of=0)
    # the default is the best zero-cost init of the committed bench (bench/transfer_init.json, latest run)
    rows = json.loads((Path(__file__).parents[2] / "bench" / "transfer_init.json").read_text())["runs"][-1]["rows"]
    zero_cost = {k: v["bpb"] for k, v in rows.items() if k in METHODS and k not in ("original",)}
    assert TransferConfig(model="m", tokenizer="t", out_dir="o").method == min(zero_cost, key=zero_cost.get)


def test_toksmith_trained_tokenizer_end_to_end(tmp_path, old_tied_model_dir, texts):
    """A tokenizer from toksmith.bpe (tiktoken + tokenizer.json + toksmith.json) as the new one: HF loads the
    saved model's tokenizer and encodes exactly like toksmith's tiktoken adapter."""
    from transformers import AutoTokenizer

    from toksmith.bpe.train import TrainConfig, train_from_texts

    tok_dir = train_from_texts(texts, TrainConfig(vocab_size=600, preset="gpt4"), tmp_path / "tok")
    out = transfer(TransferConfig(model=str(old_tied_model_dir), tokenizer=tok_dir, out_dir=tmp_path / "m"))
    assert {"tokenizer.tiktoken", "toksmith.json"} <= {p.name for p in out.iterdir()}
    ours, hf = load_tokenizer(out), AutoTokenizer.from_pretrained(out)
    sample = texts[0][:3000]
    assert hf(sample, add_special_tokens=False).input_ids == ours.encode(sample)
    assert hf.eos_token == "<|end_of_text|>" and _load(out).config.eos_token_id == ours.special_tokens["<|end_of_text|>"]


def test_stage_configs_round_trip(tmp_path):
    from toksmith.config import from_dict, load_config, save_config, to_dict
    from toksmith.transfer.extend import ExtendConfig
    from toksmith.transfer.finetune import FinetuneConfig

    for cfg in (TransferConfig(model="smollm2", tokenizer=tmp_path / "t", out_dir=tmp_path / "o", method="mean"),
                ExtendConfig(tokenizer=tmp_path / "t", out_dir=tmp_path / "o", n_new=7),
                FinetuneConfig(model="m", out_dir=tmp_path / "r", steps=9, max_steps=3, freeze_body_steps=2)):
        assert from_dict(type(cfg), to_dict(cfg)) == cfg
        save_config(cfg, tmp_path / "c.toml")
        assert load_config(type(cfg), tmp_path / "c.toml") == cfg
