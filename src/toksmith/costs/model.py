"""The vocabulary cost model: what a vocabulary of size V costs and saves for a given model shape.

Pure functions of a :class:`~toksmith.costs.shapes.ModelShape`, a vocabulary size V (a number or a numpy array) and,
where text enters, a :class:`~toksmith.costs.nsl.Compression` (NSL(V) and the baseline's bytes/token). Each
docstring gives its formula and a worked example. Notation: L layers, d = d_model, h heads, h_kv KV heads, d_h head
width, d_attn = h*d_h, f = FFN size, V vocabulary, B batch, T tokens, NSL(V) tokens relative to the baseline.

References: Kaplan et al. 2020 "Scaling laws for neural language models", Table 1 (forward FLOPs
``2N + 2 L n_ctx d_attn``, with N the non-embedding parameters) extended with the output head ``2 V d`` as in
docs/paper.md §6; KV cache as held by transformers' ``DynamicCache``.

Assumptions and limits (also in docs/costs.md): FLOPs count matrix multiplies only (norms, softmax, rotary and
the embedding lookup are free); Kaplan's attention term counts Q.K^T once (2 L n_ctx d_attn) as in the brief;
the true QK^T + AV cost is twice that. Time is taken proportional to FLOPs (compute-bound) unless the
memory-bound variant is asked for. KV cache and logits are dense with no paging or quantization overheads.
"""

from __future__ import annotations

import numpy as np

from ..errors import unknown_name
from .nsl import Compression
from .shapes import ModelShape

DTYPE_BYTES: dict[str, float] = {"fp32": 4, "float32": 4, "tf32": 4, "bf16": 2, "bfloat16": 2, "fp16": 2,
                                 "float16": 2, "fp8": 1, "int8": 1, "int4": 0.5}


def dtype_bytes(dtype: str) -> float:
    """Bytes per element of a dtype name (``bf16`` -> 2, ``int4`` -> 0.5)."""
    if dtype not in DTYPE_BYTES:
        raise unknown_name("dtype", dtype, DTYPE_BYTES)
    return DTYPE_BYTES[dtype]


