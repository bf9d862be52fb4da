"""Transformer model shapes: the few numbers the vocabulary cost model needs.

A :class:`ModelShape` is layers, width, heads, KV heads (GQA), FFN size, tied or untied embeddings, context length
and the architecture family that decides the exact parameter count (``llama``: RMSNorm, gated SwiGLU FFN with three
matrices, rotary positions, optional q/k/v/o and MLP biases, covers Llama 1/2/3, Code Llama, Mistral, Qwen2,
SmolLM; ``gpt2``: LayerNorm with biases, two-matrix MLP with biases, learned position embeddings).

Shapes come from :data:`SHAPES` (named presets), a Hugging Face ``config.json`` (or a model directory holding one),
or are built directly. The presets copy the public ``config.json`` of each model (their totals equal the published
parameter counts, see tests/costs; the paper's 1.5B is the GPT-2 XL shape, docs/paper.md §7; paper §3).

Limits: no MoE, no sliding-window KV saving, no Gemma-style embedding scaling (it does not change the counts but
other families may add parameters this model does not know; :func:`shape_from_hf_config` then warns).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ToksmithError, unknown_name

log = logging.getLogger(__name__)

ARCHS = ("llama", "gpt2")

# HF model_type -> (arch, default of tie_word_embeddings when config.json omits it, q/k/v bias, o bias).
# The tie defaults are those of the transformers config classes (LlamaConfig etc.).
MODEL_TYPES: dict[str, tuple[str, bool, bool, bool]] = {
    "llama": ("llama", False, False, False),
    "mistral": ("llama", False, False, False),
    "qwen2": ("llama", False, True, False),
    "gpt2": ("gpt2", True, True, True),
}


@dataclass(frozen=True)
class ModelShape:
    """The architecture numbers of a decoder-only transformer (no weights)."""

    name: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int  # = n_heads for multi-head attention, fewer for GQA (Llama 2 70B: 8 of 64)
    d_ff: int  # FFN inner size (SwiGLU: the size of gate/up; GPT-2: 4*d_model)
    vocab_size: int  # the model's own V; the cost model prices other V with the same body
    tie_embeddings: bool  # True: the output head reuses the input embedding matrix (V*d once, not twice)
    n_ctx: int  # context window in tokens (max_position_embeddings)
    arch: str = "llama"  # "llama" | "gpt2": decides the exact count of norms, biases, position embeddings
    head_dim: int = 0  # 0 means d_model // n_heads
    qkv_bias: bool = False  # Qwen2 and GPT-2 have q/k/v biases; Llama does not
    o_bias: bool = False
    mlp_bias: bool = False  # GPT-2 has MLP biases; Llama's mlp_bias defaults to False

    def __post_init__(self) -> None:
        for f in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_ff", "vocab_size", "n_ctx"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ToksmithError(f"ModelShape {self.name!r}: {f} must be a positive integer, got {v!r}")
        if self.arch not in ARCHS:
            raise unknown_name("architecture", self.arch, ARCHS)
        if self.n_heads % self.n_kv_heads:
            raise ToksmithError(
                f"ModelShape {self.name!r}: n_heads={self.n_heads} is not a multiple of n_kv_heads={self.n_kv_heads}"
            )
        if self.head_dim < 0 or (self.head_dim == 0 and self.d_model % self.n_heads):
            raise ToksmithError(
                f"ModelShape {self.name!r}: d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                "give head_dim explicitly"
            )
        if self.arch == "gpt2" and self.n_kv_heads != self.n_heads:
            raise ToksmithError(f"ModelShape {self.name!r}: GPT-2 has no GQA; n_kv_heads must equal n_heads")

    @property
    def d_head(self) -> int:
        """Per-head width: ``head_dim`` if given, else ``d_model // n_heads``."""
        return self.head_dim or self.d_model // self.n_heads

    @property
    def d_attn(self) -> int:
        """Width of the concatenated query heads, ``n_heads * d_head`` (Kaplan's d_attn)."""
        return self.n_heads * self.d_head

    def with_vocab(self, vocab_size: int) -> ModelShape:
        return replace(self, vocab_size=int(vocab_size))


def _llama(name: str, L: int, d: int, h: int, kv: int, ff: int, V: int, tie: bool, ctx: int) -> ModelShape:
    return ModelShape(name, L, d, h, kv, ff, V, tie, ctx, arch="llama")


# Named presets, one source of truth (copied from each model's published config.json).
SHAPES: dict[str, ModelShape] = {
    # The paper's 1.5B models use the GPT-2 XL architecture (docs/paper.md §7; paper §3), with the Llama tokenizer (V=32k).
    "paper-1.5b": ModelShape("paper-1.5b", 48, 1600, 25, 25, 6400, 32000, True, 1024, arch="gpt2",
                             qkv_bias=True, o_bias=True, mlp_bias=True),
    "gpt2-xl": ModelShape("gpt2-xl", 48, 1600, 25, 25, 6400, 50257, True, 1024, arch="gpt2",
                          qkv_bias=True, o_bias=True, mlp_bias=True),
    "llama2-7b": _llama("llama2-7b", 32, 4096, 32, 32, 11008, 32000, False, 4096),
    "llama2-13b": _llama("llama2-13b", 40, 5120, 40, 40, 13824, 32000, False, 4096),
    "llama2-70b": _llama("llama2-70b", 80, 8192, 64, 8, 28672, 32000, False, 4096),
    "codellama-7b": _llama("codellama-7b", 32, 4096, 32, 32, 11008, 32016, False, 16384),
    "llama3-8b": _llama("llama3-8b", 32, 4096, 32, 8, 14336, 128256, False, 8192),
    "smollm2-135m": _llama("smollm2-135m", 30, 576, 9, 3, 1536, 49152, True, 8192),
}

