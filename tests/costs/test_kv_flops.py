"""KV-cache bytes against a real DynamicCache; FLOPs against torch's FlopCounterMode on a real model."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from toksmith.costs.model import flops_per_token, generation_flops, kv_cache_bytes, nonembedding_params
from toksmith.costs.shapes import ModelShape
from toksmith.costs.speed import build_model

GQA = ModelShape("tiny-gqa", n_layers=3, d_model=64, n_heads=8, n_kv_heads=2, d_ff=96, vocab_size=320,
                 tie_embeddings=False, n_ctx=128)
MHA_TIED = ModelShape("tiny-mha", n_layers=2, d_model=48, n_heads=4, n_kv_heads=4, d_ff=64, vocab_size=200,
                      tie_embeddings=True, n_ctx=128)
HEADDIM = ModelShape("tiny-headdim", n_layers=2, d_model=64, n_heads=4, n_kv_heads=1, d_ff=64, vocab_size=100,
                     tie_embeddings=False, n_ctx=64, head_dim=40)
GPT2 = ModelShape("tiny-gpt2", 2, 32, 4, 4, 128, 150, True, 64, arch="gpt2", qkv_bias=True, o_bias=True,
                  mlp_bias=True)


def _cache_bytes(cache) -> int:
    """Bytes of every key and value tensor a transformers 5.x DynamicCache holds (cache.layers[i].keys/values)."""
    return sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))


@pytest.mark.parametrize("shape", [GQA, MHA_TIED, HEADDIM, GPT2], ids=lambda s: s.name)
@pytest.mark.parametrize("dtype,name", [(torch.float32, "fp32"), (torch.bfloat16, "bf16")])
def test_kv_cache_bytes_equal_dynamic_cache(shape, dtype, name):
    model = build_model(shape, shape.vocab_size, "cpu", dtype)
    batch, T = 3, 17
    ids = torch.randint(0, shape.vocab_size, (batch, T))
    with torch.inference_mode():
        out = model(ids, use_cache=True)
    assert type(out.past_key_values).__name__ == "DynamicCache"
    assert _cache_bytes(out.past_key_values) == kv_cache_bytes(shape, batch, T, name)


def _counted(model, ids, **kw) -> int:
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        out = model(ids, **kw)
    return counter.get_total_flops(), out


@pytest.mark.parametrize("shape", [GQA, MHA_TIED], ids=lambda s: s.name)
def test_decode_step_flops_match_counter(shape):
    """One decoding step with P cached tokens: torch counts 2*(matmul params) + 2Vd + 4*L*(P+1)*d_attn.

    Our C_fwd uses Kaplan's 2*L*n_ctx*d_attn; torch counts Q.K^T and A.V (twice Kaplan), so we add one more
    Kaplan attention term; norms are parameters but not matmuls ((2L+1)*d of them, no biases here)."""
    model = build_model(shape, shape.vocab_size, "cpu", torch.float32, attn_implementation="eager")
    P = 20
    ids = torch.randint(0, shape.vocab_size, (1, P + 1))
    with torch.inference_mode():
        cache = model(ids[:, :P], use_cache=True).past_key_values
    counted, _ = _counted(model, ids[:, P:], cache=cache, use_cache=True)
    norms = (2 * shape.n_layers + 1) * shape.d_model
    ours = flops_per_token(shape, shape.vocab_size, P + 1) - 2 * norms
    kaplan_attention = 2 * shape.n_layers * (P + 1) * shape.d_attn
    assert counted == ours + kaplan_attention


def test_generation_flops_non_attention_part_matches_counter():
    """generate() = a prefill (logits of the last position only) + N-1 steps: check the matmul part exactly."""
    shape = GQA
    model = build_model(shape, shape.vocab_size, "cpu", torch.float32, attn_implementation="eager")
    P, N = 12, 5
    ids = torch.randint(0, shape.vocab_size, (1, P))
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, min_new_tokens=N,
                       max_new_tokens=N)
    norms = (2 * shape.n_layers + 1) * shape.d_model
    matmul = 2 * (nonembedding_params(shape) - norms)
    # eager attention multiplies the full q_len x kv_len matrices (the causal mask is added, not skipped) for
    # Q.K^T and A.V: prefill 4*L*P*P*d_attn, step k: 4*L*(P+k)*d_attn.
    att = 4 * shape.n_layers * shape.d_attn * (P * P + sum(P + k for k in range(1, N)))
    expected = P * matmul + (N - 1) * matmul + N * 2 * shape.vocab_size * shape.d_model + att
    assert counter.get_total_flops() == expected
    # our model counts the causal half of the prefill and Kaplan's single attention term: check the rest agrees
    ours = generation_flops(shape, shape.vocab_size, P, N)
    ours_att = 2 * shape.n_layers * shape.d_attn * (P * (P + 1) / 2 + (N - 1) * P + (N - 1) * N / 2)
    assert ours - ours_att == P * 2 * nonembedding_params(shape) + (N - 1) * 2 * nonembedding_params(shape) + \
        N * 2 * shape.vocab_size * shape.d_model
