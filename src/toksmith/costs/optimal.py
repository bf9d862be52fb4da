"""Inference-optimal and memory-optimal vocabulary sizes, and the plots that show how they move.

* Inference-optimal: ``V*_inf = argmin_V C_fwd(V, n_ctx(V)) * NSL(V)`` (forward FLOPs per byte of generated text,
  :func:`toksmith.costs.model.flops_per_byte`; the constant 1/bpt_ref does not move the optimum).
* Memory-optimal: ``V*_mem = argmin_V total_params(V) * bytes(dtype) + KV(B, NSL(V) * S_ref)`` (weights plus a full
  KV cache of B sequences of S_ref baseline tokens of text, :func:`toksmith.costs.model.inference_memory_bytes`).
  For a fitted curve ``a + b exp(-V/c)`` this has a closed form, :func:`memory_optimal_v_closed_form`:
  ``V* = c * ln(K b / (c w))`` with w the bytes per vocabulary entry and K the KV bytes of the whole batch per
  baseline token times S_ref; ``V*`` is the search's lower bound when ``K b <= c w``.

Both are found by a dense search (1,500 log-spaced V) between ``v_min`` and ``v_max`` (default 8k..512k, cut to
the NSL curve's domain); an optimum on a bound is flagged (``at_bound``) and printed as "<=" or ">=".
References: docs/paper.md §6 (formulas reconstructed there; its illustration is our sanity check).
Limits: the optimum is only as good as NSL(V) outside the range it was measured on (10k..256k for the default).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .model import dtype_bytes, flops_per_byte, inference_memory_bytes, kv_cache_bytes
from .nsl import Compression
from .shapes import SHAPES, ModelShape

log = logging.getLogger(__name__)

V_MIN, V_MAX = 8_000, 512_000


@dataclass(frozen=True)
class Optimum:
    """The best V on the searched range and the objective there (FLOPs per byte, or bytes of memory)."""

    vocab_size: int
    value: float
    at_bound: str = ""  # "" | "lower" | "upper": the optimum sits on the searched range's edge

    def label(self) -> str:
        """``'96k'``, ``'≤8k'`` or ``'≥512k'`` (on a bound of the search range)."""
        k = f"{self.vocab_size / 1000:.0f}k"
        return {"lower": "≤", "upper": "≥"}.get(self.at_bound, "") + k

    def eq(self) -> str:
        """``'V* = 96k'`` or ``'V* ≤ 8k'`` for legends."""
        return f"V* {'=' if not self.at_bound else self.label()[0]} {self.label().lstrip('≤≥')}"


def search_grid(comp: Compression, v_min: float = V_MIN, v_max: float = V_MAX, n: int = 1500) -> np.ndarray:
    """Log-spaced V between ``max(v_min, domain lo)`` and ``min(v_max, domain hi)``."""
    lo, hi = comp.curve.domain
    return np.geomspace(max(v_min, lo), min(v_max, hi), n)


def _argmin(grid: np.ndarray, values: np.ndarray) -> Optimum:
    i = int(np.argmin(values))
    bound = "lower" if i == 0 else "upper" if i == len(grid) - 1 else ""
    return Optimum(int(round(grid[i])), float(values[i]), bound)


def inference_optimal_v(s: ModelShape, comp: Compression, n_ctx_ref: float = 4096, fixed_context: bool = False,
                        v_min: float = V_MIN, v_max: float = V_MAX) -> Optimum:
    """``argmin_V flops_per_byte(V)``; value in FLOPs per byte.

    Example (paper curve, n_ctx 4096 baseline tokens scaled by NSL): Llama 2 7B shape -> 103k, 70B -> 165k.
    """
    grid = search_grid(comp, v_min, v_max)
    return _argmin(grid, flops_per_byte(s, grid, comp, n_ctx_ref, fixed_context))


def memory_optimal_v(s: ModelShape, comp: Compression, batch: int, seq_ref_tokens: float, dtype: str = "bf16",
                     kv_dtype: str = "bf16", v_min: float = V_MIN, v_max: float = V_MAX) -> Optimum:
    """``argmin_V inference_memory_bytes(V)``; value in bytes."""
    grid = search_grid(comp, v_min, v_max)
    return _argmin(grid, inference_memory_bytes(s, grid, comp, batch, seq_ref_tokens, dtype, kv_dtype))


def memory_optimal_v_closed_form(s: ModelShape, comp: Compression, batch: int, seq_ref_tokens: float,
                                 dtype: str = "bf16", kv_dtype: str = "bf16", v_min: float = V_MIN) -> float:
    """Closed form for a fitted curve: ``V* = c ln(K b / (c w))``, ``w = d (1|2) bytes(dtype)``,
    ``K = kv_cache_bytes(B, S_ref)`` (from ``dM/dV = w - K (b/c) exp(-V/c) = 0``); ``v_min`` when ``K b <= c w``.

    Example: Llama 2 7B, bf16, B = 64, S_ref = 1000: w = 16,384 B, K = 33.6 GB, V* = 39k * ln(11.2) = 94k.
    """
    curve = comp.curve
    if curve.kind != "fit":
        raise ValueError("the closed form needs a fitted NSL curve (a, b, c)")
    w = s.d_model * (1 if s.tie_embeddings else 2) * dtype_bytes(dtype)
    K = kv_cache_bytes(s, batch, seq_ref_tokens, kv_dtype)
    ratio = K * curve.b / (curve.c * w)
    return max(float(v_min), curve.c * math.log(ratio)) if ratio > 1 else float(v_min)


def llama_family(d_models=(512, 768, 1024, 1536, 2048, 3072, 4096, 5120, 6144, 8192, 12288, 16384)) -> list[ModelShape]:
    """A smooth family of Llama-like shapes for trend plots: L = d/128 (min 8), h = d/128, MHA, f = 8d/3 rounded
    to 256, untied, V = 32k. (Llama 2 7B is d = 4096 -> 32 layers, f = 11008 in the real model.)"""
    out = []
    for d in d_models:
        f = int(math.ceil(8 * d / 3 / 256) * 256)
        L = max(8, d // 128)
        out.append(ModelShape(f"llama-d{d}", L, d, d // 128, d // 128, f, 32_000, False, 4096))
    return out


def _distinct(shapes: list[ModelShape]) -> list[ModelShape]:
    """Shapes with the same body (layers, widths, heads, FFN, tie) drawn once, named "a = b"."""
    out: dict[tuple, ModelShape] = {}
    for s in shapes:
        key = (s.arch, s.n_layers, s.d_model, s.n_heads, s.n_kv_heads, s.d_ff, s.tie_embeddings)
        out[key] = replace(out[key], name=f"{out[key].name} = {s.name}") if key in out else s
    return list(out.values())


def _shade_extrapolated(ax, comp: Compression, grid: np.ndarray) -> None:
    """Grey out V outside the range the fitted NSL curve was measured on."""
    if comp.curve.kind != "fit":
        return
    lo, hi = comp.curve.fit_range
    kw = {"color": "0.85", "alpha": 0.5, "lw": 0}
    if grid[0] < lo:
        ax.axvspan(grid[0], lo, **kw, label="NSL extrapolated")
    if grid[-1] > hi:
        ax.axvspan(hi, grid[-1], **kw, label=None if grid[0] < lo else "NSL extrapolated")


def _vticks(ax, grid: np.ndarray) -> None:
    """Powers-of-two-times-1000 V ticks (8k, 16k, ..., 512k) inside the plotted range; for a narrow range (fewer
    than three of those inside) four log-spaced ticks rounded to two significant digits, ends included."""
    ticks = [t for t in 1000 * 2.0 ** np.arange(1, 11) if grid[0] * 0.999 <= t <= grid[-1] * 1.001]
    if len(ticks) < 3:
        ticks = sorted({float(f"{t:.2g}") for t in np.geomspace(grid[0], grid[-1], 4)[1:-1]} | {grid[0], grid[-1]})
    ax.set_xticks(ticks)


def _vlabel(grid: np.ndarray) -> str:
    """The V axis label, with the range the optimum was searched in."""
    return f"vocabulary size V (log scale; optimum searched in {grid[0] / 1000:.4g}k..{grid[-1] / 1000:.4g}k)"


def _kfmt(ax, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fmt = FuncFormatter(lambda v, _: f"{v / 1000:g}k")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(fmt)
    target.set_minor_formatter(NullFormatter())


def plot_cost_curves(shapes: list[ModelShape], comp: Compression, path: str | Path, n_ctx_ref: float = 4096,
                     fixed_context: bool = False, memory_model: str = "llama2-7b", batches=(1, 8, 64),
                     seq_ref_tokens: float = 4096, dtype: str = "bf16", kv_dtype: str = "bf16",
                     v_min: float = V_MIN, v_max: float = V_MAX) -> Path:
    """Left: FLOPs per byte vs V for each shape, relative to its own minimum (dot = inference optimum). Right:
    weights + KV memory vs V for ``memory_model`` at several batch sizes, relative to each one's minimum."""
    from ..artifacts import pyplot, save_figure

    plt = pyplot()
    grid = search_grid(comp, v_min, v_max)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    for s in _distinct(shapes):
        y = flops_per_byte(s, grid, comp, n_ctx_ref, fixed_context)
        opt = inference_optimal_v(s, comp, n_ctx_ref, fixed_context, v_min, v_max)
        (line,) = ax1.plot(grid, y / y.min(), label=f"{s.name} ({opt.eq()})")
        ax1.plot([opt.vocab_size], [1.0], "o", color=line.get_color())
    ax1.set_xscale("log")
    ax1.set_xlabel(_vlabel(grid))
    ax1.set_ylabel("forward FLOPs per byte of text / minimum")
    ctx = "fixed" if fixed_context else "scaled by NSL"
    ax1.set_title(f"Inference cost per byte (n_ctx = {n_ctx_ref:g} baseline tokens, {ctx})")
    ax1.set_ylim(0.99, min(1.25, ax1.get_ylim()[1]))
    _shade_extrapolated(ax1, comp, grid)
    _vticks(ax1, grid)
    _kfmt(ax1)
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    mshape = next((s for s in shapes if s.name == memory_model), SHAPES.get(memory_model, shapes[0]))
    for b in batches:
        y = inference_memory_bytes(mshape, grid, comp, b, seq_ref_tokens, dtype, kv_dtype)
        opt = memory_optimal_v(mshape, comp, b, seq_ref_tokens, dtype, kv_dtype, v_min, v_max)
        (line,) = ax2.plot(grid, y / opt.value, label=f"batch {b}: {opt.eq()}, minimum {opt.value / 1e9:.1f} GB")
        ax2.plot([opt.vocab_size], [1.0], "o", color=line.get_color())
    ax2.set_xscale("log")
    ax2.set_xlabel(_vlabel(grid))
    ax2.set_ylabel(f"weights ({dtype}) + KV cache ({kv_dtype}) / minimum")
    ax2.set_title(f"Memory of {mshape.name}, {seq_ref_tokens:g} baseline tokens per sequence")
    _shade_extrapolated(ax2, comp, grid)
    _vticks(ax2, grid)
    _kfmt(ax2)
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle(f"NSL(V): {comp.curve.source}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def plot_optimum_trends(shapes: list[ModelShape], comp: Compression, path: str | Path, n_ctx_ref: float = 4096,
                        memory_model: str = "llama2-7b", dtype: str = "bf16", kv_dtype: str = "bf16",
                        batches=(1, 4, 16, 64, 256), seqs=(1_000, 4_000, 16_000, 100_000),
                        v_min: float = V_MIN, v_max: float = V_MAX) -> Path:
    """Three panels: inference-optimal V vs non-embedding parameters (presets + a Llama-like family, for two
    context lengths); memory-optimal V vs batch (one line per sequence length); memory-optimal V vs sequence
    length (one line per batch). Hollow markers: the optimum sits on the searched range's edge."""
    from ..artifacts import pyplot, save_figure
    from .model import nonembedding_params

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    ax = axes[0]
    fam = llama_family()
    for ctx, style in ((n_ctx_ref, "-"), (4 * n_ctx_ref, "--")):
        xs = [nonembedding_params(s) for s in fam]
        ys = [inference_optimal_v(s, comp, ctx, False, v_min, v_max).vocab_size for s in fam]
        ax.plot(xs, ys, style, color="gray", label=f"Llama-like family (L = d/128, MHA), n_ctx {ctx:g}")
    for s in sorted(_distinct(shapes), key=nonembedding_params):
        o = inference_optimal_v(s, comp, n_ctx_ref, False, v_min, v_max)
        x = nonembedding_params(s)
        ax.plot([x], [o.vocab_size], "o", mfc="none" if o.at_bound else None, ms=7, label=f"{s.name} ({o.eq()})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _kfmt(ax, "y")
    ax.set_xlabel("non-embedding parameters N (log scale)")
    ax.set_ylabel("inference-optimal V (log scale)")
    ax.set_title(f"Inference optimum vs model size (dots: presets, n_ctx {n_ctx_ref:g})", fontsize=10)
    ax.legend(fontsize=7)
    m = next((s for s in shapes if s.name == memory_model), SHAPES.get(memory_model, shapes[0]))
    bgrid = np.unique(np.geomspace(1, max(batches), 30).round().astype(int))
    for seq in seqs:
        ys = [memory_optimal_v(m, comp, int(b), seq, dtype, kv_dtype, v_min, v_max) for b in bgrid]
        axes[1].plot(bgrid, [o.vocab_size for o in ys], label=f"seq {seq / 1000:g}k baseline tokens")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("batch size (log scale)")
    axes[1].set_title(f"Memory optimum of {m.name} vs batch")
    sgrid = np.geomspace(min(seqs) / 2, max(seqs) * 2, 40)
    for b in batches:
        ys = [memory_optimal_v(m, comp, b, seq, dtype, kv_dtype, v_min, v_max) for seq in sgrid]
        axes[2].plot(sgrid, [o.vocab_size for o in ys], label=f"batch {b}")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("sequence length in baseline (Llama 2) tokens (log scale)")
    axes[2].set_title(f"Memory optimum of {m.name} vs sequence length")
    for ax in axes[1:]:
        ax.set_yscale("log")
        _kfmt(ax, "y")
        ax.set_ylabel(f"memory-optimal V (search range {v_min / 1000:g}k..{v_max / 1000:g}k)")
        ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"weights {dtype}, KV {kv_dtype}; NSL(V): {comp.curve.source}. A flat line at the bottom: "
                 f"the optimum is the search range's lower end {v_min / 1000:g}k", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