# field -> accepted config.json keys, in order of preference (Llama-style first, then GPT-2 style).
_KEYS = {
    "n_layers": ("num_hidden_layers", "n_layer"),
    "d_model": ("hidden_size", "n_embd"),
    "n_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
    "n_ctx": ("max_position_embeddings", "n_positions", "n_ctx"),
}


def _get(cfg: dict[str, Any], field: str, source: str) -> Any:
    for key in _KEYS[field]:
        if cfg.get(key) is not None:
            return cfg[key]
    keys = " or ".join(repr(k) for k in _KEYS[field])
    raise ToksmithError(
        f"model config {source} has no {keys} (needed for {field}); add it to the config or use a preset "
        f"(known: {', '.join(SHAPES)})"
    )


def shape_from_hf_config(cfg: dict[str, Any], name: str | None = None, source: str = "<dict>") -> ModelShape:
    """Read a Hugging Face ``config.json`` (as a dict) into a :class:`ModelShape`.

    >>> s = shape_from_hf_config({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
    ...     "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 1000,
    ...     "max_position_embeddings": 256})
    >>> (s.n_layers, s.d_model, s.n_kv_heads, s.tie_embeddings)
    (2, 64, 2, False)
    """
    if not isinstance(cfg, dict):
        raise ToksmithError(f"model config {source} is not a JSON object")
    model_type = cfg.get("model_type")
    if model_type is None:
        raise ToksmithError(f"model config {source} has no 'model_type'; known: {', '.join(MODEL_TYPES)}")
    if model_type not in MODEL_TYPES:
        log.warning("model_type %r is not one of %s; counting it as a Llama-like model (counts may be off)",
                    model_type, ", ".join(MODEL_TYPES))
    arch, tie_default, qkv_b, o_b = MODEL_TYPES.get(model_type, ("llama", False, False, False))
    n_heads = int(_get(cfg, "n_heads", source))
    d_model = int(_get(cfg, "d_model", source))
    if arch == "gpt2":
        d_ff = cfg.get("n_inner") or 4 * d_model
        n_kv = n_heads
        mlp_b = True
    else:
        if cfg.get("intermediate_size") is None:
            raise ToksmithError(f"model config {source} has no 'intermediate_size' (needed for d_ff)")
        d_ff = cfg["intermediate_size"]
        n_kv = cfg.get("num_key_value_heads") or n_heads
        if cfg.get("attention_bias"):
            qkv_b = o_b = True
        mlp_b = bool(cfg.get("mlp_bias", False))
    tie = cfg.get("tie_word_embeddings")
    return ModelShape(
        name=name or cfg.get("_name_or_path") or model_type,
        n_layers=int(_get(cfg, "n_layers", source)),
        d_model=d_model,
        n_heads=n_heads,
        n_kv_heads=int(n_kv),
        d_ff=int(d_ff),
        vocab_size=int(_get(cfg, "vocab_size", source)),
        tie_embeddings=tie_default if tie is None else bool(tie),
        n_ctx=int(_get(cfg, "n_ctx", source)),
        arch=arch,
        head_dim=int(cfg.get("head_dim") or 0),
        qkv_bias=qkv_b,
        o_bias=o_b,
        mlp_bias=mlp_b,
    )


def load_shape(spec: str | Path | ModelShape) -> ModelShape:
    """A preset name, a path to a ``config.json``, or a model directory holding one -> :class:`ModelShape`."""
    if isinstance(spec, ModelShape):
        return spec
    key = str(spec)
    if key in SHAPES:
        return SHAPES[key]
    path = Path(key)
    if path.is_dir():
        path = path / "config.json"
        if not path.is_file():
            raise ToksmithError(f"model directory {spec} has no config.json")
    if not path.is_file():
        if path.suffix == ".json" or "/" in key:
            raise ToksmithError(f"model config {spec} does not exist")
        raise unknown_name("model shape", key, SHAPES, hint="Or pass a config.json path or a model directory")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ToksmithError(f"model config {path} is not valid JSON: {e}") from None
    name = path.parent.name if path.name == "config.json" else path.stem
    return shape_from_hf_config(cfg, name=name, source=str(path))


def hf_config_dict(shape: ModelShape, vocab_size: int | None = None) -> dict[str, Any]:
    """The ``config.json`` dict of a transformers model with this shape (the inverse of :func:`shape_from_hf_config`).

    Used to build real random-weight models for measurements and to check the parameter counts.
    """
    V = int(vocab_size or shape.vocab_size)
    if shape.arch == "gpt2":
        return {"model_type": "gpt2", "n_layer": shape.n_layers, "n_embd": shape.d_model, "n_head": shape.n_heads,
                "n_inner": shape.d_ff, "vocab_size": V, "n_positions": shape.n_ctx,
                "tie_word_embeddings": shape.tie_embeddings}
    if shape.qkv_bias and not shape.o_bias and not shape.mlp_bias:
        model_type, extra = "qwen2", {}
    else:
        if shape.qkv_bias != shape.o_bias:
            raise ToksmithError(f"shape {shape.name}: transformers' Llama has one attention_bias for q/k/v/o")
        model_type, extra = "llama", {"attention_bias": shape.qkv_bias, "mlp_bias": shape.mlp_bias}
    return {"model_type": model_type, "num_hidden_layers": shape.n_layers, "hidden_size": shape.d_model,
            "num_attention_heads": shape.n_heads, "num_key_value_heads": shape.n_kv_heads,
            "intermediate_size": shape.d_ff, "vocab_size": V, "max_position_embeddings": shape.n_ctx,
            "tie_word_embeddings": shape.tie_embeddings, "head_dim": shape.d_head, **extra}