def layer_params(s: ModelShape) -> int:
    """Parameters of one transformer block.

    llama: ``d*d_attn + 2*d*h_kv*d_h + d_attn*d`` (q, k, v, o) ``+ 3*d*f`` (gate, up, down) ``+ 2d`` (two RMSNorms),
    plus biases when present (q/k/v: ``d_attn + 2 h_kv d_h``; o: ``d``; MLP: ``2f + d``).
    gpt2: ``d*3d + 3d + d*d + d`` (c_attn, c_proj) ``+ d*f + f + f*d + d`` (MLP) ``+ 4d`` (two LayerNorms).

    >>> from toksmith.costs.shapes import SHAPES
    >>> layer_params(SHAPES["llama2-7b"])   # 4*4096^2 + 3*4096*11008 + 2*4096
    202383360
    """
    d, f = s.d_model, s.d_ff
    if s.arch == "gpt2":
        return (d * 3 * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 4 * d
    kv = s.n_kv_heads * s.d_head
    attn = d * s.d_attn + 2 * d * kv + s.d_attn * d
    attn += (s.d_attn + 2 * kv) * s.qkv_bias + d * s.o_bias
    mlp = 3 * d * f + (2 * f + d) * s.mlp_bias
    return attn + mlp + 2 * d


def nonembedding_params(s: ModelShape) -> int:
    """Kaplan's N: all parameters but the token embedding, the output head and position embeddings.

    ``L * layer_params + final norm`` (``d`` for RMSNorm, ``2d`` for LayerNorm).

    >>> from toksmith.costs.shapes import SHAPES
    >>> nonembedding_params(SHAPES["llama2-7b"])   # 32*202383360 + 4096
    6476271616
    """
    return s.n_layers * layer_params(s) + (2 if s.arch == "gpt2" else 1) * s.d_model


def position_params(s: ModelShape) -> int:
    """Learned position embeddings: ``n_ctx * d`` for GPT-2, 0 for rotary models."""
    return s.n_ctx * s.d_model if s.arch == "gpt2" else 0


def vocab_params(s: ModelShape, vocab_size):
    """Parameters that scale with V: ``V*d`` tied, ``2*V*d`` untied (input embedding + output head).

    >>> from toksmith.costs.shapes import SHAPES
    >>> vocab_params(SHAPES["llama2-7b"], 32_000)   # 2 * 32000 * 4096
    262144000
    """
    return vocab_size * s.d_model * (1 if s.tie_embeddings else 2)


def total_params(s: ModelShape, vocab_size=None):
    """``N + position_params + vocab_params(V)`` = ``sum(p.numel())`` of the transformers model.

    >>> from toksmith.costs.shapes import SHAPES
    >>> total_params(SHAPES["llama2-7b"])   # Llama 2 7B: 6.74B
    6738415616
    """
    V = s.vocab_size if vocab_size is None else vocab_size
    return nonembedding_params(s) + position_params(s) + vocab_params(s, V)


def vocab_share(s: ModelShape, vocab_size):
    """Share of all parameters that are embedding/head: ``vocab_params(V) / total_params(V)``."""
    return vocab_params(s, vocab_size) / total_params(s, vocab_size)


def weight_bytes(s: ModelShape, vocab_size, dtype: str = "bf16"):
    """Weight memory: ``total_params(V) * bytes(dtype)`` (Llama 2 7B in bf16: 13.48 GB)."""
    return total_params(s, vocab_size) * dtype_bytes(dtype)


def kv_cache_bytes(s: ModelShape, batch, n_tokens, dtype: str = "bf16"):
    """KV cache: ``2 * L * B * h_kv * d_h * T * bytes(dtype)`` (a key and a value vector per layer and token).

    >>> from toksmith.costs.shapes import SHAPES
    >>> kv_cache_bytes(SHAPES["llama2-7b"], 1, 1000)   # 2*32*1*32*128*1000*2 bytes = 0.52 GB
    524288000
    """
    return 2 * s.n_layers * batch * s.n_kv_heads * s.d_head * n_tokens * dtype_bytes(dtype)


def logits_bytes(batch, n_positions, vocab_size, dtype: str = "fp32"):
    """Logits tensor: ``B * T * V * bytes(dtype)``; T = 1 per decoding step, T = sequence length when a forward
    pass (training, scoring) keeps all positions. Example: B=1, T=4096, V=128k, fp32: 2.1 GB."""
    return batch * n_positions * vocab_size * dtype_bytes(dtype)


def flops_per_token(s: ModelShape, vocab_size, n_ctx):
    """Forward FLOPs per token (Kaplan et al. 2020 with the output head):

    ``C_fwd = 2*N + 2*V*d + 2*L*n_ctx*d_attn``, where N = :func:`nonembedding_params` and n_ctx is the number of
    tokens the token attends to (during generation: the average context, prompt + new/2).

    >>> from toksmith.costs.shapes import SHAPES
    >>> round(flops_per_token(SHAPES["llama2-7b"], 32_000, 4096) / 1e9, 3)   # 12.953 + 0.262 + 1.074 GFLOPs
    14.288
    """
    return 2 * nonembedding_params(s) + 2 * vocab_size * s.d_model + 2 * s.n_layers * n_ctx * s.d_attn


def context_tokens(comp: Compression, vocab_size, n_ctx_ref, fixed_context: bool = False):
    """Attention context in tokens of a V-token vocabulary for a context of ``n_ctx_ref`` baseline tokens of text:
    ``NSL(V) * n_ctx_ref`` (the same text is fewer tokens), or ``n_ctx_ref`` with ``fixed_context``."""
    if fixed_context:
        return n_ctx_ref + 0 * np.asarray(vocab_size, dtype=float)  # same shape as V
    return comp.curve(vocab_size) * n_ctx_ref


def flops_per_byte(s: ModelShape, vocab_size, comp: Compression, n_ctx_ref, fixed_context: bool = False):
    """Forward FLOPs per byte of generated text: ``C_fwd(V, n_ctx(V)) * NSL(V) / bpt_ref``.

    n_ctx(V) is :func:`context_tokens`. Example: Llama 2 7B shape, paper curve, V = 32k, n_ctx_ref = 4096,
    bpt_ref = 3.58: NSL = 0.816, C_fwd = 14.09 GFLOPs, so 3.21 GFLOPs per byte.
    """
    ctx = context_tokens(comp, vocab_size, n_ctx_ref, fixed_context)
    return flops_per_token(s, vocab_size, ctx) * comp.tokens_per_byte(vocab_size)


def effective_context_bytes(s: ModelShape, vocab_size, comp: Compression, n_ctx: int | None = None):
    """Bytes of text that fit in the context window: ``n_ctx * bpt_ref / NSL(V)``.

    Example: 4096 tokens at NSL 0.75 with bpt_ref 3.58: 19.6 kB (Llama 2 itself: 14.7 kB).
    """
    return (n_ctx or s.n_ctx) * comp.baseline_bytes_per_token / comp.curve(vocab_size)


def relative_speed(s: ModelShape, vocab_size, comp: Compression, n_ctx_ref, fixed_context: bool = False):
    """Expected generation speed in bytes/s relative to the baseline tokenizer (V0 = ``comp.baseline_vocab``,
    NSL = 1), taking time per token proportional to forward FLOPs (compute-bound):

    ``speed(V) / speed(base) = C_fwd(V0, n_ctx_ref) / (C_fwd(V, n_ctx(V)) * NSL(V))``.
    """
    base = flops_per_token(s, comp.baseline_vocab, n_ctx_ref)
    ctx = context_tokens(comp, vocab_size, n_ctx_ref, fixed_context)
    return base / (flops_per_token(s, vocab_size, ctx) * comp.curve(vocab_size))


def decode_bytes_read(s: ModelShape, vocab_size, batch, ctx_tokens, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Memory traffic of one decoding step (the memory-bound regime of small-batch GPU decoding):
    every weight but the input-embedding table is read once (``(N + V*d) * bytes``; only B rows of the input
    table are gathered, ignored) plus the whole KV cache (:func:`kv_cache_bytes` at ``ctx_tokens``)."""
    w = (nonembedding_params(s) + vocab_size * s.d_model) * dtype_bytes(dtype)
    return w + kv_cache_bytes(s, batch, ctx_tokens, kv_dtype)


def relative_speed_memory_bound(s: ModelShape, vocab_size, comp: Compression, batch, n_ctx_ref,
                                dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Bytes/s relative to the baseline when time per step is proportional to :func:`decode_bytes_read`:

    ``read(V0, n_ctx_ref) / (read(V, NSL(V) * n_ctx_ref) * NSL(V))`` (B tokens per step in both).
    """
    base = decode_bytes_read(s, comp.baseline_vocab, batch, n_ctx_ref, dtype, kv_dtype)
    nsl = comp.curve(vocab_size)
    return base / (decode_bytes_read(s, vocab_size, batch, nsl * n_ctx_ref, dtype, kv_dtype) * nsl)


def inference_memory_bytes(s: ModelShape, vocab_size, comp: Compression, batch, seq_ref_tokens,
                           dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Weights plus a full KV cache for B sequences of ``seq_ref_tokens`` baseline tokens of text:

    ``M(V) = total_params(V) * bytes(dtype) + kv_cache_bytes(B, NSL(V) * seq_ref_tokens)``.
    """
    return weight_bytes(s, vocab_size, dtype) + kv_cache_bytes(s, batch, comp.curve(vocab_size) * seq_ref_tokens,
                                                               kv_dtype)


def generation_flops(s: ModelShape, vocab_size, prompt_tokens: int, new_tokens: int):
    """FLOPs of ``generate`` with a prompt of P tokens and N new tokens, as transformers runs it (the prefill
    computes logits for the last position only, then N-1 one-token steps):

    ``P*(2N_ne) + 2*L*d_attn*P*(P+1)/2 + 2Vd`` (prefill: position i attends to i tokens)
    ``+ sum_{k=1}^{N-1} C_fwd(V, P+k)`` (step k feeds the k-th new token, which attends to P + k tokens), i.e.
    ``(N-1)*(2N_ne + 2Vd) + 2*L*d_attn*((N-1)*P + (N-1)*N/2)``.
    """
    n_ne, att = 2 * nonembedding_params(s), 2 * s.n_layers * s.d_attn
    prefill = prompt_tokens * n_ne + att * prompt_tokens * (prompt_tokens + 1) / 2 + 2 * vocab_size * s.d_model
    steps = new_tokens - 1
    ctx_sum = steps * prompt_tokens + steps * new_tokens / 2  # sum_{k=1}^{N-1} (P + k)
    decode = steps * (n_ne + 2 * vocab_size * s.d_model) + att * ctx_sum
    return prefill + decode
