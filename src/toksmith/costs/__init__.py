"""Vocabulary-size economics: what a vocabulary of size V costs and saves for a model (docs/paper.md §6).

* :mod:`.shapes`: model shapes (presets, Hugging Face config.json).
* :mod:`.nsl`: compression curves NSL(V) and bytes/token.
* :mod:`.model`: pure cost functions (parameters, memory, KV cache, FLOPs per token and per byte, speed).
* :mod:`.optimal`: inference- and memory-optimal V, tables and plots (``toksmith cost``).
* :mod:`.speed`: measured generation speed of a real transformers model (``toksmith speed``; imports torch lazily).

Formulas and assumptions: ``docs/costs.md``. Importing this package loads numpy only.
"""

from .model import (
    flops_per_byte, flops_per_token, inference_memory_bytes, kv_cache_bytes, logits_bytes, nonembedding_params,
    relative_speed, total_params, vocab_params, weight_bytes,
)
from .nsl import Compression, NSLCurve, fit_exp, load_curve, paper_code_curve
from .shapes import SHAPES, ModelShape, load_shape, shape_from_hf_config

__all__ = [
    "SHAPES", "Compression", "ModelShape", "NSLCurve", "fit_exp", "flops_per_byte", "flops_per_token",
    "inference_memory_bytes", "kv_cache_bytes", "load_curve", "load_shape", "logits_bytes", "nonembedding_params",
    "paper_code_curve", "relative_speed", "shape_from_hf_config", "total_params", "vocab_params", "weight_bytes",
]
