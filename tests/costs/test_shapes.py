"""Parameter counts against real transformers models built from the same configs, presets, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from toksmith.costs.model import nonembedding_params, total_params, vocab_params
from toksmith.costs.shapes import SHAPES, ModelShape, hf_config_dict, load_shape, shape_from_hf_config
from toksmith.errors import ToksmithError

TINY = {
    "llama-untied-mha": {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
                         "intermediate_size": 96, "vocab_size": 300, "max_position_embeddings": 128,
                         "tie_word_embeddings": False},
    "llama-tied-gqa": {"model_type": "llama", "num_hidden_layers": 3, "hidden_size": 48, "num_attention_heads": 6,
                       "num_key_value_heads": 2, "intermediate_size": 80, "vocab_size": 257,
                       "max_position_embeddings": 64, "tie_word_embeddings": True},
    "llama-bias-headdim": {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
                           "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 24,
                           "intermediate_size": 100, "vocab_size": 333, "max_position_embeddings": 64,
                           "attention_bias": True, "mlp_bias": True, "tie_word_embeddings": False},
    "mistral-gqa": {"model_type": "mistral", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 8,
                    "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 500,
                    "max_position_embeddings": 256},
    "qwen2-qkv-bias": {"model_type": "qwen2", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
                       "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 400,
                       "max_position_embeddings": 256, "tie_word_embeddings": True},
    "gpt2-tied": {"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 321, "n_positions": 96},
    "gpt2-untied-inner": {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "n_inner": 72,
                          "vocab_size": 200, "n_positions": 48, "tie_word_embeddings": False},
}


def _real_model(cfg: dict, device: str = "cpu"):
    cfg = dict(cfg)
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config)


@pytest.mark.parametrize("name", list(TINY))
def test_param_count_equals_real_model(name):
    model = _real_model(TINY[name])
    shape = shape_from_hf_config(TINY[name], name=name)
    assert total_params(shape) == sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    head = 0 if shape.tie_embeddings else model.get_output_embeddings().weight.numel()
    assert vocab_params(shape, shape.vocab_size) == emb + head


@pytest.mark.parametrize("name", list(TINY))
def test_config_json_round_trip(name, tmp_path):
    shape = shape_from_hf_config(TINY[name], name=name)
    (tmp_path / "config.json").write_text(json.dumps(hf_config_dict(shape)))
    again = load_shape(tmp_path)  # a model directory
    assert total_params(again) == total_params(shape)
    assert again.n_kv_heads == shape.n_kv_heads and again.tie_embeddings == shape.tie_embeddings


# Published parameter counts (model cards / sum of the released safetensors).
PUBLISHED = {"llama2-7b": 6_738_415_616, "llama2-13b": 13_015_864_320, "llama2-70b": 68_976_648_192,
             "llama3-8b": 8_030_261_248, "smollm2-135m": 134_515_008, "gpt2-xl": 1_557_611_200}


@pytest.mark.parametrize("name", list(SHAPES))
def test_presets_equal_real_transformers_models(name):
    """Each preset built as a real transformers model on the meta device (no memory) has our count."""
    shape = SHAPES[name]
    model = _real_model(hf_config_dict(shape), device="meta")
    assert total_params(shape) == sum(p.numel() for p in model.parameters())
    if name in PUBLISHED:
        assert total_params(shape) == PUBLISHED[name]


def test_known_values():
    # 2 * V * d for untied embeddings: d = 4096, V = 32,000
    assert vocab_params(SHAPES["llama2-7b"], 32_000) == 262_144_000
    # tied: V * d once (GPT-2 XL: 1600 * 32000)
    assert vocab_params(SHAPES["paper-1.5b"], 32_000) == 51_200_000
    # Llama 2 7B non-embedding: 32 layers * (4 * 4096^2 + 3 * 4096 * 11008 + 2 * 4096) + 4096
    assert nonembedding_params(SHAPES["llama2-7b"]) == 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 4096


def test_missing_field_is_named():
    cfg = dict(TINY["llama-tied-gqa"])
    del cfg["hidden_size"]
    with pytest.raises(ToksmithError, match="hidden_size"):
        shape_from_hf_config(cfg)
    cfg = dict(TINY["llama-tied-gqa"])
    del cfg["intermediate_size"]
    with pytest.raises(ToksmithError, match="intermediate_size"):
        shape_from_hf_config(cfg)
    with pytest.raises(ToksmithError, match="model_type"):
        shape_from_hf_config({"hidden_size": 4})


def test_bad_specs(tmp_path):
    with pytest.raises(ToksmithError, match="Did you mean: llama2-7b"):
        load_shape("llama2-7")
    with pytest.raises(ToksmithError, match="no config.json"):
        load_shape(tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ToksmithError, match="not valid JSON"):
        load_shape(tmp_path / "bad.json")
    with pytest.raises(ToksmithError, match="n_kv_heads"):
        ModelShape("x", 2, 64, 6, 4, 128, 100, True, 64)
